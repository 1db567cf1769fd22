"""Running a sweep: one ``run`` per cell, in parallel, resumable, and one tidy table.

Layout of a sweep folder ``OUT``:

- ``OUT/sweep.yaml``: the sweep as run, itself a sweep file (``base`` made absolute);
- ``OUT/cells/<cell id>/``: one folder per cell in the format of ``python -m mecsim run``
  (``scenario.yaml``, ``summary.json``, ``slots.parquet``, ``tasks.parquet``, ...), plus
  ``error.txt`` when the cell's worker raised (first line: the error; then the traceback);
- ``OUT/sweep.parquet``: one row per cell and scheduler (:func:`build_table`), rebuilt
  from the cells' ``summary.json`` at the end of every call, written atomically.

A cell is *done* when its ``scenario.yaml`` equals the cell's scenario and its
``summary.json`` says ``complete: true`` for every scheduler, with every part it counts on
disk (the rule of ``mecsim run --resume``); :func:`run_sweep` skips done cells and clears
and re-runs every other one.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from mecsim.engine.interrupt import sigterm_raises
from mecsim.sweep.spec import Cell, Sweep, load_sweep, value_text

__all__ = ["CellJob", "CellRecord", "SweepResult", "build_table", "cell_done", "run_cell",
           "run_sweep", "write_table"]

CELLS = "cells"
TABLE = "sweep.parquet"
ERROR_FILE = "error.txt"
#: Fields of ``summary.json`` that follow the wall clock (they differ between two runs):
#: times, and ``parts``, how the rows were split into parts (one part per commit).
WALL_FIELDS = ("wall_s", "median_decision_s", "parts")
#: The tidy table's columns after ``cell``, the grid's columns and ``seed``.
COLUMNS = ("scheduler", "complete", "error", "mean_cost_per_slot", "ratio_to_optimal",
           "realized_cost_per_task", "realized_cost_per_task_ratio_to_optimal",
           "realized_cost_lower_bound", "realized_cost_lower_bound_ratio_to_optimal",
           "mean_realized_latency_s", "mean_realized_energy_j", "latency_p50_s",
           "latency_p95_s", "latency_p99_s", "drop_rate", "in_flight_share",
           "in_flight_mean_age_s", "offload_share", "stable", "dropped", "median_decision_s",
           "wall_s", "generated", "completed", "slots_done", "optimal_exact")
_FLOATS = ("mean_cost_per_slot", "ratio_to_optimal", "realized_cost_per_task",
           "realized_cost_lower_bound", "mean_realized_latency_s", "mean_realized_energy_j",
           "latency_p50_s", "latency_p95_s", "latency_p99_s", "drop_rate", "in_flight_share",
           "in_flight_mean_age_s", "offload_share", "median_decision_s", "wall_s")
#: Columns ``KEY_ratio_to_optimal``: ``summary.json``'s ``realized_ratio_to_optimal[KEY]``.
_REALIZED_RATIOS = ("realized_cost_per_task", "realized_cost_lower_bound")
_INTS = ("dropped", "generated", "completed", "slots_done")
_BOOLS = ("stable", "optimal_exact")


@dataclass(frozen=True)
class CellJob:
    """What a worker needs to run one cell (picklable, plain data).

    Attributes:
        cell: The cell id.
        scenario: The cell's scenario as plain data (:func:`mecsim.config.scenario_to_dict`).
        out_dir: The cell's folder (already cleared).
        sys_path: The driver's ``sys.path``; entries a worker lacks and has are appended, so
            that ``module:Class`` schedulers import the same way as in the driver.
    """

    cell: str
    scenario: dict[str, Any]
    out_dir: str
    sys_path: tuple[str, ...] = ()


@dataclass
class CellRecord:
    """How one cell's run went.

    Attributes:
        cell: The cell id.
        ok: Every scheduler completed.
        error: The schedulers' errors or the worker's exception, one line; None when ok.
        wall_s: Seconds the cell took in its worker.
    """

    cell: str
    ok: bool
    error: str | None = None
    wall_s: float = math.nan


@dataclass
class SweepResult:
    """What :func:`run_sweep` did.

    Attributes:
        out: The sweep folder.
        table: ``OUT/sweep.parquet``.
        ran: One record per cell run by this call, in completion order.
        skipped: Ids of the cells already done before this call.
    """

    out: Path
    table: Path
    ran: list[CellRecord] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[CellRecord]:
        """Records of the cells that failed in this call."""
        return [r for r in self.ran if not r.ok]


# --------------------------------------------------------------------------- one cell


def run_cell(job: CellJob) -> CellRecord:
    """Run one cell into ``job.out_dir`` (in a worker); never raises for the cell's failures.

    A scheduler's error is recorded in ``summary.json`` by the run; any other exception is
    written to ``error.txt`` (its one-line message, then the traceback).
    """
    started = time.perf_counter()
    for entry in job.sys_path:
        if entry and entry not in sys.path and os.path.isdir(entry):
            sys.path.append(entry)
    out = Path(job.out_dir)
    try:
        from mecsim.config import scenario_from_dict
        from mecsim.engine.runner import run_scenario

        scenario = scenario_from_dict(job.scenario, source=f"cell {job.cell}")
        results = run_scenario(scenario, out)
        errors = [r.error or f"scheduler {r.name!r} did not finish" for r in results
                  if not r.complete]
        return CellRecord(job.cell, not errors, "; ".join(errors) or None,
                          time.perf_counter() - started)
    except KeyboardInterrupt:
        return _failed(job, out, "interrupted", "", started)
    except Exception as exc:  # noqa: BLE001 - reported as the cell's error, the sweep goes on
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return _failed(job, out, message, traceback.format_exc(), started)


def _failed(job: CellJob, out: Path, message: str, trace: str, started: float) -> CellRecord:
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / ERROR_FILE).write_text(f"{message}\n\n{trace}")
    except OSError:
        pass
    return CellRecord(job.cell, False, message, time.perf_counter() - started)


# --------------------------------------------------------------------------- resume


def _fresh_summary(cell_dir: Path, cell: Cell) -> dict[str, Any] | None:
    """The cell's ``summary.json`` if its ``scenario.yaml`` is this cell's scenario."""
    from mecsim.config import scenario_from_dict

    try:
        stored = yaml.safe_load((cell_dir / "scenario.yaml").read_text())
        if scenario_from_dict(stored) != cell.scenario:
            return None
        summary = json.loads((cell_dir / "summary.json").read_text())
    except Exception:  # noqa: BLE001 - missing, unreadable or stale: not done
        return None
    return summary if isinstance(summary, dict) else None


def cell_done(cell_dir: Path, cell: Cell) -> bool:
    """True when the cell ran to the end for every scheduler with its current scenario.

    The rule of ``mecsim run --resume``: every scheduler is complete in ``summary.json``
    with all its parts on disk (:func:`mecsim.engine.folder.complete_schedulers`).
    """
    from mecsim.engine.folder import complete_schedulers

    summary = _fresh_summary(cell_dir, cell)
    if summary is None:
        return False
    done = complete_schedulers(cell_dir, summary)
    return all(label in done for label in cell.scenario.scheduler_labels)


# --------------------------------------------------------------------------- the sweep


def default_out_dir(sweep: Sweep) -> Path:
    """``results/sweeps/<sweep file stem>``: stable, so that a second call resumes."""
    return Path("results") / "sweeps" / sweep.name


def run_sweep(sweep: Sweep | str | Path, out_dir: str | Path | None = None, *,
              executor: str = "local", address: str | None = None, workers: int | None = None,
              progress: bool = False, console=None,
              on_cell: Callable[[CellRecord], Any] | None = None) -> SweepResult:
    """Run every cell of a sweep that is not done yet, then rebuild ``sweep.parquet``.

    Args:
        sweep: A :class:`Sweep` or the path of a sweep file.
        out_dir: The sweep folder (default :func:`default_out_dir`).
        executor: ``local`` (a process pool) or ``ray``.
        address: Ray cluster address (``ray`` only; default: start a local instance).
        workers: Cells run at once (default: the CPU count; Ray: the cluster's CPUs).
        progress: Show a progress bar over cells (rich, on stderr).
        console: The rich console of the bar (default: stderr).
        on_cell: Called with each cell's record as it finishes.

    Returns:
        A :class:`SweepResult`; failed cells are in ``result.failed``, never raised.

    Raises:
        ScenarioError: The sweep file is invalid (when given as a path).
        ExecutorError: The executor cannot start (unknown, Ray missing or unreachable).
        KeyboardInterrupt: Ctrl-C (or :class:`mecsim.engine.interrupt.Interrupted`: SIGTERM),
            after the running cells are stopped and the table is written with the cells
            finished so far.
    """
    from mecsim.config import scenario_to_dict
    from mecsim.engine.records import write_text_atomic
    from mecsim.sweep.executors import make_executor

    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep)
    out = Path(out_dir) if out_dir is not None else default_out_dir(sweep)
    runner = make_executor(executor, address=address, workers=workers)
    cells_dir = out / CELLS
    cells_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "sweep.yaml", "# The sweep as run (mecsim sweep); a sweep file.\n"
                      + yaml.safe_dump(sweep.resolved(), sort_keys=False, allow_unicode=True,
                                       default_flow_style=None, width=100))
    result = SweepResult(out=out, table=out / TABLE)
    todo = []
    for cell in sweep.cells:
        if cell_done(cells_dir / cell.id, cell):
            result.skipped.append(cell.id)
        else:
            todo.append(cell)
    jobs = []
    for cell in todo:
        cell_dir = cells_dir / cell.id
        if cell_dir.exists():
            shutil.rmtree(cell_dir)
        cell_dir.mkdir(parents=True)
        jobs.append(CellJob(cell.id, scenario_to_dict(cell.scenario), str(cell_dir),
                            tuple(sys.path)))
    bar = _progress_bar(console, not progress)
    try:
        with bar, sigterm_raises():
            task = bar.add_task("cells", total=len(sweep.cells), completed=len(result.skipped),
                                failed=0)
            if jobs:
                with closing(runner.run(jobs)) as finished:
                    for job, record in finished:
                        _keep_error(Path(job.out_dir), record)
                        result.ran.append(record)
                        bar.update(task, advance=1, failed=len(result.failed))
                        if on_cell is not None:
                            on_cell(record)
    finally:
        write_table(sweep, out)
    return result


def _progress_bar(console, quiet: bool):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description:<6}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("[red]{task.fields[failed]} failed"), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=console or Console(stderr=True),
                    disable=quiet, transient=False)


# --------------------------------------------------------------------------- the table


def build_table(sweep: Sweep, out_dir: str | Path) -> pa.Table:
    """Return the tidy table of a sweep folder: one row per cell and scheduler.

    Columns: ``cell``, one column per grid key (its dotted name, the cell's value), ``seed``,
    then :data:`COLUMNS` (``error`` is the scheduler's error, the worker's exception, or
    ``not run``; numbers are null where the run produced none). A cell whose folder is
    missing or stale has ``complete`` false. The schema's metadata holds
    ``mecsim.grid`` and ``mecsim.schedulers`` (JSON lists).
    """
    cells_dir = Path(out_dir) / CELLS
    labels = sweep.labels
    rows: dict[str, list[Any]] = {c: [] for c in ("cell", *sweep.grid_keys, "seed", *COLUMNS)}
    for cell in sweep.cells:
        cell_dir = cells_dir / cell.id
        summary = _fresh_summary(cell_dir, cell)
        cell_error = _read_error(cell_dir)
        by_label = (summary or {}).get("schedulers") or {}
        for label in labels:
            s = by_label.get(label) or {}
            complete = s.get("complete") is True
            error = s.get("error")
            if not complete and not error:
                error = cell_error or ("not run" if summary is None else "did not finish")
            counts = s.get("counts") or {}
            rows["cell"].append(cell.id)
            for key in sweep.grid_keys:
                rows[key].append(cell.values[key])
            rows["seed"].append(cell.seed)
            rows["scheduler"].append(label)
            rows["complete"].append(complete)
            rows["error"].append(error)
            for name in _FLOATS + _BOOLS:
                rows[name].append(s.get(name))
            ratios = s.get("realized_ratio_to_optimal") or {}
            for name in _REALIZED_RATIOS:
                rows[f"{name}_ratio_to_optimal"].append(ratios.get(name))
            rows["dropped"].append(counts.get("dropped"))
            rows["generated"].append(counts.get("generated"))
            rows["completed"].append(counts.get("completed"))
            rows["slots_done"].append(s.get("slots"))
    arrays = {"cell": pa.array(rows["cell"], pa.string())}
    for key in sweep.grid_keys:
        arrays[key] = _grid_array(rows[key])
    arrays["seed"] = pa.array(rows["seed"], pa.int64())
    arrays["scheduler"] = pa.array(rows["scheduler"], pa.string())
    arrays["complete"] = pa.array(rows["complete"], pa.bool_())
    arrays["error"] = pa.array(rows["error"], pa.string())
    for name in COLUMNS:
        if name in _FLOATS or name.endswith("_ratio_to_optimal"):
            arrays[name] = pa.array(rows[name], pa.float64())
        elif name in _INTS:
            arrays[name] = pa.array(rows[name], pa.int64())
        elif name in _BOOLS:
            arrays[name] = pa.array(rows[name], pa.bool_())
    order = ["cell", *sweep.grid_keys, "seed", *COLUMNS]
    table = pa.table({name: arrays[name] for name in order})
    return table.replace_schema_metadata({
        "mecsim.grid": json.dumps(list(sweep.grid_keys)),
        "mecsim.schedulers": json.dumps(list(labels)),
        "mecsim.sweep": sweep.name,
    })


def write_table(sweep: Sweep, out_dir: str | Path) -> Path:
    """Rebuild ``OUT/sweep.parquet`` from the cells (atomically); return its path."""
    path = Path(out_dir) / TABLE
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(build_table(sweep, out_dir), tmp)
    os.replace(tmp, path)
    return path


def _keep_error(cell_dir: Path, record: CellRecord) -> None:
    """Write a failure that left no trace in the cell folder (its worker died) to error.txt."""
    if record.ok or (cell_dir / ERROR_FILE).exists() or (cell_dir / "summary.json").exists():
        return
    try:
        cell_dir.mkdir(parents=True, exist_ok=True)
        (cell_dir / ERROR_FILE).write_text(f"{record.error or 'failed'}\n")
    except OSError:
        pass


def _read_error(cell_dir: Path) -> str | None:
    try:
        return (cell_dir / ERROR_FILE).read_text().splitlines()[0] or None
    except (OSError, IndexError):
        return None


def _grid_array(values: list[Any]) -> pa.Array:
    """A typed column for a grid key's values: numbers, booleans, strings, else their text."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pa.array(values, pa.bool_())
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pa.array(values, pa.int64())
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                       for v in present):
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    if present and all(isinstance(v, str) for v in present):
        return pa.array(values, pa.string())
    return pa.array([value_text(v) for v in values], pa.string())
