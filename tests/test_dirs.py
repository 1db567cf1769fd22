import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from mecsim.config import SchedulerSpec
from mecsim.engine.runner import run_scenario
from mecsim.registry import make
from mecsim.scheduler import agent_views, vote
from mecsim.testing import random_network, random_observation
from schedulers.dirs import Dirs, DirsConfig

ROOT = Path(__file__).resolve().parent.parent
SMALL = {"demonstrations": 48, "demo_holdout": 48, "pretrain_steps": 300,
         "demo_source": "optimal", "train_slots": 150, "batch_size": 64, "levy_compare": True}


def network_and_obs(seed=0, n_iotds=6, n_mecs=3, n_tasks=6):
    rng = np.random.default_rng(seed)
    network = random_network(rng, n_iotds, n_mecs)
    obs = random_observation(rng, n_tasks, n_mecs, network=network,
                             iotd=np.arange(n_tasks) % n_iotds)
    return network, obs


def test_vote_paper_example():
    scores = {1: np.array([0.7, 0.3]), 2: np.array([0.8, 0.4]), 3: np.array([0.2, 0.1])}
    np.testing.assert_array_equal(vote(scores, 2), [2, 0])


def test_agent_scores_ignore_other_mecs_gains():
    network, obs = network_and_obs()
    dirs = Dirs()
    dirs.reset(0, network)
    before = {j: dirs.act(v) for j, v in agent_views(obs).items()}
    gains = obs.problem.gains.copy()
    gains[:, 2] *= 50.0  # only MEC 3's channels change
    from mecsim.model import SlotProblem
    p = obs.problem
    changed = SlotProblem(gains, p.data_bits, p.cycles, p.local_cpu_hz, p.mec_cpu_hz, p.params,
                          p.available)
    obs2 = type(obs)(obs.slot, obs.time_s, obs.iotd, changed, obs.iotd_positions_m,
                     obs.available, obs.backlog_tasks, obs.backlog_cycles)
    after = {j: dirs.act(v) for j, v in agent_views(obs2).items()}
    np.testing.assert_array_equal(before[1], after[1])
    np.testing.assert_array_equal(before[2], after[2])
    assert not np.array_equal(before[3], after[3])


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="levy"):
        DirsConfig(levy="sideways")
    with pytest.raises(ValueError, match="checkpoint"):
        DirsConfig(train=False)
    with pytest.raises(ValueError, match="unknown DIRS parameter"):
        DirsConfig.from_params({"learning_rat": 0.1})
    with pytest.raises(ValueError, match="train_interval"):
        DirsConfig(train_interval=0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A short DIRS run on the tiny scenario (imitation, then online training)."""
    from mecsim.config import load_scenario

    out = tmp_path_factory.mktemp("dirs")
    scenario = load_scenario(ROOT / "scenarios" / "tiny.yaml", ["slots=300"])
    result, = run_scenario(scenario, out, schedulers=[SchedulerSpec(name="dirs",
                                                                    params=SMALL)], make=make)
    return out, result


def test_imitation_raises_held_out_accuracy(trained):
    out, result = trained
    log = pd.read_parquet(out / "training.parquet")
    imit = log[(log.kind == "imitation") & (log.split == "test")].sort_values("step")
    before, after = imit.accuracy.iloc[0], imit.accuracy.iloc[-1]
    assert after > 0.6 and after > before + 0.2, (before, after)


def test_training_log_has_every_kind(trained):
    out, result = trained
    log = pd.read_parquet(out / "training.parquet")
    assert set(log.kind) == {"imitation", "update", "slot", "levy"}
    updates = log[(log.kind == "update") & (log.loss_name == "L_A")]
    assert set(updates.agent) == {1, 2} and updates.loss.notna().all()
    levy = log[log.kind == "levy"]
    assert set(levy["mode"]) == {"proposed", "classic"}
    for _, curve in levy.groupby(["slot", "mode"]):
        assert np.all(np.diff(curve.sort_values("iteration").fitness) <= 1e-12)
    slots = log[log.kind == "slot"]
    np.testing.assert_allclose(slots.reward, 1.0 / slots.objective)
    assert result.scheduler.phase == "frozen"  # 96 demo slots + 150 online < 300


def test_online_training_lowers_the_cost(tmp_path):
    from mecsim.config import load_scenario

    scenario = load_scenario(ROOT / "scenarios" / "tiny.yaml", ["slots=400"])
    params = {"imitation": False, "train_slots": 400, "batch_size": 64, "train_interval": 2,
              "learning_rate": 3e-3}
    out = tmp_path / "run"
    run_scenario(scenario, out, schedulers=[SchedulerSpec(name="dirs", params=params),
                                            SchedulerSpec(name="dirs_shared", params=params),
                                            SchedulerSpec(name="optimal")], make=make)
    slots = pd.read_parquet(out / "slots.parquet")
    cost = {name: g.sort_values("slot").model_cost.to_numpy()
            for name, g in slots.groupby("scheduler")}

    def ratio(name: str, part: slice) -> float:  # to the optimum on the same slots
        return cost[name][part].mean() / cost["optimal"][part].mean()

    first, last = ratio("dirs", slice(0, 10)), ratio("dirs", slice(-100, None))
    assert last < first - 0.3, (first, last)  # the paper's agents: 1.80 -> 1.28
    first, last = ratio("dirs_shared", slice(0, 10)), ratio("dirs_shared", slice(-100, None))
    assert last < 1.05 and first > last + 0.1, (first, last)


def test_save_load_round_trip_gives_identical_decisions(trained, tmp_path):
    _, result = trained
    path = tmp_path / "dirs.pt"
    result.scheduler.save(path)
    frozen = Dirs(train=False, checkpoint=str(path))
    frozen.reset(5, result.scheduler.network)
    rng = np.random.default_rng(3)
    for _ in range(5):
        obs = random_observation(rng, 6, 2, network=result.scheduler.network,
                                 iotd=np.arange(6))
        for view in agent_views(obs).values():
            np.testing.assert_array_equal(result.scheduler.act(view), frozen.act(view))
    assert frozen.phase == "frozen"


def test_checkpoint_errors_are_clear(trained, tmp_path):
    _, result = trained
    path = tmp_path / "dirs.pt"
    result.scheduler.save(path)
    other = random_network(np.random.default_rng(0), 7, 2)
    with pytest.raises(ValueError, match="N=6 IoTDs and M=2 MECs, this network has N=7"):
        Dirs(train=False, checkpoint=str(path)).reset(0, other)
    with pytest.raises(ValueError, match="does not exist"):
        Dirs(train=False, checkpoint=str(tmp_path / "nope.pt")).reset(0, other)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not readable"):
        Dirs(train=False, checkpoint=str(bad)).reset(0, other)
    torch.save({"format": 1, "n_iotds": 6, "n_mecs": 2, "config": {"hidden": [5]},
                "agents": [{}, {}]}, tmp_path / "shape.pt")
    with pytest.raises(ValueError, match="hidden layers"):
        Dirs(train=False, checkpoint=str(tmp_path / "shape.pt")).reset(
            0, result.scheduler.network)


def test_train_command_then_frozen_run(tmp_path):
    env = {**os.environ}
    ck = tmp_path / "dirs.pt"
    params = "{demonstrations: 16, demo_holdout: 8, pretrain_steps: 50, train_slots: 20}"
    proc = subprocess.run([sys.executable, "-m", "mecsim", "train", "scenarios/tiny.yaml",
                           "--out", str(ck), "--slots", "50", "--quiet", "--set",
                           f"schedulers=[{{name: dirs, params: {params}}}]"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert ck.exists() and (tmp_path / "dirs.pt.run" / "training.parquet").exists()
    frozen = f"{{name: dirs, params: {{train: false, checkpoint: '{ck}'}}}}"
    runs = []
    for seed in ("1", "1"):
        out = tmp_path / f"run{len(runs)}"
        proc = subprocess.run([sys.executable, "-m", "mecsim", "run", "scenarios/tiny.yaml",
                               "--out", str(out), "--quiet", "--seed", seed, "--set",
                               f"schedulers=[{frozen}]"], capture_output=True, text=True,
                              cwd=ROOT, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr
        runs.append(pd.read_parquet(out / "tasks.parquet").sort_values("task_id"))
    np.testing.assert_array_equal(runs[0].target, runs[1].target)
    assert not (tmp_path / "run0" / "training.parquet").exists()  # frozen: nothing learned
    out = tmp_path / "mismatch"  # refused before any scheduler runs, local included
    proc = subprocess.run([sys.executable, "-m", "mecsim", "run", "scenarios/tiny.yaml",
                           "--out", str(out), "--quiet", "--set", "iotds.count=7", "--set",
                           f"schedulers=[local, {frozen}]"], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "schedulers.1.params.checkpoint" in proc.stderr
    assert "N=6 IoTDs" in proc.stderr and "N=7" in proc.stderr
    assert not (out / "summary.json").exists()


def test_guard_zeroes_exactly_the_tasks_not_worth_offloading():
    from mecsim.model.allocation import optimal_power
    from mecsim.model.channel import rate_bps
    from mecsim.model.cost import local_cost

    rng = np.random.default_rng(7)
    network = random_network(rng, 40, 3)
    obs = random_observation(rng, 40, 3, network=network, iotd=np.arange(40))
    p = network.params
    guarded, free = Dirs(), Dirs(guard=False)
    guarded.reset(0, network)
    free.reset(0, network)
    checked = 0
    for view in agent_views(obs).values():
        power = optimal_power(view.gains, p.noise_w, p.phi_t, p.phi_e, p.max_power_w)
        rate = rate_bps(power, view.gains, p.bandwidth_hz, p.noise_w)
        offload = (p.phi_t + p.phi_e * power) * view.data_bits / rate \
            + p.phi_t * view.cycles / view.cpu_hz
        local = local_cost(view.cycles, network.local_cpu_hz[view.iotd], p.kappa, p.nu,
                           p.phi_t, p.phi_e).cost
        worth = offload < local
        scores, raw = guarded.act(view), free.act(view)
        np.testing.assert_array_equal(scores[~worth], 0.0)
        np.testing.assert_array_equal(scores[worth], raw[worth])
        checked += int((~worth).sum())
    assert checked > 0  # the instance has tasks the guard must stop


@pytest.mark.parametrize("agent_net", ["shared", "mlp"])
def test_frozen_numpy_inference_matches_torch(agent_net):
    network, obs = network_and_obs(seed=2, n_iotds=12, n_mecs=3, n_tasks=12)
    dirs = Dirs(agent_net=agent_net)
    dirs.reset(0, network)
    views = list(agent_views(obs).values())
    learning = [dirs.act(v) for v in views]  # torch path
    dirs.phase = "frozen"
    frozen = [dirs.act(v) for v in views]  # numpy copy of the weights
    for a, b in zip(learning, frozen, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_vote_loss_is_the_cross_entropy_of_the_vote():
    from schedulers.dirs.imitation import vote_losses

    class Fixed(torch.nn.Module):  # logits given, whatever the input
        def __init__(self, z):
            super().__init__()
            self.z = torch.tensor(z)

        def forward(self, x):
            return self.z.expand(x.shape[0], -1)

    z1, z2 = [2.0, -1.0, 0.5], [1.0, -2.0, 1.5]  # 3 IoTDs, 2 MECs
    x = torch.zeros(1, 3, 2)
    actions = torch.tensor([[1, 0, -1]])  # IoTD 3 had no task
    got = vote_losses([Fixed(z1), Fixed(z2)], x, actions)
    logits = np.array([[0.0, z1[i], z2[i]] for i in range(3)])
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(got.numpy(), [-(log_p[0, 1] + log_p[1, 0]) / 2], rtol=1e-6)
    # the vote's decision is the argmax of (0, z): what the loss trains
    scores = {1: 1 / (1 + np.exp(-np.array(z1))), 2: 1 / (1 + np.exp(-np.array(z2)))}
    np.testing.assert_array_equal(vote(scores, 3), logits.argmax(axis=1))


def test_shared_agents_with_the_vote_loss_imitate_better_than_the_papers(tmp_path):
    # Same demonstrations (exact optima of the same slots); held-out accuracy of the vote.
    from mecsim.config import load_scenario

    scenario = load_scenario(ROOT / "scenarios" / "paper.yaml", ["slots=129"])
    base = {"demonstrations": 64, "demo_holdout": 64, "pretrain_steps": 300,
            "demo_source": "optimal", "train_slots": 0}
    specs = [SchedulerSpec(name="dirs_shared", label="shared", params=base),
             SchedulerSpec(name="dirs", label="paper", params=base)]
    run_scenario(scenario, tmp_path / "run", schedulers=specs, make=make)
    log = pd.read_parquet(tmp_path / "run" / "training.parquet")
    held_out = log[(log.kind == "imitation") & (log.split == "test") & (log.step == 300)]
    accuracy = held_out.set_index("scheduler").accuracy
    assert accuracy["shared"] > 0.9 and accuracy["shared"] > accuracy["paper"] + 0.1, \
        accuracy.to_dict()


def test_checkpoint_of_other_agent_network_is_refused(trained, tmp_path):
    _, result = trained
    path = tmp_path / "dirs.pt"
    result.scheduler.save(path)
    with pytest.raises(ValueError, match="'mlp' agents.*agent_net 'shared'"):
        Dirs(train=False, checkpoint=str(path), agent_net="shared").reset(
            0, result.scheduler.network)


def test_confident_agents_do_not_tie_in_the_vote():
    # logits 40 (MEC 1) and 45 (MEC 2): a float32 sigmoid gives 1.0 for both and the vote's
    # tie rule would pick MEC 1; the scores must keep MEC 2 ahead.
    from schedulers.dirs.network import scores_of

    scores = {1: scores_of(np.array([40.0, -2.0])), 2: scores_of(np.array([45.0, -1.0]))}
    np.testing.assert_array_equal(vote(scores, 2), [2, 0])
    z = np.array([-300.0, -40.0, -1.0, 0.0, 1.0, 17.0, 36.0, 40.0, 100.0, 150.0])
    s = scores_of(z)
    assert np.all(np.diff(s) > 0) and s[3] == 0.5  # increasing, the 0.5 threshold kept


@pytest.mark.parametrize("agent_net", ["shared", "mlp"])
def test_backlog_input_is_each_agents_own(agent_net, tmp_path):
    import dataclasses

    network, obs = network_and_obs(seed=4)
    dirs = Dirs(backlog_input=True, agent_net=agent_net)
    dirs.reset(0, network)
    views = agent_views(obs)
    before = {j: dirs.act(v) for j, v in views.items()}
    busy = dataclasses.replace(views[3], backlog_cycles=5e10)  # only MEC 3 is loaded
    assert not np.array_equal(dirs.act(busy), before[3])
    for j in (1, 2):
        np.testing.assert_array_equal(dirs.act(views[j]), before[j])
    # frozen numpy inference and a checkpoint round trip give the same scores
    path = tmp_path / "dirs.pt"
    dirs.save(path)
    frozen = Dirs(backlog_input=True, agent_net=agent_net, train=False, checkpoint=str(path))
    frozen.reset(1, network)
    np.testing.assert_allclose(frozen.act(busy), dirs.act(busy), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="does not fit"):
        Dirs(agent_net=agent_net, train=False, checkpoint=str(path)).reset(0, network)


def test_backlog_input_trains_end_to_end(tmp_path):
    from mecsim.config import load_scenario

    scenario = load_scenario(ROOT / "scenarios" / "tiny.yaml",
                             ["slots=160", "mecs.cpu_hz=[1e9, 1e9]"])  # MEC queues build up
    params = {**SMALL, "backlog_input": True, "train_slots": 60}
    result, = run_scenario(scenario, tmp_path / "run",
                           schedulers=[SchedulerSpec(name="dirs", params=params)], make=make)
    assert result.complete and result.scheduler.phase == "frozen"
    replay = result.scheduler.replay
    n, m = result.scheduler.network.n_iotds, result.scheduler.network.n_mecs
    _, x, actions, _ = replay.sample(8, np.random.default_rng(0))
    assert x.shape == (8, n + 1, m) and actions.shape == (8, n)
    assert (x[:, n, :] >= 0).all() and (x[:, n, :] > 0).any()  # ln(1 + queued seconds)


def test_shared_agents_rank_the_same_in_numpy_and_torch_with_ties():
    # frozen inference ranks by sorting, training by comparing all pairs: equal inputs
    # (ties) and IoTDs without a task must give the same features either way
    from schedulers.dirs.network import MISSING, SharedAgentNet

    torch.manual_seed(0)
    net = SharedAgentNet(8, (16, 16))
    x = np.array([0.5, 0.5, -1.0, MISSING, 2.0, 0.5, MISSING, -1.0], dtype=np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(net.numpy_forward()(x), expected, rtol=0, atol=1e-5)
