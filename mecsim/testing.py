"""Check any scheduler against the contract of :mod:`mecsim.scheduler`, without the engine.

:func:`check_scheduler` builds a small random network and a handful of epochs itself
(random gains and sizes, an empty epoch, several tasks from one IoTD, unequal MEC
capacities, a failed MEC, a MEC near its task limit) and drives the scheduler as the
engine would. It raises :class:`AssertionError` naming the scheduler, the epoch and the
broken rule. Use it in a plug-in's own tests::

    from mecsim.testing import check_scheduler

    def test_my_scheduler_keeps_the_contract(tmp_path):
        check_scheduler("my_package.my_module:MyScheduler", tmp_dir=tmp_path)

:func:`random_network` and :func:`random_observation` build the same kind of inputs for
other tests.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from mecsim.model import SlotProblem, channel_gain, check_decision
from mecsim.params import AREA_M, ModelParams
from mecsim.scheduler import (
    AgentView,
    DecentralizedScheduler,
    Decision,
    Network,
    Observation,
    Outcome,
    Scheduler,
    agent_views,
    vote,
)

#: Minimum number of epochs of a check: the special cases every run contains.
MIN_SLOTS = 4


# -- inputs --------------------------------------------------------------------------------


def random_network(rng: np.random.Generator, n_iotds: int = 6, n_mecs: int = 3, *,
                   params: ModelParams | None = None,
                   area_m: tuple[float, float] = AREA_M,
                   mec_cpu_hz: Sequence[float] | None = None,
                   local_cpu_hz: float | Sequence[float] | None = None,
                   slot_s: float = 1.0) -> Network:
    """Return a random network: MECs placed uniformly, unequal capacities, varied CPUs.

    Args:
        rng: Source of randomness.
        n_iotds: Number of IoTDs ``N`` (>= 1).
        n_mecs: Number of MECs ``M`` (>= 1).
        params: Model parameters (default :class:`ModelParams`).
        area_m: Width and height of the area [m].
        mec_cpu_hz: ``(M,)`` capacities [cycle/s]; default uniform in 5-50 GHz (unequal).
        local_cpu_hz: IoTD CPUs [cycle/s], scalar or ``(N,)``; default uniform in
            0.5-1.1 GHz, so that the local execution power stays below the default Pmax.
        slot_s: Epoch period [s].
    """
    if n_iotds < 1 or n_mecs < 1:
        raise ValueError(f"need n_iotds >= 1 and n_mecs >= 1, got {n_iotds}, {n_mecs}")
    width, height = float(area_m[0]), float(area_m[1])
    mec_positions = rng.uniform((0.0, 0.0), (width, height), size=(n_mecs, 2))
    fmax = (rng.uniform(5e9, 50e9, n_mecs) if mec_cpu_hz is None
            else np.asarray(mec_cpu_hz, dtype=float))
    if local_cpu_hz is None:
        f0 = rng.uniform(0.5e9, 1.1e9, n_iotds)
    else:
        f0 = np.broadcast_to(np.asarray(local_cpu_hz, dtype=float), (n_iotds,)).copy()
    return Network(n_iotds=n_iotds, n_mecs=n_mecs, mec_cpu_hz=fmax,
                   mec_positions_m=mec_positions, local_cpu_hz=f0, area_m=(width, height),
                   slot_s=slot_s, params=params if params is not None else ModelParams())


def random_observation(rng: np.random.Generator, n_tasks: int, n_mecs: int, *,
                       network: Network | None = None, n_iotds: int | None = None,
                       iotd: Sequence[int] | None = None, slot: int = 0,
                       available: Sequence[bool] | None = None,
                       backlog_tasks: Sequence[int] | None = None,
                       backlog_cycles: Sequence[float] | None = None,
                       iotd_positions_m: np.ndarray | None = None,
                       data_bits: float | Sequence[float] | None = None,
                       cycles: float | Sequence[float] | None = None,
                       local_busy_s: Sequence[float] | None = None,
                       uplink_busy_s: Sequence[float] | None = None) -> Observation:
    """Return a random epoch: IoTD positions, Rayleigh-faded gains from them, task sizes.

    Gains follow the spec's channel (``beta0 l / max(d, d_min)^2`` with ``l ~ Exp(1)``)
    from the IoTD positions to ``network.mec_positions_m``, so distance-based and
    gain-based schedulers see one consistent world.

    Args:
        rng: Source of randomness.
        n_tasks: Number of tasks ``n`` (may be 0).
        n_mecs: Number of MECs ``M`` (must match ``network`` when given).
        network: The network (default: :func:`random_network` with ``n_iotds``).
        n_iotds: Number of IoTDs when ``network`` is not given (default ``max(n_tasks, 1)``).
        iotd: ``(n,)`` IoTD of each task (default: distinct IoTDs while ``n <= N``, else
            drawn with repetition).
        slot: Epoch index; ``time_s = slot * network.slot_s``.
        available: ``(M,)`` availability (default all True).
        backlog_tasks: ``(M,)`` backlog in tasks (default zeros).
        backlog_cycles: ``(M,)`` backlog in cycles (default 1e9 per backlog task).
        iotd_positions_m: ``(N, 2)`` positions (default uniform in the area).
        data_bits: Upload sizes [bit] (default uniform 0.2-2 Mbit per task).
        cycles: Task cycles [cycle] (default uniform 0.2-2 Gcycle per task).
        local_busy_s: ``(N,)`` time each IoTD's CPU is still busy [s] (default ``None``).
        uplink_busy_s: ``(N,)`` time each IoTD's uplink is still busy [s] (default ``None``).
    """
    if network is None:
        network = random_network(rng, n_iotds if n_iotds is not None else max(n_tasks, 1),
                                 n_mecs)
    if network.n_mecs != n_mecs:
        raise ValueError(f"n_mecs={n_mecs} but the network has {network.n_mecs} MECs")
    big_n = network.n_iotds
    if iotd is None:
        iotd_arr = (np.sort(rng.choice(big_n, n_tasks, replace=False)) if n_tasks <= big_n
                    else np.sort(rng.integers(0, big_n, n_tasks)))
    else:
        iotd_arr = np.asarray(iotd, dtype=np.int64)
        if iotd_arr.shape != (n_tasks,):
            raise ValueError(f"iotd must have shape ({n_tasks},), got {iotd_arr.shape}")
    iotd_arr = iotd_arr.astype(np.int64)
    if iotd_positions_m is None:
        positions = rng.uniform((0.0, 0.0), network.area_m, size=(big_n, 2))
    else:
        positions = np.asarray(iotd_positions_m, dtype=float)
    mec_xy = network.mec_positions_m
    every = np.hypot(np.subtract.outer(positions[:, 0], mec_xy[:, 0]),
                     np.subtract.outer(positions[:, 1], mec_xy[:, 1]))  # (N, M) [m]
    every.flags.writeable = False
    distance = every[iotd_arr].reshape(n_tasks, n_mecs)
    p = network.params
    gains = channel_gain(distance, rng.exponential(1.0, (n_tasks, n_mecs)), p.beta0, p.d_min_m)
    d_bits = (rng.uniform(0.2e6, 2e6, n_tasks) if data_bits is None
              else np.broadcast_to(np.asarray(data_bits, dtype=float), (n_tasks,)).copy())
    f_cyc = (rng.uniform(0.2e9, 2e9, n_tasks) if cycles is None
             else np.broadcast_to(np.asarray(cycles, dtype=float), (n_tasks,)).copy())
    avail = (np.ones(n_mecs, dtype=bool) if available is None
             else np.asarray(available, dtype=bool).copy())
    b_tasks = (np.zeros(n_mecs, dtype=np.int64) if backlog_tasks is None
               else np.asarray(backlog_tasks, dtype=np.int64).copy())
    b_cycles = (b_tasks * 1e9 if backlog_cycles is None
                else np.asarray(backlog_cycles, dtype=float).copy())
    problem = SlotProblem(gains, d_bits, f_cyc, network.local_cpu_hz[iotd_arr],
                          network.mec_cpu_hz, params=p, available=avail)
    busy = [None if b is None else np.asarray(b, dtype=float).copy()
            for b in (local_busy_s, uplink_busy_s)]
    return Observation(slot=slot, time_s=slot * network.slot_s, iotd=iotd_arr, problem=problem,
                       iotd_positions_m=positions, available=avail.copy(),
                       backlog_tasks=b_tasks, backlog_cycles=b_cycles.astype(float),
                       local_busy_s=busy[0], uplink_busy_s=busy[1], distance_m=every)


def outcome_for(observation: Observation, decision: Decision, info: dict | None = None
                ) -> Outcome:
    """Return the :class:`Outcome` the engine would report for a valid decision.

    The decision's ``cpu_hz`` / ``tx_power_w`` are used where given, the exact allocation
    (:meth:`SlotProblem.allocate`) otherwise; costs come from :meth:`SlotProblem.evaluate`.
    """
    problem = observation.problem
    placement = np.asarray(decision.placement, dtype=np.int64)
    exact = problem.allocate(placement)
    allocation = exact._replace(
        cpu_hz=exact.cpu_hz if decision.cpu_hz is None else np.asarray(decision.cpu_hz, float),
        tx_power_w=(exact.tx_power_w if decision.tx_power_w is None
                    else np.where(placement > 0, np.asarray(decision.tx_power_w, float), 0.0)))
    cost = problem.evaluate(placement, allocation)
    allocation = allocation._replace(rate_bps=np.where(
        placement > 0, _rates(problem, placement, allocation.tx_power_w), 0.0))
    objective = float(np.sum(cost.cost))
    reward = 1.0 / objective if objective > 0 and np.isfinite(objective) else 0.0
    return Outcome(slot=observation.slot, problem=problem, placement=placement,
                   allocation=allocation, cost=cost, objective=objective, reward=reward,
                   info=dict(info or {}), iotd=observation.iotd.copy())


def _rates(problem: SlotProblem, placement: np.ndarray, power: np.ndarray) -> np.ndarray:
    from mecsim.model import rate_bps

    p = problem.params
    gain = problem.gains[np.arange(placement.size), np.maximum(placement - 1, 0)]
    return rate_bps(np.maximum(power, 0.0), gain, p.bandwidth_hz, p.noise_w)


@dataclass(frozen=True)
class _Case:
    """One epoch of the check and what it is meant to exercise."""

    what: str
    observation: Observation


def check_cases(rng: np.random.Generator, network: Network, slots: int) -> list[_Case]:
    """Return the epochs of a check: the special cases first, then random ones.

    Args:
        rng: Source of randomness.
        network: The network the scheduler was reset with.
        slots: Number of epochs (>= :data:`MIN_SLOTS`).
    """
    if slots < MIN_SLOTS:
        raise ValueError(f"slots must be >= {MIN_SLOTS} (the special cases), got {slots}")
    big_n, m = network.n_iotds, network.n_mecs
    cases = [_Case("one task per IoTD", random_observation(rng, big_n, m, network=network,
                                                           slot=0, iotd=np.arange(big_n)))]
    cases.append(_Case("empty epoch (n = 0)",
                       random_observation(rng, 0, m, network=network, slot=1)))
    repeat = np.sort(np.concatenate((np.zeros(3, dtype=np.int64), np.arange(big_n))))
    cases.append(_Case("several tasks from IoTD 0",
                       random_observation(rng, repeat.size, m, network=network, slot=2,
                                          iotd=repeat)))
    positions = rng.uniform((0.0, 0.0), network.area_m, size=(big_n, 2))
    failed = _busiest_mec(network, positions)
    available = np.ones(m, dtype=bool)
    available[failed] = False
    backlog = rng.integers(0, 3, m)
    backlog[failed] = 0
    cases.append(_Case(f"MEC {failed + 1} failed",
                       random_observation(rng, big_n, m, network=network, slot=3,
                                          iotd=np.arange(big_n), available=available,
                                          backlog_tasks=backlog, iotd_positions_m=positions)))
    f_min = float(np.max(network.local_cpu_hz))
    for t in range(MIN_SLOTS, slots):
        n = int(rng.integers(1, 2 * big_n + 1))
        backlog = rng.integers(0, 4, m)
        full = int(rng.integers(0, m))  # one MEC a task or two below its default limit
        backlog[full] = max(int(np.floor(network.mec_cpu_hz[full] / f_min)) - 2, 0)
        busy = rng.exponential(1.0, (2, big_n))  # [s] queued on the IoTDs' CPUs and uplinks
        cases.append(_Case(f"random epoch, MEC {full + 1} nearly full",
                           random_observation(rng, n, m, network=network, slot=t,
                                              backlog_tasks=backlog, local_busy_s=busy[0],
                                              uplink_busy_s=busy[1])))
    return cases


def _busiest_mec(network: Network, positions: np.ndarray) -> int:
    """Return the MEC nearest to the most IoTDs (failing it matters most)."""
    gap = positions[:, None, :] - network.mec_positions_m[None, :, :]
    nearest = np.argmin(np.hypot(gap[..., 0], gap[..., 1]), axis=1)
    return int(np.argmax(np.bincount(nearest, minlength=network.n_mecs)))


# -- the check -----------------------------------------------------------------------------


def check_scheduler(scheduler_or_id: Scheduler | type[Scheduler] | str, *, seed: int = 0,
                    n_iotds: int = 6, n_mecs: int = 3, slots: int = 5,
                    tmp_dir: str | Path | None = None) -> None:
    """Check a scheduler against the contract of :mod:`mecsim.scheduler`, engine-free.

    Drives the scheduler over ``slots`` random epochs of a random network (including an
    empty epoch, several tasks from one IoTD, unequal MEC capacities and a failed MEC) and
    checks that:

    1. ``centralized`` agrees with the class (``DecentralizedScheduler`` iff not centralized);
       ``reset(seed, network)`` works;
    2. every decision is a :class:`Decision` that :func:`mecsim.model.check_decision`
       accepts (placement, and ``cpu_hz`` / ``tx_power_w`` when given), never uses a failed
       MEC, and the call leaves the observation and the network unchanged;
    3. decentralized schedulers: ``act(view)`` returns ``(n,)`` finite scores in [0, 1];
       ``decide`` calls ``act`` only for available MECs and agrees with the engine's path
       (``act`` per available MEC, then :func:`mecsim.scheduler.vote`); agent ``j``'s scores
       do not change when only the other MECs' gains and backlogs change
       (decentralisation: no agent may read another's view, e.g. through shared state);
    4. the same seed gives identical decisions after two ``reset`` calls;
    5. ``feedback(outcome)`` accepts the outcome of every epoch (allocation from the
       decision or :meth:`SlotProblem.allocate`, costs from :meth:`SlotProblem.evaluate`);
    6. ``save`` then ``load`` into a fresh instance made with the same ``params`` gives
       identical decisions: the original (after its feedback) and the fresh instance are
       both ``reset`` with one seed, the fresh one then ``load``-s, and both decide the same
       epochs. So ``reset`` must keep what a scheduler learned, and ``load`` after
       ``reset`` must restore it.

    Args:
        scheduler_or_id: A scheduler instance, a scheduler class (made without arguments),
            a registered id or a ``"module:Class"``.
        seed: Seed of the random inputs and of the scheduler's ``reset``.
        n_iotds: Number of IoTDs of the random network.
        n_mecs: Number of MECs of the random network.
        slots: Number of epochs (>= 4: the special cases come first).
        tmp_dir: Folder for the ``save`` file (default: a temporary folder, removed).

    Raises:
        AssertionError: If the scheduler breaks the contract; the message names the
            scheduler, the epoch and the rule.
        ValueError: If an argument of the check itself is invalid or the id is unknown.
    """
    scheduler, label = _instance(scheduler_or_id)
    rng = np.random.default_rng(seed)
    network = random_network(rng, n_iotds, n_mecs)
    cases = check_cases(rng, network, slots)
    checker = _Checker(scheduler, label, network, cases, seed)
    checker.run_all()
    if tmp_dir is None:
        with tempfile.TemporaryDirectory(prefix="mecsim-check-") as folder:
            checker.save_load(Path(folder))
    else:
        checker.save_load(Path(tmp_dir))


def _instance(scheduler_or_id: Scheduler | type[Scheduler] | str) -> tuple[Scheduler, str]:
    if isinstance(scheduler_or_id, Scheduler):
        return scheduler_or_id, type(scheduler_or_id).__qualname__
    if isinstance(scheduler_or_id, type) and issubclass(scheduler_or_id, Scheduler):
        try:
            return scheduler_or_id(), scheduler_or_id.__qualname__
        except Exception as exc:  # noqa: BLE001 - reported as a contract failure
            raise AssertionError(f"scheduler {scheduler_or_id.__qualname__!r}: cannot be made "
                                 f"without arguments ({type(exc).__name__}: {exc}); pass an "
                                 "instance") from exc
    if isinstance(scheduler_or_id, str):
        from mecsim.registry import make

        return make(scheduler_or_id), scheduler_or_id
    raise ValueError(f"check_scheduler needs a Scheduler instance or class, a registered id or "
                     f"a 'module:Class', got {scheduler_or_id!r}")


class _Checker:
    """The state of one :func:`check_scheduler` run."""

    def __init__(self, scheduler: Scheduler, label: str, network: Network,
                 cases: list[_Case], seed: int) -> None:
        self.s = scheduler
        self.label = label
        self.network = network
        self.cases = cases
        self.seed = seed
        self.decentralized = isinstance(scheduler, DecentralizedScheduler)

    # -- the steps --------------------------------------------------------------------------

    def run_all(self) -> None:
        self._check_kind()
        first = self._run(self.s, "first run")
        second = self._run(self.s, "second run after reset with the same seed")
        for case, a, b in zip(self.cases, first, second, strict=True):
            self._same(a, b, case, "the same seed gave different decisions after reset "
                                   "(the scheduler is not deterministic given its seed)")
        if self.decentralized:
            offline = self._run(self.s, "decide()", through_decide=True)
            for case, a, b in zip(self.cases, first, offline, strict=True):
                self._same(a, b, case, "decide() disagrees with the engine's path (act() on "
                                       "each available MEC's view, then vote())")
            self._check_decentralisation()
        self._run(self.s, "run with feedback", feedback=True)

    def save_load(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{_safe(self.label)}.state"
        self._call("save(path)", lambda: self.s.save(path))
        try:
            fresh = type(self.s)(**self.s.params)
        except Exception as exc:  # noqa: BLE001 - reported as a contract failure
            self._fail(None, f"cannot make a fresh instance from its params {self.s.params!r} "
                             f"({type(exc).__name__}: {exc}); params must hold the "
                             "constructor's keyword arguments")
        seed = self.seed + 1
        self._call("reset(seed, network) of a fresh instance",
                   lambda: fresh.reset(seed, self.network))
        self._call("load(path) of a fresh instance", lambda: fresh.load(path))
        restored = self._run(fresh, "fresh instance after load", reset_seed=None)
        original = self._run(self.s, "original instance", reset_seed=seed)
        for case, a, b in zip(self.cases, original, restored, strict=True):
            self._same(a, b, case, "a fresh instance made with the same params and loaded "
                                   "from save() decides differently from the original")

    # -- running ----------------------------------------------------------------------------

    def _run(self, s: Scheduler, what: str, *, feedback: bool = False,
             through_decide: bool = False, reset_seed: int | None | str = "default"
             ) -> list[tuple[Decision, dict[int, np.ndarray] | None]]:
        if reset_seed == "default":
            reset_seed = self.seed
        if reset_seed is not None:
            seed = int(reset_seed)
            self._call(f"reset(seed, network) ({what})", lambda: s.reset(seed, self.network))
        out = []
        for case in self.cases:
            before = _snapshot(case.observation, self.network)
            if not self.decentralized:
                decision = self._call(f"decide(observation) ({what})",
                                      lambda c=case: s.decide(c.observation), case)
                scores = None
            elif through_decide:
                decision, scores = self._decide_spied(s, case)
            else:
                decision, scores = self._engine_path(s, case)
            self._check_decision(decision, case)
            changed = _changed(before, _snapshot(case.observation, self.network))
            if changed:
                self._fail(case, f"the scheduler modified {', '.join(changed)} (observations and "
                                 "the network are shared with the other schedulers: read only)")
            if feedback:
                outcome = outcome_for(case.observation, decision)
                self._call("feedback(outcome)", lambda o=outcome: s.feedback(o), case)
            out.append((decision, scores))
        return out

    def _engine_path(self, s: Scheduler, case: _Case, observation: Observation | None = None
                     ) -> tuple[Decision, dict[int, np.ndarray]]:
        obs = case.observation if observation is None else observation
        scores = {}
        for j, view in agent_views(obs).items():
            scores[j] = self._scores(s, view, case)
        return Decision(vote(scores, obs.n_tasks)), scores

    def _decide_spied(self, s: Scheduler, case: _Case) -> tuple[Decision, dict[int, np.ndarray]]:
        seen: dict[int, np.ndarray] = {}
        act = s.act  # the bound method

        def spy(view: AgentView) -> np.ndarray:
            if not isinstance(view, AgentView):
                self._fail(case, f"decide() called act() with a {type(view).__name__}, not "
                                 "an AgentView")
            if not case.observation.available[view.mec - 1]:
                self._fail(case, f"decide() called act() for failed MEC {view.mec} (a failed "
                                 "MEC's agent makes no decision)")
            if not np.array_equal(view.gains, case.observation.problem.gains[:, view.mec - 1]):
                self._fail(case, f"decide() gave the agent of MEC {view.mec} a view whose gains "
                                 "are not its own column")
            seen[view.mec] = self._scores_of(act, view, case)
            return seen[view.mec]

        s.act = spy  # instance attribute shadows the method for this call only
        try:
            decision = self._call("decide(observation)",
                                  lambda: s.decide(case.observation), case)
        finally:
            del s.act
        return decision, seen

    def _scores(self, s: Scheduler, view: AgentView, case: _Case) -> np.ndarray:
        return self._scores_of(s.act, view, case)

    def _scores_of(self, act: Callable[[AgentView], Any], view: AgentView,
                   case: _Case) -> np.ndarray:
        raw = self._call(f"act(view of MEC {view.mec})", lambda: act(view), case)
        n = view.iotd.size
        try:
            scores = np.asarray(raw, dtype=float)
        except (TypeError, ValueError):
            self._fail(case, f"act(view of MEC {view.mec}) returned {type(raw).__name__}, not "
                             "an array of numbers")
        if scores.shape != (n,):
            self._fail(case, f"act(view of MEC {view.mec}) returned shape {scores.shape}, want "
                             f"({n},) (one score per task)")
        if not np.isfinite(scores).all():
            self._fail(case, f"act(view of MEC {view.mec}) returned non-finite scores at tasks "
                             f"{np.flatnonzero(~np.isfinite(scores)).tolist()}")
        bad = np.flatnonzero((scores < 0) | (scores > 1))
        if bad.size:
            self._fail(case, f"act(view of MEC {view.mec}) returned scores outside [0, 1]: "
                             f"{scores[bad][:3].tolist()} at tasks {bad[:3].tolist()}")
        return scores.copy()

    # -- checks ----------------------------------------------------------------------------

    def _check_kind(self) -> None:
        centralized = getattr(self.s, "centralized", None)
        if not isinstance(centralized, bool):
            self._fail(None, f"'centralized' must be a bool, got {centralized!r}")
        if centralized == self.decentralized:
            want = "False" if self.decentralized else "True"
            kind = "a DecentralizedScheduler" if self.decentralized else "not a " \
                "DecentralizedScheduler"
            self._fail(None, f"centralized = {centralized} but the class is {kind}; it must be "
                             f"{want} (the engine hands full observations only to centralized "
                             "schedulers and calls act() on decentralized ones)")
        if not isinstance(getattr(self.s, "params", None), dict):
            self._fail(None, "self.params must be a dict of the constructor's keyword arguments "
                             "(call Scheduler.__init__)")

    def _check_decision(self, decision: Any, case: _Case) -> None:
        if not isinstance(decision, Decision):
            self._fail(case, f"decide() returned {type(decision).__name__}, not a Decision")
        if not isinstance(decision.info, dict):
            self._fail(case, f"Decision.info must be a dict, got {type(decision.info).__name__}")
        obs = case.observation
        problems = check_decision(obs.problem, decision.placement, decision.cpu_hz,
                                  decision.tx_power_w)
        if problems:
            self._fail(case, "invalid decision: " + "; ".join(problems))
        a = np.asarray(decision.placement).astype(np.int64)
        down = np.flatnonzero((a > 0) & ~obs.available[np.maximum(a - 1, 0)])
        if down.size:
            self._fail(case, f"tasks {down.tolist()} placed on failed MEC(s) "
                             f"{sorted(set(a[down].tolist()))}")

    def _check_decentralisation(self) -> None:
        rng = np.random.default_rng([self.seed, 7])
        for case in self.cases:
            obs = case.observation
            mecs = np.flatnonzero(obs.available) + 1
            if obs.n_tasks == 0 or mecs.size < 2:
                continue
            self._call("reset(seed, network)", lambda: self.s.reset(self.seed, self.network))
            _, base = self._engine_path(self.s, case)
            for j in mecs:
                other = _perturb_others(rng, obs, int(j))
                self._call("reset(seed, network)",
                           lambda: self.s.reset(self.seed, self.network))
                _, scores = self._engine_path(self.s, case, other)
                if not np.array_equal(base[j], scores[j]):
                    diff = np.flatnonzero(base[j] != scores[j])
                    self._fail(case, f"the agent of MEC {j} changed its scores (tasks "
                                     f"{diff[:3].tolist()}: {base[j][diff[:3]].tolist()} -> "
                                     f"{scores[j][diff[:3]].tolist()}) when only the other MECs' "
                                     "gains and backlogs changed: it depends on information "
                                     "outside its own view (shared or global state?)")

    def _same(self, a: tuple[Decision, Any], b: tuple[Decision, Any], case: _Case,
              message: str) -> None:
        (da, sa), (db, sb) = a, b
        for name in ("placement", "cpu_hz", "tx_power_w"):
            x, y = getattr(da, name), getattr(db, name)
            if (x is None) != (y is None) or (x is not None and not np.array_equal(
                    np.asarray(x), np.asarray(y))):
                self._fail(case, f"{message}: {name} {_brief(x)} vs {_brief(y)}")
        if sa is not None and sb is not None:
            for j in sorted(set(sa) | set(sb)):
                if j not in sa or j not in sb or not np.array_equal(sa[j], sb[j]):
                    self._fail(case, f"{message}: scores of MEC {j} "
                                     f"{_brief(sa.get(j))} vs {_brief(sb.get(j))}")

    def _call(self, what: str, fn: Callable[[], Any], case: _Case | None = None) -> Any:
        try:
            return fn()
        except AssertionError:
            raise
        except Exception as exc:  # noqa: BLE001 - any exception breaks the contract
            self._fail(case, f"{what} raised {type(exc).__name__}: {exc}", exc)

    def _fail(self, case: _Case | None, message: str,
              cause: BaseException | None = None) -> NoReturn:
        where = "" if case is None else (f" at epoch {case.observation.slot} ({case.what}, "
                                         f"n = {case.observation.n_tasks})")
        raise AssertionError(f"scheduler {self.label!r}{where}: {message}") from cause


def _perturb_others(rng: np.random.Generator, obs: Observation, j: int) -> Observation:
    """Return ``obs`` with every MEC's gains and backlog changed except MEC ``j``'s."""
    p = obs.problem
    gains = p.gains * rng.uniform(0.05, 20.0, p.gains.shape)
    gains[:, j - 1] = p.gains[:, j - 1]
    backlog = obs.backlog_tasks + rng.integers(1, 5, obs.backlog_tasks.shape)
    backlog[j - 1] = obs.backlog_tasks[j - 1]
    cycles = obs.backlog_cycles * 3.0 + 1e9
    cycles[j - 1] = obs.backlog_cycles[j - 1]
    problem = SlotProblem(gains, p.data_bits, p.cycles, p.local_cpu_hz, p.mec_cpu_hz,
                          params=p.params, available=p.available)
    return replace(obs, problem=problem, backlog_tasks=backlog, backlog_cycles=cycles)


def _snapshot(obs: Observation, network: Network) -> dict[str, np.ndarray]:
    p = obs.problem
    fields = {
        "observation.iotd": obs.iotd, "observation.available": obs.available,
        "observation.iotd_positions_m": obs.iotd_positions_m,
        "observation.backlog_tasks": obs.backlog_tasks,
        "observation.backlog_cycles": obs.backlog_cycles,
        "problem.gains": p.gains, "problem.data_bits": p.data_bits, "problem.cycles": p.cycles,
        "problem.local_cpu_hz": p.local_cpu_hz, "problem.mec_cpu_hz": p.mec_cpu_hz,
        "problem.available": p.available, "network.mec_cpu_hz": network.mec_cpu_hz,
        "network.mec_positions_m": network.mec_positions_m,
        "network.local_cpu_hz": network.local_cpu_hz,
    }
    return {k: np.array(v, copy=True) for k, v in fields.items()}


def _changed(before: dict[str, np.ndarray], after: dict[str, np.ndarray]) -> list[str]:
    return [k for k in before if not np.array_equal(before[k], after[k])]


def _brief(x: Any) -> str:
    if x is None:
        return "None"
    arr = np.asarray(x)
    text = np.array2string(arr.ravel()[:8], precision=4, separator=", ")
    return text if arr.size <= 8 else text[:-1] + ", ...]"


def _safe(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in label) or "scheduler"
