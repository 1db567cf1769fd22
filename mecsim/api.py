"""The Python API of a run, for scripts and notebooks: :func:`run` and :func:`load_results`.

Example (the same run as ``python -m mecsim run scenarios/tiny.yaml --scheduler local
--scheduler optimal --seed 3``, in memory)::

    import mecsim

    res = mecsim.run("scenarios/tiny.yaml", schedulers=["local", "optimal"], seed=3)
    res.table()                       # one row per scheduler: realized and model figures
    res.slots.groupby("scheduler").model_cost.mean()
    res.tasks[res.tasks.status == "completed"].realized_latency_s.describe()

    res = mecsim.run("scenarios/tiny.yaml", schedulers=[("greedy", {"max_tasks_per_mec": 2})],
                     out="results/tiny-greedy")   # also kept on disk
    again = mecsim.load_results("results/tiny-greedy")

:func:`run` validates like the command line (a bad key or value raises
:class:`mecsim.config.ScenarioError` naming it; an unknown scheduler or parameter a
``ValueError``) and runs every scheduler on the same world, as ``run`` does.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

#: The columns of :meth:`Results.table`, from each scheduler's ``summary.json`` entry.
TABLE = ("realized_cost_per_task", "realized_cost_lower_bound", "mean_realized_latency_s",
         "latency_p95_s", "drop_rate", "in_flight_share", "stable", "mean_cost_per_slot",
         "ratio_to_optimal", "median_decision_s", "complete", "error")


@dataclass
class Results:
    """A run's results: its summary and its tables as pandas frames.

    Attributes:
        summary: ``summary.json`` as a dict (``scenario``, ``seed``, ``slots``, ``load``,
            ``schedulers``: one entry per scheduler label, in run order).
        slots: ``slots.parquet``: one row per scheduler and epoch.
        tasks: ``tasks.parquet``: one row per task and scheduler.
        channels: ``channels.parquet`` when the run wrote it, else ``None``.
        folder: Where the run is on disk; ``None`` for an in-memory run (``out=None``).
    """

    summary: dict[str, Any]
    slots: pd.DataFrame
    tasks: pd.DataFrame
    channels: pd.DataFrame | None = None
    folder: Path | None = None
    _order: list[str] = field(default_factory=list, repr=False)

    @property
    def schedulers(self) -> list[str]:
        """The scheduler labels, in run order."""
        return list(self.summary["schedulers"])

    def table(self) -> pd.DataFrame:
        """One row per scheduler (run order): the realized and model figures of the summary."""
        rows = {name: {k: entry.get(k) for k in TABLE}
                for name, entry in self.summary["schedulers"].items()}
        return pd.DataFrame.from_dict(rows, orient="index")[list(TABLE)]


def run(scenario, schedulers: Iterable[Any] | None = None, *, seed: int | None = None,
        slots: int | None = None, overrides: Sequence[str] = (), out: str | Path | None = None,
        channels: bool | None = None, workers: int | str = 1) -> Results:
    """Run a scenario's schedulers on one world and return the results.

    Args:
        scenario: A scenario file, a built-in scenario's name (``"tiny"``), or a
            :class:`mecsim.config.Scenario`.
        schedulers: What to run instead of the scenario's: names (``"optimal"``,
            ``"pkg.mod:Class"``, ``"path/file.py:Class"``, ``"sb3:agent.zip"``),
            ``(name, params)`` pairs, ``{"name": ..., "params": ..., "label": ...}``
            mappings or :class:`mecsim.config.SchedulerSpec` objects.
        seed: The world's seed (default: the scenario's).
        slots: Decision epochs (default: the scenario's).
        overrides: ``--set`` style overrides of a scenario file (``["iotds.count=10"]``).
        out: A new or empty folder to keep the run in (as ``run --out``); ``None`` runs in a
            temporary folder, reads the tables into memory and deletes it.
        channels: Write ``channels.parquet`` (default: the scenario's ``output``).
        workers: Schedulers simulated at once in worker processes, as ``run --workers``: a number,
            or ``"auto"`` (one per CPU, as many as fit in memory:
            :func:`mecsim.preflight.auto_workers`). The results are the same; the default, 1,
            forks nothing (a notebook's own threads make forking it unsafe).

    Returns:
        The :class:`Results`.

    Raises:
        mecsim.config.ScenarioError: A bad scenario, override or seed/slots value.
        ValueError: An unknown scheduler or parameter, ``out`` not new or empty, or
            ``workers`` neither ``"auto"`` nor a number of at least 1.
    """
    if not (workers == "auto" or (isinstance(workers, int) and workers >= 1)):
        raise ValueError(f"workers must be 'auto' or a number of at least 1, not {workers!r}")
    from mecsim.config import Scenario, load_scenario
    from mecsim.engine.runner import run_scenario

    extra = [*overrides] + ([f"seed={int(seed)}"] if seed is not None else []) \
        + ([f"slots={int(slots)}"] if slots is not None else [])
    if isinstance(scenario, Scenario):
        from mecsim.config import apply_overrides, dump_scenario, scenario_from_dict

        if extra:
            import yaml

            data = apply_overrides(yaml.safe_load(dump_scenario(scenario)), extra)
            scenario = scenario_from_dict(data)
    else:
        from mecsim.scenario_files import resolve_scenario

        scenario = load_scenario(resolve_scenario(scenario), extra)
    specs = None if schedulers is None else [_spec(s) for s in schedulers]
    if specs is not None:
        from mecsim.registry import scheduler_class

        for s in specs:
            scheduler_class(s.name)  # an unknown name fails before anything runs
    folder = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="mecsim-"))
    if out is not None and folder.exists() and any(folder.iterdir()):
        raise ValueError(f"out {folder} is not empty: give a new or empty folder")
    if workers == "auto":
        from mecsim.preflight import auto_workers

        workers = auto_workers(scenario, specs)
    try:
        run_scenario(scenario, folder, schedulers=specs, channels=channels, workers=workers)
        results = load_results(folder)
    finally:
        if out is None:
            shutil.rmtree(folder, ignore_errors=True)
    if out is None:
        results.folder = None
    return results


def load_results(folder: str | Path) -> Results:
    """Read a run folder written by ``python -m mecsim run`` or :func:`run`.

    Raises:
        FileNotFoundError: If the folder holds no ``summary.json``.
    """
    folder = Path(folder)
    summary_path = folder / "summary.json"
    if not summary_path.is_file():
        raise FileNotFoundError(f"{folder} holds no summary.json: not a run folder")
    summary = json.loads(summary_path.read_text())

    def table(name: str) -> pd.DataFrame | None:
        path = folder / f"{name}.parquet"
        return pd.read_parquet(path) if path.exists() else None

    slots, tasks = table("slots"), table("tasks")
    return Results(summary, slots if slots is not None else pd.DataFrame(),
                   tasks if tasks is not None else pd.DataFrame(), table("channels"), folder)


def _spec(item: Any):
    from mecsim.config import SchedulerSpec, default_label

    if isinstance(item, SchedulerSpec):
        return item
    if isinstance(item, str):
        if item.startswith("sb3:"):
            from mecsim.registry import sb3_entry_point

            path = item[len("sb3:"):]
            return SchedulerSpec(name=sb3_entry_point(path), params={"path": path},
                                 label="sb3:" + Path(path).name)
        return SchedulerSpec(name=item, params={}, label=default_label(item))
    if isinstance(item, tuple) and len(item) == 2:
        return SchedulerSpec(name=item[0], params=dict(item[1]), label=default_label(item[0]))
    if isinstance(item, Mapping):
        return SchedulerSpec(**item)
    raise ValueError(f"a scheduler is a name, a (name, params) pair, a mapping or a "
                     f"SchedulerSpec, got {item!r}")
