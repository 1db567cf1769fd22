"""One scheduler on one world: the SimPy simulation of a run.

Processes (plain generators, as in SimPy):

- the **epoch** process wakes every ``slot_s``, builds the slot's problem from the world,
  asks the scheduler (whole observation if centralized, one :class:`AgentView` per
  available MEC if not), validates and applies the decision, then gives feedback;
- each **failure** process takes a MEC down and brings it back.

Tasks themselves are SimPy timeouts with callbacks, not processes: a local task is one
timeout on its IoTD's CPU (first come, first served); an offloaded task is one timeout for
its upload on the IoTD's channel (first come, first served, block fading) and then a
share of its MEC's CPU (:class:`mecsim.engine.cpu.MecCpu`, weighted processor sharing).

Every task ends in exactly one state: completed, dropped (deadline, MEC failure, invalid
decision) or in flight when the run stops; ``generated = completed + dropped + in
flight`` holds at every epoch (:meth:`Simulation.counts`).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import simpy
from simpy.events import Timeout

from mecsim.engine.cpu import MecCpu
from mecsim.engine.realized import RealizedStats
from mecsim.engine.records import DROP_REASONS, STATUS
from mecsim.engine.world import SlotWorld, World
from mecsim.model.check import check_decision
from mecsim.model.problem import Allocation, SlotProblem
from mecsim.params import ModelParams
from mecsim.scheduler import (
    Decision,
    Network,
    Observation,
    Outcome,
    Scheduler,
    agent_views,
    vote,
)

COMPLETED, DROPPED, IN_FLIGHT = 0, 1, 2
COMPACT_MIN_ROWS = 64  # epochs of fewer tasks are held until their last task ends
DEADLINE, MEC_FAILURE, INVALID = 1, 2, 3


class SchedulerError(Exception):
    """A scheduler raised, or returned an invalid decision, at a given slot."""

    def __init__(self, scheduler: str, slot: int, message: str) -> None:
        super().__init__(scheduler, slot, message)  # SimPy re-raises as type(e)(*e.args)
        self.scheduler, self.slot, self.message = scheduler, slot, message

    def __str__(self) -> str:
        return f"scheduler {self.scheduler!r} at slot {self.slot}: {self.message}"


@dataclass(eq=False)
class Batch:
    """The tasks decided at one epoch, as columns; flushed once every task has ended."""

    slot: int
    first_id: int
    cols: dict[str, np.ndarray]
    open: int
    pos: np.ndarray | None = None  # task index -> row of cols, once ended rows were written

    def row(self, i: int) -> int:
        """Row of task ``i`` (its index in the epoch) in ``cols``."""
        return i if self.pos is None else int(self.pos[i])

    @property
    def size(self) -> int:
        """Number of rows still held."""
        return self.cols["iotd"].size


@dataclass
class Counters:
    """Running totals of one simulation."""

    generated: int = 0
    completed: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DROP_REASONS[1:], 0))
    invalid: int = 0
    realized_latency_s: float = 0.0
    realized_energy_j: float = 0.0


def model_params(scenario) -> ModelParams:
    """Return the :class:`ModelParams` of a scenario."""
    ch, dev, w = scenario.channel, scenario.iotds, scenario.weights
    return ModelParams(bandwidth_hz=ch.bandwidth_hz, noise_psd_w_per_hz=ch.noise_psd_w_per_hz,
                       beta0=ch.beta0, d_min_m=ch.d_min_m, max_power_w=dev.max_power_w,
                       kappa=dev.kappa, nu=dev.nu, phi_t=w.latency_per_s, phi_e=w.energy_per_j)


def network_of(scenario, world: World) -> Network:
    """Return the :class:`Network` facts handed to ``Scheduler.reset``."""
    n = scenario.iotds.count
    return Network(n_iotds=n, n_mecs=scenario.mecs.count,
                   mec_cpu_hz=np.asarray(scenario.mec_cpu_hz, dtype=float),
                   mec_positions_m=world.mec_positions_m.copy(),
                   local_cpu_hz=np.full(n, float(scenario.iotds.cpu_hz)),
                   area_m=tuple(scenario.area_m), slot_s=scenario.slot_s,
                   params=model_params(scenario))


class Simulation:
    """Simulates ``scheduler`` on the world of ``scenario`` with ``seed``.

    Args:
        scenario: A validated scenario.
        scheduler: A reset scheduler.
        name: The scheduler's name in the results.
        seed: The world's seed.
        on_tasks: Receives each finished :class:`Batch`'s rows (dict of columns).
        on_slot: Receives each epoch's slot record (dict of scalars).
        on_world: Receives each epoch's :class:`SlotWorld` (e.g. to write channels).
        check_stop: Called before each epoch; raises to stop the run there (see
            :class:`mecsim.engine.interrupt.StopRequest`).
    """

    def __init__(self, scenario, scheduler: Scheduler, name: str, seed: int,
                 on_tasks: Callable[[dict], None], on_slot: Callable[[dict], None],
                 on_world: Callable[[SlotWorld], None] | None = None,
                 check_stop: Callable[[], None] | None = None) -> None:
        self.scenario = scenario
        self.scheduler = scheduler
        self.name = name
        self.env = simpy.Environment()
        self.world = World(scenario, seed)
        self.network = network_of(scenario, self.world)
        self.params = self.network.params
        m, n = self.network.n_mecs, self.network.n_iotds
        self.mec_cpu_hz = self.network.mec_cpu_hz
        self.local_cpu_hz = self.network.local_cpu_hz
        self.available = np.ones(m, dtype=bool)
        self.cpus = [MecCpu(self.env, self.mec_cpu_hz[j], self._mec_done) for j in range(m)]
        self.uploading = np.zeros(m, dtype=np.int64)
        self.uploading_cycles = np.zeros(m)
        self._uploads: list[set] = [set() for _ in range(m)]
        self.device_free_s = np.zeros(n)  # [s] when each IoTD's CPU is next idle
        self.channel_free_s = np.zeros(n)  # [s] when each IoTD's uplink is next idle
        self.counters = Counters()
        self.model_costs: list[float] = []
        self.decision_s: list[float] = []
        self.inexact_slots = 0  # slots whose decision.info said exact: False
        self._open: dict[int, Batch] = {}
        self._next_id = 0
        self._on_tasks, self._on_slot, self._on_world = on_tasks, on_slot, on_world
        self._check_stop = check_stop
        self._deadline = scenario.tasks.deadline_s
        self._rerun_local = scenario.mecs.on_failure == "local"
        self._on_invalid = scenario.on_invalid
        self.slots_done = 0
        self.in_flight_at_end = 0
        self.realized = RealizedStats(self.params.phi_t, self.params.phi_e)
        self._backlog: dict[str, list[float]] = {"time_s": [], "tasks": [], "cycles": []}

    # ------------------------------------------------------------------ running
    def run(self, slots: int, progress: Callable[[int, int], None] | None = None) -> None:
        """Simulate ``slots`` epochs; then write every task still running as in flight.

        Args:
            slots: Number of epochs.
            progress: Called as ``progress(slot, tasks)`` after each epoch.

        Raises:
            SchedulerError: If the scheduler raises or returns an invalid decision (with
                ``on_invalid: error``); the finished slots are already written.
        """
        self._progress = progress
        for failure in self.scenario.mecs.failures:
            self.env.process(self._failure(failure.mec - 1, failure.start_s, failure.duration_s))
        self.env.process(self._epochs(slots))
        threshold = gc.get_threshold()
        gc.freeze()  # what exists now is never garbage: stop rescanning it
        gc.set_threshold(100_000, 50, 100)  # task events make no cyclic garbage
        try:
            self.env.run(until=slots * self.scenario.slot_s)
        finally:
            gc.set_threshold(*threshold)
            gc.unfreeze()
            self.finish()

    def finish(self) -> None:
        """Write every task that has not ended as in flight (idempotent)."""
        self.in_flight_at_end += sum(b.open for b in self._open.values())
        now = self.env.now
        for batch in list(self._open.values()):
            cols = batch.cols
            flying = cols["status"] == IN_FLIGHT
            cols["realized_latency_s"][flying] = now - cols["arrival_s"][flying]  # age so far
            self._flush(batch)
        self._open.clear()

    def backlog_series(self) -> dict[str, np.ndarray]:
        """Return the total backlog at each epoch, before its new tasks.

        Keys: ``time_s`` [s], ``tasks`` (tasks not yet ended: queued or running on an
        IoTD, uploading, or on a MEC) and ``cycles`` [cycle] (their remaining work).
        """
        return {k: np.asarray(v, dtype=float) for k, v in self._backlog.items()}

    def counts(self) -> dict[str, int]:
        """Return generated, completed, dropped and in-flight task counts."""
        c = self.counters
        dropped = sum(c.dropped.values())
        in_flight = self.in_flight_at_end + sum(b.open for b in self._open.values())
        return {"generated": c.generated, "completed": c.completed, "dropped": dropped,
                "in_flight": in_flight}

    def _epochs(self, slots: int):
        for _ in range(slots):
            if self._check_stop is not None:
                self._check_stop()
            world = self.world.next_slot()
            if self._on_world is not None:
                self._on_world(world)
            self._epoch(world)
            self.slots_done += 1
            if self._progress is not None:
                self._progress(world.slot, world.iotd.size)
            yield self.env.timeout(self.scenario.slot_s)

    def _failure(self, mec: int, start_s: float, duration_s: float):
        yield self.env.timeout(start_s)
        self.available[mec] = False
        for token in self.cpus[mec].clear():
            self._lost(token)
        yield self.env.timeout(duration_s)
        self.available[mec] = True

    # ------------------------------------------------------------------ one epoch
    def _epoch(self, world: SlotWorld) -> None:
        self._compact(world.slot)
        iotd = world.iotd
        problem = SlotProblem(world.gains[iotd], world.data_bits, world.cycles,
                              self.local_cpu_hz[iotd], self.mec_cpu_hz, self.params,
                              self.available.copy())
        backlog_tasks = np.array([c.tasks for c in self.cpus]) + self.uploading
        backlog_cycles = np.array([c.backlog_cycles() for c in self.cpus]) + self.uploading_cycles
        local_s = np.maximum(self.device_free_s - world.time_s, 0.0)  # [s] left per local CPU
        self._backlog["time_s"].append(world.time_s)
        self._backlog["tasks"].append(sum(b.open for b in self._open.values()))
        self._backlog["cycles"].append(float(backlog_cycles.sum() + local_s @ self.local_cpu_hz))
        obs = Observation(world.slot, world.time_s, iotd, problem, world.positions_m,
                          problem.available, backlog_tasks, backlog_cycles)
        started = time.perf_counter()
        decision = self._ask(obs)
        elapsed = time.perf_counter() - started
        placement, allocation, invalid, dropped = self._validate(problem, decision, world.slot)
        cost = problem.evaluate(placement, allocation)
        cost_sum = float(np.where(dropped, 0.0, cost.cost).sum())
        batch = self._batch(world, problem, placement, allocation, cost, dropped)
        self._start(batch, placement, allocation, world.time_s)
        self.counters.invalid += invalid
        self.model_costs.append(cost_sum)
        self.decision_s.append(elapsed)
        info = decision.info
        self.inexact_slots += info.get("exact") is False
        self._slot_record(world, placement, cost, cost_sum, elapsed, invalid, info,
                          backlog_tasks, backlog_cycles)
        self.scheduler.feedback(Outcome(world.slot, problem, placement, allocation, cost,
                                        cost_sum, 1.0 / cost_sum if cost_sum > 0 else 0.0,
                                        {"invalid": invalid}, iotd))

    def _ask(self, obs: Observation) -> Decision:
        try:
            if self.scheduler.centralized:
                decision = self.scheduler.decide(obs)
            else:
                views = agent_views(obs)
                scores = {j: self.scheduler.act(view) for j, view in views.items()}
                decision = Decision(vote(scores, obs.n_tasks))
        except Exception as exc:  # noqa: BLE001 - a scheduler's failure is reported, named
            raise SchedulerError(self.name, obs.slot, f"raised {type(exc).__name__}: {exc}") \
                from exc
        if not isinstance(decision, Decision):
            raise SchedulerError(self.name, obs.slot,
                                 f"returned {type(decision).__name__}, not a Decision")
        return decision

    def _validate(self, problem: SlotProblem, decision: Decision, slot: int):
        """Return the placement and allocation to apply, the invalid count, the drop mask."""
        n = problem.n_tasks
        violations = check_decision(problem, decision.placement, decision.cpu_hz,
                                    decision.tx_power_w)
        dropped = np.zeros(n, dtype=bool)
        if not violations:
            placement = np.asarray(decision.placement).astype(np.int64)
            return placement, self._allocation(problem, placement, decision), 0, dropped
        if self._on_invalid == "error":
            raise SchedulerError(self.name, slot, "invalid decision: " + "; ".join(violations))
        placement = _repair(problem, decision.placement)
        bad = placement < 0
        placement[bad] = 0
        if check_decision(problem, placement):
            dropped = ~problem.local_feasible & (placement == 0)
        invalid = int(bad.sum())
        allocation = problem.allocate(placement)
        if not bad.any():  # the placement was fine: the allocation was not
            invalid = int((placement > 0).sum())
        return placement, allocation, invalid, dropped

    @staticmethod
    def _allocation(problem: SlotProblem, placement: np.ndarray,
                    decision: Decision) -> Allocation:
        exact = problem.allocate(placement)
        if decision.cpu_hz is None and decision.tx_power_w is None:
            return exact
        off = placement > 0
        cpu = exact.cpu_hz if decision.cpu_hz is None else \
            np.where(off, np.asarray(decision.cpu_hz, dtype=float), 0.0)
        power = exact.tx_power_w if decision.tx_power_w is None else \
            np.where(off, np.asarray(decision.tx_power_w, dtype=float), 0.0)
        p = problem.params
        gain = problem.gains[np.arange(placement.size), np.maximum(placement - 1, 0)]
        rate = np.where(off, p.bandwidth_hz * np.log2(1.0 + power * gain / p.noise_w), 0.0)
        return Allocation(cpu, power, rate)

    # ------------------------------------------------------------------ task life
    def _batch(self, world, problem, placement, allocation, cost, dropped) -> Batch:
        n = placement.size
        off = placement > 0
        first = self._next_id
        self._next_id += n
        self.counters.generated += n
        gain = np.where(off, problem.gains[np.arange(n), np.maximum(placement - 1, 0)], np.nan)
        nan = np.full(n, np.nan)
        cols = {
            "task_id": np.arange(first, first + n, dtype=np.int64),
            "iotd": world.iotd.astype(np.int32), "slot": np.full(n, world.slot, np.int32),
            "arrival_s": world.arrival_s, "target": placement.astype(np.int16),
            "cpu_hz": allocation.cpu_hz, "tx_power_w": allocation.tx_power_w,
            "data_bits": world.data_bits, "cycles": world.cycles, "gain": gain,
            "rate_bps": allocation.rate_bps, "model_latency_s": cost.latency_s,
            "model_energy_j": cost.energy_j, "model_cost": cost.cost,
            "status": np.full(n, IN_FLIGHT, np.int8), "drop_reason": np.zeros(n, np.int8),
            "done_s": nan.copy(), "realized_latency_s": nan.copy(),
            "realized_energy_j": np.zeros(n), "rerun_local": np.zeros(n, dtype=bool),
        }
        batch = Batch(world.slot, first, cols, n)
        if n:
            self._open[world.slot] = batch
        for i in np.flatnonzero(dropped):
            self._end(batch, int(i), DROPPED, INVALID, world.time_s)
        return batch

    def _start(self, batch: Batch, placement, allocation, now: float) -> None:
        cols = batch.cols
        live = cols["status"] == IN_FLIGHT
        env = self.env
        local = np.flatnonzero(live & (placement == 0))
        if local.size:
            dev = cols["iotd"][local]
            f0 = self.local_cpu_hz[dev]
            run_s = cols["cycles"][local] / f0
            finish = _fcfs(self.device_free_s, dev, run_s, now)
            p = self.params
            cols["realized_energy_j"][local] += p.kappa * f0**p.nu * run_s
            done = self._local_done
            for delay, i in zip((finish - now).tolist(), local.tolist(), strict=True):
                Timeout(env, delay, (batch, i)).callbacks.append(done)
        off = np.flatnonzero(live & (placement > 0))
        if off.size:
            dev = cols["iotd"][off]
            upload_s = cols["data_bits"][off] / allocation.rate_bps[off]
            finish = _fcfs(self.channel_free_s, dev, upload_s, now)
            cols["realized_energy_j"][off] = allocation.tx_power_w[off] * upload_s
            mecs = placement[off] - 1
            np.add.at(self.uploading, mecs, 1)
            np.add.at(self.uploading_cycles, mecs, cols["cycles"][off])
            uploaded = self._uploaded
            for delay, i, mec in zip((finish - now).tolist(), off.tolist(), mecs.tolist(),
                                     strict=True):
                token = (batch, i)
                self._uploads[mec].add(token)
                Timeout(env, delay, (token, mec)).callbacks.append(uploaded)

    def _run_local(self, batch: Batch, i: int, dev: int, cycles: float, now: float) -> None:
        """Queue one task (re-run after a MEC failure) on its IoTD's CPU."""
        start = max(now, self.device_free_s[dev])
        run_s = cycles / self.local_cpu_hz[dev]
        self.device_free_s[dev] = start + run_s
        p = self.params
        batch.cols["realized_energy_j"][batch.row(i)] += (
            p.kappa * self.local_cpu_hz[dev] ** p.nu * run_s)
        Timeout(self.env, start + run_s - now, (batch, i)).callbacks.append(self._local_done)

    def _local_done(self, event: simpy.Event) -> None:
        batch, i = event.value
        self._complete(batch, i, self.env.now)

    def _uploaded(self, event: simpy.Event) -> None:
        token, mec = event.value
        batch, i = token
        self.uploading[mec] -= 1
        r = batch.row(i)
        self.uploading_cycles[mec] -= batch.cols["cycles"][r]
        self._uploads[mec].discard(token)
        if not self.available[mec]:
            self._lost(token)
            return
        self.cpus[mec].join(token, float(batch.cols["cycles"][r]), float(batch.cols["cpu_hz"][r]))

    def _mec_done(self, token, now: float) -> None:
        batch, i = token
        self._complete(batch, i, now)

    def _lost(self, token) -> None:
        """A task's MEC failed: drop it, or run it again on its IoTD."""
        batch, i = token
        if self._rerun_local:
            r = batch.row(i)
            batch.cols["rerun_local"][r] = True
            self._run_local(batch, i, int(batch.cols["iotd"][r]), float(batch.cols["cycles"][r]),
                            self.env.now)
        else:
            self._end(batch, i, DROPPED, MEC_FAILURE, self.env.now)

    def _complete(self, batch: Batch, i: int, now: float) -> None:
        deadline = self._deadline
        if deadline is not None and now - batch.cols["arrival_s"][batch.row(i)] > deadline:
            self._end(batch, i, DROPPED, DEADLINE, now)
        else:
            self._end(batch, i, COMPLETED, 0, now)

    def _end(self, batch: Batch, i: int, status: int, reason: int, now: float) -> None:
        cols = batch.cols
        i = batch.row(i)
        cols["status"][i] = status
        cols["drop_reason"][i] = reason
        cols["done_s"][i] = now
        latency = now - cols["arrival_s"][i]
        cols["realized_latency_s"][i] = latency
        c = self.counters
        if status == COMPLETED:
            c.completed += 1
            c.realized_latency_s += latency
            c.realized_energy_j += cols["realized_energy_j"][i]
        else:
            c.dropped[DROP_REASONS[reason]] += 1
        batch.open -= 1
        if batch.open == 0:
            del self._open[batch.slot]
            self._flush(batch)

    def _compact(self, slot: int) -> None:
        """Write the ended rows of mostly-ended epochs and keep only their open rows.

        An epoch's rows would otherwise stay in memory until its last task ends, and a few
        stragglers per epoch (a deep fade, a long MEC queue) would make memory grow with
        the run's length.
        """
        for batch in self._open.values():
            small = batch.size < COMPACT_MIN_ROWS or batch.open * 8 > batch.size
            if batch.slot >= slot - 1 or small:
                continue
            ended = batch.cols["status"] != IN_FLIGHT
            self._flush_rows({k: v[ended] for k, v in batch.cols.items()})
            keep = np.flatnonzero(~ended)
            batch.cols = {k: v[keep] for k, v in batch.cols.items()}
            moved = np.full(ended.size, -1, dtype=np.int64)
            moved[keep] = np.arange(keep.size)
            batch.pos = moved if batch.pos is None else np.where(
                batch.pos >= 0, moved[np.maximum(batch.pos, 0)], -1)

    def _flush(self, batch: Batch) -> None:
        self._flush_rows(dict(batch.cols))

    def _flush_rows(self, cols: dict[str, np.ndarray]) -> None:
        n = cols["iotd"].size
        self.realized.add(cols["status"], cols["realized_latency_s"], cols["realized_energy_j"])
        cols["status"] = np.asarray(STATUS, dtype=object)[cols["status"]]
        cols["drop_reason"] = np.asarray([None, *DROP_REASONS[1:]], dtype=object)[
            cols["drop_reason"]]
        cols["scheduler"] = np.full(n, self.name, dtype=object)
        self._on_tasks(cols)

    def _slot_record(self, world, placement, cost, cost_sum, elapsed, invalid, info,
                     backlog_tasks, backlog_cycles) -> None:
        record = {
            "scheduler": self.name, "slot": world.slot, "time_s": world.time_s,
            "tasks": int(placement.size), "offloaded": int((placement > 0).sum()),
            "model_cost": cost_sum, "model_latency_s": float(cost.latency_s.sum()),
            "model_energy_j": float(cost.energy_j.sum()), "decision_s": elapsed,
            "invalid": invalid, "lower_bound": float(info.get("lower_bound", np.nan)),
            "exact": info.get("exact"),
        }
        for j in range(self.network.n_mecs):
            record[f"backlog_tasks_{j + 1}"] = int(backlog_tasks[j])
            record[f"backlog_cycles_{j + 1}"] = float(backlog_cycles[j])
            record[f"available_{j + 1}"] = bool(self.available[j])
        self._on_slot(record)


def _fcfs(free: np.ndarray, dev: np.ndarray, duration: np.ndarray, now: float) -> np.ndarray:
    """First come, first served per device: the finish time of each job, in input order.

    Jobs of one device run back to back after ``max(now, free[d])``; ``free`` is updated in
    place to when each device is next idle.
    """
    order = np.argsort(dev, kind="stable")
    d, r = dev[order], duration[order]
    first = np.ones(d.size, dtype=bool)
    first[1:] = d[1:] != d[:-1]
    heads = np.flatnonzero(first)
    group = np.cumsum(first) - 1
    total = np.cumsum(r)
    before = (total - r)[heads]
    finish_sorted = np.maximum(now, free[d[heads]])[group] + (total - before[group])
    tails = np.append(heads[1:] - 1, d.size - 1)
    free[d[tails]] = finish_sorted[tails]
    finish = np.empty_like(finish_sorted)
    finish[order] = finish_sorted
    return finish


def _repair(problem: SlotProblem, placement) -> np.ndarray:
    """Return the placement with each invalid entry set to -1 (whole array if unusable)."""
    n, m = problem.n_tasks, problem.n_mecs
    try:
        raw = np.asarray(placement, dtype=float)
    except (TypeError, ValueError):
        return np.full(n, -1, dtype=np.int64)
    if raw.shape != (n,):
        return np.full(n, -1, dtype=np.int64)
    ok = np.isfinite(raw) & (raw == np.round(raw)) & (raw >= 0) & (raw <= m)
    a = np.where(ok, raw, -1).astype(np.int64)
    mec = np.maximum(a - 1, 0)
    usable = (a <= 0) | (problem.available[mec] & (problem.gains[np.arange(n), mec] > 0))
    return np.where(usable, a, -1)
