"""Small-scale fading (Rayleigh or Rician) and log-normal shadowing of device-MEC links.

The fading power ``l`` of every device-MEC link enters the channel gain
``h = beta0 * l / max(d, d_min)^2`` (spec section 2). Three generators:

- ``SumOfSinusoids``: the Zheng-Xiao sum-of-sinusoids model driven by each device's
  *Doppler distance* (the distance it has travelled [m]). Its scattered part has the
  Jakes correlation ``J0(2 pi ds / wavelength)`` at every distance lag ``ds``, i.e.
  ``J0(2 pi f_D tau)`` at every time lag for a device at constant speed. All its random
  parameters are drawn at construction; evaluating it draws nothing.
- ``Fading``: the scattered part follows an AR(1) process across slots::

      g_t = rho g_{t-1} + sqrt(1 - rho^2) w_t,    w_t ~ CN(0, 1)

  with e.g. ``rho = J0(2 pi f_D tau)`` (Jakes, ``jakes_rho``). Right at lag 1 only: at
  lag ``k`` it gives ``rho^k``, not ``J0(2 pi f_D k tau)``. Kept as an option (and for
  i.i.d. block fading, ``rho = 0``).
- ``Shadowing``: log-normal shadowing [dB] per link that decorrelates with the distance
  the device moves (Gudmundson).

Example:
    >>> rng = np.random.default_rng(0)
    >>> fading = Fading(30, 2, rng)
    >>> power = fading.step(jakes_rho(np.full(30, 1.0), 2.4e9, 0.01))
    >>> power.shape
    (30, 2)
    >>> sos = SumOfSinusoids(30, 2, rng, wavelength_m=SPEED_OF_LIGHT_MPS / 2.4e9)
    >>> sos.power(np.zeros(30)).shape
    (30, 2)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# scipy.special (about 0.15 s to import) is imported by ``jakes_rho`` only, when called.

__all__ = [
    "SPEED_OF_LIGHT_MPS",
    "jakes_rho",
    "gudmundson_rho",
    "Fading",
    "SumOfSinusoids",
    "Shadowing",
]

SPEED_OF_LIGHT_MPS = 299_792_458.0  # [m/s]
_DRAW_CHUNK = 1 << 16  # links whose sum-of-sinusoids parameters are drawn at once
# (instants x links x sinusoids) evaluated at once: the temporaries (8 bytes each) stay in a
# core's L2 cache, which makes the evaluation about twice as fast as in one pass (a slot's
# uploads on dense_100), and the world's epoch at 10k x 100 about 7 % faster
_EVAL_CHUNK = 1 << 16
# the same for a world drawn in a background thread (mecsim.engine.prefetch): each numpy call
# gives the GIL back and has to take it again from the engine's Python, so fewer, larger
# calls beat cache-sized ones there (10k x 100 greedy: 3.5-3.7 s against 4.5 s for 20 slots)
THREAD_EVAL_CHUNK = 1 << 20


def jakes_rho(speed_mps: float | np.ndarray, carrier_hz: float | np.ndarray,
              dt_s: float | np.ndarray) -> np.ndarray:
    """Return Jakes' correlation ``J0(2 pi f_D dt)`` with Doppler ``f_D = v f_c / c``.

    Args:
        speed_mps: Device speeds [m/s], >= 0, any shape.
        carrier_hz: Carrier frequency [Hz], > 0, broadcastable.
        dt_s: Time between two fading samples [s], >= 0, broadcastable.

    Returns:
        The correlation coefficients in ``[-0.403, 1]``, the broadcast shape (a 0-d array
        or numpy scalar for scalar inputs). ``1`` for a device at rest.

    Raises:
        ValueError: If an argument is not finite or out of range.
    """
    v = _check_array("speed_mps", speed_mps, low=0.0)
    fc = _check_array("carrier_hz", carrier_hz, low=0.0, low_open=True)
    dt = _check_array("dt_s", dt_s, low=0.0)
    doppler_hz = v * fc / SPEED_OF_LIGHT_MPS
    from scipy.special import j0

    return j0(2.0 * np.pi * doppler_hz * dt)


def gudmundson_rho(speed_mps: float | np.ndarray, dt_s: float | np.ndarray,
                   decorrelation_m: float) -> np.ndarray:
    """Return Gudmundson's shadowing correlation ``exp(-v dt / d_corr)``.

    Args:
        speed_mps: Device speeds [m/s], >= 0, any shape.
        dt_s: Time between two shadowing samples [s], >= 0, broadcastable.
        decorrelation_m: Decorrelation distance [m], > 0 (tens of metres outdoors).

    Returns:
        Correlation coefficients in ``(0, 1]``, the broadcast shape.

    Raises:
        ValueError: If an argument is not finite or out of range.
    """
    v = _check_array("speed_mps", speed_mps, low=0.0)
    dt = _check_array("dt_s", dt_s, low=0.0)
    d_corr = _check_array("decorrelation_m", decorrelation_m, low=0.0, low_open=True)
    return np.exp(-v * dt / d_corr)


class Fading:
    """Fading power of an ``(n, m)`` grid of device-MEC links, one sample per slot.

    The power of a link is ``l = |sqrt(K/(K+1)) + sqrt(1/(K+1)) g|^2 * 10^(S/10)``:

    - ``g``: the scattered part, unit-power complex Gaussian, AR(1) across slots with the
      coefficient given to ``step``; ``rho = 0`` gives i.i.d. block fading.
    - ``K``: the Rician K-factor (0: Rayleigh). The line-of-sight phase is held fixed per
      link; since ``g`` is circularly symmetric, its value (taken as 0) changes neither
      the law of ``l`` nor its time correlation. Mean of the fading part: 1.
    - ``S``: log-normal shadowing [dB], per link, ``N(0, shadowing_std_db^2)``, AR(1) across
      slots with coefficient ``shadowing_rho`` (1: drawn once and fixed). Its median is
      0 dB; its linear mean is ``exp((ln(10) std / 10)^2 / 2) >= 1``.

    The first ``step`` draws the initial state from the stationary law (its ``rho`` is
    not used); each later one advances the state by one slot.

    Args:
        n: Number of devices (rows), >= 0.
        m: Number of MECs (columns), >= 0.
        rng: Generator of the small-scale fading.
        rician_k: Rician K-factor [-] (linear, not dB), >= 0.
        shadowing_std_db: Standard deviation of the shadowing [dB], >= 0 (0: none).
        shadowing_rho: Default per-slot AR(1) coefficient of the shadowing, in ``[0, 1]``.
        shadowing_rng: Generator of the shadowing; ``rng`` when ``None``. Give it a stream
            of its own so that switching shadowing on does not change the fading draws.

    Raises:
        ValueError: If an argument is invalid (the message names it).
    """

    def __init__(self, n: int, m: int, rng: np.random.Generator, *, rician_k: float = 0.0,
                 shadowing_std_db: float = 0.0, shadowing_rho: float = 1.0,
                 shadowing_rng: np.random.Generator | None = None) -> None:
        self._shape = (_check_count("n", n), _check_count("m", m))
        self._rng = _check_rng("rng", rng)
        self._shadowing_rng = rng if shadowing_rng is None else _check_rng("shadowing_rng",
                                                                           shadowing_rng)
        self._rician_k = _check_scalar("rician_k", rician_k, low=0.0)
        self._shadowing_std_db = _check_scalar("shadowing_std_db", shadowing_std_db, low=0.0)
        self._shadowing_rho = _check_scalar("shadowing_rho", shadowing_rho, low=0.0, high=1.0)
        self._g: np.ndarray | None = None  # scattered part, complex (n, m)
        self._shadowing_db = np.zeros(self._shape)  # [dB]
        self._power: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """``(n, m)``: devices x MECs."""
        return self._shape

    @property
    def rician_k(self) -> float:
        """Rician K-factor [-]."""
        return self._rician_k

    @property
    def g(self) -> np.ndarray:
        """The scattered part ``g`` of the last slot, complex ``(n, m)`` (a copy)."""
        return self._require_started(self._g).copy()

    @property
    def shadowing_db(self) -> np.ndarray:
        """The shadowing ``S`` of the last slot, ``(n, m)`` [dB] (zeros if none; a copy)."""
        return self._shadowing_db.copy()

    def step(self, rho: float | np.ndarray = 0.0, *,
             shadowing_rho: float | np.ndarray | None = None) -> np.ndarray:
        """Advance every link by one slot and return the new fading power.

        Args:
            rho: AR(1) coefficient of ``g`` in ``[-1, 1]``: a scalar, one per device
                (shape ``(n,)``, the same for all its MECs) or one per link ``(n, m)``.
                Typically ``jakes_rho(speeds_mps, carrier_hz, slot_s)``.
            shadowing_rho: AR(1) coefficient of the shadowing in ``[0, 1]`` for this slot
                (scalar, ``(n,)`` or ``(n, m)``, e.g. from ``gudmundson_rho``); the
                constructor's ``shadowing_rho`` when ``None``.

        Returns:
            The fading power ``l`` of the new slot, ``(n, m)`` [-].

        Raises:
            ValueError: If ``rho`` or ``shadowing_rho`` is out of range or of a bad shape.
        """
        rho_links = self._per_link("rho", rho, low=-1.0)
        if shadowing_rho is None:
            shadowing_rho = self._shadowing_rho
        shadowing_links = self._per_link("shadowing_rho", shadowing_rho, low=0.0)
        innovation = self._complex_normal()
        if self._g is None:
            self._g = innovation
        else:
            self._g = rho_links * self._g + np.sqrt(1.0 - rho_links**2) * innovation
        self._step_shadowing(shadowing_links)
        self._power = self._fading_power() * 10.0 ** (self._shadowing_db / 10.0)
        return self._power.copy()

    def current(self) -> np.ndarray:
        """Return the fading power of the last slot, ``(n, m)`` [-], without drawing.

        Raises:
            RuntimeError: If ``step`` was never called.
        """
        return self._require_started(self._power).copy()

    def _fading_power(self) -> np.ndarray:
        k = self._rician_k
        los = np.sqrt(k / (k + 1.0))  # line-of-sight amplitude, phase 0
        return np.abs(los + np.sqrt(1.0 / (k + 1.0)) * self._g) ** 2

    def _step_shadowing(self, rho_links: np.ndarray) -> None:
        if self._shadowing_std_db == 0.0:
            return
        fresh_db = self._shadowing_std_db * self._shadowing_rng.standard_normal(self._shape)
        if self._power is None:  # first slot: stationary draw
            self._shadowing_db = fresh_db
        else:
            self._shadowing_db = (rho_links * self._shadowing_db
                                  + np.sqrt(1.0 - rho_links**2) * fresh_db)

    def reset(self, links: np.ndarray) -> None:
        """Give links a fresh stationary scattered part (a new link: independent of the old).

        Draws ``2 len(links)`` normals from ``rng``; none before the first ``step``, which
        draws every link's.

        Args:
            links: Flat indices ``device * m + column`` of the links, 1-d integers.
        """
        links = np.asarray(links, dtype=np.int64)
        if self._g is None or links.size == 0:
            return
        parts = self._rng.standard_normal((2, links.size))
        self._g.reshape(-1)[links] = (parts[0] + 1j * parts[1]) / np.sqrt(2.0)

    def _complex_normal(self) -> np.ndarray:
        parts = self._rng.standard_normal((2, *self._shape))
        return (parts[0] + 1j * parts[1]) / np.sqrt(2.0)

    def _per_link(self, name: str, value: float | np.ndarray, *, low: float) -> np.ndarray:
        """Broadcast a scalar, per-device ``(n,)`` or per-link ``(n, m)`` coefficient."""
        arr = np.asarray(value, dtype=float)
        n, m = self._shape
        if arr.ndim == 1 and arr.shape == (n,):
            arr = arr[:, None]
        elif arr.ndim != 0 and arr.shape != (n, m):
            raise ValueError(f"{name} must be a scalar or have shape ({n},) or ({n}, {m}), "
                             f"got shape {arr.shape}")
        bad = ~np.isfinite(arr) | (arr < low) | (arr > 1.0)
        if bad.any():
            raise ValueError(f"{name} must be in [{low:g}, 1], got {arr[bad].flat[0]!r}")
        return np.broadcast_to(arr, self._shape)

    def _require_started(self, state: np.ndarray | None) -> np.ndarray:
        if state is None:
            raise RuntimeError("Fading has no slot yet: call step() first")
        return state

    def __repr__(self) -> str:
        return (f"Fading(n={self._shape[0]}, m={self._shape[1]}, rician_k={self._rician_k}, "
                f"shadowing_std_db={self._shadowing_std_db}, "
                f"shadowing_rho={self._shadowing_rho})")


class SumOfSinusoids:
    """Rayleigh or Rician fading of an ``(n, m)`` link grid from a sum of sinusoids.

    The Zheng-Xiao model (Y. R. Zheng and C. Xiao, "Simulation models with correct
    statistical properties for Rayleigh fading channels", IEEE Trans. Commun. 51(6), 2003),
    indexed by each device's *Doppler distance* ``s`` [m] (the distance it has travelled)
    instead of time. The scattered part of a link is::

        g(s) = sqrt(2/Q) sum_{q=1..Q} exp(j psi_q) cos(2 pi s cos(alpha_q) / wavelength + phi_q)
        alpha_q = (2 pi q - pi + theta) / (4 Q)

    with ``theta``, ``psi_q``, ``phi_q`` i.i.d. uniform in ``[-pi, pi)`` per link (a phase
    ``phi_q`` per path), and the fading power is
    ``l = |sqrt(K/(K+1)) + sqrt(1/(K+1)) g|^2`` (Rician K linear, 0: Rayleigh; the
    line-of-sight phase is 0, as in ``Fading``).

    Statistics, in the ensemble over links (i.e. over ``theta, psi, phi``):

    - Normalisation: the cross terms ``q != q'`` vanish (``E exp(j (psi_q - psi_q')) = 0``)
      and each of the ``Q`` others is ``E cos^2 = 1/2``, so ``E|g|^2 = (2/Q) Q / 2 = 1``;
      ``E g^2 = 0`` (circular). Hence ``E l = 1`` for every ``K``.
    - Correlation: ``E[g(s) g*(s + ds)] = (1/Q) sum_q E cos(b cos alpha_q)`` with
      ``b = 2 pi ds / wavelength``. As ``theta`` spans ``[-pi, pi)``, ``alpha_q`` is
      uniform on ``[(q-1) pi/(2Q), q pi/(2Q))``: the ``Q`` paths tile ``[0, pi/2)``, so
      the sum is ``(2/pi) int_0^{pi/2} cos(b cos a) da = J0(b)`` exactly, for every ``Q``
      and every lag. A device at constant speed ``v`` has ``ds = v tau`` and
      ``J0(2 pi f_D tau)``, ``f_D = v / wavelength``; a paused device keeps its fading.
    - Fourth order (Rayleigh): ``var l = 1 - 1/(2Q)`` and the correlation coefficient of
      ``l`` is ``(E_theta[c(ds)^2] - 1/(2Q)) / (1 - 1/(2Q))`` with
      ``c(ds) = (1/Q) sum_q cos(b cos alpha_q)``: ``J0(b)^2`` as ``Q -> inf``, lower by
      up to about ``(1 - J0^2) / (2Q - 1)`` for finite ``Q`` (0.05 at ``Q = 8``,
      ``J0 = 0.47``). The marginal of ``l`` is close to ``Exp(1)`` (Kolmogorov distance
      about 0.008 at ``Q = 8``, 0.002 at ``Q = 16``).

    The correlation follows the path length, not the position: a device that comes back
    to a place does not find the same fading there.

    Every random parameter is drawn at construction, ``n * m * (2Q + 1)`` uniforms from
    ``rng`` (per link: ``theta``, then the ``Q`` values of ``psi``, then those of ``phi``),
    so the stream's use does not depend on how the fading is evaluated later; evaluating
    draws nothing. Each link stores ``2 Q`` float64 (its spatial Doppler frequencies
    ``cos(alpha_q) / wavelength`` [turn/m] and ``phi_q / (2 pi)`` [turn]) and ``2 Q``
    float32 (the weights ``sqrt(2/Q) (cos psi_q, sin psi_q)``): ``24 Q`` bytes, 192 B at
    ``Q = 8``. Phases are computed in float64 (``s = 1e5 m`` at 2.4 GHz is a phase of
    about 5e6 rad, known to about 1e-9 rad) and reduced to half a turn; the cosines and
    the weighted sums are float32 (an error near 1e-7 in the power).

    Args:
        n: Number of devices (rows), >= 0.
        m: Number of MECs (columns), >= 0.
        rng: Generator of the parameters (all drawn here).
        wavelength_m: Carrier wavelength [m], > 0 (``SPEED_OF_LIGHT_MPS / carrier_hz``).
        sinusoids: Number ``Q`` of sinusoids per link, an integer >= 1.
        rician_k: Rician K-factor [-] (linear, not dB), >= 0.

    Raises:
        ValueError: If an argument is invalid (the message names it).
    """

    def __init__(self, n: int, m: int, rng: np.random.Generator, *, wavelength_m: float,
                 sinusoids: int = 8, rician_k: float = 0.0) -> None:
        self._shape = (_check_count("n", n), _check_count("m", m))
        _check_rng("rng", rng)
        if isinstance(wavelength_m, bool) or np.ndim(wavelength_m) != 0:
            raise ValueError(f"wavelength_m must be a real number, got {wavelength_m!r}")
        self._wavelength_m = float(_check_array("wavelength_m", wavelength_m, low=0.0,
                                                low_open=True))
        q = _check_count("sinusoids", sinusoids)
        if q < 1:
            raise ValueError(f"sinusoids must be an integer >= 1, got {sinusoids!r}")
        self._sinusoids = q
        self._rician_k = _check_scalar("rician_k", rician_k, low=0.0)
        self._los = np.sqrt(self._rician_k / (self._rician_k + 1.0))  # LoS amplitude, phase 0
        self._scale = np.sqrt(1.0 / (self._rician_k + 1.0))  # amplitude of g

        n_links = self._shape[0] * self._shape[1]
        # Per link, contiguous: [0] spatial Doppler frequency cos(alpha) / lambda [turn/m]
        # and [1] phi / (2 pi) [turn], float64 (phases reach 1e7 rad); the weights
        # sqrt(2/Q) exp(j psi), [0] Re and [1] Im, float32 like the cosines they weigh.
        self._params = np.empty((n_links, 2, q))
        self._weights = np.empty((n_links, 2, q), dtype=np.float32)
        for start in range(0, n_links, _DRAW_CHUNK):  # the same draws as one call, less memory
            stop = min(start + _DRAW_CHUNK, n_links)
            self._draw(slice(start, stop), stop - start, rng)

    def redraw(self, links: np.ndarray, rng: np.random.Generator) -> None:
        """Draw new parameters for links (a new link: independent of the old one).

        Args:
            links: Flat indices ``device * m + column`` of the links, 1-d integers.
            rng: Generator of the parameters: ``len(links) * (2Q + 1)`` uniforms, in the
                order of the constructor's.
        """
        links = np.asarray(links, dtype=np.int64)
        if links.size:
            self._draw(links, links.size, _check_rng("rng", rng))

    def _draw(self, rows, count: int, rng: np.random.Generator) -> None:
        q = self._sinusoids
        draws = rng.uniform(-np.pi, np.pi, size=(count, 2 * q + 1))  # [rad]
        theta, psi, phi = draws[:, :1], draws[:, 1:q + 1], draws[:, q + 1:]
        alpha = (2.0 * np.pi * np.arange(1, q + 1) - np.pi + theta) / (4.0 * q)  # [rad]
        self._params[rows, 0] = np.cos(alpha) / self._wavelength_m
        self._params[rows, 1] = phi / (2.0 * np.pi)
        self._weights[rows, 0] = np.sqrt(2.0 / q) * np.cos(psi)
        self._weights[rows, 1] = np.sqrt(2.0 / q) * np.sin(psi)

    @property
    def shape(self) -> tuple[int, int]:
        """``(n, m)``: devices x MECs."""
        return self._shape

    @property
    def wavelength_m(self) -> float:
        """Carrier wavelength [m]."""
        return self._wavelength_m

    @property
    def sinusoids(self) -> int:
        """Number ``Q`` of sinusoids per link."""
        return self._sinusoids

    @property
    def rician_k(self) -> float:
        """Rician K-factor [-]."""
        return self._rician_k

    @property
    def nbytes(self) -> int:
        """Memory taken by the stored parameters [bytes]: ``24 Q`` per link."""
        return self._params.nbytes + self._weights.nbytes

    def scattered(self, travelled_m: np.ndarray) -> np.ndarray:
        """Return every link's unit-power scattered part ``g``, complex ``(n, m)``.

        Args:
            travelled_m: Doppler distance of each device now, ``(n,)`` [m], finite.

        Returns:
            ``g`` of every link [-] (the Rician scaling ``sqrt(1/(K+1))`` not applied).

        Raises:
            ValueError: If ``travelled_m`` has a bad shape or is not finite.
        """
        re, im = self._parts(self._grid_distance(travelled_m), self._params, self._weights)
        return (re[0] + 1j * im[0]).reshape(self._shape)

    def power(self, travelled_m: np.ndarray, chunk: int | None = None) -> np.ndarray:
        """Return every link's fading power.

        Args:
            travelled_m: Doppler distance of each device now, ``(n,)`` [m], finite (only
                differences matter: the origin is arbitrary).
            chunk: Links x sinusoids evaluated per numpy call (the values do not depend on
                it); ``None``: cache-sized, the fastest alone (``THREAD_EVAL_CHUNK`` suits a
                background thread).

        Returns:
            The fading power ``l`` of every link, ``(n, m)`` [-].

        Raises:
            ValueError: If ``travelled_m`` has a bad shape or is not finite.
        """
        s = self._grid_distance(travelled_m)
        out = np.empty(s.shape[1])
        chunk = max(1, (_EVAL_CHUNK if chunk is None else chunk) // self._sinusoids)
        for start in range(0, out.size, chunk):  # elementwise: chunks change nothing
            part = slice(start, start + chunk)
            out[part] = self._power(s[:, part], self._params[part], self._weights[part])[0]
        return out.reshape(self._shape)

    def power_links(self, travelled_m: np.ndarray, iotd: np.ndarray,
                    mec: np.ndarray) -> np.ndarray:
        """Return the fading power of ``k`` given links at ``S`` instants each.

        Equal, bit for bit, to ``power`` for the same link and distance. Costs ``S k Q``
        cosines and no ``(n, m, Q)`` temporaries.

        Args:
            travelled_m: ``(S, k)`` [m], finite: the Doppler distance of link ``j``'s
                device at instant ``i`` in column ``j``.
            iotd: ``(k,)`` integer array, 0-based device of each link, in ``[0, n)``.
            mec: ``(k,)`` integer array, 0-based MEC of each link, in ``[0, m)``.

        Returns:
            The fading powers ``l``, ``(S, k)`` [-].

        Raises:
            ValueError: If an argument has a bad shape, type or value.
        """
        s = np.asarray(travelled_m, dtype=float)
        dev = _check_index("iotd", iotd, self._shape[0])
        col = _check_index("mec", mec, self._shape[1])
        if dev.shape != col.shape:
            raise ValueError(f"iotd and mec must have the same shape, got {dev.shape} "
                             f"and {col.shape}")
        if s.ndim != 2 or s.shape[1] != dev.shape[0]:
            raise ValueError(f"travelled_m must have shape (S, {dev.shape[0]}), "
                             f"got {s.shape}")
        _check_finite("travelled_m", s)
        return self.links_power(s, dev * self._shape[1] + col)

    def links_power(self, travelled_m: np.ndarray, links: np.ndarray) -> np.ndarray:
        """:meth:`power_links` of flat links ``device * m + column``, arguments unchecked.

        For callers that made them valid (the engine's world, at every upload): a float
        ``(S, k)`` finite ``travelled_m`` and ``(k,)`` int64 ``links`` in ``[0, n m)``.
        """
        s = travelled_m
        chunk = max(1, _EVAL_CHUNK // max(s.shape[0] * self._sinusoids, 1))
        if links.size <= chunk:
            return self._power(s, self._params[links], self._weights[links])
        out = np.empty(s.shape)
        for start in range(0, links.size, chunk):  # elementwise: chunks change nothing
            part = slice(start, start + chunk)
            mine = links[part]
            out[:, part] = self._power(s[:, part], self._params[mine], self._weights[mine])
        return out

    def _grid_distance(self, travelled_m: np.ndarray) -> np.ndarray:
        """Check a ``(n,)`` distance and repeat it per link, as one instant: ``(1, n m)``."""
        s = np.asarray(travelled_m, dtype=float)
        if s.shape != (self._shape[0],):
            raise ValueError(f"travelled_m must have shape ({self._shape[0]},), "
                             f"got {s.shape}")
        _check_finite("travelled_m", s)
        return np.repeat(s, self._shape[1])[None, :]

    def _power(self, s: np.ndarray, params: np.ndarray, weights: np.ndarray) -> np.ndarray:
        re, im = self._parts(s, params, weights)
        re *= self._scale
        re += self._los
        im *= self._scale
        return re * re + im * im

    @staticmethod
    def _parts(s: np.ndarray, params: np.ndarray,
               weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(Re g, Im g)``, each ``(S, k)`` float64, for distances ``(S, k)`` [m].

        ``params`` is ``(k, 2, Q)`` float64 and ``weights`` ``(k, 2, Q)`` float32. Both
        public paths go through here with arrays of the same layout, hence the same
        rounding. The phase is kept in float64 and reduced to ``[-1/2, 1/2]`` turn; the
        cosine and the weighted sums are float32 (about 3x faster; an error near 1e-7, far
        below anything the fading's statistics can show).
        """
        turns = s[:, :, None] * params[:, 0]  # (S, k, Q) [turn]
        turns += params[:, 1]
        turns -= np.rint(turns)
        cosines = turns.astype(np.float32)
        cosines *= np.float32(2.0 * np.pi)
        np.cos(cosines, out=cosines)
        re = np.einsum("skq,kq->sk", cosines, weights[:, 0]).astype(float)
        im = np.einsum("skq,kq->sk", cosines, weights[:, 1]).astype(float)
        return re, im

    def __repr__(self) -> str:
        return (f"SumOfSinusoids(n={self._shape[0]}, m={self._shape[1]}, "
                f"wavelength_m={self._wavelength_m}, sinusoids={self._sinusoids}, "
                f"rician_k={self._rician_k})")


class Shadowing:
    """Log-normal shadowing [dB] of an ``(n, m)`` link grid that moves with the devices.

    Gudmundson's model (M. Gudmundson, "Correlation model for shadow fading in mobile radio
    systems", Electron. Lett. 27(23), 1991): the shadowing of a link decorrelates
    exponentially with the distance its device moves,
    ``corr(S(x), S(x + d)) = exp(-d / d_corr)``. Per step::

        first step:  S ~ N(0, std^2)                          (stationary; moved_m unused)
        later:       S <- rho S + sqrt(1 - rho^2) std z,  rho = exp(-moved_m / d_corr)

    ``rho`` is per device (the same for all its MECs); links are independent.
    ``decorrelation_m=None`` keeps ``S`` fixed for the run (``rho = 1``). 3GPP TR 38.901
    (Table 7.5-6) gives a decorrelation distance of about 10 m for UMi LOS (13 m NLOS,
    37 m UMa LOS, 50 m UMa NLOS).

    The first step draws ``n * m`` standard normals from ``rng``; a later one draws ``m`` for
    each device that moved (``moved_m > 0``; the others keep their shadowing: ``rho = 1``)
    and none when the shadowing is fixed or ``std_db == 0`` (then every step returns zeros).
    Its median power factor is 1; its linear mean is ``exp((ln(10) std / 10)^2 / 2)``.

    Args:
        n: Number of devices (rows), >= 0.
        m: Number of MECs (columns), >= 0.
        rng: Generator of the shadowing (give it a stream of its own).
        std_db: Standard deviation [dB], >= 0 (0: none).
        decorrelation_m: Decorrelation distance [m], > 0, or ``None`` (fixed shadowing).
        normals: ``normals(shape)``: the next standard normals of ``rng``'s sequence, as
            ``rng.standard_normal(shape)`` would draw them (the default), e.g. drawn
            ahead in another thread (:class:`mecsim.engine.prefetch.NormalsAhead`).

    Raises:
        ValueError: If an argument is invalid (the message names it).
    """

    def __init__(self, n: int, m: int, rng: np.random.Generator, *, std_db: float,
                 decorrelation_m: float | None,
                 normals: Callable[[tuple[int, ...]], np.ndarray] | None = None) -> None:
        self._shape = (_check_count("n", n), _check_count("m", m))
        self._rng = _check_rng("rng", rng)
        self._normals = rng.standard_normal if normals is None else normals
        self._std_db = _check_scalar("std_db", std_db, low=0.0)
        if decorrelation_m is not None:
            if isinstance(decorrelation_m, bool) or np.ndim(decorrelation_m) != 0:
                raise ValueError(f"decorrelation_m must be a real number or None, "
                                 f"got {decorrelation_m!r}")
            decorrelation_m = float(_check_array("decorrelation_m", decorrelation_m,
                                                 low=0.0, low_open=True))
        self._decorrelation_m = decorrelation_m
        self._shadowing_db: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """``(n, m)``: devices x MECs."""
        return self._shape

    @property
    def std_db(self) -> float:
        """Standard deviation [dB]."""
        return self._std_db

    @property
    def decorrelation_m(self) -> float | None:
        """Decorrelation distance [m], ``None`` when fixed."""
        return self._decorrelation_m

    def step(self, moved_m: np.ndarray) -> np.ndarray:
        """Advance the shadowing by the distance each device moved and return it.

        Args:
            moved_m: Distance each device moved since the previous step, ``(n,)`` [m],
                finite, >= 0 (not used by the first step).

        Returns:
            The shadowing ``S`` of every link, ``(n, m)`` [dB] (a copy).

        Raises:
            ValueError: If ``moved_m`` has a bad shape or value.
        """
        return self.walk(moved_m, 1)[0]

    def draw_with(self, normals: Callable[[tuple[int, ...]], np.ndarray]) -> None:
        """Take the standard normals from ``normals(shape)`` from now on (see ``normals``)."""
        self._normals = normals

    def walk(self, moved_m: np.ndarray, steps: int, out: np.ndarray | None = None
             ) -> np.ndarray:
        """Take ``steps`` steps of ``moved_m`` each and return the shadowing after each.

        The same values as ``steps`` calls of :meth:`step` (the draws of the devices that
        move, in one call to the generator: the engine walks a slot's fading steps at once).

        Args:
            moved_m: Distance each device moves in each step, ``(n,)`` [m], finite, >= 0.
            steps: Number of steps, >= 1.
            out: Where to write the result, a float64 ``(steps, n, m)`` array (None: a new
                one).

        Returns:
            ``(steps, n, m)`` [dB] (``out`` when given).

        Raises:
            ValueError: If an argument has a bad shape or value.
        """
        moved = _check_array("moved_m", moved_m, low=0.0)
        if moved.shape != (self._shape[0],):
            raise ValueError(f"moved_m must have shape ({self._shape[0]},), "
                             f"got {moved.shape}")
        steps = _check_count("steps", steps)
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        if out is None:
            out = np.empty((steps, *self._shape))
        elif out.shape != (steps, *self._shape) or out.dtype != np.float64:
            raise ValueError(f"out must be a float64 array of shape {(steps, *self._shape)}, "
                             f"got {out.dtype} {out.shape}")
        if self._std_db == 0.0:
            self._shadowing_db = np.zeros(self._shape)
            out[...] = 0.0
            return out
        state, first = self._shadowing_db, 0
        if state is None:  # the first step: the stationary draw
            out[0] = self._normals(self._shape)
            out[0] *= self._std_db
            state, first = out[0], 1
        if self._decorrelation_m is None:  # fixed: the first draw, for the whole run
            out[first:] = state
        else:
            # Only devices that move draw: for the others rho = 1 and the draw would be
            # multiplied by 0.
            moving = np.flatnonzero(moved > 0.0)
            rho = np.exp(-moved[moving] / self._decorrelation_m)[:, None]
            fresh = self._normals((steps - first, moving.size, self._shape[1]))
            fresh *= self._std_db * np.sqrt(1.0 - rho**2)
            out[first:] = state
            if moving.size and fresh.shape[0] == 1:  # one step: S_1 = rho S_0 + fresh_1
                fresh[0] += state[moving] * rho
                out[first:, moving] = fresh
            elif moving.size and fresh.shape[0]:  # S_k = rho S_(k-1) + fresh_k, in place
                # flat rows and rho per link: two same-shape ufunc calls a step, no
                # broadcasting (the same products and sums)
                rho_links = np.repeat(rho, self._shape[1], axis=1).ravel()
                carried = np.multiply(state[moving].ravel(), rho_links)
                add, multiply = np.add, np.multiply
                rows = fresh.reshape(fresh.shape[0], rho_links.size)
                for row in rows[:-1]:
                    add(row, carried, out=row)
                    multiply(row, rho_links, out=carried)
                add(rows[-1], carried, out=rows[-1])
                out[first:, moving] = fresh
        self._shadowing_db = out[-1].copy()
        return out

    def reset(self, links: np.ndarray) -> np.ndarray:
        """Give links a fresh stationary shadowing (a new link: independent of the old).

        Args:
            links: Flat indices ``device * m + column`` of the links, 1-d integers.

        Returns:
            Their new shadowing [dB], ``(len(links),)``; ``len(links)`` normals drawn
            (none when ``std_db`` is 0 or before the first step, which draws them all).
        """
        links = np.asarray(links, dtype=np.int64)
        if self._std_db == 0.0 or self._shadowing_db is None:
            return np.zeros(links.size)
        fresh = self._std_db * self._normals((links.size,))
        self._shadowing_db.reshape(-1)[links] = fresh
        return fresh

    def current(self) -> np.ndarray:
        """Return the shadowing of the last step, ``(n, m)`` [dB], without drawing.

        Raises:
            RuntimeError: If ``step`` was never called.
        """
        if self._shadowing_db is None:
            raise RuntimeError("Shadowing has no value yet: call step() first")
        return self._shadowing_db.copy()

    def __repr__(self) -> str:
        return (f"Shadowing(n={self._shape[0]}, m={self._shape[1]}, std_db={self._std_db}, "
                f"decorrelation_m={self._decorrelation_m})")


def _check_array(name: str, value: float | np.ndarray, *, low: float,
                 low_open: bool = False) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be real numbers, got {value!r}") from None
    bad = ~np.isfinite(arr) | ((arr <= low) if low_open else (arr < low))
    if bad.any():
        op = ">" if low_open else ">="
        raise ValueError(f"{name} must be finite and {op} {low:g}, got {arr[bad].flat[0]!r}")
    return arr


def _check_scalar(name: str, value: float, *, low: float, high: float = np.inf) -> float:
    if isinstance(value, bool) or np.ndim(value) != 0:
        raise ValueError(f"{name} must be a real number, got {value!r}")
    arr = _check_array(name, value, low=low)
    if arr > high:
        raise ValueError(f"{name} must be <= {high:g}, got {value!r}")
    return float(arr)


def _check_count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def _check_rng(name: str, rng: np.random.Generator) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{name} must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _check_finite(name: str, arr: np.ndarray) -> None:
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite, got {arr[~np.isfinite(arr)].flat[0]!r}")


def _check_index(name: str, value: np.ndarray, bound: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must be a 1-d integer array, got dtype {arr.dtype} "
                         f"and shape {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() >= bound):
        raise ValueError(f"{name} must be in [0, {bound}), got values in "
                         f"[{arr.min()}, {arr.max()}]")
    return arr
