"""Exact resource allocation for a given placement (spec section 4, paper problem P1).

Given the placement the problem separates: each MEC splits its CPU among its tasks, and
each offloading IoTD picks its transmit power. Both parts have closed forms.
"""

from __future__ import annotations

from math import factorial

import numpy as np

from mecsim.model._validate import as_array

_SMALL_X = 1e-4  # below this, start the power's Newton polish from the series sqrt(2x)

# Lambert W (principal branch, real argument): see :func:`lambertw`.
_INV_E = 0.36787944117144233  # the double nearest 1/e
_INV_E_LO = -1.2428753672788363e-17  # 1/e - _INV_E, so that z + 1/e keeps its digits
_NEAR_BRANCH = 0.1  # z + 1/e below this: solve for u = 1 + W, which has all its digits
_LARGE_Z = 3.0  # z above this: solve w + ln w = ln z (w e^w would overflow near 1.8e308)
_HALLEY_STEPS = 3  # from the starts below, 3 steps reach 2 ulps (2 leave up to 41)
_BRANCH_STEPS = 2  # near the branch point, from its series to p^6
# g(u) = 1 + (u - 1) e^u = sum_{k >= 2} (k - 1) u^k / k!: no cancellation for small u;
# the terms to k = 18 leave < 1e-17 relative at u <= 0.64 (z + 1/e < _NEAR_BRANCH).
_G_TERMS = tuple((k - 1) / factorial(k) for k in range(18, 1, -1))  # highest power first


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
    gamma``) polish the Lambert-W value, whose ``expm1(1 + W)`` loses digits for a tiny
    SNR; the data size ``D`` and bandwidth do not move the optimum.

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
    t = np.expm1(1.0 + lambertw((x - 1.0) / np.e))
    t = np.where(x < _SMALL_X, np.sqrt(2.0 * x), t)
    for _ in range(2):
        slope = np.log1p(t)
        step = np.divide((1.0 + t) * slope - t - x, slope, out=np.zeros_like(t), where=slope > 0)
        t = np.maximum(t - step, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_star = t / gamma
    return np.where((gamma > 0) & (p_star < max_power_w), p_star, float(max_power_w))


def lambertw(z) -> np.ndarray:
    """Return the principal branch ``W(z)`` of Lambert W: ``W e^W = z``, ``W >= -1``.

    Real arguments only, in numpy (no scipy import). Three Halley steps from a start of
    each region: near the branch point ``-1/e`` they solve for ``u = 1 + W`` (from the
    series in ``p = sqrt(2 (e z + 1))``), with ``z + 1/e`` formed in double-double, so
    that ``W`` keeps its digits there; for ``z <= 3`` on ``w e^w = z`` (from Winitzki's
    approximation); above on ``w + ln w = ln z`` (from the asymptotic series). Within 2
    ulps of a 40-digit reference from ``-1/e`` to ``1.8e308``, and of
    ``scipy.special.lambertw(z).real`` within 4 ulps, except near ``-1/e`` where scipy
    loses digits (it returns nan at ``z = -1/e`` rounded to a double, this returns -1).

    Args:
        z: Arguments, any shape, ``>= -1/e`` (smaller ones give nan; nan gives nan).

    Returns:
        ``W(z)`` as float64, the shape of ``z``; ``inf`` at ``z = inf``.
    """
    z = np.asarray(z, dtype=float)
    w = np.empty(z.shape)
    s = z + _INV_E  # exact near -1/e; < 0 outside the domain
    near = s < _NEAR_BRANCH
    large = z > _LARGE_Z
    for mask, solve, arg in ((near, _w_near_branch, s), (large, _w_large, z),
                             (~(near | large), _w_middle, z)):
        if mask.all():
            return solve(arg)
        if mask.any():
            w[mask] = solve(arg[mask])
    return w


def _w_near_branch(s: np.ndarray) -> np.ndarray:
    """``W`` where ``s = z + _INV_E`` is small: Halley steps on ``g(u) = e (z + 1/e)``."""
    with np.errstate(invalid="ignore"):  # s < 0: outside the domain, nan
        ed = np.e * np.where(s == 0.0, 0.0, s + _INV_E_LO)  # e (z + 1/e) >= 0
        p = np.sqrt(2.0 * ed)
    u = p * (1.0 + p * (-1.0 / 3.0 + p * (11.0 / 72.0 + p * (-43.0 / 540.0 + p * (
        769.0 / 17280.0 - p * (221.0 / 8505.0))))))  # W + 1, its series to p^6
    for _ in range(_BRANCH_STEPS):
        g = np.full_like(u, _G_TERMS[0])
        for c in _G_TERMS[1:]:
            g = g * u + c
        r = g * u * u - ed
        eu = np.exp(u)
        slope = u * eu  # g'(u); g''(u) = (1 + u) e^u
        with np.errstate(invalid="ignore", divide="ignore"):  # u = 0: the branch point
            step = r / (slope - (1.0 + u) * eu * r / (2.0 * slope))
        u = np.where(slope > 0, u - step, u)
    return u - 1.0


def _w_middle(z: np.ndarray) -> np.ndarray:
    """``W`` for ``-1/e + 0.1 <= z <= 3``: Halley steps on ``w e^w = z``."""
    log = np.log1p(z)
    w = log * (1.0 - np.log1p(log) / (2.0 + log))
    for _ in range(_HALLEY_STEPS):
        ew = np.exp(w)
        f = w * ew - z
        w = w - f / (ew * (w + 1.0) - (w + 2.0) * f / (2.0 * w + 2.0))
    return w


def _w_large(z: np.ndarray) -> np.ndarray:
    """``W`` for ``z > 3``: Halley steps on ``h(w) = w + ln w - ln z``."""
    log = np.log(z)
    with np.errstate(invalid="ignore"):  # z = inf: inf / inf
        loglog = np.log(log)
        w = log - loglog + loglog / log
        for _ in range(_HALLEY_STEPS):
            h = w + np.log(w) - log
            slope = 1.0 + 1.0 / w  # h'(w); h''(w) = -1 / w^2
            w = w - h / (slope + h / (2.0 * slope * w * w))
    return np.where(np.isinf(z), np.inf, w)


def _placement(placement, n_mecs: int) -> np.ndarray:
    """Return ``placement`` as ``(n,)`` int64 in ``0..n_mecs``, or raise ``ValueError``."""
    a = np.asarray(placement)
    if a.ndim == 1 and a.size == 0:
        return a.astype(np.int64)
    if (a.ndim != 1 or not np.issubdtype(a.dtype, np.integer)
            or a.min() < 0 or a.max() > n_mecs):
        raise ValueError(f"placement must be (n,) integers in 0..{n_mecs}, got {a!r}")
    return a.astype(np.int64)
