"""DROO's frozen policy (``frozen_k``) and its per-task network (``per_task``), issue 13."""

from pathlib import Path

import numpy as np
import pytest
import torch

from mecsim.config import SchedulerSpec, load_scenario
from mecsim.engine.runner import run_scenario
from mecsim.model.optimum import descend
from mecsim.testing import outcome_for, random_network, random_observation
from schedulers.droo import Droo, DrooConfig, LyDroo
from schedulers.droo.features import RunningScale, n_task_features, task_features

ROOT = Path(__file__).resolve().parent.parent
N, M = 8, 3


def world(seed=0, n_tasks=8, **kw):
    rng = np.random.default_rng(seed)
    network = random_network(rng, N, M)
    return network, rng, random_observation(rng, n_tasks, M, network=network, **kw)


def trained(network, rng, slots=30, **params):
    """A DROO trained on ``slots`` random slots (an update every slot)."""
    droo = Droo(train_interval=1, batch_size=8, **params)
    droo.reset(0, network)
    for slot in range(slots):
        obs = random_observation(rng, N, M, network=network, slot=slot)
        droo.feedback(outcome_for(obs, droo.decide(obs)))
    return droo


# ------------------------------------------------------------------------------ frozen_k
def test_frozen_applies_the_cheapest_of_the_trained_k_and_frozen_k_1_the_network(tmp_path):
    network, rng, obs = world()
    droo = trained(network, rng, delta=4)
    path = tmp_path / "droo.pt"
    droo.save(path)
    default = Droo(train=False, checkpoint=str(path))
    default.reset(0, network)
    assert default.phase == "frozen" and default.frozen_k == droo.k > 1
    cands = default.candidates(obs.problem, obs.iotd, droo.k)
    assert len(cands) > 1
    chosen = default.decide(obs).placement
    np.testing.assert_array_equal(chosen, cands[np.argmin(obs.problem.batch_cost(cands))])
    alone = Droo(train=False, checkpoint=str(path), frozen_k=1)
    alone.reset(0, network)
    np.testing.assert_array_equal(alone.decide(obs).placement, cands[0])
    fixed = Droo(train=False, checkpoint=str(path), frozen_k=3)
    fixed.reset(0, network)
    three = default.candidates(obs.problem, obs.iotd, 3)
    np.testing.assert_array_equal(fixed.decide(obs).placement,
                                  three[np.argmin(obs.problem.batch_cost(three))])
    # the frozen search is never worse than the network alone, and never polishes
    assert obs.problem.cost(chosen) <= obs.problem.cost(cands[0])


def test_after_train_slots_the_same_instance_decides_as_frozen():
    network, rng, obs = world(1)
    droo = trained(network, rng, slots=12, train_slots=12, frozen_k=2)
    assert droo.phase == "frozen"
    cands = droo.candidates(obs.problem, obs.iotd, 2)
    np.testing.assert_array_equal(droo.decide(obs).placement,
                                  cands[np.argmin(obs.problem.batch_cost(cands))])


@pytest.mark.parametrize("value", [0, -1, 1.5, "2"])
def test_bad_frozen_k_is_named(value):
    with pytest.raises(ValueError, match="frozen_k"):
        Droo(frozen_k=value)


def test_frozen_lydroo_prices_its_candidates_with_the_drift(tmp_path):
    network, rng, obs = world(2)
    lydroo = LyDroo(v=0.5, train_interval=1, batch_size=4)
    lydroo.reset(0, network)
    lydroo.feedback(outcome_for(obs, lydroo.decide(obs)))
    lydroo.save(tmp_path / "ly.pt")
    frozen = LyDroo(v=0.5, train=False, checkpoint=str(tmp_path / "ly.pt"), frozen_k=4)
    frozen.reset(0, network)
    busy = obs.__class__(**{**obs.__dict__, "backlog_cycles": np.array([1e12, 0.0, 0.0])})
    placement = frozen.decide(busy).placement
    cands = frozen.candidates(busy.problem, busy.iotd, 4, busy.slot)
    priced = frozen.objective(busy.problem, busy.slot).batch_cost(cands)
    np.testing.assert_array_equal(placement, cands[np.argmin(priced)])


# ------------------------------------------------------------------------------ per_task
def test_per_task_network_is_one_network_for_every_task_and_any_n():
    assert DrooConfig().per_task is True
    for n_iotds in (3, 8, 40):
        network = random_network(np.random.default_rng(0), n_iotds, M)
        droo = Droo()
        droo.reset(0, network)
        assert droo.nets["dnn"][0].in_features == n_task_features(M, False) == 3 * M + 6
        assert droo.nets["dnn"][-1].out_features == M


def test_per_task_rows_read_each_tasks_size_and_permute_with_the_tasks():
    network, rng, obs = world(3)
    droo = trained(network, rng, slots=5)
    rows = droo.raw_inputs(obs.problem, obs.iotd)
    assert rows.shape == (obs.n_tasks, 3 * M + 6)
    np.testing.assert_allclose(rows[:, 2 * M], np.log(obs.problem.data_bits), rtol=1e-6)
    np.testing.assert_allclose(rows[:, 2 * M + 1], np.log(obs.problem.cycles), rtol=1e-6)
    # the same gains with heavier cycles: another input row, other scores
    heavy = obs.problem.replaced(cycles=obs.problem.cycles * 4.0)
    assert not np.allclose(droo.forward("dnn", droo.inputs(heavy, obs.iotd)),
                           droo.forward("dnn", droo.inputs(obs.problem, obs.iotd)))
    # tasks in another order: the same rows, in that order
    order = np.random.default_rng(0).permutation(obs.n_tasks)
    problem = obs.problem
    shuffled = problem.__class__(problem.gains[order], problem.data_bits[order],
                                 problem.cycles[order], problem.local_cpu_hz[order],
                                 problem.mec_cpu_hz, problem.params, problem.available)
    np.testing.assert_allclose(droo.raw_inputs(shuffled, obs.iotd[order]), rows[order],
                               rtol=1e-5, atol=1e-6)


def test_infeasible_options_read_a_finite_cost():
    _, _, obs = world(4, available=[True, False, True])
    from schedulers._drl_common import GainNormalizer
    rows = task_features(obs.problem, GainNormalizer(-10.0, 2.0))
    assert np.isfinite(rows).all()


def test_running_scale_is_the_mean_and_spread_of_every_row_seen():
    rng = np.random.default_rng(5)
    data = rng.normal(3.0, 2.0, (300, 4))
    scale = RunningScale(4)
    for chunk in np.array_split(data, 7):
        scale.update(chunk)
    np.testing.assert_allclose(scale.mean, data.mean(axis=0))
    np.testing.assert_allclose(scale.std, data.std(axis=0, ddof=1))
    np.testing.assert_allclose(scale(data[:3]), (data[:3] - data.mean(0)) / data.std(0, ddof=1),
                               rtol=1e-5)


def test_label_is_the_polished_best_candidate_one_row_per_task():
    network, rng, obs = world(6)
    droo = Droo()
    assert droo.config.polish is True
    droo.reset(0, network)
    decision = droo.decide(obs)
    cands = droo.candidates(obs.problem, obs.iotd, droo.k)
    best = cands[np.argmin(obs.problem.batch_cost(cands))]
    np.testing.assert_array_equal(decision.placement, descend(obs.problem, best))
    droo.feedback(outcome_for(obs, decision))
    want = np.eye(M + 1, dtype=np.float32)[decision.placement][:, 1:]
    np.testing.assert_array_equal(droo.replay._data["target"][:obs.n_tasks], want)
    assert len(droo.replay) == obs.n_tasks


def test_checkpoint_keeps_the_scale_and_refuses_the_other_input(tmp_path):
    network, rng, obs = world(7)
    droo = trained(network, rng, slots=6)
    path = tmp_path / "droo.pt"
    droo.save(path)
    state = torch.load(path, weights_only=True)
    assert state["config"]["per_task"] is True and state["extra"]["scale"]["count"] > 0
    frozen = Droo(train=False, checkpoint=str(path), frozen_k=1)
    frozen.reset(3, network)
    np.testing.assert_allclose(frozen.scale.mean, droo.scale.mean)
    np.testing.assert_array_equal(frozen.inputs(obs.problem, obs.iotd),
                                  droo.inputs(obs.problem, obs.iotd))
    np.testing.assert_array_equal(frozen.decide(obs).placement,
                                  droo.candidates(obs.problem, obs.iotd, 1)[0])
    paper = Droo(per_task=False)
    paper.reset(0, network)
    with pytest.raises(ValueError, match="per_task"):
        paper.load(path)
    del state["extra"]["scale"]
    torch.save(state, tmp_path / "cut.pt")
    with pytest.raises(ValueError, match="does not fit"):
        Droo(train=False, checkpoint=str(tmp_path / "cut.pt")).reset(0, network)


# ------------------------------------------------------------------------------ the protocol
UNEQUAL = ["tasks.cycles={dist: uniform, low: 2.0e8, high: 2.0e9}",
           "tasks.data_bits={dist: uniform, low: 1.6e5, high: 1.6e6}"]


def frozen_ratios(tmp_path, params, train_slots=250, eval_slots=60):
    """Train on tiny.yaml (unequal tasks) seed 0, evaluate frozen on seed 1: ratios."""
    train = load_scenario(ROOT / "scenarios" / "tiny.yaml",
                          [*UNEQUAL, f"slots={train_slots}", "seed=0"])
    (result,) = run_scenario(train, tmp_path / "train", schedulers=[SchedulerSpec(
        name="droo", params={**params, "train_slots": train_slots, "train_interval": 2})])
    assert result.error is None, result.error
    result.scheduler.save(tmp_path / "droo.pt")
    frozen = {**params, "train": False, "checkpoint": str(tmp_path / "droo.pt"), "frozen_k": 1}
    evaluate = load_scenario(ROOT / "scenarios" / "tiny.yaml",
                             [*UNEQUAL, f"slots={eval_slots}", "seed=1"])
    results = run_scenario(evaluate, tmp_path / "eval", schedulers=[
        SchedulerSpec(name="droo", params=frozen), SchedulerSpec(name="greedy"),
        SchedulerSpec(name="optimal")])
    return [r.ratio_to_optimal for r in results[:2]]


def test_frozen_network_alone_beats_greedy_on_unseen_seeds_with_unequal_tasks(tmp_path):
    """The network alone (``frozen_k: 1``), trained on seed 0, on seed 1: near optimal."""
    droo, greedy = frozen_ratios(tmp_path, {})
    assert droo < min(greedy, 1.05), (droo, greedy)


def test_per_task_checkpoint_serves_another_n(tmp_path):
    """The per-task DNN has no per-IoTD weight: trained at N=6, it loads and decides at N=9;
    the paper's N*M network (``per_task: false``) is refused at another N."""
    from mecsim.registry import make

    for per_task in (True, False):
        droo = make("droo", per_task=per_task, train_slots=5)
        droo.reset(0, random_network(np.random.default_rng(0), 6, 2))
        path = tmp_path / f"droo_{per_task}.pt"
        droo.save(path)
        frozen = make("droo", per_task=per_task, train=False, checkpoint=str(path))
        network = random_network(np.random.default_rng(1), 9, 2)
        if per_task:
            frozen.reset(0, network)
            obs = random_observation(np.random.default_rng(2), 9, 2, network=network)
            assert frozen.decide(obs).placement.shape == (9,)
        else:
            with pytest.raises(ValueError, match="N=6"):
                frozen.reset(0, network)
