"""``lydroo``: DROO priced with the drift-plus-penalty objective, the queues in its input."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from mecsim.config import SchedulerSpec, load_scenario
from mecsim.engine.runner import run_scenario
from mecsim.model import drift_price
from mecsim.registry import make
from mecsim.testing import outcome_for, random_network, random_observation
from schedulers.droo import Droo, LyDroo, LyDrooConfig
from schedulers.lyapunov import DEFAULT_V

ROOT = Path(__file__).resolve().parent.parent
N, M = 6, 3


def one_hot(placement):
    """Per-task labels: row i is "offloaded to MEC j" (all zero for local)."""
    return np.eye(M + 1, dtype=np.float32)[placement][:, 1:]


def stored_targets(scheduler, n_tasks):
    """The per-task labels the first slot put in the replay."""
    return scheduler.replay._data["target"][:n_tasks]


def world(seed=0, n_tasks=6, local=0.0, uplink=0.0, mec_cycles=None, **kw):
    rng = np.random.default_rng(seed)
    network = random_network(rng, N, M, mec_cpu_hz=[10e9] * M)
    obs = random_observation(rng, n_tasks, M, network=network, iotd=np.arange(n_tasks), **kw)
    obs = replace(obs, local_busy_s=np.broadcast_to(np.asarray(local, float), (N,)).copy(),
                  uplink_busy_s=np.broadcast_to(np.asarray(uplink, float), (N,)).copy(),
                  backlog_cycles=(np.zeros(M) if mec_cycles is None
                                  else np.asarray(mec_cycles, float)))
    return network, obs


def test_registered_with_lyapunovs_v_and_the_queue_input():
    s = make("lydroo")
    assert type(s) is LyDroo and isinstance(s, Droo)
    assert s.v == DEFAULT_V
    assert s.config.backlog_input is True
    assert s.label == "LyDROO"
    assert make("lydroo", v=0.1).v == 0.1


@pytest.mark.parametrize("v", [0, -1.0, float("inf"), float("nan"), True, "big"])
def test_bad_v_is_named(v):
    with pytest.raises(ValueError, match="v must be"):
        LyDroo(v=v)
    with pytest.raises(ValueError, match=r"\bv\b"):
        LyDrooConfig(v=v)


def test_a_loaded_mec_costs_more_than_droos_pricing():
    busy = np.array([0.0, 50 * 10e9, 0.0])  # 50 s of work queued on MEC 2
    network, obs = world(mec_cycles=busy)
    lydroo = LyDroo(v=1.0)
    lydroo.reset(0, network)
    lydroo.decide(obs)
    plain, priced = obs.problem, lydroo.objective(obs.problem, obs.slot)
    on = {j: np.where(np.isfinite(plain.cost_table[:, j]), j, 0) for j in (0, 1, 2, 3)}
    extra = {j: priced.batch_cost(a[None])[0] - plain.batch_cost(a[None])[0]
             for j, a in on.items()}
    # the drift of MEC 2: each task adds F / Fmax seconds to a 50 s queue, priced / V
    reach2 = on[2] == 2
    assert extra[2] >= 50.0 * np.sum(plain.cycles[reach2] / 10e9) - 1e-9
    assert extra[2] > extra[1] and extra[2] > extra[3]
    assert extra[0] == pytest.approx(0.0)  # empty CPUs and uplinks: local costs as DROO's
    # the same objective as the lyapunov scheduler's
    price, weight = drift_price(plain, obs.waits(), 1.0)
    np.testing.assert_allclose(priced.price, price)
    np.testing.assert_allclose(priced.mec_weight, weight)
    # DROO prices the slot alone
    droo = Droo()
    droo.reset(0, network)
    assert droo.objective(plain, obs.slot) is plain


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_training_applies_and_learns_the_cheapest_priced_candidate(seed):
    network, obs = world(seed, local=np.linspace(0, 4, N), uplink=0.5,
                         mec_cycles=[20 * 10e9, 0.0, 5 * 10e9])
    lydroo = LyDroo(v=0.5, polish=False)  # the paper's rule: the cheapest candidate
    lydroo.reset(seed, network)
    decision = lydroo.decide(obs)
    cands = lydroo.candidates(obs.problem, obs.iotd, lydroo.k, obs.slot)
    priced = lydroo.objective(obs.problem, obs.slot).batch_cost(cands)
    assert len(cands) > 1
    np.testing.assert_array_equal(decision.placement, cands[np.argmin(priced)])
    assert priced.min() <= lydroo.objective(obs.problem, obs.slot).batch_cost(
        decision.placement[None])[0]
    lydroo.feedback(outcome_for(obs, decision))
    np.testing.assert_array_equal(stored_targets(lydroo, obs.n_tasks),
                                  one_hot(cands[np.argmin(priced)]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_polish_improves_the_cheapest_candidate_to_a_local_minimum(seed):
    network, obs = world(seed, local=np.linspace(0, 4, N), uplink=0.5,
                         mec_cycles=[20 * 10e9, 0.0, 5 * 10e9])
    lydroo = LyDroo(v=0.5)
    assert lydroo.config.polish is True
    lydroo.reset(seed, network)
    decision = lydroo.decide(obs)
    priced = lydroo.objective(obs.problem, obs.slot)
    cands = lydroo.candidates(obs.problem, obs.iotd, lydroo.k, obs.slot)
    chosen = priced.cost(decision.placement)
    assert chosen <= priced.batch_cost(cands).min() + 1e-12
    for i in range(obs.n_tasks):  # no single-task move lowers the priced cost
        for j in range(M + 1):
            moved = decision.placement.copy()
            moved[i] = j
            assert priced.cost(moved) >= chosen - 1e-9 * abs(chosen)
    lydroo.feedback(outcome_for(obs, decision))
    np.testing.assert_array_equal(stored_targets(lydroo, obs.n_tasks),
                                  one_hot(decision.placement))


def test_queues_change_the_choice_where_droo_would_not_see_them():
    """With a huge queue on the MEC DROO's pricing likes best, lydroo avoids that MEC."""
    network, obs = world(3)
    droo = Droo()
    droo.reset(0, network)
    cands = droo.candidates(obs.problem, obs.iotd, droo.k)
    best = cands[np.argmin(obs.problem.batch_cost(cands))]
    favourite = np.bincount(best[best > 0], minlength=M + 1).argmax()
    assert favourite > 0
    busy = np.zeros(M)
    busy[favourite - 1] = 1e3 * 10e9  # 1000 s queued there
    lydroo = LyDroo(v=1.0)
    lydroo.reset(0, network)
    loaded = replace(obs, backlog_cycles=busy)
    placement = lydroo.decide(loaded).placement
    assert np.sum(placement == favourite) < np.sum(best == favourite)


def test_the_queues_reach_the_input():
    network, obs = world()
    lydroo = LyDroo(per_task=False)
    lydroo.reset(0, network)
    assert lydroo.nets["dnn"][0].in_features == N * M + 2 * N + M
    lydroo.decide(obs)
    x0 = lydroo.inputs(obs.problem, obs.iotd)
    other = replace(obs, uplink_busy_s=np.r_[3.0, np.zeros(N - 1)])
    lydroo.decide(other)
    x1 = lydroo.inputs(other.problem, other.iotd)
    assert not np.array_equal(x0, x1)
    np.testing.assert_array_equal(x0[:N * M], x1[:N * M])
    off = LyDroo(backlog_input=False, per_task=False)  # the queues act through the price only
    off.reset(0, network)
    assert off.nets["dnn"][0].in_features == N * M
    per_task = LyDroo()  # the default: the task's own queues and the MECs' in its row
    per_task.reset(0, network)
    assert per_task.nets["dnn"][0].in_features == 3 * M + 6 + 2 + M
    per_task.decide(obs)
    r0 = per_task.raw_inputs(obs.problem, obs.iotd)
    per_task.decide(other)
    r1 = per_task.raw_inputs(other.problem, other.iotd)
    changed = np.flatnonzero((r0 != r1).any(axis=1))
    np.testing.assert_array_equal(changed, np.flatnonzero(other.iotd == 0))


def test_feedback_without_its_decide_prices_empty_queues():
    network, obs = world(mec_cycles=[1e12, 0.0, 0.0])
    lydroo = LyDroo()
    lydroo.reset(0, network)
    queues = lydroo.queues(obs.problem, obs.slot)  # nothing decided yet
    assert not queues.inputs.any() and not queues.waits.mec_s.any()
    lydroo.decide(obs)
    assert lydroo.queues(obs.problem, obs.slot).waits.mec_s[0] == pytest.approx(100.0)
    assert not lydroo.queues(obs.problem, obs.slot + 1).waits.mec_s.any()


def test_checkpoint_keeps_v_and_backlog_input_and_frozen_infers_the_threshold(tmp_path):
    network, obs = world(local=1.0, mec_cycles=[5e10, 0.0, 1e10])
    lydroo = LyDroo(v=0.25, train_interval=1, batch_size=4)
    lydroo.reset(0, network)
    lydroo.feedback(outcome_for(obs, lydroo.decide(obs)))
    path = tmp_path / "lydroo.pt"
    lydroo.save(path)
    state = torch.load(path, weights_only=True)
    assert (state["scheduler"], state["config"]["v"], state["config"]["backlog_input"]) == (
        "LyDROO", 0.25, True)
    frozen = LyDroo(v=0.25, train=False, checkpoint=str(path), frozen_k=1)
    frozen.reset(0, network)
    placement = frozen.decide(obs).placement
    np.testing.assert_array_equal(placement,
                                  lydroo.candidates(obs.problem, obs.iotd, 1, obs.slot)[0])
    resumed = LyDroo(v=0.25)
    resumed.reset(0, network)
    resumed.load(path)
    assert (resumed.v, resumed.k, resumed.online_slots) == (0.25, lydroo.k, 1)
    with pytest.raises(ValueError, match="backlog_input"):
        other = LyDroo(backlog_input=False)
        other.reset(0, network)
        other.load(path)
    with pytest.raises(ValueError, match="LyDROO"):
        droo = Droo(backlog_input=True)
        droo.reset(0, network)
        droo.load(path)


def test_runs_in_the_engine_and_logs_training(tmp_path):
    scenario = load_scenario(ROOT / "scenarios" / "tiny.yaml", ["slots=30"])
    (result,) = run_scenario(scenario, tmp_path, schedulers=[
        SchedulerSpec(name="lydroo", params={"v": 0.5, "train_interval": 2})])
    assert result.error is None, result.error
    log = pd.read_parquet(tmp_path / "training.parquet")
    assert (log.loss_name == "BCE").any()
