"""``dirs_shared``: per-task agents (issue 13, items 2 and 3).

Each task is scored from its own gain, data, cycles and local cost and from its own MEC's
load; no weight depends on ``N``, so one checkpoint serves any number of IoTDs.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mecsim.config import SchedulerSpec, load_scenario
from mecsim.engine.runner import run_scenario
from mecsim.params import ModelParams
from mecsim.registry import make
from mecsim.scheduler import agent_views
from mecsim.testing import random_network, random_observation
from schedulers.dirs import Dirs
from schedulers.dirs.task_features import (
    N_TASK_FEATURES,
    best_upload_cost,
    task_features,
    work_ahead,
)

ROOT = Path(__file__).resolve().parent.parent
PAPER = ROOT / "scenarios" / "paper.yaml"
UNEQUAL = ["tasks.cycles={dist: uniform, low: 2.0e8, high: 2.0e9}",
           "tasks.data_bits={dist: uniform, low: 1.6e5, high: 1.6e6}"]
QUICK = {"demonstrations": 40, "demo_holdout": 8, "pretrain_steps": 300, "train_slots": 20}


def _features(rng, n, m):
    p = ModelParams()
    gains = rng.exponential(1e-6, (n, m))
    gains[0, 0] = 0.0  # an unreachable MEC
    data, cycles = rng.uniform(1e5, 1e6, n), rng.uniform(2e8, 2e9, n)
    local = cycles * 2e-9
    cpu = rng.uniform(10e9, 50e9, m)
    with np.errstate(divide="ignore"):
        z = np.log(gains)
    return p, gains, data, cycles, local, cpu, z


def test_features_of_one_mec_equal_the_training_features():
    """What agent j computes in act equals column j of the features training uses."""
    rng = np.random.default_rng(3)
    p, gains, data, cycles, local, cpu, z = _features(rng, 40, 4)
    backlog = np.array([0.0, 2.0, 0.5, 7.0])
    full = task_features(z, gains, data, cycles, local, cpu, p, 1.0, backlog)
    assert full.shape == (40, 4, N_TASK_FEATURES + 1)
    for j in range(4):
        one = task_features(z[:, j], gains[:, j], data, cycles, local, cpu[j], p, 1.0,
                            backlog[j])
        np.testing.assert_array_equal(one, full[:, j])
    assert np.isfinite(full).all()


def test_work_ahead_is_the_sum_over_better_tasks():
    rng = np.random.default_rng(0)
    saving = rng.normal(size=(12, 3))
    saving[4, 1] = saving[5, 1]  # a tie: the lower index ranks first
    root = rng.uniform(1.0, 2.0, 12)
    got = work_ahead(saving, root)
    for j in range(3):
        for i in range(12):
            better = [k for k in range(12) if saving[k, j] > 0 and (
                saving[k, j] > saving[i, j] or (saving[k, j] == saving[i, j] and k < i))]
            assert got[i, j] == pytest.approx(root[better].sum())
        np.testing.assert_allclose(work_ahead(saving[:, j], root), got[:, j])


def test_offload_feature_is_the_cost_ratio():
    """Feature 3 is ln((U + C) / L): negative exactly when offloading alone pays."""
    rng = np.random.default_rng(1)
    p, gains, data, cycles, local, cpu, z = _features(rng, 30, 2)
    x = task_features(z, gains, data, cycles, local, cpu, p, 1.0)
    upload = best_upload_cost(gains, data[:, None], p)
    offload = upload + p.phi_t * cycles[:, None] / cpu
    finite = np.isfinite(offload)
    np.testing.assert_allclose(x[..., 3][finite],
                               np.clip(np.log(offload / local[:, None]), -10, 10)[finite],
                               rtol=1e-5)
    assert (x[..., 3][~finite] == 10.0).all()


def test_tasks_of_one_iotd_get_their_own_scores():
    """Two tasks of one IoTD, one heavy, one light: the task agents score them apart.

    The paper's agents (``mlp``) read one input per IoTD, so both tasks get one score.
    """
    rng = np.random.default_rng(5)
    network = random_network(rng, 4, 2)
    obs = random_observation(rng, 2, 2, network=network, iotd=np.array([1, 1]))
    for kind, apart in (("task", True), ("mlp", False)):
        dirs = Dirs(agent_net=kind, guard=False)
        dirs.reset(0, network)
        p = obs.problem
        from mecsim.model import SlotProblem
        problem = SlotProblem(np.repeat(p.gains[:1], 2, axis=0), np.array([1e5, 1e6]),
                              np.array([2e8, 2e9]), p.local_cpu_hz, p.mec_cpu_hz, p.params,
                              p.available)
        views = agent_views(type(obs)(obs.slot, obs.time_s, obs.iotd, problem,
                                      obs.iotd_positions_m, obs.available, obs.backlog_tasks,
                                      obs.backlog_cycles))
        scores = dirs.act(views[1])
        assert bool(scores[0] != scores[1]) is apart, kind


def test_task_agents_have_no_per_iotd_weight():
    shapes = []
    for n in (5, 50):
        dirs = Dirs(agent_net="task")
        dirs.reset(0, random_network(np.random.default_rng(0), n, 3))
        shapes.append({k: tuple(v.shape) for k, v in dirs.nets[0].state_dict().items()})
    assert shapes[0] == shapes[1]


def _ratio(run_dir, n, seed, checkpoint, slots=40):
    scenario = load_scenario(PAPER, [*UNEQUAL, f"iotds.count={n}", f"seed={seed}",
                                     f"slots={slots}"])
    specs = [SchedulerSpec(name="optimal", params={}), SchedulerSpec(name="greedy", params={}),
             SchedulerSpec(name="dirs_shared", params={**QUICK, "train": False,
                                                       "checkpoint": str(checkpoint)})]
    optimal, greedy, learner = run_scenario(scenario, run_dir, schedulers=specs,
                                            channels=False)
    assert learner.error is None, learner.error
    return (learner.mean_cost_per_slot / optimal.mean_cost_per_slot,
            greedy.mean_cost_per_slot / optimal.mean_cost_per_slot)


@pytest.fixture(scope="module")
def trained_at_20(tmp_path_factory):
    """dirs_shared trained briefly at N=20 on unequal tasks (world seed 100)."""
    folder = tmp_path_factory.mktemp("task")
    scenario = load_scenario(PAPER, [*UNEQUAL, "iotds.count=20", "seed=100", "slots=70"])
    result, = run_scenario(scenario, folder / "train", channels=False,
                           schedulers=[SchedulerSpec(name="dirs_shared", params=QUICK)])
    assert result.error is None and result.scheduler.phase == "frozen"
    result.scheduler.save(folder / "ck.pt")
    return folder


def test_one_checkpoint_serves_other_sizes(trained_at_20):
    """Trained at N=20, frozen, evaluated on unseen seeds at N=20 and N=60."""
    for n in (20, 60):
        ratio, greedy = _ratio(trained_at_20 / f"eval{n}", n, 7, trained_at_20 / "ck.pt")
        assert ratio < 1.05 < greedy, (n, ratio, greedy)


def test_checkpoint_for_another_m_is_refused(trained_at_20):
    dirs = make("dirs_shared", **{**QUICK, "train": False,
                                  "checkpoint": str(trained_at_20 / "ck.pt")})
    with pytest.raises(ValueError, match="M=3"):
        dirs.reset(0, random_network(np.random.default_rng(0), 20, 3))
    state = torch.load(trained_at_20 / "ck.pt", weights_only=True)
    assert state["config"]["agent_net"] == "task"


def test_train_at_one_n_then_run_at_others_from_the_cli(tmp_path, capsys):
    """``mecsim train`` at N=20, then ``mecsim run --checkpoint`` at N=20 and N=60.

    The documented use (docs/dirs.md): the frozen agents beat greedy at both sizes and
    stay within 5 % of optimal on these short schedules.
    """
    from mecsim.cli import main

    checkpoint = tmp_path / "ck.pt"
    params = "{demonstrations: 40, demo_holdout: 8, pretrain_steps: 300, train_slots: 20}"
    sets = [a for s in UNEQUAL for a in ("--set", s)]
    assert main(["train", str(PAPER), "--scheduler", "dirs_shared", "--out", str(checkpoint),
                 "--slots", "70", "--quiet", "--set", "iotds.count=20", *sets, "--set",
                 f"schedulers=[{{name: dirs_shared, params: {params}}}]"]) == 0
    for n in (20, 60):
        out = tmp_path / f"run{n}"
        assert main(["run", str(PAPER), "--slots", "30", "--quiet", "--out", str(out),
                     "--set", f"iotds.count={n}", *sets, "--scheduler", "optimal",
                     "--scheduler", "greedy", "--scheduler", "dirs_shared",
                     "--checkpoint", str(checkpoint)]) == 0
        summary = json.loads((out / "summary.json").read_text())["schedulers"]
        learner, greedy = summary["dirs_shared"], summary["greedy"]
        assert learner["training_slots"] == 0
        assert learner["ratio_to_optimal"] < min(1.05, greedy["ratio_to_optimal"]), n
    capsys.readouterr()


def test_backlog_feature_trains_and_reads_the_own_mec(tmp_path):
    """With ``backlog_input`` a task agent gets a 7th feature, its MEC's queued seconds."""
    scenario = load_scenario(PAPER, [*UNEQUAL, "iotds.count=10", "slots=12"])
    params = {"demonstrations": 4, "demo_holdout": 2, "pretrain_steps": 3, "train_slots": 4,
              "backlog_input": True}
    result, = run_scenario(scenario, tmp_path, channels=False,
                           schedulers=[SchedulerSpec(name="dirs_shared", params=params)])
    assert result.error is None and result.scheduler.phase == "frozen"
    dirs = result.scheduler
    assert dirs.nets[0].n_features == N_TASK_FEATURES + 1
    rng = np.random.default_rng(2)
    obs = random_observation(rng, 6, 2, network=dirs.network)
    view = agent_views(obs)[2]
    busy = type(view)(**{**view.__dict__, "backlog_cycles": 5 * view.cpu_hz})
    assert dirs._task_view(view)[:, 6] == pytest.approx(0.0)
    assert dirs._task_view(busy)[:, 6] == pytest.approx(np.log1p(5.0))
