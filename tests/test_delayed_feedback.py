"""Outcome.realized: what the tasks that ended since the previous feedback realized."""

import numpy as np
import pandas as pd
import pytest

from mecsim.config import SchedulerSpec
from mecsim.engine.runner import run_scenario
from mecsim.registry import make as registry_make
from mecsim.scheduler import Decision, Scheduler


class Recorder(Scheduler):
    """Random placements; keeps every feedback's realized figures and the epoch's time."""

    def __init__(self):
        super().__init__()
        self.fed = []

    def decide(self, observation):
        self.now = observation.time_s
        m = observation.problem.n_mecs
        return Decision(self.rng.integers(0, m + 1, observation.n_tasks))

    def feedback(self, outcome):
        self.fed.append((self.now, outcome.realized))


def test_the_realized_feedback_adds_up_to_the_tasks_that_ended(tiny, tmp_path):
    scenario = tiny("slots=30", "tasks.arrival={process: poisson, rate_per_s: 1.5}",
                    "tasks.deadline_s=2.5", "tasks.cycles={dist: uniform, low: 2e8, "
                    "high: 3e9}")
    rec = Recorder()
    run_scenario(scenario, tmp_path / "run", schedulers=[SchedulerSpec(name="rec")],
                 make=lambda name, **kw: rec if name == "rec" else registry_make(name, **kw))
    tasks = pd.read_parquet(tmp_path / "run" / "tasks.parquet")
    last = rec.fed[-1][0]
    fed = {k: sum(getattr(r, k) for _, r in rec.fed)
           for k in ("completed", "latency_s", "energy_j", "cost", "dropped", "dropped_cost")}
    done = tasks[tasks.status == "completed"]
    dropped = tasks[tasks.status == "dropped"]
    assert fed["completed"] > 0 and fed["dropped"] > 0
    before, upto = done[done.done_s < last], done[done.done_s <= last]
    assert len(before) <= fed["completed"] <= len(upto)
    ended = upto if fed["completed"] == len(upto) else before
    assert fed["latency_s"] == pytest.approx(ended.realized_latency_s.sum())
    assert fed["energy_j"] == pytest.approx(ended.realized_energy_j.sum())
    phi = scenario.weights
    assert fed["cost"] == pytest.approx((phi.latency_per_s * ended.realized_latency_s
                                         + phi.energy_per_j * ended.realized_energy_j).sum())
    assert len(dropped[dropped.done_s < last]) <= fed["dropped"] <= len(
        dropped[dropped.done_s <= last])
    # each feedback counts only what ended since the previous one
    counts = np.array([r.completed for _, r in rec.fed])
    times = np.array([t for t, _ in rec.fed])
    for k in range(1, len(times)):
        window = done[(done.done_s > times[k - 1]) & (done.done_s < times[k])]
        assert counts[k] >= len(window)
