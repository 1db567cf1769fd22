"""Channel gain and Shannon rate (spec section 2, paper eqs. 2-3)."""

from __future__ import annotations

import numpy as np

from mecsim.model._validate import as_array, check_broadcast


def channel_gain(distance_m, fading, beta0: float = 1.0e-3, d_min_m: float = 1.0) -> np.ndarray:
    """Return the channel power gain ``h = beta0 * l / max(d, d_min)^2``.

    Args:
        distance_m: Device-MEC distances [m], any shape, >= 0.
        fading: Small-scale fading power ``l`` [-], broadcastable to ``distance_m``, >= 0.
        beta0: Gain at the reference distance of 1 m [-], > 0.
        d_min_m: Distance floor that keeps the gain finite [m], > 0.

    Returns:
        The gains [-], the broadcast shape of the inputs.
    """
    d = as_array("distance_m", distance_m, nonnegative=True)
    lvl = as_array("fading", fading, nonnegative=True)
    check_broadcast(distance_m=d, fading=lvl)
    as_array("beta0", beta0, positive=True)
    as_array("d_min_m", d_min_m, positive=True)
    return beta0 * lvl / np.maximum(d, d_min_m) ** 2


def snr(gain, noise_w: float) -> np.ndarray:
    """Return ``gamma = h / (N0 B)``, the SNR per watt of transmit power [1/W]."""
    return np.asarray(gain, dtype=float) / noise_w


def rate_bps(power_w, gain, bandwidth_hz: float, noise_w: float) -> np.ndarray:
    """Return the Shannon rate ``B log2(1 + p h / (N0 B))`` [bit/s].

    Args:
        power_w: Transmit power [W], >= 0.
        gain: Channel power gain [-], >= 0, broadcastable to ``power_w``.
        bandwidth_hz: Bandwidth ``B`` [Hz], > 0.
        noise_w: Noise power ``N0 * B`` [W], > 0.
    """
    p = as_array("power_w", power_w, nonnegative=True)
    h = as_array("gain", gain, nonnegative=True)
    check_broadcast(power_w=p, gain=h)
    as_array("bandwidth_hz", bandwidth_hz, positive=True)
    as_array("noise_w", noise_w, positive=True)
    return bandwidth_hz * np.log1p(p * h / noise_w) / np.log(2.0)
