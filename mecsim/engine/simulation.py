"""One scheduler on one world: the SimPy simulation of a run.

Processes (plain generators, as in SimPy):

- the **epoch** process wakes every ``slot_s``, builds the slot's problem from the world,
  asks the scheduler (whole observation if centralized, one :class:`AgentView` per
  available MEC if not), validates and applies the decision, then gives feedback;
- each **failure** process takes a MEC down and brings it back.

Tasks themselves are not processes: a local task waits in its IoTD's CPU line (first come,
first served at a constant rate: its finish is computed when it is placed and it gets no
SimPy event, :class:`mecsim.engine.lines.LocalCpus`); an offloaded task (SimPy timeouts
with callbacks) waits in its IoTD's uplink line, uploads at the rate of the channel as it is at each
fading step, then takes a share of its MEC's CPU (:class:`mecsim.engine.cpu.MecCpu`,
weighted processor sharing). A task with a deadline is dropped at that instant wherever
it is, and gives its line or CPU share back.

Every task ends in exactly one state: completed, dropped (deadline, MEC failure, invalid
decision) or in flight when the run stops; ``generated = completed + dropped + in
flight`` holds at every epoch (:meth:`Simulation.counts`).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass, field, replace
from types import TracebackType

import numpy as np
import simpy
from simpy.events import Timeout

from mecsim.engine import prefetch
from mecsim.engine.cpu import MecCpu
from mecsim.engine.lines import AheadEnvironment, ConstantRateLines, FcfsLines, Job, LocalCpus
from mecsim.engine.observation import EpochObservation
from mecsim.engine.prefetch import WorldAhead
from mecsim.engine.realized import RealizedStats
from mecsim.engine.records import DROP_REASONS, STATUS
from mecsim.engine.world import SlotChannel, SlotWorld, World
from mecsim.model.check import check_decision
from mecsim.model.problem import Allocation, SlotProblem
from mecsim.params import ModelParams
from mecsim.scheduler import (
    Decision,
    Network,
    Observation,
    Outcome,
    RealizedSince,
    Scheduler,
    agent_views,
    vote,
)

COMPLETED, DROPPED, IN_FLIGHT = 0, 1, 2
COMPACT_MIN_ROWS = 64  # epochs of fewer tasks are held until their last task ends
DEADLINE, MEC_FAILURE, INVALID = 1, 2, 3
# Local tasks' completions computed when they are placed (:class:`LocalCpus`), not one SimPy
# timeout each; False keeps the event-by-event path, the reference of tests/test_engine_bulk.py
LOCAL_IN_BULK = True
#: Draw the next slot's world in a background thread while this slot is simulated
#: (:mod:`mecsim.engine.prefetch`), or for a small world only its shadowing normals
#: (:mod:`mecsim.engine.normals`); identical results. False: one thread.
PREFETCH_WORLD = True
DEADLINE_MARGIN = 1e-9  # relative: a local finish this close to its deadline keeps the event


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
    # once ended rows were written: task index -> row of cols, for the rows still held (a
    # dict of the few open tasks, not an array of the epoch's size: memory stays flat)
    pos: dict[int, int] | None = None
    index: np.ndarray | None = None  # the task index of each row held, with ``pos``

    def row(self, i: int) -> int:
        """Row of task ``i`` (its index in the epoch) in ``cols``."""
        return i if self.pos is None else self.pos[i]

    @property
    def size(self) -> int:
        """Number of rows still held."""
        return self.cols["iotd"].size


@dataclass
class Counters:
    """Running totals of one simulation (realized figures: :attr:`Simulation.realized`)."""

    generated: int = 0
    completed: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DROP_REASONS[1:], 0))
    invalid: int = 0


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
        urgent: Wraps every call into the scheduler (decision and feedback), e.g.
            :meth:`mecsim.engine.interrupt.StopRequest.urgent`, so that a stop request
            raises at once inside scheduler code, which changes no engine state.
    """

    def __init__(self, scenario, scheduler: Scheduler, name: str, seed: int,
                 on_tasks: Callable[[dict], None], on_slot: Callable[[dict], None],
                 on_world: Callable[[SlotWorld], None] | None = None,
                 check_stop: Callable[[], None] | None = None,
                 urgent: Callable[[], AbstractContextManager] | None = None) -> None:
        self.scenario = scenario
        self.scheduler = scheduler
        self.name = name
        self.env = AheadEnvironment() if LOCAL_IN_BULK else simpy.Environment()
        self.world = World(scenario, seed)
        self.network = network_of(scenario, self.world)
        self.params = self.network.params
        m = self.network.n_mecs
        self.mec_cpu_hz = self.network.mec_cpu_hz
        self.local_cpu_hz = self.network.local_cpu_hz
        self.available = np.ones(m, dtype=bool)
        self.cpus = [MecCpu(self.env, self.mec_cpu_hz[j], self._mec_done) for j in range(m)]
        self.uploading = np.zeros(m, dtype=np.int64)
        self.uploading_cycles = np.zeros(m)
        self._uploads: list[set] = [set() for _ in range(m)]  # tokens uploading to each MEC
        self.local = LocalCpus(self.env, self.local_cpu_hz, self._local_done) if LOCAL_IN_BULK \
            else ConstantRateLines(self.env, self.local_cpu_hz, self._local_done)  # CPUs
        self.uplink = FcfsLines(self.env, self._upload_rates, self._upload_done)  # uplinks
        # token -> its line, for the tasks a deadline or a failure may take off it
        self._in_line: dict[object, tuple[FcfsLines | LocalCpus, int, Job]] = {}
        self._placed: tuple | None = None  # while placing: local tasks, their IoTDs and jobs
        self._channel: SlotChannel | None = None  # the current slot's channel
        self._ahead: WorldAhead | None = None  # draws the next slot's world meanwhile
        p = self.params
        self._local_power_w = p.kappa * self.local_cpu_hz ** p.nu  # [W] while computing
        self.counters = Counters()
        self.model_costs: list[float] = []
        self.decision_s: list[float] = []
        self.inexact_slots = 0  # slots whose decision.info said exact: False
        self._open: dict[int, Batch] = {}
        self._next_id = 0
        self._on_tasks, self._on_slot, self._on_world = on_tasks, on_slot, on_world
        self._check_stop = check_stop
        self._progress: Callable[[int, int], None] | None = None
        self._urgent = urgent or nullcontext
        self._rerun_local = scenario.mecs.on_failure == "local"
        self._on_invalid = scenario.on_invalid
        self.slots_done = 0
        self.in_flight_at_end = 0
        self.realized = RealizedStats(self.params.phi_t, self.params.phi_e)
        self._ended = [[0.0] * 4, [0.0] * 4]  # self.ended, as lists
        self._ended_fed = np.zeros((2, 4))  # self.ended at the last feedback
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
        except BaseException as exc:
            _clear_simpy_frames(exc.__traceback__)
            raise
        finally:
            gc.set_threshold(*threshold)
            gc.unfreeze()
            self.finish()

    def finish(self) -> None:
        """Write every task that has not ended as in flight (idempotent)."""
        self.in_flight_at_end += sum(b.open for b in self._open.values())
        now = self.env.now
        for line in (self.local, self.uplink):
            for _, job in line.in_service():  # energy spent so far, and when it started
                batch, i = job.token
                r = batch.row(i)
                batch.cols["realized_energy_j"][r] += job.power_w * (now - job.started_s)
                if batch.cols["start_s"][r] != batch.cols["start_s"][r]:
                    batch.cols["start_s"][r] = job.started_s
        for batch in list(self._open.values()):
            cols = batch.cols
            flying = cols["status"] == IN_FLIGHT
            cols["realized_latency_s"][flying] = now - cols["arrival_s"][flying]  # age so far
            self._flush(batch)
        self._open.clear()

    def close(self) -> None:
        """Free the simulation's machinery once it has ended (idempotent).

        SimPy's pending events hold callbacks bound to the processes, CPUs and lines, which
        point back to this simulation, and so do the caller's callbacks (a closure over the
        simulation): left as they are, the whole graph (world, tasks in flight, events)
        would be cyclic garbage that only the next full collection frees, at the cost of
        whatever runs next. Call it once :meth:`run` has returned or raised; the figures
        (:meth:`counts`, :meth:`backlog_series`, ``counters``, ``realized``, ``ended``,
        ``model_costs``, ``decision_s``) stay readable, and the simulation can not run on.
        """
        queue = self.env._queue  # SimPy's pending events: (time, priority, id, event)
        for *_, event in queue:
            if event.callbacks:  # bound to a process (its generator holds self), a CPU...
                event.callbacks.clear()
        queue.clear()
        env = vars(self.env)  # SimPy binds env.process, env.timeout... to env, a cycle:
        for name in [k for k, v in env.items() if getattr(v, "__self__", None) is self.env]:
            del env[name]  # the class binds them again on access
        for cpu in self.cpus:
            cpu.close()
        self.local.close()
        self.uplink.close()
        self._in_line.clear()
        for tokens in self._uploads:
            tokens.clear()
        self._channel = None
        if self._ahead is not None:
            self._ahead.close()
            self._ahead = None
        self.world.close()
        self._on_tasks = self._on_slot = _closed
        self._on_world = self._check_stop = self._progress = None
        self._urgent = nullcontext

    @property
    def ended(self) -> np.ndarray:
        """What the tasks that ended so far realized, ``(2, 4)``.

        Rows completed, dropped; columns count, latency [s], energy [J], cost [-] (dropped
        ones at their age and energy then).
        """
        return np.array(self._ended)

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
        ahead = None
        if PREFETCH_WORLD and prefetch.worth_it(self.world, slots):
            ahead = self._ahead = WorldAhead(self.world)
        elif PREFETCH_WORLD and prefetch.normals_worth_it(self.world, slots):
            self.world.draw_normals_ahead()
        for k in range(slots):
            if self._check_stop is not None:
                self._check_stop()
            world = self.world.next_slot() if ahead is None else \
                ahead.next_slot(more=k + 1 < slots)
            if self._on_world is not None:
                self._on_world(world)
            channel = self._channel = world.channel
            self.uplink.new_slot(world.time_s, channel.step_s, channel.steps)
            self._epoch(world)
            if self._progress is not None:
                self._progress(world.slot, world.iotd.size)
            yield self.env.timeout(self.scenario.slot_s)

    def _failure(self, mec: int, start_s: float, duration_s: float):
        if start_s > 0:  # at t = 0 the MEC is down before the first epoch
            yield self.env.timeout(start_s)
        self.available[mec] = False
        for token in self.cpus[mec].clear():
            self._lost(token)
        for token in sorted(self._uploads[mec], key=lambda t: (t[0].slot, t[1])):
            self._remove_from_line(token)  # its upload stops at once
            self._lost(token)
        yield self.env.timeout(duration_s)
        self.available[mec] = True

    # ------------------------------------------------------------------ one epoch
    def _epoch(self, world: SlotWorld) -> None:
        self._compact(world.slot)
        ids = np.arange(self._next_id, self._next_id + world.iotd.size, dtype=np.int64)
        self._next_id += world.iotd.size
        expired = world.arrival_s + world.deadline_s <= world.time_s
        if expired.any():  # dropped at their deadline, before this epoch could place them
            self._expire(world, expired, ids)
            world = _subset(world, ~expired)
            ids = ids[~expired]
        iotd = world.iotd
        problem = SlotProblem(world.gains[iotd], world.data_bits, world.cycles,
                              self.local_cpu_hz[iotd], self.mec_cpu_hz, self.params,
                              self.available.copy())
        cpu_tasks = np.array([c.tasks for c in self.cpus], dtype=np.int64)  # uploads excluded
        cpu_cycles = np.maximum([c.backlog_cycles() for c in self.cpus], 0.0)
        backlog_tasks = cpu_tasks + self.uploading
        # the uploads' running sum of cycles keeps float residue (about 1e-6 cycles) once
        # they are all gone: an empty uplink holds exactly 0
        uploading_cycles = np.where(self.uploading > 0, np.maximum(self.uploading_cycles, 0.0),
                                    0.0)
        backlog_cycles = cpu_cycles + uploading_cycles
        n_iotds = self.local_cpu_hz.size
        local_busy_s = self.local.busy_s(world.time_s, n_iotds)  # exact: constant rates
        self._backlog["time_s"].append(world.time_s)
        self._backlog["tasks"].append(sum(b.open for b in self._open.values()))
        self._backlog["cycles"].append(float(backlog_cycles.sum()
                                             + local_busy_s @ self.local_cpu_hz))
        now = world.time_s
        obs = EpochObservation.at_epoch(
            lambda: self.uplink.busy_s(now, n_iotds), slot=world.slot, time_s=now, iotd=iotd,
            problem=problem, iotd_positions_m=world.positions_m, available=problem.available,
            backlog_tasks=backlog_tasks, backlog_cycles=backlog_cycles,
            local_busy_s=local_busy_s, mec_cpu_tasks=cpu_tasks, mec_cpu_cycles=cpu_cycles,
            distance_m=world.distance_m, candidates=world.candidates)
        started = time.perf_counter()
        try:
            decision = self._ask(obs)
        except BaseException:
            obs.seal()
            raise
        elapsed = time.perf_counter() - started
        # the lines change from here on: if the scheduler kept the observation, its estimate
        # is computed now (1 reference here: the name ``obs``; asked before ``obs.seal``
        # is looked up, a bound method that would be one more)
        kept = EpochObservation.held_elsewhere(obs, 1)
        obs.seal(keep=kept)
        placement, allocation, invalid, dropped = self._validate(problem, decision, world.slot)
        cost = problem.evaluate(placement, allocation)
        cost_sum = float(np.where(dropped, 0.0, cost.cost).sum())
        batch = self._batch(world, problem, placement, allocation, cost, dropped, ids)
        self._start(batch, placement, allocation, world.time_s)
        self.counters.invalid += invalid
        self.model_costs.append(cost_sum)
        self.decision_s.append(elapsed)
        info = decision.info
        self.inexact_slots += info.get("exact") is False
        self._slot_record(world, placement, cost, cost_sum, elapsed, invalid, info,
                          backlog_tasks, backlog_cycles)
        self.slots_done += 1  # recorded whole: a stop inside the feedback keeps it
        ended = self.ended
        since = ended - self._ended_fed
        self._ended_fed = ended
        realized = RealizedSince(int(since[0, 0]), float(since[0, 1]), float(since[0, 2]),
                                 float(since[0, 3]), int(since[1, 0]), float(since[1, 3]))
        with self._urgent():
            self.scheduler.feedback(Outcome(world.slot, problem, placement, allocation, cost,
                                            cost_sum, 1.0 / cost_sum if cost_sum > 0 else 0.0,
                                            {"invalid": invalid}, iotd, realized))

    def _ask(self, obs: Observation) -> Decision:
        try:
            with self._urgent():
                decision = self._decide(obs)
        except Exception as exc:  # noqa: BLE001 - a scheduler's failure is reported, named
            raise SchedulerError(self.name, obs.slot, f"raised {type(exc).__name__}: {exc}") \
                from exc
        if not isinstance(decision, Decision):
            raise SchedulerError(self.name, obs.slot,
                                 f"returned {type(decision).__name__}, not a Decision")
        return decision

    def _decide(self, obs: Observation) -> Decision:
        if self.scheduler.centralized:
            return self.scheduler.decide(obs)
        views = agent_views(obs)
        scores = {j: self.scheduler.act(view) for j, view in views.items()}
        return Decision(vote(scores, obs.n_tasks))

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
        rate = np.where(off, p.bandwidth_hz * np.log1p(power * gain / p.noise_w) / np.log(2.0),
                        0.0)
        return Allocation(cpu, power, rate)

    # ------------------------------------------------------------------ task life
    def _batch(self, world, problem, placement, allocation, cost, dropped, ids) -> Batch:
        n = placement.size
        off = placement > 0
        self.counters.generated += n
        gain = np.where(off, problem.gains[np.arange(n), np.maximum(placement - 1, 0)], np.nan)
        nan = np.full(n, np.nan)
        cols = {
            "task_id": ids, "iotd": world.iotd.astype(np.int32),
            "slot": np.full(n, world.slot, np.int32),
            "arrival_s": world.arrival_s, "target": placement.astype(np.int16),
            "cpu_hz": allocation.cpu_hz, "tx_power_w": allocation.tx_power_w,
            "data_bits": world.data_bits, "cycles": world.cycles, "gain": gain,
            "rate_bps": allocation.rate_bps, "model_latency_s": cost.latency_s,
            "model_energy_j": cost.energy_j, "model_cost": cost.cost,
            "status": np.full(n, IN_FLIGHT, np.int8), "drop_reason": np.zeros(n, np.int8),
            "done_s": nan.copy(), "realized_latency_s": nan.copy(),
            "realized_energy_j": np.zeros(n), "rerun_local": np.zeros(n, dtype=bool),
            "deadline_s": np.where(np.isfinite(world.deadline_s), world.deadline_s, np.nan),
            "start_s": nan.copy(), "uploaded_s": nan.copy(),
        }
        batch = Batch(world.slot, int(ids[0]) if n else 0, cols, n)
        if n:
            self._open[world.slot] = batch
        for i in np.flatnonzero(dropped):
            self._end(batch, int(i), DROPPED, INVALID, world.time_s)
        return batch

    def _expire(self, world: SlotWorld, expired: np.ndarray, ids: np.ndarray) -> None:
        """Write the tasks whose deadline passed before their epoch: dropped, never placed."""
        k = int(expired.sum())
        self.counters.generated += k
        self.counters.dropped[DROP_REASONS[DEADLINE]] += k
        nan = np.full(k, np.nan)
        deadline = world.deadline_s[expired]
        self._flush_rows({
            "task_id": ids[expired], "iotd": world.iotd[expired].astype(np.int32),
            "slot": np.full(k, world.slot, np.int32), "arrival_s": world.arrival_s[expired],
            "target": np.full(k, -1, np.int16), "cpu_hz": nan, "tx_power_w": nan,
            "data_bits": world.data_bits[expired], "cycles": world.cycles[expired],
            "gain": nan, "rate_bps": nan, "model_latency_s": nan, "model_energy_j": nan,
            "model_cost": nan, "status": np.full(k, DROPPED, np.int8),
            "drop_reason": np.full(k, DEADLINE, np.int8),
            "done_s": world.arrival_s[expired] + deadline, "realized_latency_s": deadline,
            "realized_energy_j": np.zeros(k), "rerun_local": np.zeros(k, dtype=bool),
            "deadline_s": deadline, "start_s": nan, "uploaded_s": nan})

    def _start(self, batch: Batch, placement, allocation, now: float) -> None:
        cols = batch.cols
        live = cols["status"] == IN_FLIGHT
        local = np.flatnonzero(live & (placement == 0))
        finish = None  # [s] each task's local finish as planned now (inf: not local)
        if local.size:
            dev = cols["iotd"][local].astype(np.int64)
            power = self._local_power_w[dev].tolist()
            cycles = cols["cycles"][local]
            jobs = [Job((batch, i), -1, c, p) for i, c, p in
                    zip(local.tolist(), cycles.tolist(), power, strict=True)]
            if isinstance(self.local, LocalCpus):
                finish = np.full(placement.size, np.inf)
                finish[local] = self.local.add(dev, jobs, now, cycles)
                self._placed = (local, dev, jobs)
            else:
                self._enqueue(self.local, dev, jobs, now)
        off = np.flatnonzero(live & (placement > 0))
        if off.size:
            dev = cols["iotd"][off].astype(np.int64)
            mecs = placement[off] - 1
            np.add.at(self.uploading, mecs, 1)
            np.add.at(self.uploading_cycles, mecs, cols["cycles"][off])
            jobs = [Job((batch, i), j, d, p) for i, j, d, p in
                    zip(off.tolist(), mecs.tolist(), cols["data_bits"][off].tolist(),
                        allocation.tx_power_w[off].tolist(), strict=True)]
            for job in jobs:
                self._uploads[job.link].add(job.token)
            self._enqueue(self.uplink, dev, jobs, now)
        self._deadlines(batch, live, finish, now)
        self._placed = None

    def _deadlines(self, batch: Batch, live: np.ndarray, finish: np.ndarray | None,
                   now: float) -> None:
        """One timeout per task's deadline, but for local tasks sure to finish before it.

        A local task's finish can only move earlier (a task ahead of it dropped), so the
        deadline of one planned to finish before it would find it ended and do nothing. A
        local task whose deadline is kept is registered in its line, to be taken off it.
        """
        cols = batch.cols
        timed = np.flatnonzero(live & np.isfinite(cols["deadline_s"]))
        if not timed.size:
            return
        delay = np.maximum(cols["arrival_s"][timed] + cols["deadline_s"][timed] - now, 0.0)
        if finish is not None:
            at = self.env.now + delay  # [s] as the timeout would sum it
            mine = finish[timed]
            early = mine < at - DEADLINE_MARGIN * np.maximum(np.abs(at), 1.0)
            timed, delay = timed[~early], delay[~early]
            local, dev, jobs = self._placed
            kept = np.searchsorted(local, timed[np.isfinite(mine[~early])])
            for k in kept.tolist():
                self._in_line[jobs[k].token] = (self.local, int(dev[k]), jobs[k])
        expire = self._deadline_hit
        for wait, i in zip(delay.tolist(), timed.tolist(), strict=True):
            Timeout(self.env, wait, (batch, i)).callbacks.append(expire)

    def _enqueue(self, line, dev: np.ndarray, jobs: list[Job], now: float) -> None:
        for d, job in zip(dev.tolist(), jobs, strict=True):
            self._in_line[job.token] = (line, d, job)
        line.add(dev, jobs, now)

    def _upload_rates(self, iotd: np.ndarray, link: np.ndarray, power: np.ndarray) -> np.ndarray:
        gains = self._channel.gains(iotd, link)  # (steps, k)
        p = self.params
        return p.bandwidth_hz * np.log1p(power[None, :] * gains / p.noise_w) / np.log(2.0)  # [b/s]

    def _left_line(self, job: Job, now: float) -> tuple[Batch, int, int]:
        """Account a job that left its line (done or removed) at ``now``: energy, start."""
        batch, i = job.token
        self._in_line.pop(job.token, None)  # a local task with no deadline is not listed
        r = batch.row(i)
        cols = batch.cols
        if job.started_s == job.started_s:  # it was served
            cols["realized_energy_j"][r] += job.power_w * (now - job.started_s)
            if cols["start_s"][r] != cols["start_s"][r]:
                cols["start_s"][r] = job.started_s
        return batch, i, r

    def _local_done(self, job: Job, now: float) -> None:
        batch, i, _ = self._left_line(job, now)
        self._end(batch, i, COMPLETED, 0, now)

    def _upload_done(self, job: Job, now: float) -> None:
        batch, i, r = self._left_line(job, now)
        mec = job.link
        self._not_uploading(job)
        batch.cols["uploaded_s"][r] = now
        if not self.available[mec]:
            self._lost(job.token)
            return
        self.cpus[mec].join(job.token, float(batch.cols["cycles"][r]),
                            float(batch.cols["cpu_hz"][r]))

    def _not_uploading(self, job: Job) -> None:
        batch, i = job.token
        self.uploading[job.link] -= 1
        self.uploading_cycles[job.link] -= batch.cols["cycles"][batch.row(i)]
        self._uploads[job.link].discard(job.token)

    def _remove_from_line(self, token) -> None:
        """Take a task off its IoTD's line now (deadline or MEC failure), its work unfinished."""
        line, dev, job = self._in_line[token]
        now = self.env.now
        line.remove(dev, job, now)
        self._left_line(job, now)
        if line is self.uplink:
            self._not_uploading(job)

    def _run_local(self, batch: Batch, i: int, dev: int, cycles: float, now: float) -> None:
        """Queue one task (re-run after a MEC failure) on its IoTD's CPU."""
        job = Job((batch, i), -1, cycles, float(self._local_power_w[dev]))
        self._enqueue(self.local, np.array([dev]), [job], now)

    def _mec_done(self, token, now: float) -> None:
        batch, i = token
        self._end(batch, i, COMPLETED, 0, now)

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

    def _deadline_hit(self, event: simpy.Event) -> None:
        """A task's deadline: drop it now wherever it is, freeing its line or CPU share."""
        token = event.value
        batch, i = token
        if batch.pos is not None and i not in batch.pos:
            return  # ended, and its row already written
        r = batch.row(i)
        if batch.cols["status"][r] != IN_FLIGHT:
            return
        if token in self._in_line:
            self._remove_from_line(token)
        else:
            self.cpus[int(batch.cols["target"][r]) - 1].remove(token)
        self._end(batch, i, DROPPED, DEADLINE, self.env.now)

    def _end(self, batch: Batch, i: int, status: int, reason: int, now: float) -> None:
        cols = batch.cols
        i = batch.row(i)
        cols["status"][i] = status
        cols["drop_reason"][i] = reason
        cols["done_s"][i] = now
        latency = now - float(cols["arrival_s"][i])  # [s]
        cols["realized_latency_s"][i] = latency
        energy = float(cols["realized_energy_j"][i])  # [J]
        total = self._ended[status]  # summed in Python floats, as numpy would, faster
        total[0] += 1.0
        total[1] += latency
        total[2] += energy
        total[3] += self.params.phi_t * latency + self.params.phi_e * energy
        c = self.counters
        if status == COMPLETED:
            c.completed += 1
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
            batch.index = keep if batch.index is None else batch.index[keep]
            batch.pos = {task: row for row, task in enumerate(batch.index.tolist())}

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
        record["backlog_tasks_total"] = int(self._backlog["tasks"][-1])
        record["backlog_cycles_total"] = self._backlog["cycles"][-1]
        self._on_slot(record)


def _clear_simpy_frames(tb: TracebackType | None) -> None:
    """Drop the locals of SimPy's finished frames in ``tb``.

    ``Environment.step`` raises a process's failure from a local variable, so its frame in
    the traceback refers to the exception that refers to the frame: a cycle that would
    keep the failed process, its generator and so the whole simulation alive until a full
    collection. The traceback still names every line.
    """
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith("simpy."):
            with suppress(RuntimeError):  # a frame still running keeps its locals
                tb.tb_frame.clear()
        tb = tb.tb_next


def _closed(record: dict) -> None:
    """``on_tasks`` and ``on_slot`` of a closed simulation: it writes nothing more."""


def _subset(world: SlotWorld, keep: np.ndarray) -> SlotWorld:
    """The epoch's world with only the tasks ``keep`` selects."""
    return replace(world, iotd=world.iotd[keep], arrival_s=world.arrival_s[keep],
                   data_bits=world.data_bits[keep], cycles=world.cycles[keep],
                   deadline_s=world.deadline_s[keep])


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
