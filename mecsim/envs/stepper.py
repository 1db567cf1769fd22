"""The engine, one decision epoch at a time: what the Gymnasium and PettingZoo envs drive.

``python -m mecsim run`` lets the SimPy engine call its scheduler at every epoch. An RL
library wants the opposite: it calls ``step(action)``. :class:`EngineStepper` turns the one
into the other without a second model: the *same* :class:`~mecsim.engine.simulation.Simulation`
runs in a worker thread with a stand-in scheduler, whose ``decide`` hands the epoch's
:class:`~mecsim.scheduler.Observation` over and waits for the decision. Everything between
two epochs (uploads, queues, deadlines, failures) runs exactly as in ``run``; the same
scenario and seed give the same world (``reset(seed=s)`` is ``run --seed s``).

Only one thread runs at any time: the worker waits inside ``decide`` while the caller
chooses, and the caller waits while the worker simulates.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mecsim.engine.simulation import COMPLETED, DROPPED, Simulation
from mecsim.scheduler import Decision, Network, Observation, Outcome, Scheduler


class _Abandoned(BaseException):
    """Raised in the worker when the episode is dropped (``reset`` or ``close``).

    A ``BaseException``, so that the engine does not report it as the scheduler's error.
    """


_ABANDON = object()


class _Link(Scheduler):
    """The stand-in scheduler: hands each observation to the caller, returns its decision."""

    def __init__(self, to_caller: queue.Queue, to_worker: queue.Queue) -> None:
        super().__init__()
        self._to_caller, self._to_worker = to_caller, to_worker
        self.outcome: Outcome | None = None

    def decide(self, observation: Observation) -> Decision:
        self._to_caller.put(("observation", observation))
        decision = self._to_worker.get()
        if decision is _ABANDON:
            raise _Abandoned
        return decision

    def feedback(self, outcome: Outcome) -> None:
        self.outcome = outcome


@dataclass
class EpochResult:
    """What one epoch's decision led to, up to the next epoch (or the end of the run).

    Attributes:
        record: The epoch's row of ``slots.parquet`` (model cost, tasks, offloaded, backlog,
            decision time, ...).
        outcome: The engine's :class:`~mecsim.scheduler.Outcome` (model cost per task).
        completed_cost: Realized cost ``phi_T latency + phi_E energy`` of the tasks that
            completed since the decision (any epoch's) [-].
        completed: How many completed.
        dropped_cost: The same for the tasks dropped since the decision, at their age and
            energy when dropped [-].
        dropped: How many were dropped.
        observation: The next epoch's observation; ``None`` when the run has ended.
    """

    record: dict[str, Any]
    outcome: Outcome | None
    completed_cost: float
    completed: int
    dropped_cost: float
    dropped: int
    observation: Observation | None
    extra: dict[str, Any] = field(default_factory=dict)


class EngineStepper:
    """Drive one run of the engine on ``scenario``, one epoch per :meth:`step`.

    Args:
        scenario: A validated scenario; its ``slots`` end the run.
        seed: The world's seed (``run --seed``).
        name: The name written in the records.
    """

    def __init__(self, scenario, seed: int, name: str = "env") -> None:
        self._to_caller: queue.Queue = queue.Queue(maxsize=1)
        self._to_worker: queue.Queue = queue.Queue(maxsize=1)
        self.link = _Link(self._to_caller, self._to_worker)
        self._records: list[dict] = []
        self.sim = Simulation(scenario, self.link, name, seed, on_tasks=lambda rows: None,
                              on_slot=self._records.append)
        self.link.reset(0, self.sim.network)
        self.slots = scenario.slots
        self._ended = np.zeros(2)
        self._counts = np.zeros(2, dtype=np.int64)
        self._thread = threading.Thread(target=self._work, name="mecsim-engine", daemon=True)
        self._thread.start()
        self.observation = self._next()

    @property
    def network(self) -> Network:
        """The run's fixed facts (as given to a scheduler's ``reset``)."""
        return self.sim.network

    @property
    def done(self) -> bool:
        """True once the run has ended."""
        return self.observation is None

    def step(self, decision: Decision) -> EpochResult:
        """Apply ``decision`` to the current epoch and simulate up to the next one.

        Raises:
            RuntimeError: After the run has ended.
            mecsim.engine.simulation.SchedulerError: If the decision is invalid (the
                scenario's ``on_invalid: error``); the run is over then.
        """
        if self.done:
            raise RuntimeError("the run has ended: reset first")
        self._to_worker.put(decision)
        self.observation = self._next()
        c = self.sim.counters
        ended = self.sim.ended[:, 3].copy()
        counts = np.array([c.completed, sum(c.dropped.values())], dtype=np.int64)
        gained, new = ended - self._ended, counts - self._counts
        self._ended, self._counts = ended, counts
        return EpochResult(self._records[-1], self.link.outcome, float(gained[COMPLETED]),
                           int(new[0]), float(gained[DROPPED]), int(new[1]), self.observation)

    def close(self) -> None:
        """Abandon the run (idempotent); the worker thread ends."""
        if self._thread.is_alive() and not self.done:
            self._to_worker.put(_ABANDON)
        self._thread.join(timeout=10)
        self.observation = None

    # ------------------------------------------------------------------ worker side
    def _work(self) -> None:
        try:
            self.sim.run(self.slots)
        except _Abandoned:
            return
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            self._to_caller.put(("error", exc))
            return
        finally:  # free the engine's object graph (no cyclic garbage, issue 14)
            self.sim.close()
        self._to_caller.put(("end", None))

    def _next(self) -> Observation | None:
        kind, value = self._to_caller.get()
        if kind == "error":
            self._thread.join(timeout=10)
            raise value
        return value if kind == "observation" else None
