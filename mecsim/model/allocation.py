"""Exact resource allocation for a given placement (spec section 4, paper problem P1).

Given the placement the problem separates: each MEC splits its CPU among its tasks, and
each offloading IoTD picks its transmit power. Both parts have closed forms.
"""

from __future__ import annotations

import numpy as np
from scipy.special import lambertw

from mecsim.model._validate import as_array

_SMALL_X = 1e-4  # below this, start the power's Newton polish from the series sqrt(2x)


def cpu_split(placement, cycles, mec_cpu_hz) -> np.ndarray:
    """Return each task's CPU share: ``f_ij = Fmax_j sqrt(F_i) / sum_{k in S_j} sqrt(F_k)``.

    This minimises ``sum_i F_i / f_ij`` subject to ``sum_i f_ij <= Fmax_j`` at every MEC.

    Args:
        placement: ``(n,)`` integers, 0 = local, ``j`` = MEC ``j`` (1-based).
        cycles: ``(n,)`` CPU cycles of each task [cycle], > 0.
        mec_cpu_hz: ``(M,)`` capacities ``Fmax`` [cycle/s], > 0.

    Returns:
        ``(n,)`` CPU shares [cycle/s]; 0 for local tasks.
    """
    fmax = as_array("mec_cpu_hz", mec_cpu_hz, ndim=1, positive=True)
    a = _placement(placement, fmax.size)
    f_cyc = as_array("cycles", cycles, shape=(a.shape[0],), positive=True)
    root = np.sqrt(f_cyc)
    totals = np.bincount(a, weights=root, minlength=fmax.size + 1)
    capacity = np.concatenate(([0.0], fmax))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = capacity[a] * root / totals[a]
    return np.where(a > 0, share, 0.0)


def mec_cpu_cost(placement, cycles, mec_cpu_hz, phi_t: float) -> np.ndarray:
    """Return each MEC's optimal computing cost ``phi_T (sum_{i in S_j} sqrt F_i)^2 / Fmax_j``.

    Returns:
        ``(M,)`` costs; 0 for a MEC without tasks.
    """
    fmax = as_array("mec_cpu_hz", mec_cpu_hz, ndim=1, positive=True)
    a = _placement(placement, fmax.size)
    root = np.sqrt(as_array("cycles", cycles, shape=(a.shape[0],), positive=True))
    as_array("phi_t", phi_t, nonnegative=True)
    totals = np.bincount(a, weights=root, minlength=fmax.size + 1)[1:]
    return phi_t * totals**2 / fmax


def optimal_power(gain, noise_w: float, phi_t: float, phi_e: float,
                  max_power_w: float) -> np.ndarray:
    """Return the transmit power minimising ``(phi_T + phi_E p) D / (B log2(1 + p gamma))``.

    With ``gamma = h / (N0 B)`` and ``x = phi_T gamma / phi_E`` the stationary point is
    ``p* = (exp(1 + W((x - 1) / e)) - 1) / gamma`` (Lambert W, principal branch). The
    objective is unimodal, so the optimum is ``min(p*, Pmax)``; ``Pmax`` when
    ``phi_E = 0`` or ``h = 0``. Two Newton steps on ``(1+t) ln(1+t) - t = x`` (``t = p
    gamma``) polish the Lambert-W value, which loses digits near its branch point (tiny
    SNR); the data size ``D`` and bandwidth do not move the optimum.

    Args:
        gain: Channel power gains [-], any shape, >= 0.
        noise_w: Noise power ``N0 B`` [W], > 0.
        phi_t: Latency weight [1/s], >= 0; > 0 when ``phi_e > 0`` (with ``phi_T = 0`` the
            cost falls towards ``p = 0``, where the rate vanishes: no minimiser).
        phi_e: Energy weight [1/J], >= 0.
        max_power_w: ``Pmax`` [W], > 0.

    Returns:
        Powers [W] in ``(0, Pmax]``, the shape of ``gain``.
    """
    h = as_array("gain", gain, nonnegative=True)
    as_array("noise_w", noise_w, positive=True)
    as_array("max_power_w", max_power_w, positive=True)
    as_array("phi_t", phi_t, nonnegative=True)
    as_array("phi_e", phi_e, nonnegative=True)
    if phi_e == 0:
        if phi_t == 0:
            raise ValueError("phi_t and phi_e must not both be 0, got phi_t = 0, phi_e = 0")
        return np.full(h.shape, float(max_power_w))
    if phi_t == 0:
        raise ValueError(f"phi_t must be > 0 when phi_e > 0 (the cost then falls towards p = 0 "
                         f"and has no minimiser), got phi_t = {phi_t!r}")
    gamma = h / noise_w
    x = phi_t * gamma / phi_e
    t = np.expm1(1.0 + lambertw((x - 1.0) / np.e).real)
    t = np.where(x < _SMALL_X, np.sqrt(2.0 * x), t)
    for _ in range(2):
        slope = np.log1p(t)
        step = np.divide((1.0 + t) * slope - t - x, slope, out=np.zeros_like(t), where=slope > 0)
        t = np.maximum(t - step, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_star = t / gamma
    return np.where((gamma > 0) & (p_star < max_power_w), p_star, float(max_power_w))


def _placement(placement, n_mecs: int) -> np.ndarray:
    """Return ``placement`` as ``(n,)`` int64 in ``0..n_mecs``, or raise ``ValueError``."""
    a = np.asarray(placement)
    if a.ndim == 1 and a.size == 0:
        return a.astype(np.int64)
    if (a.ndim != 1 or not np.issubdtype(a.dtype, np.integer)
            or a.min() < 0 or a.max() > n_mecs):
        raise ValueError(f"placement must be (n,) integers in 0..{n_mecs}, got {a!r}")
    return a.astype(np.int64)
