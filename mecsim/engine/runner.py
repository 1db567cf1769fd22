"""A run: every scheduler of a scenario on the same world, written to one folder.

Files written (all atomically, and flushed as the run goes):

- ``scenario.yaml``: the resolved scenario (overrides, seed and slots applied);
- ``summary.json``: the offered load (``"load"``) and, per scheduler, its totals, realized
  figures, stability, per-slot model cost and ``"complete": true|false``;
- ``slots.parquet``, ``tasks.parquet``, ``channels.parquet`` (see ``docs/results.md``).

Ctrl-C or SIGTERM stops the run at the next epoch boundary (a second signal stops it at
once); the files are closed with every finished slot in them and the interrupted
scheduler marked ``"complete": false``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mecsim.engine.interrupt import StopRequest
from mecsim.engine.realized import FIGURES
from mecsim.engine.records import (
    TableWriter,
    channel_schema,
    position_schema,
    slot_schema,
    task_schema,
    training_columns,
    training_schema,
    write_json_atomic,
    write_text_atomic,
)
from mecsim.engine.simulation import SchedulerError, Simulation
from mecsim.engine.stability import backlog_trend, offered_load
from mecsim.rng import scheduler_seed

CHANNELS_AUTO_LIMIT = 10_000  # write channels.parquet by default when N * M <= this
CAPACITY_LIMITED = ("random", "greedy")  # take the scenario's greedy_max_tasks_per_mec
NAN = float("nan")


@dataclass
class SchedulerResult:
    """What one scheduler's simulation produced (also written to ``summary.json``)."""

    name: str
    complete: bool = False
    error: str | None = None
    slots: int = 0
    wall_s: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    dropped_by_reason: dict[str, int] = field(default_factory=dict)
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
                 progress: Callable[[str, int], Any] | None = None) -> list[SchedulerResult]:
    """Run every scheduler of ``scenario`` on common random numbers; write ``out_dir``.

    Args:
        scenario: A validated scenario (seed and slots already applied).
        out_dir: Folder to write (created if missing).
        schedulers: ``SchedulerSpec`` list to run (default: the scenario's).
        make: ``make(name, **params) -> Scheduler`` (default: :func:`mecsim.registry.make`).
        channels: Force ``channels.parquet`` on or off (default: the scenario's ``output``).
        progress: ``progress(name, total_slots)`` returning a callback
            ``(slot, tasks) -> None`` for each scheduler, or None.

    Returns:
        One :class:`SchedulerResult` per scheduler, in order.
    """
    from mecsim.config import dump_scenario

    if make is None:
        from mecsim.registry import make
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "scenario.yaml", dump_scenario(scenario))
    specs = list(schedulers if schedulers is not None else scenario.schedulers)
    results = [SchedulerResult(spec.label) for spec in specs]
    want_channels = _want_channels(scenario, channels)
    writers = {
        "tasks": TableWriter(out / "tasks.parquet", task_schema()),
        "slots": TableWriter(out / "slots.parquet", slot_schema(scenario.mecs.count)),
    }
    if want_channels:
        writers["channels"] = TableWriter(out / "channels.parquet", channel_schema())
        writers["positions"] = TableWriter(out / "positions.parquet", position_schema())
    summary = out / "summary.json"
    try:
        with StopRequest().installed() as stop:
            for index, (spec, result) in enumerate(zip(specs, results, strict=True)):
                on_world = _world_writer(writers) if want_channels and index == 0 else None
                tick = progress(spec.label, scenario.slots) if progress else None
                _run_one(scenario, spec, index, make, writers, result, on_world, tick, stop)
                _finish(results)
                write_json_atomic(summary, _summary(scenario, results))
    finally:
        for writer in writers.values():
            writer.close()
        _finish(results)
        write_json_atomic(summary, _summary(scenario, results))
    return results


def _run_one(scenario, spec, index, make, writers, result, on_world, tick, stop) -> None:
    slot_rows: list[dict] = []

    scheduler = None

    def on_slot(record: dict) -> None:
        slot_rows.append(record)
        if len(slot_rows) >= 256:
            _flush_slots()
        _flush_training()

    def _flush_slots() -> None:
        if slot_rows:
            writers["slots"].append({k: [r[k] for r in slot_rows] for k in slot_rows[0]})
            slot_rows.clear()

    def _flush_training() -> None:
        rows = scheduler.drain_log() if scheduler is not None else []
        if rows:
            if "training" not in writers:
                writers["training"] = TableWriter(writers["slots"].path.with_name(
                    "training.parquet"), training_schema())
            writers["training"].append(training_columns(spec.label, rows))

    started = time.perf_counter()
    sim = None
    try:
        scheduler = make(spec.name, **_params(scenario, spec))
        sim = Simulation(scenario, scheduler, spec.label, scenario.seed,
                         on_tasks=writers["tasks"].append, on_slot=on_slot, on_world=on_world,
                         check_stop=stop.check, urgent=stop.urgent)
        with stop.urgent():  # scheduler code: a stop request raises at once
            scheduler.reset(scheduler_seed(scenario.seed, index), sim.network)
        sim.run(scenario.slots, tick)
        result.complete = True
    except SchedulerError as exc:
        result.error = str(exc)
    except ValueError as exc:  # unknown scheduler or bad parameters
        result.error = f"scheduler {spec.label!r}: {exc}"
    finally:
        _flush_slots()
        _flush_training()
        result.scheduler = scheduler
        result.wall_s = time.perf_counter() - started
        if sim is not None:
            _collect(sim, result)


def _params(scenario, spec) -> dict[str, Any]:
    """The spec's params, with the scenario's insufficient-resources limit for baselines."""
    params = dict(spec.params)
    limit = scenario.greedy_max_tasks_per_mec
    if spec.name in CAPACITY_LIMITED and limit is not None:
        params.setdefault("max_tasks_per_mec", limit)
    return params


def _collect(sim: Simulation, result: SchedulerResult) -> None:
    c = sim.counters
    result.slots = sim.slots_done
    result.counts = sim.counts()
    result.dropped_by_reason = dict(c.dropped)
    result.invalid_tasks = c.invalid
    result.model_costs = list(sim.model_costs)
    if result.name == "optimal":
        result.optimal_exact = sim.inexact_slots == 0
    if sim.model_costs:
        result.mean_cost_per_slot = float(np.mean(sim.model_costs))
        result.median_decision_s = float(np.median(sim.decision_s))
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


def _want_channels(scenario, channels: bool | None) -> bool:
    if channels is not None:
        return channels
    setting = scenario.output.channels
    if setting == "auto":
        return scenario.iotds.count * scenario.mecs.count <= CHANNELS_AUTO_LIMIT
    return bool(setting)


def _world_writer(writers: dict[str, TableWriter]):
    def write(world) -> None:
        n, m = world.gains.shape
        writers["positions"].append({
            "slot": np.full(n, world.slot, dtype=np.int32),
            "iotd": np.arange(n, dtype=np.int32),
            "x_m": world.positions_m[:, 0], "y_m": world.positions_m[:, 1],
        })
        writers["channels"].append({
            "slot": np.full(n * m, world.slot, dtype=np.int32),
            "iotd": np.repeat(np.arange(n, dtype=np.int32), m),
            "mec": np.tile(np.arange(1, m + 1, dtype=np.int16), n),
            "gain": world.gains.ravel(), "distance_m": world.distance_m.ravel(),
        })
    return write
