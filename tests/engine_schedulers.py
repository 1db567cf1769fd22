"""Schedulers used by the engine tests (importable as ``engine_schedulers:Name``)."""

import os
import time

import numpy as np

from mecsim.scheduler import AgentView, DecentralizedScheduler, Decision, Observation, Scheduler


class AllToMec1(Scheduler):
    """Sends every task to MEC 1 (overloads it)."""

    def decide(self, observation: Observation) -> Decision:
        return Decision(np.ones(observation.n_tasks, dtype=np.int64))


class OutOfRange(Scheduler):
    """Returns MEC M+1 for task 0 from slot 3 on."""

    def decide(self, observation: Observation) -> Decision:
        a = np.zeros(observation.n_tasks, dtype=np.int64)
        if observation.slot >= 3 and a.size:
            a[0] = observation.problem.n_mecs + 1
        return Decision(a)


class Raises(Scheduler):
    """Raises at slot 5."""

    def decide(self, observation: Observation) -> Decision:
        if observation.slot == 5:
            raise RuntimeError("boom")
        return Decision(np.zeros(observation.n_tasks, dtype=np.int64))


class Slow(Scheduler):
    """Local, but sleeps 20 ms per slot (for interruption tests)."""

    def decide(self, observation: Observation) -> Decision:
        time.sleep(0.02)
        return Decision(np.zeros(observation.n_tasks, dtype=np.int64))


class RecordingAgents(DecentralizedScheduler):
    """Records what the engine hands it; each agent offloads when its gain is the median+."""

    def __init__(self, **params):
        super().__init__(**params)
        self.seen: list = []

    def decide(self, observation):  # the engine must never call this for a decentralized one
        raise AssertionError("decide called on a decentralized scheduler")

    def act(self, view: AgentView) -> np.ndarray:
        self.seen.append(view)
        if view.gains.size == 0:
            return np.zeros(0)
        return (view.gains >= np.median(view.gains)).astype(float) * 0.6


class SignalsItself(Scheduler):
    """Local; sends its own process ``signum`` during slot ``at`` (``twice``: two signals)."""

    def __init__(self, signum: int = 15, at: int = 5, twice: bool = False) -> None:
        self.signum, self.at, self.twice = signum, at, twice

    def decide(self, observation: Observation) -> Decision:
        if observation.slot == self.at:
            os.kill(os.getpid(), self.signum)
            if self.twice:
                os.kill(os.getpid(), self.signum)
        return Decision(np.zeros(observation.n_tasks, dtype=np.int64))
