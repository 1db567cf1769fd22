"""Stability, said out loud: the offered load before a run, the backlog's trend after it.

Before a run, :func:`offered_load` compares the work that arrives with the capacity that
serves it. After a run, :func:`backlog_trend` fits a line to the total backlog (tasks and
cycles in the system) over the second half of the epochs and says whether it grows: a
scheduler whose backlog grows has no steady state, so its means depend on the run's length
and must not be read as converged figures.

**The criterion.** A backlog series (tasks, or cycles) *grows* when, over the second half
of the epochs (the *window*), all four of these hold:

1. the growth of its least-squares line over the window (slope x window length) is at
   least :data:`REL_GROWTH` (25 %) of the window's mean backlog: a real, not a marginal,
   trend;
2. that growth is at least :data:`MIN_GROWTH_TASKS` (2) tasks (for cycles: as many tasks'
   worth of cycles, at the window's mean cycles per backlogged task): a near-empty system
   that goes from 0 to 1 task is not overloaded;
3. the slope is :data:`MIN_T` (3) standard errors above zero, the standard error being
   widened for the residuals' lag-1 autocorrelation ``rho`` (clipped to :data:`RHO_MAX`)
   by ``sqrt((1 + rho) / (1 - rho))``: a backlog is strongly autocorrelated, and the
   plain standard error would let slow stationary wanders pass for a trend;
4. the means of its :data:`BLOCKS` (5) consecutive blocks of the window strictly increase:
   a check that needs no model of the noise (a stationary series does this by chance
   with probability 1/120 when the blocks are longer than its correlation time).

A scheduler is ``stable: false`` when its task or cycle backlog grows. A linear ramp passes
all four tests once it rises above the noise; a stationary noisy backlog fails at least one
almost always (measured rates in ``docs/results.md``). A backlog that wanders on a time
scale close to the window's length cannot be told from a trend, and may be flagged: its
means have not converged either. With fewer than :data:`MIN_POINTS` epochs in the window
there is too little to tell: ``stable`` is ``None``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MIN_POINTS = 10  # epochs in the second half below which stability is not judged
REL_GROWTH = 0.25  # growth over the window, relative to the window's mean backlog
MIN_GROWTH_TASKS = 2.0  # absolute growth over the window [task]
MIN_T = 3.0  # slope / its autocorrelation-corrected standard error
RHO_MAX = 0.99  # cap of the residuals' lag-1 autocorrelation in the correction
BLOCKS = 5  # blocks of the window whose means must strictly increase


def offered_load(scenario) -> dict[str, float]:
    """Return the work offered to the CPUs against their capacity, before a run.

    Keys: ``tasks_per_s_per_iotd`` (mean arrival rate ``lambda`` [1/s]),
    ``mean_task_cycles`` (``E[F]`` [cycle]), ``local_cpu_hz`` (``f0``), ``mec_cpu_hz_total``
    (``sum_j Fmax_j``), and three loads (utilisations; above 1 the queue grows):
    ``local`` = ``lambda E[F] / f0`` (one IoTD's CPU, if every task ran locally),
    ``mec_pool`` = ``N lambda E[F] / sum_j Fmax_j`` (the MECs, if every task were
    offloaded) and ``all_cpus`` = ``N lambda E[F] / (N f0 + sum_j Fmax_j)`` (above 1 no
    scheduler can keep up). MEC failures and the uplinks are not counted.

    Args:
        scenario: A validated scenario.
    """
    rate = float(scenario.tasks.arrival.tasks_per_s(scenario.slot_s))
    cycles = float(scenario.tasks.cycles.expected)
    n = scenario.iotds.count
    f0 = float(scenario.iotds.cpu_hz)
    f_mec = float(np.sum(scenario.mecs.cpu_hz))
    work = n * rate * cycles  # [cycle/s] offered by all IoTDs
    return {"tasks_per_s_per_iotd": rate, "mean_task_cycles": cycles, "local_cpu_hz": f0,
            "mec_cpu_hz_total": f_mec, "local": rate * cycles / f0, "mec_pool": work / f_mec,
            "all_cpus": work / (n * f0 + f_mec)}


def load_line(load: dict[str, float]) -> str:
    """Return the offered load of :func:`offered_load` as one line of text."""
    text = (f"offered load: local CPU {load['local']:.3g} "
            f"({load['tasks_per_s_per_iotd']:.3g} tasks/s x {load['mean_task_cycles']:.3g} "
            f"cycles / {load['local_cpu_hz']:.3g} Hz), MEC pool {load['mec_pool']:.3g} "
            f"(/ {load['mec_cpu_hz_total']:.3g} Hz), all CPUs {load['all_cpus']:.3g}")
    if load["all_cpus"] >= 1.0:
        text += ": overloaded, no scheduler can keep up"
    return text


def backlog_trend(time_s, tasks, cycles) -> dict[str, Any]:
    """Fit the total backlog's trend over the second half of the epochs.

    Args:
        time_s: Epoch times [s].
        tasks: Tasks in the system at each epoch.
        cycles: Their remaining work at each epoch [cycle].

    Returns:
        ``stable`` (True, False, or None when the second half has fewer than
        :data:`MIN_POINTS` epochs), ``window_s`` (the fitted span ``[first, last]``), and for
        ``tasks`` and ``cycles``: ``{x}_slope_per_s`` (least-squares slope [unit/s]),
        ``{x}_mean`` (mean backlog over the window), ``{x}_growth`` (slope x window
        length), ``{x}_t`` (slope over its autocorrelation-corrected standard error),
        ``{x}_rising_blocks`` (the means of :data:`BLOCKS` blocks strictly increase) and
        ``{x}_grows`` (the module's criterion).
    """
    t = np.asarray(time_s, dtype=float)
    series = {"tasks": np.asarray(tasks, dtype=float), "cycles": np.asarray(cycles, dtype=float)}
    start = t.size // 2
    out: dict[str, Any] = {"stable": None, "window_s": None}
    if t.size - start < MIN_POINTS:
        return out
    window = t[start:]
    out["window_s"] = [float(window[0]), float(window[-1])]
    fits = {k: _fit(window, v[start:]) for k, v in series.items()}
    per_task = fits["cycles"]["mean"] / fits["tasks"]["mean"] if fits["tasks"]["mean"] > 0 \
        else 0.0
    minimum = {"tasks": MIN_GROWTH_TASKS, "cycles": MIN_GROWTH_TASKS * per_task}
    for name, fit in fits.items():
        fit["grows"] = _grows(fit, minimum[name])
        out.update({f"{name}_{key}": value for key, value in fit.items()})
    out["stable"] = not (out["tasks_grows"] or out["cycles_grows"])
    return out


def _fit(t: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Least-squares line of ``y`` on ``t`` (slope, mean, growth, t) and the block test."""
    dt = t - t.mean()
    sxx = float(dt @ dt)
    mean = float(y.mean())
    slope = float(dt @ (y - mean) / sxx) if sxx > 0 else 0.0
    resid = y - mean - slope * dt
    ss = float(resid @ resid)
    rho = float(resid[1:] @ resid[:-1] / ss) if ss > 0 else 0.0
    rho = min(max(rho, 0.0), RHO_MAX)
    se = np.sqrt(ss / max(t.size - 2, 1) / sxx * (1 + rho) / (1 - rho)) if sxx > 0 else 0.0
    if se > 0:
        t_stat = slope / se
    else:
        t_stat = float("inf") if slope > 0 else 0.0
    blocks = [float(b.mean()) for b in np.array_split(y, BLOCKS)]
    return {"slope_per_s": slope, "mean": mean, "growth": slope * float(t[-1] - t[0]),
            "t": float(t_stat), "rising_blocks": bool(np.all(np.diff(blocks) > 0))}


def _grows(fit: dict[str, Any], min_growth: float) -> bool:
    """The module's criterion, on one series' fit."""
    growth = fit["growth"]
    return bool(growth > 0 and growth >= REL_GROWTH * fit["mean"] and growth >= min_growth
                and fit["t"] >= MIN_T and fit["rising_blocks"])
