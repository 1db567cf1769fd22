"""The scheduler contract: what a scheduler sees, what it returns, what it learns from.

A scheduler is a class deriving from :class:`Scheduler`. The engine drives it as follows::

    scheduler.reset(seed, network)          # once per run
    for every decision epoch:
        decision = scheduler.decide(observation)   # centralized schedulers
        # or, for decentralized ones, one call per available MEC agent:
        scores = scheduler.act(view)               # view: that MEC's AgentView only
        scheduler.feedback(outcome)                # after the engine applied the decision

**Who sees what is decided by the engine.** A ``centralized`` scheduler receives an
:class:`Observation` with every field filled. A decentralized one (subclass
:class:`DecentralizedScheduler`) never receives an :class:`Observation`: the engine calls
:meth:`DecentralizedScheduler.act` once per available MEC with that MEC's
:class:`AgentView` alone (its own column of gains, its own backlog), and combines the
returned scores itself with :func:`vote`. Only :meth:`Scheduler.feedback`, the training
hook run on the core MEC, receives full information.

Where a decision gives no ``cpu_hz`` or ``tx_power_w``, the engine applies the exact
allocation of :mod:`mecsim.model.allocation` for the returned placement.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mecsim.model.backlog import backlog_waits
from mecsim.model.cost import TaskCost
from mecsim.model.problem import Allocation, SlotProblem, Waits
from mecsim.params import ModelParams


@dataclass(frozen=True)
class Network:
    """The fixed facts of a run, given to :meth:`Scheduler.reset`.

    Attributes:
        n_iotds: Number of IoTDs ``N``.
        n_mecs: Number of MECs ``M``.
        mec_cpu_hz: ``(M,)`` MEC capacities ``Fmax`` [cycle/s].
        mec_positions_m: ``(M, 2)`` MEC positions [m].
        local_cpu_hz: ``(N,)`` IoTD CPU frequencies ``f0`` [cycle/s].
        area_m: Width and height of the area [m].
        slot_s: Period of the decision epochs [s].
        params: Channel and cost parameters (bandwidth, noise, Pmax, weights, ...).
    """

    n_iotds: int
    n_mecs: int
    mec_cpu_hz: np.ndarray
    mec_positions_m: np.ndarray
    local_cpu_hz: np.ndarray
    area_m: tuple[float, float]
    slot_s: float
    params: ModelParams


@dataclass(frozen=True)
class AgentView:
    """What the agent on MEC ``mec`` sees at one epoch (decentralized schedulers).

    Attributes:
        mec: The MEC's index ``j`` (1-based, as in placements).
        slot: Index of the epoch (0-based).
        iotd: ``(n,)`` IoTD index (0-based) of each task to place.
        data_bits: ``(n,)`` upload sizes [bit] (announced by the IoTDs).
        cycles: ``(n,)`` CPU cycles [cycle] (announced by the IoTDs).
        gains: ``(n,)`` channel gains ``h_ij`` of each task's IoTD to this MEC only [-].
        cpu_hz: This MEC's capacity ``Fmax_j`` [cycle/s].
        backlog_tasks: Tasks still uploading to or running on this MEC.
        backlog_cycles: Cycles still to run for those tasks [cycle].
    """

    mec: int
    slot: int
    iotd: np.ndarray
    data_bits: np.ndarray
    cycles: np.ndarray
    gains: np.ndarray
    cpu_hz: float
    backlog_tasks: int
    backlog_cycles: float


@dataclass(frozen=True)
class Observation:
    """Everything known at one epoch (centralized schedulers).

    Attributes:
        slot: Index of the epoch (0-based).
        time_s: Simulated time of the epoch [s].
        iotd: ``(n,)`` IoTD index (0-based) of each task to place; ``n`` may be 0.
        problem: The slot's :class:`SlotProblem` (gains ``(n, M)``, sizes, capacities,
            availability); ``problem.batch_cost`` prices any placement exactly.
        iotd_positions_m: ``(N, 2)`` positions of all IoTDs [m].
        available: ``(M,)`` False for a failed MEC (a placement there is invalid).
        backlog_tasks: ``(M,)`` tasks still uploading to or running on each MEC.
        backlog_cycles: ``(M,)`` cycles still to run at each MEC [cycle] (those of tasks
            still uploading to it included).
        local_busy_s: ``(N,)`` time each IoTD's CPU needs for the jobs it holds [s]
            (exact: the CPU runs at ``f0``); ``None`` reads as all zero.
        uplink_busy_s: ``(N,)`` time each IoTD's uplink needs for its queued uploads [s],
            estimated at each upload's mean rate over the slot's fading steps; ``None``
            reads as all zero. The engine computes it when first read, in ``decide`` or
            right after it for an observation the scheduler keeps
            (``mecsim.engine.observation``).
        mec_cpu_tasks: ``(M,)`` tasks at each MEC's CPU: arrived there (upload done) and
            not ended; tasks still uploading excluded, so ``backlog_tasks`` minus these is
            what is in the uplinks. ``None`` (an observation not made by the engine) reads
            as ``backlog_tasks``.
        mec_cpu_cycles: ``(M,)`` cycles still to run for the tasks at each MEC's CPU
            [cycle] (uploads excluded); ``None`` reads as ``backlog_cycles``.
        distance_m: ``(N, M)`` distance of every IoTD to every MEC at the epoch [m], the
            world's own (read-only); with ``candidates``, ``(N, K)``: column ``c`` is the
            distance to MEC ``candidates[:, c]``. ``None`` (an observation not made by the
            engine): compute it from the positions, as :meth:`task_distances_m` does.
        candidates: ``(N, K)`` 0-based MECs each IoTD has a link to
            (``channel.candidate_mecs``); ``None``: every MEC. The gain to any other MEC
            is 0 in ``problem.gains``: no link, a placement there cannot upload.
    """

    slot: int
    time_s: float
    iotd: np.ndarray
    problem: SlotProblem
    iotd_positions_m: np.ndarray
    available: np.ndarray
    backlog_tasks: np.ndarray
    backlog_cycles: np.ndarray
    local_busy_s: np.ndarray | None = None
    uplink_busy_s: np.ndarray | None = None
    mec_cpu_tasks: np.ndarray | None = None
    mec_cpu_cycles: np.ndarray | None = None
    distance_m: np.ndarray | None = None
    candidates: np.ndarray | None = None

    @property
    def n_tasks(self) -> int:
        """Number of tasks to place."""
        return int(self.iotd.size)

    def task_distances_m(self, mec_positions_m: np.ndarray) -> np.ndarray:
        """Return ``(n, M)``: each task's IoTD's distance to each MEC [m].

        Args:
            mec_positions_m: ``(M, 2)`` MEC positions [m] (``Network.mec_positions_m``),
                used when the observation carries no ``(N, M)`` ``distance_m`` (none, or
                only the candidates').
        """
        if self.distance_m is not None and self.candidates is None:
            return self.distance_m[self.iotd]
        where = np.asarray(self.iotd_positions_m, dtype=float)[self.iotd]
        mec = np.asarray(mec_positions_m, dtype=float)
        return np.hypot(np.subtract.outer(where[:, 0], mec[:, 0]),
                        np.subtract.outer(where[:, 1], mec[:, 1]))

    def waits(self) -> Waits:
        """Return the queues ahead of this slot's tasks (:func:`mecsim.model.backlog_waits`)."""
        n_iotds = self.iotd_positions_m.shape[0]
        local = np.zeros(n_iotds) if self.local_busy_s is None else self.local_busy_s
        uplink = np.zeros(n_iotds) if self.uplink_busy_s is None else self.uplink_busy_s
        return backlog_waits(self.problem, self.backlog_cycles,
                             np.asarray(local, dtype=float)[self.iotd],
                             np.asarray(uplink, dtype=float)[self.iotd])

    def backlog_problem(self) -> SlotProblem:
        """Return the slot's problem priced with the backlog (``docs/model.md``)."""
        return self.problem.replaced(waits=self.waits())


@dataclass(frozen=True)
class Decision:
    """A scheduler's answer for one epoch.

    Attributes:
        placement: ``(n,)`` integers: 0 runs task ``i`` locally, ``j`` offloads it to MEC
            ``j`` (1-based).
        cpu_hz: Optional ``(n,)`` CPU shares at the chosen MECs [cycle/s]; summing to at
            most ``Fmax_j`` per MEC. ``None``: the engine's exact split.
        tx_power_w: Optional ``(n,)`` transmit powers [W] in ``(0, Pmax]`` for offloaded
            tasks. ``None``: the engine's optimal power.
        info: Optional extras the engine records per slot: ``lower_bound`` (float, a proven
            lower bound on the slot's optimal objective) and ``exact`` (bool, the placement
            is proven optimal) are written to ``slots.parquet`` when given.
    """

    placement: np.ndarray
    cpu_hz: np.ndarray | None = None
    tx_power_w: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RealizedSince:
    """What the tasks that ended since the previous feedback realized (delayed feedback).

    The tasks of any earlier epoch, not only this one's: a task's realized latency is known
    only when it ends, often epochs after its decision, so this is a delayed, shared signal
    (``docs/engine.md``). The first feedback counts from the start of the run.

    Attributes:
        completed: Tasks completed.
        latency_s: Their summed realized latency [s].
        energy_j: Their summed realized energy [J].
        cost: Their summed realized cost ``phi_T latency + phi_E energy`` [-].
        dropped: Tasks dropped (deadline, failure, invalid decision).
        dropped_cost: Their summed cost at their age and energy when dropped [-].
    """

    completed: int = 0
    latency_s: float = 0.0
    energy_j: float = 0.0
    cost: float = 0.0
    dropped: int = 0
    dropped_cost: float = 0.0


@dataclass(frozen=True)
class Outcome:
    """What the engine applied at one epoch, with full information (the training hook).

    Attributes:
        slot: Index of the epoch.
        problem: The slot's full problem (all gains: only training code may use it).
        placement: ``(n,)`` the placement applied (after ``on_invalid: local``, if used).
        allocation: The resources applied.
        cost: Per-task model latency, energy and cost parts.
        objective: The slot's model objective ``sum_i Phi_i`` (0 for an empty slot).
        reward: ``1 / objective`` (the paper's reward; 0 for an empty slot).
        info: Free-form extras (e.g. ``{"invalid": 3}``).
        iotd: ``(n,)`` IoTD index (0-based) of each task (as in the observation).
        realized: What the tasks that ended since the previous feedback realized, whatever
            epoch placed them (:class:`RealizedSince`: delayed feedback).
    """

    slot: int
    problem: SlotProblem
    placement: np.ndarray
    allocation: Allocation
    cost: TaskCost
    objective: float
    reward: float
    info: dict[str, Any] = field(default_factory=dict)
    iotd: np.ndarray | None = None
    realized: RealizedSince = field(default_factory=RealizedSince)


class Scheduler(ABC):
    """Base class of every scheduler. Subclasses must implement :meth:`decide`.

    Attributes:
        centralized: True when the scheduler sees the whole :class:`Observation`.
        params: The keyword arguments the scheduler was made with (saved with it).
    """

    centralized: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        self.params: dict[str, Any] = dict(params)
        self.network: Network | None = None
        self.rng: np.random.Generator = np.random.default_rng(0)

    def reset(self, seed: int, network: Network) -> None:
        """Start a run: store the network and seed the scheduler's own random stream.

        A learning scheduler keeps what it learned (its weights) across ``reset``; ``load``
        is called after ``reset`` when a run starts from a checkpoint.
        """
        self.network = network
        self.rng = np.random.default_rng(seed)

    @abstractmethod
    def decide(self, observation: Observation) -> Decision:
        """Return the placement (and optionally the allocation) of the epoch's tasks."""

    @property
    def learning(self) -> bool:
        """True while the scheduler is still training: its decisions are not its policy's.

        The engine reads it before each epoch's decision and counts those epochs
        (``SchedulerResult.training_slots``), so results label online figures as such.
        False for schedulers that do not learn and for frozen ones; a learning scheduler
        overrides it.
        """
        return False

    def feedback(self, outcome: Outcome) -> None:  # noqa: B027 - optional hook
        """Learn from what the engine applied; a no-op for schedulers that do not learn."""

    def drain_log(self) -> list[dict[str, Any]]:
        """Return (and forget) the training-log rows recorded since the last call.

        The engine calls it after every epoch and appends the rows to the run's
        ``training.parquet``. A key of :data:`mecsim.engine.records.TRAINING_COLUMNS`
        keeps that column's type; any other key is a free-form metric whose values must be
        numbers (or None), written as a float64 column of that name. The table holds the
        union of the keys logged (a missing key is null); log ``slot`` or ``step`` to place
        a row in time. Schedulers that do not learn log nothing (``docs/training.md``).
        """
        return []

    def save(self, path: str | Path) -> None:
        """Save what the scheduler needs to make the same decisions again (JSON params).

        ``mecsim train`` calls it at the end of the training run; :meth:`load` reads it back.
        """
        Path(path).write_text(json.dumps({"class": type(self).__qualname__,
                                          "params": self.params}, sort_keys=True))

    def load(self, path: str | Path) -> None:
        """Restore what :meth:`save` wrote.

        Called after :meth:`reset` for a scheduler item with ``checkpoint: PATH``, whatever
        the scheduler (:func:`mecsim.registry.load_checkpoint`); a scheduler whose
        constructor takes ``checkpoint`` and loads it in ``reset`` is loaded again, so
        ``load`` must be idempotent.

        Raises:
            ValueError: If the file is missing, unreadable or for another class.
        """
        try:
            state = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot load scheduler state from {path}: {exc}") from exc
        if state.get("class") != type(self).__qualname__:
            raise ValueError(f"{path} holds a {state.get('class')!r}, not a "
                             f"{type(self).__qualname__!r}")
        self.params = dict(state["params"])


class DecentralizedScheduler(Scheduler):
    """A scheduler with one agent per MEC, each seeing only its own :class:`AgentView`.

    Subclasses implement :meth:`act`; the engine calls it once per available MEC and
    combines the scores with :func:`vote`. :meth:`decide` is not called by the engine; it is
    provided for tests and offline use and goes through the same per-agent views.
    """

    centralized: ClassVar[bool] = False

    @abstractmethod
    def act(self, view: AgentView) -> np.ndarray:
        """Return ``(n,)`` scores in [0, 1]: "offload task ``i`` to me" for this MEC's agent."""

    def decide(self, observation: Observation) -> Decision:
        """Vote over :meth:`act` on each available MEC's view of ``observation``."""
        views = agent_views(observation)
        scores = {j: self.act(view) for j, view in views.items()}
        return Decision(vote(scores, observation.n_tasks))


def agent_views(observation: Observation) -> dict[int, AgentView]:
    """Split an observation into per-MEC views, keyed by 1-based MEC index (available only)."""
    p = observation.problem
    return {
        j + 1: AgentView(
            mec=j + 1, slot=observation.slot, iotd=observation.iotd.copy(),
            data_bits=p.data_bits.copy(), cycles=p.cycles.copy(), gains=p.gains[:, j].copy(),
            cpu_hz=float(p.mec_cpu_hz[j]), backlog_tasks=int(observation.backlog_tasks[j]),
            backlog_cycles=float(observation.backlog_cycles[j]))
        for j in np.flatnonzero(observation.available)
    }


def vote(scores: dict[int, np.ndarray], n_tasks: int, threshold: float = 0.5) -> np.ndarray:
    """Combine per-MEC scores into a placement (spec section 6, the IoTDs' vote).

    Each task goes to the MEC with the highest score if that score is at least
    ``threshold``, else runs locally (ties go to the lowest MEC index).

    Args:
        scores: ``{mec (1-based): (n,) scores}`` from the available MECs' agents.
        n_tasks: Number of tasks ``n``.
        threshold: Minimum winning score to offload.

    Returns:
        ``(n,)`` placement.

    Raises:
        ValueError: If a score array has the wrong shape or a non-finite value.
    """
    if not scores:
        return np.zeros(n_tasks, dtype=np.int64)
    mecs = np.array(sorted(scores), dtype=np.int64)
    table = np.empty((n_tasks, mecs.size))
    for col, j in enumerate(mecs):
        s = np.asarray(scores[j], dtype=float)
        if s.shape != (n_tasks,) or not np.isfinite(s).all():
            raise ValueError(f"agent of MEC {j} returned scores of shape {s.shape}"
                             f" (want ({n_tasks},), finite)")
        table[:, col] = s
    best = np.argmax(table, axis=1) if n_tasks else np.zeros(0, dtype=np.int64)
    top = table[np.arange(n_tasks), best]
    return np.where(top >= threshold, mecs[best], 0).astype(np.int64)
