"""Validation of a scheduler's decision against the spec's constraints (5)-(7).

The engine calls :func:`check_decision` on every decision; it returns what is violated in
words (an empty list when the decision is valid), so the error can name it.
"""

from __future__ import annotations

import numpy as np

from mecsim.model.problem import SlotProblem

RTOL = 1e-9  # relative slack on the capacity and power limits (floating-point sums)
_MAX_LISTED = 3


def check_decision(problem: SlotProblem, placement, cpu_hz=None, tx_power_w=None) -> list[str]:
    """Return the violations of a decision, in words; empty when it is valid.

    Args:
        problem: The slot's problem the decision answers.
        placement: ``(n,)`` integers, 0 = local, ``j`` = MEC ``j`` (constraint 5: each task
            placed exactly once).
        cpu_hz: Optional ``(n,)`` CPU shares [cycle/s]; per MEC they must sum to at most
            ``Fmax_j`` (constraint 6) and be > 0 for offloaded tasks.
        tx_power_w: Optional ``(n,)`` transmit powers [W]; ``0 < p <= Pmax`` for offloaded
            tasks (constraint 7).
    """
    n, m = problem.n_tasks, problem.n_mecs
    a, problems = _placement(placement, n, m)
    if a is None:
        return problems
    off = a > 0
    problems += _targets(problem, a)
    if cpu_hz is not None:
        problems += _cpu(problem, a, off, cpu_hz)
    if tx_power_w is not None:
        problems += _power(problem, off, tx_power_w)
    return problems


def _placement(placement, n: int, m: int) -> tuple[np.ndarray | None, list[str]]:
    try:
        raw = np.asarray(placement)
    except Exception as exc:  # noqa: BLE001 - any failure to read it is a violation
        return None, [f"placement is not an array ({exc})"]
    if raw.shape != (n,):
        return None, [f"placement must have shape ({n},) (one entry per task), got {raw.shape}"]
    if raw.dtype == bool or not np.issubdtype(raw.dtype, np.number):
        return None, [f"placement must hold integers, got dtype {raw.dtype}"]
    if not np.isfinite(raw).all():
        bad = np.flatnonzero(~np.isfinite(raw))
        return None, [f"placement holds non-finite values at tasks {_listed(bad)}"]
    if not np.array_equal(raw, np.round(raw)):
        bad = np.flatnonzero(raw != np.round(raw))
        return None, [f"placement must hold integers, tasks {_listed(bad)} are not"]
    a = raw.astype(np.int64)
    bad = np.flatnonzero((a < 0) | (a > m))
    if bad.size:
        return None, [f"placement must be in 0..{m}, tasks {_listed(bad)} have "
                      f"{_listed(a[bad])}"]
    return a, []


def _targets(problem: SlotProblem, a: np.ndarray) -> list[str]:
    out = []
    down = np.flatnonzero((a > 0) & ~problem.available[np.maximum(a - 1, 0)])
    if down.size:
        out.append(f"tasks {_listed(down)} are sent to unavailable MEC(s) {_listed(a[down])}")
    dead = np.flatnonzero((a > 0) & (problem.gains[np.arange(a.size), np.maximum(a - 1, 0)] <= 0))
    if dead.size:
        out.append(f"tasks {_listed(dead)} are sent over a zero channel gain")
    hot = np.flatnonzero((a == 0) & ~problem.local_feasible)
    if hot.size:
        p = problem.params
        power = p.kappa * problem.local_cpu_hz[hot] ** p.nu
        out.append(f"tasks {_listed(hot)} run locally but need {_listed(power)} W of execution "
                   f"power, above Pmax = {p.max_power_w} W (constraint 7)")
    return out


def _cpu(problem: SlotProblem, a: np.ndarray, off: np.ndarray, cpu_hz) -> list[str]:
    f = np.asarray(cpu_hz, dtype=float)
    if f.shape != a.shape:
        return [f"cpu_hz must have shape {a.shape}, got {f.shape}"]
    if not np.isfinite(f).all():
        bad = np.flatnonzero(~np.isfinite(f))
        return [f"cpu_hz holds non-finite values at tasks {_listed(bad)}"]
    out = []
    bad = np.flatnonzero(off & (f <= 0))
    if bad.size:
        out.append(f"cpu_hz must be > 0 for offloaded tasks, tasks {_listed(bad)} have "
                   f"{_listed(f[bad])}")
    load = np.bincount(a, weights=np.where(off, f, 0.0), minlength=problem.n_mecs + 1)[1:]
    over = np.flatnonzero(load > problem.mec_cpu_hz * (1 + RTOL))
    if over.size:
        out.append(f"cpu_hz at MEC(s) {_listed(over + 1)} sums to {_listed(load[over])} Hz, "
                   f"above Fmax {_listed(problem.mec_cpu_hz[over])} Hz (constraint 6)")
    return out


def _power(problem: SlotProblem, off: np.ndarray, tx_power_w) -> list[str]:
    p = np.asarray(tx_power_w, dtype=float)
    if p.shape != off.shape:
        return [f"tx_power_w must have shape {off.shape}, got {p.shape}"]
    if not np.isfinite(p).all():
        bad = np.flatnonzero(~np.isfinite(p))
        return [f"tx_power_w holds non-finite values at tasks {_listed(bad)}"]
    pmax = problem.params.max_power_w
    bad = np.flatnonzero(off & ((p <= 0) | (p > pmax * (1 + RTOL))))
    if bad.size:
        return [f"tx_power_w must be in (0, {pmax}] W for offloaded tasks, tasks "
                f"{_listed(bad)} have {_listed(p[bad])} (constraint 7)"]
    return []


def _listed(values) -> str:
    values = list(np.asarray(values).ravel())
    shown = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values[:_MAX_LISTED])
    return shown + (f", ... ({len(values)} in all)" if len(values) > _MAX_LISTED else "")
