"""A run: every scheduler of a scenario on the same world, written to one folder.

Files written (see ``docs/results.md``):

- ``scenario.yaml``: the resolved scenario (overrides, seed and slots applied);
- ``summary.json``: the offered load (``"load"``) and, per scheduler, its totals, realized
  figures, stability, per-slot model cost and ``"complete": true|false``;
- ``slots.parquet/``, ``tasks.parquet/``, ``channels.parquet/``, ``positions.parquet/``,
  ``training.parquet/``: folders of Parquet parts (:mod:`mecsim.engine.records`).

**Commits.** Rows are buffered; every :data:`~mecsim.engine.records.FLUSH_S` seconds of
wall time (or :data:`~mecsim.engine.records.FLUSH_ROWS` buffered rows), at an epoch
boundary, and when a scheduler ends or stops, the runner *commits*: it writes each table's
buffered rows whole to a hidden temporary part, then ``summary.json`` to a hidden
temporary, renames the parts into place (``tasks`` last) and at once renames the summary.
``summary.json`` therefore never claims more than the parts hold: per scheduler, ``slots``
and ``counts`` are the rows *on disk* (``counts.generated`` task rows; ``completed``,
``dropped``, ``in_flight``: those rows by status), ``parts`` the parts it counts, and
``complete`` is true only in the commit that puts the scheduler's last part in place. A
``kill -9`` loses at most the rows since the last commit; it can leave a temporary (hidden,
skipped by readers) and, in the microseconds between the last part's rename and the
summary's, a part that ``summary.json`` does not count yet (``--resume`` removes it).
Ctrl-C and SIGTERM are held during a commit and acted on after it.

Ctrl-C or SIGTERM stops the run at the next epoch boundary, or at once inside scheduler
code (:mod:`mecsim.engine.interrupt`); a last commit then writes every finished slot with
the interrupted scheduler marked ``"complete": false``. ``run_scenario(..., resume=True)``
keeps the schedulers that are complete with their parts on disk and runs the others again.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from mecsim.engine.folder import SUMMARY, complete_schedulers
from mecsim.engine.interrupt import STOP_SIGNALS, StopRequest
from mecsim.engine.realized import FIGURES
from mecsim.engine.records import (
    DROP_REASONS,
    FLUSH_ROWS,
    STATUS,
    TABLES,
    Staged,
    TableWriter,
    TrainingWriter,
    channel_schema,
    flush_interval_s,
    json_text,
    keep_parts,
    position_schema,
    read_table,
    remove_tables,
    slot_schema,
    table_path,
    task_schema,
    training_columns,
    write_text_atomic,
)
from mecsim.engine.simulation import SchedulerError, Simulation
from mecsim.engine.stability import backlog_trend, offered_load
from mecsim.preflight import can_fork
from mecsim.rng import scheduler_seed

CHANNELS_AUTO_LIMIT = 10_000  # write channels.parquet by default when N * M <= this
CAPACITY_LIMITED = ("random", "greedy")  # take the scenario's greedy_max_tasks_per_mec
NAN = float("nan")
SLOT_BATCH = 256  # slot records gathered before they go to the table writer
COUNTS = ("generated", "completed", "dropped", "in_flight")


@dataclass
class SchedulerResult:
    """What one scheduler's simulation produced (also written to ``summary.json``)."""

    name: str
    index: int = 0  # position in the run: names the scheduler's parts
    complete: bool = False
    error: str | None = None
    slots: int = 0  # slot rows on disk
    wall_s: float = 0.0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    dropped_by_reason: dict[str, int] = field(default_factory=dict)
    parts: dict[str, int] = field(default_factory=dict)  # table -> parts on disk
    invalid_tasks: int = 0
    # realized (simulated) figures: mecsim.engine.realized.RealizedStats.summary
    realized_cost_per_task: float = NAN
    realized_cost_lower_bound: float = NAN
    mean_realized_latency_s: float = NAN
    mean_realized_energy_j: float = NAN
    latency_p50_s: float = NAN
    latency_p95_s: float = NAN
    latency_p99_s: float = NAN
    drop_rate: float = NAN
    in_flight_share: float = NAN
    in_flight_mean_age_s: float = NAN
    realized_ratio_to_optimal: dict[str, float | None] | None = None
    # stability: mecsim.engine.stability.backlog_trend
    stable: bool | None = None
    backlog_trend: dict[str, Any] = field(default_factory=dict)
    # the per-slot model (the spec's objective of each epoch's decisions)
    mean_cost_per_slot: float = NAN
    ratio_to_optimal: float | None = None
    optimal_exact: bool | None = None
    median_decision_s: float = NAN
    # share of the placed tasks (slot rows' ``tasks``) that went to a MEC (``offloaded``)
    offload_share: float = NAN
    # epochs decided while the scheduler was still learning (Scheduler.learning): its
    # figures over them are online training figures, not its frozen policy's
    training_slots: int = 0
    model_costs: list[float] = field(default_factory=list, repr=False)
    scheduler: Any = field(default=None, repr=False)  # the scheduler object, after its run

    def as_json(self) -> dict[str, Any]:
        """Return the fields written to ``summary.json`` (non-finite numbers as null)."""
        hidden = ("model_costs", "scheduler")
        return _json_safe({k: v for k, v in self.__dict__.items() if k not in hidden})


def _json_safe(value: Any) -> Any:
    """``value`` with every non-finite float, at any depth, replaced by None."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def run_scenario(scenario, out_dir: str | Path, *, schedulers=None, make=None,
                 channels: bool | None = None,
                 progress: Callable[[str, int], Any] | None = None,
                 resume: bool = False, workers: int = 1) -> list[SchedulerResult]:
    """Run every scheduler of ``scenario`` on common random numbers; write ``out_dir``.

    Args:
        scenario: A validated scenario (seed and slots already applied).
        out_dir: Folder to write (created if missing). Without ``resume``, the tables and
            summary of an earlier run there are deleted first.
        schedulers: ``SchedulerSpec`` list to run (default: the scenario's).
        make: ``make(name, **params) -> Scheduler`` (default: :func:`mecsim.registry.make`).
        channels: Force ``channels.parquet`` on or off (default: the scenario's ``output``).
        progress: ``progress(name, total_slots)`` returning a callback
            ``(slot, tasks) -> None`` for each scheduler, or None.
        resume: Keep the schedulers that ``out_dir`` holds complete (:func:`complete_schedulers`,
            at the same position in ``schedulers``), delete every other part and run the
            other schedulers. The caller makes sure the scenario is the one ``out_dir`` ran.
        workers: Schedulers simulated at once, each in a worker process
            (:mod:`mecsim.engine.workers`; the results are the same, bit for bit). 1, or a
            single scheduler to run, or a system without ``fork``: one after the other in
            this process, the only way that returns each result's ``scheduler`` object.

    Returns:
        One :class:`SchedulerResult` per scheduler, in order (kept ones read back).
    """
    from mecsim.config import dump_scenario

    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    if make is None:
        from mecsim.registry import make
    out = Path(out_dir)
    specs = list(schedulers if schedulers is not None else scenario.schedulers)
    results = [SchedulerResult(spec.label, index=k) for k, spec in enumerate(specs)]
    if resume and out.is_dir():
        _restore(out, results)
    elif out.is_dir():
        remove_tables(out)
        (out / SUMMARY).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "scenario.yaml", dump_scenario(scenario))
    files = RunFiles(out, scenario, results, want_channels(scenario, channels))
    with StopRequest().installed() as stop:
        files.commit()  # summary.json at once: every scheduler listed
        waiting = sum(not r.complete for r in results)
        if min(workers, waiting) > 1 and can_fork():
            from mecsim.engine.workers import run_in_workers

            run_in_workers(scenario, specs, results, files, make, progress, workers, stop)
            return results
        for spec, result in zip(specs, results, strict=True):
            if result.complete:  # kept from the run resumed
                continue
            tick = progress(spec.label, scenario.slots) if progress else None
            run_one(scenario, spec, make, files, result, tick, stop)
    return results


def run_one(scenario, spec, make, files: RunFiles, result: SchedulerResult, tick,
            stop: StopRequest) -> None:
    """Simulate one scheduler, committing its rows as it goes and once at its end."""
    files.start(result.index)
    slot_rows: list[dict] = []
    scheduler = sim = None
    started = time.perf_counter()

    def drain() -> None:
        if slot_rows:
            files.writers["slots"].append({k: [r[k] for r in slot_rows] for k in slot_rows[0]})
            slot_rows.clear()
        rows = scheduler.drain_log() if scheduler is not None else []
        if rows:
            files.writer("training").append(training_columns(spec.label, rows))

    def on_slot(record: dict) -> None:  # before the epoch's feedback: as it decided
        slot_rows.append(record)
        result.training_slots += bool(getattr(scheduler, "learning", False))
        due = files.due()
        if due or len(slot_rows) >= SLOT_BATCH:
            drain()
        if due:
            result.wall_s = time.perf_counter() - started
            files.commit(result, sim)

    from mecsim.registry import checkpoint_params, load_checkpoint

    finished = False
    try:
        params, checkpoint = checkpoint_params(spec.name, _params(scenario, spec))
        scheduler = make(spec.name, **params)
        on_world = _world_writer(files) if "channels" in files.writers else None
        sim = Simulation(scenario, scheduler, spec.label, scenario.seed,
                         on_tasks=files.writers["tasks"].append, on_slot=on_slot,
                         on_world=on_world, check_stop=stop.check, urgent=stop.urgent)
        scheduler.reset(scheduler_seed(scenario.seed, result.index), sim.network)
        if checkpoint is not None:  # any scheduler with save/load: after reset, as documented
            load_checkpoint(scheduler, checkpoint)
        sim.run(scenario.slots, tick)
        finished = True
    except SchedulerError as exc:
        result.error = str(exc)
    except ValueError as exc:  # unknown scheduler or bad parameters
        result.error = f"scheduler {spec.label!r}: {exc}"
    finally:
        result.scheduler = scheduler
        result.wall_s = time.perf_counter() - started
        try:
            drain()
            files.commit(result, sim, complete=finished)
        finally:
            if sim is not None:
                sim.close()  # no cyclic garbage left for whatever runs next


class RunFiles:
    """The run folder: the running scheduler's table writers and the commits.

    Args:
        out: The run folder.
        scenario: The scenario (for ``summary.json``).
        results: Every scheduler's result, in order (all are written to the summary).
        channels: Whether the first scheduler writes ``channels`` and ``positions``.
    """

    def __init__(self, out: Path, scenario, results: list[SchedulerResult],
                 channels: bool) -> None:
        self.out, self.scenario, self.results = out, scenario, results
        self.channels = channels
        self.writers: dict[str, TableWriter] = {}
        self.interval_s = flush_interval_s()
        self._last = time.monotonic()
        self._on_disk: dict[int, OnDisk] = {}
        # set in a worker process (mecsim.engine.workers): handover(result, moves) sends a
        # commit's figures and staged parts to the parent, which alone writes the summary
        self.handover: Callable[[SchedulerResult | None, list[tuple[Path, Path]]], None] \
            | None = None

    def start(self, index: int) -> None:
        """New writers for the scheduler at position ``index``."""
        self._on_disk[index] = OnDisk()
        self.writers = {
            "tasks": TableWriter(table_path(self.out, "tasks"), task_schema(), index,
                                 tally=("status", "drop_reason"), coalesce=True),
            "slots": TableWriter(table_path(self.out, "slots"),
                                 slot_schema(self.scenario.mecs.count), index,
                                 tally=("invalid", "tasks", "offloaded")),
        }
        if self.channels and index == 0:
            self.writers["channels"] = TableWriter(table_path(self.out, "channels"),
                                                   channel_schema(), index, coalesce=True)
            self.writers["positions"] = TableWriter(table_path(self.out, "positions"),
                                                    position_schema(), index, coalesce=True)

    def writer(self, table: str) -> TableWriter:
        """The running scheduler's writer of ``table`` (``training``: made when first used)."""
        if table not in self.writers:
            owner = self.writers["tasks"].owner
            self.writers[table] = TrainingWriter(table_path(self.out, table), owner)
        return self.writers[table]

    def due(self) -> bool:
        """Whether a commit is due: the interval has passed or a table holds many rows."""
        return (time.monotonic() - self._last >= self.interval_s
                or any(w.pending_rows >= FLUSH_ROWS for w in self.writers.values()))

    def commit(self, result: SchedulerResult | None = None, sim: Simulation | None = None,
               complete: bool = False) -> None:
        """Put the buffered rows on disk, then a ``summary.json`` that counts exactly them.

        Args:
            result: The running scheduler's result (None: rewrite the summary only).
            sim: Its simulation, for the figures so far (None if it never started).
            complete: Whether the scheduler ran to its end (``complete`` in the summary).
        """
        with _signals_held():
            staged = {name: w.stage() for name, w in self.writers.items()}
            staged = {name: part for name, part in staged.items() if part is not None}
            if result is not None:
                on_disk = self._on_disk[result.index].plus(staged)
                if sim is not None:
                    _collect(sim, result, on_disk.slots)
                on_disk.fill(result)
                result.complete = complete
            order = sorted(staged, key=lambda n: n == "tasks")  # tasks last

            def put_in_place() -> None:
                for name in order:
                    self.writers[name].commit(staged[name])

            if self.handover is None:
                self.publish(put_in_place)
            else:  # a worker process: its parent puts the parts in place
                for name in order:
                    self.writers[name].count(staged[name])
                self.handover(result, [(staged[n].tmp, staged[n].path) for n in order])
            if result is not None:
                self._on_disk[result.index] = on_disk
        release_memory()  # the rows just written, and their Arrow buffers, were freed
        self._last = time.monotonic()

    def receive(self, index: int, state: dict[str, Any],
                moves: list[tuple[Path, Path]]) -> None:
        """A worker's commit (:mod:`mecsim.engine.workers`): its figures, then :meth:`publish`.

        Args:
            index: The worker's scheduler's position in the run.
            state: The result's fields that changed; ``model_costs`` as ``(start, costs)``,
                the costs from position ``start`` on.
            moves: The worker's staged parts, (temporary, final) paths.
        """
        with _signals_held():
            result = self.results[index]
            start, costs = state.pop("model_costs", (len(result.model_costs), []))
            result.__dict__.update(state)
            result.model_costs[start:] = costs

            def put_in_place() -> None:
                for source, target in moves:
                    os.replace(source, target)

            self.publish(put_in_place)

    def publish(self, put_in_place: Callable[[], Any] | None = None) -> None:
        """A summary of every result to a temporary, the staged parts in place, the summary.

        Args:
            put_in_place: Renames the staged parts that the results count (None: none).
        """
        _finish(self.results)
        summary = self.out / SUMMARY
        tmp = summary.with_name(f".{summary.name}.tmp")
        tmp.write_text(json_text(_summary(self.scenario, self.results)))
        if put_in_place is not None:
            put_in_place()
        os.replace(tmp, summary)


def release_memory() -> bool:
    """Give free memory back to the OS: Arrow's pool's, then the C heap's (``malloc_trim``).

    Freed blocks otherwise stay in the process: Arrow's allocator (mimalloc) keeps the
    pages of the Parquet writers' buffers, and glibc returns only the top of its main
    heap. At 10,000 IoTDs x 100 MECs the RSS then creeps up within a run and from run to
    run, although the memory in use does not. A few milliseconds per call at that size;
    called after each commit.

    Returns:
        Whether the C heap released memory (False where the C library has no
        ``malloc_trim``: not glibc).
    """
    release_unused = getattr(pa.default_memory_pool(), "release_unused", None)
    if release_unused is not None:  # pyarrow >= 9
        release_unused()
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False


@functools.cache
def _malloc_trim():
    """The C library's ``malloc_trim`` through ctypes, or None (not Linux, not glibc)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library the interpreter runs on
    except (AttributeError, OSError):  # musl and others: no malloc_trim
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


@dataclass
class OnDisk:
    """What one scheduler's committed parts hold."""

    status: Counter = field(default_factory=Counter)  # task rows by status
    reasons: Counter = field(default_factory=Counter)  # dropped task rows by reason
    slots: int = 0  # slot rows
    invalid: int = 0  # sum of the slot rows' ``invalid``
    parts: dict[str, int] = field(default_factory=dict)  # table -> parts
    placed: int = 0  # sum of the slot rows' ``tasks``
    offloaded: int = 0  # sum of the slot rows' ``offloaded``

    def plus(self, staged: dict[str, Staged]) -> OnDisk:
        """What the parts hold once ``staged`` are in place too."""
        new = OnDisk(self.status.copy(), self.reasons.copy(), self.slots, self.invalid,
                     dict(self.parts), self.placed, self.offloaded)
        for name in staged:
            new.parts[name] = new.parts.get(name, 0) + 1
        if "tasks" in staged:  # the counts the writer kept of its string columns
            new.status.update(staged["tasks"].counts.get("status", {}))
            new.reasons.update(staged["tasks"].counts.get("drop_reason", {}))
        if "slots" in staged:  # and the sums of its integer columns
            part = staged["slots"]
            new.slots += part.table.num_rows
            new.invalid += part.sums.get("invalid", 0)
            new.placed += part.sums.get("tasks", 0)
            new.offloaded += part.sums.get("offloaded", 0)
        return new

    def fill(self, result: SchedulerResult) -> None:
        """Write these counts into ``result`` (what ``summary.json`` will claim)."""
        result.slots = self.slots
        counts = {s: self.status.get(s, 0) for s in STATUS}
        result.counts = {"generated": sum(counts.values()), **counts}
        result.dropped_by_reason = {r: self.reasons.get(r, 0) for r in DROP_REASONS[1:]}
        result.invalid_tasks = self.invalid
        result.parts = dict(self.parts)
        result.offload_share = self.offloaded / self.placed if self.placed else NAN


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM during the block; deliver them after it (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: held.append(signum))
                for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)
        for signum in held:
            signal.raise_signal(signum)


# --------------------------------------------------------------------------- resume


def _restore(out: Path, results: list[SchedulerResult]) -> None:
    """Read back the schedulers ``out`` holds whole; delete every other part (resume)."""
    done = complete_schedulers(out)
    kept: dict[int, dict[str, int]] = {}
    for k, r in enumerate(results):
        entry = done.get(r.name)
        if entry is not None and entry.get("index") == k:
            results[k] = _restored(entry)
            kept[k] = entry["parts"]
    for table in TABLES:
        folder = table_path(out, table)
        if folder.is_dir():
            keep_parts(folder, {k: parts.get(table, 0) for k, parts in kept.items()})
        for old in (folder, folder.with_name(folder.name + ".partial")):
            if old.is_file():  # an older engine's single file: nothing kept from it
                old.unlink()
    costs = _model_costs(out, [r.name for r in results if r.complete])
    for r in results:
        if r.complete:
            r.model_costs = costs.get(r.name, [])


def _restored(entry: dict[str, Any]) -> SchedulerResult:
    """A :class:`SchedulerResult` from its ``summary.json`` entry (null floats as NaN)."""
    values = {}
    for f in dataclasses.fields(SchedulerResult):
        if f.name not in entry or f.name in ("model_costs", "scheduler"):
            continue
        value = entry[f.name]
        if value is None and isinstance(f.default, float) and math.isnan(f.default):
            value = NAN
        values[f.name] = value
    return SchedulerResult(**values)


def _model_costs(out: Path, labels: list[str]) -> dict[str, list[float]]:
    """Each scheduler's per-slot model costs, in slot order, from ``slots.parquet``."""
    if not labels or not table_path(out, "slots").is_dir():
        return {}
    slots = read_table(table_path(out, "slots"), ["scheduler", "slot", "model_cost"])
    frame = slots.to_pandas().sort_values(["scheduler", "slot"], kind="stable")
    return {label: rows["model_cost"].tolist()
            for label, rows in frame.groupby("scheduler", sort=False) if label in labels}


def _params(scenario, spec) -> dict[str, Any]:
    """The spec's params, with the scenario's insufficient-resources limit for baselines."""
    params = dict(spec.params)
    limit = scenario.greedy_max_tasks_per_mec
    if spec.name in CAPACITY_LIMITED and limit is not None:
        params.setdefault("max_tasks_per_mec", limit)
    return params


def _collect(sim: Simulation, result: SchedulerResult, slots: int) -> None:
    """Fill ``result``'s figures from ``sim``, over its first ``slots`` slots (those on disk).

    The counts come from the parts on disk (:meth:`OnDisk.fill`), not from here.
    """
    result.model_costs = list(sim.model_costs[:slots])
    if result.name == "optimal":
        result.optimal_exact = sim.inexact_slots == 0
    if result.model_costs:
        result.mean_cost_per_slot = float(np.mean(result.model_costs))
        result.median_decision_s = float(np.median(sim.decision_s[:slots]))
    for key, value in sim.realized.summary().items():
        setattr(result, key, float(value))
    series = sim.backlog_series()
    result.backlog_trend = backlog_trend(series["time_s"], series["tasks"], series["cycles"])
    result.stable = result.backlog_trend["stable"]


def _finish(results: list[SchedulerResult]) -> None:
    """Fill each result's ratios to ``optimal``: per-slot model and realized figures."""
    reference = next((r for r in results if r.name == "optimal" and r.model_costs), None)
    for r in results:
        if reference is not None:
            r.optimal_exact = reference.optimal_exact
        if reference is None or not r.model_costs:
            continue
        k = min(len(r.model_costs), len(reference.model_costs))
        base = float(np.sum(reference.model_costs[:k]))
        r.ratio_to_optimal = float(np.sum(r.model_costs[:k])) / base if base > 0 else None
        r.realized_ratio_to_optimal = _realized_ratios(r, reference)


def _realized_ratios(result: SchedulerResult,
                     reference: SchedulerResult) -> dict[str, float | None] | None:
    """Each realized figure over ``optimal``'s (None where that one is 0 or undefined).

    Only for runs of the same length: realized figures of two horizons do not compare.
    """
    if result.slots != reference.slots:
        return None
    out: dict[str, float | None] = {}
    for key in FIGURES:
        mine, base = getattr(result, key), getattr(reference, key)
        ok = np.isfinite(mine) and np.isfinite(base) and base > 0
        out[key] = float(mine / base) if ok else None
    return out


def _summary(scenario, results: list[SchedulerResult]) -> dict[str, Any]:
    return {"scenario": scenario.name, "seed": scenario.seed, "slots": scenario.slots,
            "area_m": list(scenario.area_m),
            "mec_positions_m": np.asarray(scenario.mec_positions_m).tolist(),
            "mec_cpu_hz": list(scenario.mec_cpu_hz),
            "load": offered_load(scenario),
            "schedulers": {r.name: r.as_json() for r in results}}


def want_channels(scenario, channels: bool | None) -> bool:
    """Whether a run writes ``channels.parquet``: ``channels`` if given, else the scenario's."""
    if channels is not None:
        return channels
    setting = scenario.output.channels
    if setting == "auto":
        return scenario.iotds.count * scenario.mecs.count <= CHANNELS_AUTO_LIMIT
    return bool(setting)


def _world_writer(files: RunFiles):
    def write(world) -> None:
        n, m = world.gains.shape
        files.writers["positions"].append({
            "slot": np.full(n, world.slot, dtype=np.int32),
            "iotd": np.arange(n, dtype=np.int32),
            "x_m": world.positions_m[:, 0], "y_m": world.positions_m[:, 1],
        })
        if world.candidates is None:
            mec = np.tile(np.arange(1, m + 1, dtype=np.int16), n)
            gain = world.gains.ravel()
        else:  # the candidate links only (the others have no link)
            m = world.candidates.shape[1]
            mec = (world.candidates.ravel() + 1).astype(np.int16)
            gain = np.take_along_axis(world.gains, world.candidates, axis=1).ravel()
        files.writers["channels"].append({
            "slot": np.full(n * m, world.slot, dtype=np.int32),
            "iotd": np.repeat(np.arange(n, dtype=np.int32), m),
            "mec": mec, "gain": gain, "distance_m": world.distance_m.ravel(),
        })
    return write
