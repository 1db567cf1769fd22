"""The engine's observations compute ``uplink_busy_s`` when a scheduler first reads it."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from run_tables import run_tables

from mecsim.config import load_scenario
from mecsim.engine.lines import FcfsLines
from mecsim.engine.observation import EpochObservation
from mecsim.engine.runner import run_scenario
from mecsim.scheduler import Observation
from mecsim.testing import random_observation

DENSE = Path(__file__).resolve().parents[1] / "scenarios" / "dense_100.yaml"


def _fields(obs: Observation) -> dict:
    return {f.name: getattr(obs, f.name) for f in dataclasses.fields(obs)
            if f.name != "uplink_busy_s"}


def test_read_once_then_kept_and_equal_to_the_eager_observation():
    eager = random_observation(np.random.default_rng(1), n_tasks=3, n_mecs=2, n_iotds=4,
                               uplink_busy_s=[0.0, 1.5, 0.25, 3.0])
    calls = []
    lazy = EpochObservation.at_epoch(lambda: calls.append(1) or eager.uplink_busy_s,
                                     **_fields(eager))
    assert "uplink_busy_s=<not read>" in repr(lazy) and calls == []
    np.testing.assert_array_equal(lazy.uplink_busy_s, eager.uplink_busy_s)
    np.testing.assert_array_equal(lazy.uplink_busy_s, eager.uplink_busy_s)
    assert calls == [1]  # computed once
    lazy.seal()
    np.testing.assert_array_equal(lazy.uplink_busy_s, eager.uplink_busy_s)  # kept
    np.testing.assert_array_equal(lazy.waits().uplink_s, eager.waits().uplink_s)
    again = dataclasses.replace(lazy, slot=7)
    assert again.slot == 7
    np.testing.assert_array_equal(again.uplink_busy_s, eager.uplink_busy_s)


def test_a_first_read_after_the_decision_raises():
    eager = random_observation(np.random.default_rng(2), n_tasks=2, n_mecs=2, n_iotds=3)
    lazy = EpochObservation.at_epoch(lambda: np.zeros(3), **_fields(eager))
    lazy.seal()
    with pytest.raises(RuntimeError, match="read it in decide"):
        _ = lazy.uplink_busy_s
    assert "uplink_busy_s=<not read>" in repr(lazy)  # repr never raises


def test_a_run_computes_the_estimate_only_for_schedulers_that_read_it(monkeypatch):
    scenario = load_scenario(DENSE, [
        "slots=12", "output.channels=false", "iotds.count=60",
        "schedulers=[random, greedy, optimal_backlog, "
        "{name: random, label: random_wait, params: {max_uplink_wait_s: 1.0}}]"])
    asked = []
    busy = FcfsLines.busy_s

    def counting(self, now, n):
        asked.append(now)
        return busy(self, now, n)

    monkeypatch.setattr(FcfsLines, "busy_s", counting)
    with tempfile.TemporaryDirectory() as lazy_dir, tempfile.TemporaryDirectory() as eager_dir:
        results = run_scenario(scenario, lazy_dir)
        lazy_calls = len(asked)
        # the reference: every observation made with the estimate at once, as before
        made = EpochObservation.at_epoch.__func__

        def eager(cls, uplink, **fields):
            obs = made(cls, uplink, **fields)
            _ = obs.uplink_busy_s
            return obs

        monkeypatch.setattr(EpochObservation, "at_epoch", classmethod(eager))
        run_scenario(scenario, eager_dir)
        mine, reference = run_tables(Path(lazy_dir)), run_tables(Path(eager_dir))
    assert all(r.complete for r in results)
    # random and greedy never read it; optimal_backlog and random with a wait bound do
    assert lazy_calls == 2 * 12 and len(asked) - lazy_calls == 4 * 12
    for name in mine:
        pd.testing.assert_frame_equal(mine[name], reference[name], check_exact=True)


def _offload_all(store: list, read_now: bool):
    from mecsim.scheduler import Decision, Scheduler

    class OffloadAll(Scheduler):
        """Every task to MEC 1 (long uplink queues); keeps each observation."""

        centralized = True

        def decide(self, observation):
            store.append(np.array(observation.uplink_busy_s) if read_now else observation)
            return Decision(np.ones(observation.n_tasks, dtype=np.int64))

    return OffloadAll()


def test_a_kept_observation_still_reads_the_epochs_estimate_later():
    from mecsim.engine.simulation import Simulation

    scenario = load_scenario(DENSE, ["slots=8", "output.channels=false", "iotds.count=40"])
    read, kept = [], []
    for store, now in ((read, True), (kept, False)):
        sim = Simulation(scenario, _offload_all(store, now), "all", 1,
                         on_tasks=lambda rows: None, on_slot=lambda row: None)
        sim.scheduler.reset(0, sim.network)
        sim.run(scenario.slots)
        sim.close()
    assert len(kept) == 8 and any(v.any() for v in read)  # queues built up
    for value, obs in zip(read, kept, strict=True):  # read long after their epochs
        np.testing.assert_array_equal(obs.uplink_busy_s, value)
