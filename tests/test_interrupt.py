"""A stop request takes effect within moments wherever the run is, slots kept whole."""

import json
import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest

from mecsim.config import SchedulerSpec
from mecsim.engine.interrupt import Interrupted, StopRequest
from mecsim.engine.runner import run_scenario
from mecsim.registry import make as registry_make
from mecsim.scheduler import Decision, Observation, Scheduler

LIMIT_S = 5.0  # [s] the longest a first signal may take to stop a run


class StuckDecision(Scheduler):
    """Local; its decision at slot ``at`` takes a minute (a long exact solve, say)."""

    def __init__(self, at: int = 3) -> None:
        self.at = at

    def decide(self, observation: Observation) -> Decision:
        if observation.slot == self.at:
            end = time.monotonic() + 60.0
            while time.monotonic() < end:
                sum(range(10_000))  # busy Python, not a sleep
        return Decision(np.zeros(observation.n_tasks, dtype=np.int64))


class LongPretraining(Scheduler):
    """Local; its feedback of slot ``at`` trains a network for a minute (DIRS's imitation)."""

    def __init__(self, at: int = 2) -> None:
        self.at = at

    def decide(self, observation: Observation) -> Decision:
        return Decision(np.zeros(observation.n_tasks, dtype=np.int64))

    def feedback(self, outcome) -> None:
        if outcome.slot != self.at:
            return
        import torch

        net = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(),
                                  torch.nn.Linear(64, 1))
        opt = torch.optim.Adam(net.parameters())
        x = torch.randn(256, 64)
        end = time.monotonic() + 60.0
        while time.monotonic() < end:
            opt.zero_grad()
            net(x).pow(2).mean().backward()
            opt.step()


CUSTOM = {"stuck": StuckDecision, "pretraining": LongPretraining}


def make(name, **params):
    return CUSTOM[name](**params) if name in CUSTOM else registry_make(name, **params)


def signal_later(signum: int, after_s: float) -> dict:
    """Send ``signum`` to this process after ``after_s``; the dict gets the time sent."""
    sent: dict = {}

    def fire() -> None:
        sent["at"] = time.monotonic()
        os.kill(os.getpid(), signum)

    threading.Timer(after_s, fire).start()
    return sent


def test_urgent_blocks_raise_at_once_and_others_wait():
    stop = StopRequest()
    with stop.installed():
        os.kill(os.getpid(), signal.SIGTERM)  # outside urgent(): recorded, not raised
        assert stop.signum == signal.SIGTERM
        with pytest.raises(Interrupted):
            with stop.urgent():  # a pending request raises on entry
                pass
    stop = StopRequest()
    with stop.installed(), pytest.raises(Interrupted):
        with stop.urgent():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # interrupted at once
            pytest.fail("the signal did not raise inside the urgent block")


@pytest.mark.parametrize(("name", "recorded"), [("stuck", 3), ("pretraining", 3)])
def test_a_first_signal_stops_inside_scheduler_code_within_seconds(tiny, tmp_path, name,
                                                                   recorded):
    out = tmp_path / "run"
    sent = signal_later(signal.SIGTERM, 1.5)
    with pytest.raises(Interrupted):
        run_scenario(tiny("slots=20"), out, schedulers=[SchedulerSpec(name=name)], make=make)
    assert time.monotonic() - sent["at"] < LIMIT_S
    summary = json.loads((out / "summary.json").read_text())["schedulers"][name]
    assert summary["complete"] is False and summary["error"] is None
    # the slot being decided is not recorded; a slot whose feedback was cut is
    assert summary["slots"] == recorded
    slots = pd.read_parquet(out / "slots.parquet")
    assert slots.slot.tolist() == list(range(recorded))
    tasks = pd.read_parquet(out / "tasks.parquet")
    assert len(tasks) == summary["counts"]["generated"] == slots.tasks.sum()
