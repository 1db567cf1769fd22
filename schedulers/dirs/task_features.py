"""Per-task features of the ``task`` agents (``dirs_shared``): what one MEC's agent can know.

Agent ``j`` sees, for every task ``i`` of the slot, its own channel gain ``h_ij``, the
task's announced data ``D_i`` and cycles ``c_i``, the IoTD's local CPU (a fact of the
network), its own capacity ``Fmax_j`` and its own backlog: nothing of the other MECs. From
these it computes, in the objective's own units (all costs are ``phi_T x latency + phi_E x
energy`` of one task):

- ``L_i``: the task's local cost, ``c_i (phi_T / f0 + phi_E kappa f0^(nu-1))``;
- ``U_ij``: its cheapest upload to ``j`` (the optimal transmit power, spec section 3: the
  Lambert-W closed form, capped at ``Pmax``);
- ``C_ij``: its computing cost with all of ``j``'s CPU, ``phi_T c_i / Fmax_j``;
- ``K_ij``: its computing cost at ``j`` when every task that gains more than it from ``j``
  (ranked by the stand-alone saving ``L - U - C``, positive savings only) is offloaded to
  ``j`` too. With the exact allocation ``f_i ~ sqrt(c_i)`` the MEC's computing cost of a
  set ``S`` is ``phi_T (sum_S sqrt c)^2 / Fmax``, so task ``i``'s marginal cost behind a
  set ``A`` is ``phi_T ((s_A + sqrt c_i)^2 - s_A^2) / Fmax``, ``s_A = sum_A sqrt c``.

The features, each a ratio to the local cost in log space (so they mean the same thing at
any ``N``, task size or capacity; clipped to ``[-CLIP, CLIP]``):

=====  ===================================================================
0      the normalised log gain (:class:`schedulers.dirs.network.GainNormalizer`)
1      ``ln(U / L)``: the upload alone
2      ``ln(C / L)``: the MEC's computing alone
3      ``ln((U + C) / L)``: offloading alone (below 0: worth it, if alone)
4      ``ln((U + K) / L)``: offloading behind every better-placed task
5      ``ln(1 + (s_A + sqrt c_i)^2 / (Fmax slot_s))``: the MEC's work ahead, in slots
6      (``backlog_input`` only) ``ln(1 + backlog seconds)`` of the MEC
=====  ===================================================================

No feature and no weight depends on ``N`` or on an IoTD's identity, so one network serves
any number of IoTDs and any number of tasks per IoTD (Poisson arrivals).
"""

from __future__ import annotations

import numpy as np

from mecsim.model.allocation import lambertw
from mecsim.params import ModelParams

N_TASK_FEATURES = 6  # without the backlog feature
CLIP = 10.0  # features are clipped to [-CLIP, CLIP]
GAIN_FLOOR = -8.0  # the normalised log gain of a deep fade (as GainNormalizer's FLOOR)


def best_upload_cost(gains: np.ndarray, data_bits: np.ndarray, p: ModelParams) -> np.ndarray:
    """Cost of each upload at its optimal power (inf for a zero gain).

    Args:
        gains: Channel gains, any shape [-].
        data_bits: Upload sizes, broadcastable to ``gains`` [bit].
        p: The model's parameters.

    Returns:
        ``phi_T x upload time + phi_E x upload energy`` at the optimal power, unpolished (the
        Lambert-W closed form, capped at ``Pmax``).
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return _upload(np.asarray(gains, dtype=float), data_bits, p)


def _upload(gains: np.ndarray, data_bits, p: ModelParams) -> np.ndarray:
    """:func:`best_upload_cost` without its error state (the caller sets it)."""
    gamma = gains / p.noise_w
    if p.phi_e > 0:
        t = np.expm1(1.0 + lambertw((p.phi_t * gamma / p.phi_e - 1.0) / np.e))
        power = np.minimum(t / gamma, p.max_power_w)
    else:
        power = np.full(gamma.shape, p.max_power_w)
    cost = (p.phi_t + p.phi_e * power) * data_bits / (
        p.bandwidth_hz * np.log2(1.0 + power * gamma))
    cost[~(cost > 0) | ~np.isfinite(cost)] = np.inf
    return cost


def work_ahead(saving: np.ndarray, sqrt_c: np.ndarray) -> np.ndarray:
    """``s_A``: the sum of ``sqrt c`` over the tasks with a larger positive saving.

    Args:
        saving: ``(n,)`` or ``(n, M)`` stand-alone savings ``L - U - C`` of each task (at
            each MEC).
        sqrt_c: ``(n,)`` square roots of the cycles.

    Returns:
        The shape of ``saving``: for task ``i`` (at each MEC), the sum over the other tasks
        ranked before it (larger saving; ties: lower index) whose saving is positive.
    """
    order = np.argsort(-saving, axis=0, kind="stable")
    if saving.ndim == 1:
        ranked = np.where(saving > 0, sqrt_c, 0.0)[order]
        out = np.empty_like(ranked)
        out[order] = np.cumsum(ranked) - ranked
        return out
    weights = np.where(saving > 0, sqrt_c[:, None], 0.0)
    ranked = np.take_along_axis(weights, order, axis=0)
    out = np.empty_like(ranked)
    np.put_along_axis(out, order, np.cumsum(ranked, axis=0) - ranked, axis=0)
    return out


def task_features(z: np.ndarray, gains: np.ndarray, data_bits: np.ndarray,
                  cycles: np.ndarray, local_cost: np.ndarray, cpu_hz, p: ModelParams,
                  slot_s: float, backlog_s=None) -> np.ndarray:
    """The features of every task for one MEC ``(n,)`` or for all MECs ``(n, M)``.

    Args:
        z: Normalised log gains, the shape of ``gains``.
        gains: ``(n,)`` gains to one MEC or ``(n, M)`` to each [-].
        data_bits: ``(n,)`` upload sizes [bit].
        cycles: ``(n,)`` task cycles [cycle].
        local_cost: ``(n,)`` local costs ``L`` (> 0).
        cpu_hz: The MEC's capacity (scalar) or ``(M,)`` [cycle/s].
        p: The model's parameters.
        slot_s: The epoch period [s].
        backlog_s: ``None``, or the MEC's backlog in seconds of work (scalar or ``(M,)``):
            adds feature 6.

    Returns:
        ``(*gains.shape, F)`` float32 features, ``F = 6`` (7 with ``backlog_s``).
    """
    gains = np.asarray(gains, dtype=float)
    cycles = np.asarray(cycles, dtype=float)
    sqrt_c = np.sqrt(cycles)
    data, c, root, local = data_bits, cycles, sqrt_c, np.asarray(local_cost, dtype=float)
    if gains.ndim == 2:
        data, c, root, local = data[:, None], c[:, None], root[:, None], local[:, None]
    width = N_TASK_FEATURES + (backlog_s is not None)
    out = np.empty((*gains.shape, width))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        upload = _upload(gains, data, p)
        compute = p.phi_t * c / cpu_hz
        ahead = work_ahead(local - upload - compute, sqrt_c)
        total = ahead + root
        inv_local = 1.0 / local
        out[..., 0] = np.maximum(z, GAIN_FLOOR)
        out[..., 1] = np.log(upload * inv_local)
        out[..., 2] = np.log(compute * inv_local)
        out[..., 3] = np.log((upload + compute) * inv_local)
        out[..., 4] = np.log((upload + p.phi_t * (total * total - ahead * ahead) / cpu_hz)
                             * inv_local)
        out[..., 5] = np.log1p(total * total / (np.asarray(cpu_hz, dtype=float) * slot_s))
        if backlog_s is not None:
            out[..., 6] = np.log1p(np.maximum(backlog_s, 0.0))
    np.clip(out, -CLIP, CLIP, out=out)
    return out.astype(np.float32)
