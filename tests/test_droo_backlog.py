"""DROO's ``backlog_input``: the queues as DNN inputs besides the gains (issue 11)."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from mecsim.config import SchedulerSpec, load_scenario
from mecsim.engine.runner import run_scenario
from mecsim.testing import check_scheduler, outcome_for, random_network, random_observation
from schedulers.droo import Droo, DrooConfig
from schedulers.droo.features import n_task_features
from schedulers.droo.scheduler import queue_inputs

ROOT = Path(__file__).resolve().parent.parent
N, M = 6, 3


def world(seed=0, n_tasks=5, **kw):
    rng = np.random.default_rng(seed)
    network = random_network(rng, N, M)
    obs = random_observation(rng, n_tasks, M, network=network, **kw)
    return network, obs


def with_queues(obs, local=None, uplink=None, mec_cycles=None):
    return replace(obs, local_busy_s=np.zeros(N) if local is None else np.asarray(local, float),
                   uplink_busy_s=np.zeros(N) if uplink is None else np.asarray(uplink, float),
                   backlog_cycles=(obs.backlog_cycles if mec_cycles is None
                                   else np.asarray(mec_cycles, float)))


def test_default_is_off_and_the_input_grows_by_the_queue_features():
    network, _ = world()
    assert DrooConfig().backlog_input is False
    plain, queued = Droo(per_task=False), Droo(per_task=False, backlog_input=True)
    plain.reset(0, network)
    queued.reset(0, network)
    assert plain.nets["dnn"][0].in_features == N * M
    assert queued.n_queue_inputs == 2 * N + M
    assert queued.nets["dnn"][0].in_features == N * M + 2 * N + M
    assert queued.nets["dnn"][-1].out_features == plain.nets["dnn"][-1].out_features == N * M
    # per task (the default): the task's own two queues and the M MECs' after its features
    plain, queued = Droo(), Droo(backlog_input=True)
    plain.reset(0, network)
    queued.reset(0, network)
    assert plain.nets["dnn"][0].in_features == n_task_features(M, False) == 3 * M + 6
    assert queued.nets["dnn"][0].in_features == 3 * M + 6 + 2 + M
    assert queued.nets["dnn"][-1].out_features == M


def test_queue_features_are_log1p_of_seconds_of_work():
    network, obs = world()
    local = np.arange(N, dtype=float)
    uplink = 0.5 * np.arange(N, dtype=float)
    cycles = np.array([0.0, 3e9, 1e10])
    obs = with_queues(obs, local, uplink, cycles)
    want = np.log1p(np.concatenate([local, uplink, cycles / network.mec_cpu_hz]))
    np.testing.assert_allclose(queue_inputs(obs, N), want, rtol=1e-6)
    missing = replace(obs, local_busy_s=None, uplink_busy_s=None)  # None reads as zero
    np.testing.assert_allclose(queue_inputs(missing, N)[:2 * N], 0.0)


@pytest.mark.parametrize("which", ["local", "uplink", "mec"])
def test_each_queue_reaches_the_dnn_input(which):
    network, obs = world()
    droo = Droo(backlog_input=True, per_task=False)
    droo.reset(0, network)
    base = with_queues(obs)
    droo.decide(base)
    x0 = droo.inputs(base.problem, base.iotd)
    change = {"local": {"local": np.r_[5.0, np.zeros(N - 1)]},
              "uplink": {"uplink": np.r_[0.0, 2.0, np.zeros(N - 2)]},
              "mec": {"mec_cycles": np.r_[1e11, np.zeros(M - 1)]}}[which]
    other = with_queues(obs, **change)
    droo.decide(other)
    x1 = droo.inputs(other.problem, other.iotd)
    assert x0.shape == x1.shape == (N * M + 2 * N + M,)
    np.testing.assert_array_equal(x0[:N * M], x1[:N * M])  # the gains did not change
    assert not np.array_equal(x0[N * M:], x1[N * M:])
    # and the DNN's scores move with it
    assert not np.allclose(droo.forward("dnn", x0), droo.forward("dnn", x1))


@pytest.mark.parametrize("per_task", [True, False])
def test_without_the_option_the_queues_do_not_reach_the_input(per_task):
    network, obs = world()
    droo = Droo(per_task=per_task)
    droo.reset(0, network)
    a, b = with_queues(obs), with_queues(obs, local=np.full(N, 9.0), mec_cycles=np.full(M, 1e11))
    droo.decide(a)
    xa = droo.inputs(a.problem, a.iotd)
    droo.decide(b)
    np.testing.assert_array_equal(xa, droo.inputs(b.problem, b.iotd))


def test_per_task_rows_read_their_iotds_queues_and_every_mecs():
    network, obs = world()
    droo = Droo(backlog_input=True)
    droo.reset(0, network)
    local, uplink = np.arange(N, dtype=float), 0.5 * np.arange(N, dtype=float)
    obs = with_queues(obs, local, uplink, np.array([0.0, 3e9, 1e10]))
    droo.decide(obs)
    rows = droo.raw_inputs(obs.problem, obs.iotd)
    q = queue_inputs(obs, N)
    base = n_task_features(M, False)
    np.testing.assert_allclose(rows[:, base], q[:N][obs.iotd], rtol=1e-6)
    np.testing.assert_allclose(rows[:, base + 1], q[N:2 * N][obs.iotd], rtol=1e-6)
    np.testing.assert_allclose(rows[:, base + 2:], np.tile(q[2 * N:], (obs.n_tasks, 1)),
                               rtol=1e-6)


def test_the_replay_stores_the_decided_slots_queues():
    network, obs = world()
    droo = Droo(backlog_input=True, per_task=False)
    droo.reset(0, network)
    obs = with_queues(obs, local=np.full(N, 3.0), mec_cycles=np.full(M, 2e10))
    decision = droo.decide(obs)
    droo.feedback(outcome_for(obs, decision))
    stored = droo.replay._data["x"][0]
    np.testing.assert_allclose(stored[N * M:], queue_inputs(obs, N), rtol=1e-6)


def test_checkpoint_keeps_backlog_input_and_refuses_another(tmp_path):
    network, obs = world()
    obs = with_queues(obs, local=np.full(N, 1.0), mec_cycles=np.full(M, 5e9))
    droo = Droo(backlog_input=True, train_interval=1, batch_size=4)
    droo.reset(0, network)
    droo.feedback(outcome_for(obs, droo.decide(obs)))  # one Adam step: weights of its own
    path = tmp_path / "droo.pt"
    droo.save(path)
    assert torch.load(path, weights_only=True)["config"]["backlog_input"] is True
    frozen = Droo(backlog_input=True, train=False, checkpoint=str(path), frozen_k=1)
    frozen.reset(0, network)
    threshold = droo.candidates(obs.problem, obs.iotd, 1, obs.slot)[0]
    np.testing.assert_array_equal(frozen.decide(obs).placement, threshold)
    np.testing.assert_array_equal(frozen.inputs(obs.problem, obs.iotd),
                                  droo.inputs(obs.problem, obs.iotd))
    plain = Droo()
    plain.reset(0, network)
    with pytest.raises(ValueError, match="backlog_input"):
        plain.load(path)


def test_bad_backlog_input_is_named():
    with pytest.raises(ValueError, match="backlog_input"):
        Droo(backlog_input="yes")


def test_droo_with_queues_keeps_the_contract_and_runs_in_the_engine(tmp_path):
    check_scheduler(Droo(backlog_input=True), tmp_dir=tmp_path)
    scenario = load_scenario(ROOT / "scenarios" / "tiny.yaml", ["slots=30"])
    (result,) = run_scenario(scenario, tmp_path / "run", schedulers=[
        SchedulerSpec(name="droo", params={"backlog_input": True, "train_interval": 2})])
    assert result.error is None, result.error
    assert result.complete
