"""Time-correlated small-scale fading (Rayleigh or Rician) with optional log-normal shadowing.

The fading power ``l`` of every device-MEC link enters the channel gain
``h = beta0 * l / max(d, d_min)^2`` (spec section 2). The scattered part of each link is a
unit-power complex Gaussian ``g`` that follows an AR(1) process across slots::

    g_t = rho g_{t-1} + sqrt(1 - rho^2) w_t,    w_t ~ CN(0, 1)

with ``rho = J0(2 pi f_D tau)`` (Jakes) from the device's speed (``jakes_rho``).

Example:
    >>> rng = np.random.default_rng(0)
    >>> fading = Fading(30, 2, rng)
    >>> power = fading.step(jakes_rho(np.full(30, 1.0), 2.4e9, 0.01))
    >>> power.shape
    (30, 2)
"""

from __future__ import annotations

import numpy as np
from scipy.special import j0

__all__ = ["SPEED_OF_LIGHT_MPS", "jakes_rho", "gudmundson_rho", "Fading"]

SPEED_OF_LIGHT_MPS = 299_792_458.0  # [m/s]


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
