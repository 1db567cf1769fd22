"""Per-MEC figures of the report: each MEC's utilisation, load share and mean backlog.

Definitions (``docs/report.md``), per MEC ``j`` and scheduler, pooled over the runs given
(the seeds of one grid setting):

* **utilisation**: the cycles of the tasks MEC ``j`` completed (``tasks.parquet``: target
  ``j``, status ``completed``, not re-run locally) over its capacity times the run's
  simulated time, ``Fmax_j x T``; ``T`` is the number of epochs times the slot length
  (``slots.parquet``'s ``time_s`` step). Pooled: summed cycles over summed ``Fmax_j x T``.
* **load share**: the share of the scheduler's offloaded tasks (target >= 1) sent to MEC
  ``j`` (placed there, whatever became of them). Pooled: summed counts.
* **mean backlog**: ``backlog_tasks_j`` of ``slots.parquet`` (tasks uploading to or in
  service at MEC ``j`` when an epoch began), mean over epochs and runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: The columns of :func:`per_mec_table`, in figure order: (column, panel title).
PER_MEC_VALUES = (
    ("utilisation", "utilisation: completed cycles / (Fmax × time) [%]"),
    ("load_share", "load share: share of offloaded tasks [%]"),
    ("mean_backlog", "mean backlog [tasks]"),
)


@dataclass
class RunLoad:
    """What one run contributes to the per-MEC table."""

    tasks: pd.DataFrame | None  # scheduler, target, status[, cycles, rerun_local]
    slots: pd.DataFrame | None  # scheduler, slot, time_s, backlog_tasks_j
    mec_cpu_hz: Sequence[float] | None  # Fmax_j [cycle/s], j = 1..M


def run_seconds(slots: pd.DataFrame | None) -> dict[str, float]:
    """Each scheduler's simulated time ``T`` [s]: its epochs times the slot length.

    The slot length is the median step of ``time_s`` between consecutive epochs; a run of
    one epoch (or without ``time_s``) has no ``T``.
    """
    if slots is None or not {"scheduler", "slot", "time_s"} <= set(slots.columns):
        return {}
    out = {}
    for name, part in slots.groupby("scheduler", sort=False):
        times = np.sort(part["time_s"].dropna().unique())
        if len(times) < 2:
            continue
        out[str(name)] = float(len(times) * np.median(np.diff(times)))
    return out


def _mec_columns(slots: pd.DataFrame | None) -> dict[int, str]:
    if slots is None:
        return {}
    cols = {int(c.rsplit("_", 1)[1]): c for c in slots.columns
            if c.startswith("backlog_tasks_") and c.rsplit("_", 1)[1].isdigit()}
    return {j: c for j, c in sorted(cols.items()) if slots[c].notna().any()}


def _run_rows(run: RunLoad) -> list[dict]:
    """The summable quantities of one run, one row per scheduler and MEC."""
    tasks, slots = run.tasks, run.slots
    seconds = run_seconds(slots)
    backlog = _mec_columns(slots)
    capacity = list(run.mec_cpu_hz) if run.mec_cpu_hz is not None else []
    mecs = set(backlog) | set(range(1, len(capacity) + 1))
    names: list[str] = []
    if tasks is not None and "scheduler" in tasks.columns:
        names += [str(n) for n in dict.fromkeys(tasks["scheduler"])]
    if slots is not None and "scheduler" in slots.columns:
        names += [str(n) for n in dict.fromkeys(slots["scheduler"])]
    have_tasks = tasks is not None and {"scheduler", "target"} <= set(tasks.columns)
    if have_tasks:
        mecs |= {int(j) for j in tasks["target"].dropna().unique() if j >= 1}
    rows = []
    for name in dict.fromkeys(names):
        mine = tasks[tasks["scheduler"] == name] if have_tasks else None
        offloaded = int((mine["target"] >= 1).sum()) if mine is not None else 0
        mine_slots = slots[slots["scheduler"] == name] if backlog else None
        for j in sorted(mecs):
            row = {"scheduler": name, "mec": j, "placed": np.nan, "offloaded": np.nan,
                   "cycles": np.nan, "capacity_s": np.nan, "backlog_sum": np.nan,
                   "epochs": np.nan}
            if mine is not None:
                row["placed"] = int((mine["target"] == j).sum())
                row["offloaded"] = offloaded
                seconds_j = seconds.get(name)
                if "cycles" in mine.columns and "status" in mine.columns and seconds_j \
                        and j <= len(capacity):
                    served = (mine["target"] == j) & (mine["status"] == "completed")
                    if "rerun_local" in mine.columns:
                        served &= ~mine["rerun_local"].fillna(False).astype(bool)
                    row["cycles"] = float(mine.loc[served, "cycles"].sum())
                    row["capacity_s"] = float(capacity[j - 1]) * seconds_j
            if mine_slots is not None and j in backlog:
                values = mine_slots[backlog[j]].dropna()
                row["backlog_sum"], row["epochs"] = float(values.sum()), len(values)
            rows.append(row)
    return rows


def per_mec_table(runs: Sequence[RunLoad]) -> pd.DataFrame | None:
    """Per scheduler and MEC: utilisation, load share and mean backlog, pooled over runs.

    Args:
        runs: The runs to pool (the seeds of one grid setting, or one run).

    Returns:
        Columns ``scheduler, mec`` and :data:`PER_MEC_VALUES`'s (NaN where a run lacks the
        data: no ``cycles``, no ``mec_cpu_hz``, no ``slots.parquet``), with ``runs`` (the
        runs that had the scheduler), ``placed`` and ``offloaded`` (summed task counts);
        rows in the schedulers' order of appearance, MECs ascending; None when no run has
        per-MEC data.
    """
    rows = []
    for k, run in enumerate(runs):
        rows += [dict(r, run=k) for r in _run_rows(run)]
    if not rows:
        return None
    df = pd.DataFrame(rows)
    order = list(dict.fromkeys(df["scheduler"]))
    sums = df.groupby(["scheduler", "mec"], sort=False).agg(
        placed=("placed", lambda s: s.sum(min_count=1)),
        offloaded=("offloaded", lambda s: s.sum(min_count=1)),
        cycles=("cycles", lambda s: s.sum(min_count=1)),
        capacity_s=("capacity_s", lambda s: s.sum(min_count=1)),
        backlog_sum=("backlog_sum", lambda s: s.sum(min_count=1)),
        epochs=("epochs", lambda s: s.sum(min_count=1)),
        runs=("run", "nunique")).reset_index()
    sums["utilisation"] = sums["cycles"] / sums["capacity_s"].where(sums["capacity_s"] > 0)
    sums["load_share"] = sums["placed"] / sums["offloaded"].where(sums["offloaded"] > 0)
    sums["mean_backlog"] = sums["backlog_sum"] / sums["epochs"].where(sums["epochs"] > 0)
    sums["rank"] = sums["scheduler"].map(order.index)
    sums = sums.sort_values(["rank", "mec"]).drop(columns="rank").reset_index(drop=True)
    keep = ["scheduler", "mec"] + [c for c, _ in PER_MEC_VALUES] + ["runs", "placed",
                                                                     "offloaded"]
    return sums[keep]
