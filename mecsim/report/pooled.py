"""The report's realized-performance figures, pooled over the seeds of each grid setting.

In a sweep, the cells that differ only in ``seed`` make one *setting*; the latency CDF,
energy, drops, backlog and per-MEC figures pool the tasks and slots of every seed of a
setting, and a dropdown (:func:`mecsim.report.selector.with_selector`) picks the setting.
A run is one setting of one seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mecsim.report import figures as F
from mecsim.report.per_mec import RunLoad, per_mec_table
from mecsim.report.selector import with_selector

#: The menu's name of the setting of a sweep whose cells differ in the seed only.
ALL_CELLS = "every cell"


@dataclass
class Setting:
    """One grid setting: its runs' tasks and slots, pooled (a ``run`` column added)."""

    name: str
    runs: int = 0  # runs with tasks or slots
    tasks: pd.DataFrame | None = None
    slots: pd.DataFrame | None = None
    loads: list[RunLoad] = field(default_factory=list)

    def per_mec(self) -> pd.DataFrame | None:
        """The setting's per-MEC table (:func:`mecsim.report.per_mec.per_mec_table`)."""
        return per_mec_table(self.loads)


def concat(frames: list[pd.DataFrame | None]) -> pd.DataFrame | None:
    """The non-empty frames one after the other (None: none)."""
    frames = [f for f in frames if f is not None and len(f)]
    return pd.concat(frames, ignore_index=True) if frames else None


def pool(members: Sequence[tuple[str, str, pd.DataFrame | None, pd.DataFrame | None,
                                 Sequence[float] | None]]) -> list[Setting]:
    """Pool runs by setting.

    Args:
        members: ``(setting, run_id, tasks, slots, mec_cpu_hz)`` per run, in the sweep's
            order (settings keep the order of their first run).
    """
    settings: dict[str, Setting] = {}
    parts: dict[str, tuple[list, list]] = {}
    for name, run_id, tasks, slots, capacity in members:
        name = name or ALL_CELLS
        setting = settings.setdefault(name, Setting(name))
        task_parts, slot_parts = parts.setdefault(name, ([], []))
        if (tasks is None or tasks.empty) and (slots is None or slots.empty):
            continue
        setting.runs += 1
        setting.loads.append(RunLoad(tasks, slots, capacity))
        if tasks is not None:
            task_parts.append(tasks.assign(run=run_id))
        if slots is not None:
            slot_parts.append(slots.assign(run=run_id))
    for name, setting in settings.items():
        setting.tasks = concat(parts[name][0])
        setting.slots = concat(parts[name][1])
    return [s for s in settings.values() if s.runs]


def _mec_columns(slots: pd.DataFrame | None) -> tuple[str, ...]:
    if slots is None:
        return ()
    return tuple(c for c in slots.columns if c.startswith("backlog_tasks_")
                 and c.rsplit("_", 1)[1].isdigit() and slots[c].notna().any())


def no_drops(settings: list[Setting]) -> list[str]:
    """The settings whose tasks (some in the table) include no dropped task."""
    return [s.name for s in settings if s.tasks is not None and "status" in s.tasks.columns
            and not (s.tasks["status"] == "dropped").any()]


def figures(settings: list[Setting], colors: dict[str, str], default: str | None,
            max_panels: int = 4) -> dict[str, Callable[[], Any]]:
    """The pooled figures' makers, by report key; each figure has a setting menu.

    Keys ``latency_cdf``, ``energy``, ``drops``, ``backlog``, ``per_mec``; each maker
    returns the figure (with a dropdown over the settings where there are several) or None.
    """
    default = default or ALL_CELLS
    names = {n for s in settings if s.tasks is not None for n in s.tasks["scheduler"]}
    points = F.cdf_points(max(1, len(settings)) * max(1, len(names)))
    # every setting's backlog figure gets the same panels: one per MEC only where they agree
    mecs = {_mec_columns(s.slots) for s in settings if s.slots is not None}
    per_mec_panels = len(mecs) == 1 and 0 < len(next(iter(mecs))) <= max_panels

    def each(make: Callable[[Setting], Any]) -> Callable[[], Any]:
        return lambda: with_selector({s.name: make(s) for s in settings}, default,
                                     "grid setting:")

    return {
        "latency_cdf": each(lambda s: F.latency_cdf(s.tasks, colors, points)),
        "energy": each(lambda s: F.energy(s.tasks, colors)),
        "drops": each(lambda s: F.drops(s.tasks, colors)),
        "backlog": each(lambda s: F.backlog(s.slots, colors, max_panels, per_mec_panels)),
        "per_mec": each(lambda s: F.per_mec(s.per_mec(), colors)),
    }
