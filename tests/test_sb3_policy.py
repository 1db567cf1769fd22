"""Trained Stable-Baselines3 policies back in ``run``: ``schedulers/sb3_policy.py``."""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium", reason="the rl extra is not installed")
sb3 = pytest.importorskip("stable_baselines3", reason="the rl extra is not installed")

from mecsim.config import SchedulerSpec, load_scenario  # noqa: E402
from mecsim.engine.runner import run_scenario  # noqa: E402
from mecsim.envs.encoding import agent_observation_space  # noqa: E402
from mecsim.envs.gym_env import MecEnv  # noqa: E402
from mecsim.envs.parallel import parallel_env  # noqa: E402
from mecsim.registry import make  # noqa: E402
from mecsim.scheduler import DecentralizedScheduler  # noqa: E402
from mecsim.testing import check_scheduler  # noqa: E402
from schedulers.sb3_policy import (  # noqa: E402
    PolicyAgents,
    PolicyScheduler,
    detect_algorithm,
    flatten_observation,
    scheduler_class_for,
)

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "scenarios" / "tiny.yaml"
SEED = 7


class _AgentEnv(gym.Env):
    """Only the spaces of one parallel-env agent (a fresh policy needs no dynamics)."""

    def __init__(self, n_iotds: int) -> None:
        self.observation_space = agent_observation_space(n_iotds)
        self.action_space = gym.spaces.Box(0.0, 1.0, (n_iotds,), dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, False, True, {}


@pytest.fixture(scope="module")
def policies(tmp_path_factory):
    """Freshly initialised policies on tiny.yaml's spaces (6 IoTDs, 2 MECs)."""
    folder = tmp_path_factory.mktemp("sb3")
    env = MecEnv(TINY)
    out = {}
    for name, policy, venv in (
            ("dict", "MultiInputPolicy", env),
            ("flat", "MlpPolicy", gym.wrappers.FlattenObservation(MecEnv(TINY))),
            ("agents", "MultiInputPolicy", _AgentEnv(env.n_iotds))):
        model = sb3.PPO(policy, venv, n_steps=16, batch_size=16, seed=3, device="cpu")
        out[name] = folder / f"{name}.zip"
        model.save(out[name])
    a2c = sb3.A2C("MultiInputPolicy", env, n_steps=4, seed=3, device="cpu")
    out["a2c"] = folder / "a2c.zip"
    a2c.save(out["a2c"])
    return out


# -- the contract ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dict", "flat", "agents"])
@pytest.mark.parametrize("deterministic", [True, False])
def test_keeps_the_scheduler_contract(policies, kind, deterministic, tmp_path):
    cls = PolicyAgents if kind == "agents" else PolicyScheduler
    scheduler = cls(path=str(policies[kind]), deterministic=deterministic)
    check_scheduler(scheduler, n_iotds=6, n_mecs=2, tmp_dir=tmp_path)
    if kind == "agents":  # any number of MECs: one shared policy per agent
        check_scheduler(scheduler, n_iotds=6, n_mecs=3, slots=5)


def test_sb3_prefix_in_the_registry(policies):
    assert isinstance(make(f"sb3:{policies['dict']}"), PolicyScheduler)
    agents = make(f"sb3:{policies['agents']}")
    assert isinstance(agents, PolicyAgents) and isinstance(agents, DecentralizedScheduler)
    check_scheduler(f"sb3:{policies['dict']}", n_iotds=6, n_mecs=2)


def test_detects_the_algorithm(policies):
    assert detect_algorithm(policies["dict"]) == "PPO"
    assert detect_algorithm(policies["a2c"]) == "A2C"
    assert PolicyScheduler(str(policies["a2c"])).algorithm == "A2C"
    assert scheduler_class_for(policies["agents"]) is PolicyAgents
    assert scheduler_class_for(policies["flat"]) is PolicyScheduler


# -- the same world gives the policy's own env actions -----------------------------------------


class _Recorder(PolicyScheduler):
    def __init__(self, **params):
        super().__init__(**params)
        self.placements = []

    def decide(self, observation):
        decision = super().decide(observation)
        self.placements.append(decision.placement.copy())
        return decision


@pytest.mark.parametrize("kind", ["dict", "flat"])
def test_run_reproduces_the_policy_on_mecenv(policies, kind, tmp_path):
    path = policies[kind]
    scenario = load_scenario(TINY, [f"seed={SEED}"])
    made = {}

    def maker(name, **params):
        made["s"] = _Recorder(**params)
        return made["s"]

    spec = SchedulerSpec(name="x:Y", params={"path": str(path)}, label="ppo")
    result, = run_scenario(scenario, tmp_path, schedulers=[spec], make=maker)
    assert result.complete and result.slots == scenario.slots

    model = sb3.PPO.load(path, device="cpu")
    env = MecEnv(TINY)
    if kind == "flat":
        env = gym.wrappers.FlattenObservation(env)
    obs, _ = env.reset(seed=SEED)
    costs = []
    for placement in made["s"].placements:
        stepper = env.unwrapped._stepper
        action, _ = model.predict(obs, deterministic=True)
        np.testing.assert_array_equal(placement, action[stepper.observation.iotd])
        obs, _, _, truncated, info = env.step(action)
        costs.append(info["model_cost"])
    assert truncated
    assert costs == pytest.approx(result.model_costs, rel=1e-12)


class _AgentRecorder(PolicyAgents):
    def __init__(self, **params):
        super().__init__(**params)
        self.scores = {}

    def act(self, view):
        scores = super().act(view)
        self.scores[(view.slot, view.mec)] = scores.copy()
        return scores


def test_run_reproduces_the_policy_on_the_parallel_env(policies, tmp_path):
    path = policies["agents"]
    scenario = load_scenario(TINY, [f"seed={SEED}"])
    made = {}

    def maker(name, **params):
        made["s"] = _AgentRecorder(**params)
        return made["s"]

    spec = SchedulerSpec(name="x:Y", params={"path": str(path)}, label="agents")
    result, = run_scenario(scenario, tmp_path, schedulers=[spec], make=maker)
    assert result.complete

    model = sb3.PPO.load(path, device="cpu")
    env = parallel_env(TINY)
    observations, _ = env.reset(seed=SEED)
    costs, slot = [], 0
    while env.agents:
        iotd = env._stepper.observation.iotd
        actions = {a: model.predict(observations[a], deterministic=True)[0] for a in env.agents}
        for agent, action in actions.items():
            mec = int(agent.rsplit("_", 1)[1])
            np.testing.assert_allclose(made["s"].scores[(slot, mec)],
                                       np.clip(action, 0, 1)[iotd], rtol=1e-6)
        observations, rewards, _, _, infos = env.step(actions)
        costs.append(next(iter(infos.values()))["model_cost"])
        slot += 1
    assert costs == pytest.approx(result.model_costs, rel=1e-12)


def test_flatten_matches_gymnasium(policies):
    env = gym.wrappers.FlattenObservation(MecEnv(TINY))
    flat, _ = env.reset(seed=1)
    raw = env.unwrapped._encode(env.unwrapped._stepper.observation)
    np.testing.assert_array_equal(flatten_observation(raw), flat)


# -- errors ---------------------------------------------------------------------------------


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no trained policy at .*nope.zip"):
        PolicyScheduler(str(tmp_path / "nope.zip"))
    with pytest.raises(ValueError, match="no trained policy"):
        make(f"sb3:{tmp_path / 'nope.zip'}")
    (tmp_path / "bad.zip").write_text("not a zip")
    with pytest.raises(ValueError, match="not a stable-baselines3 zip"):
        PolicyScheduler(str(tmp_path / "bad.zip"))


def test_missing_extra_names_it(policies, monkeypatch):
    monkeypatch.setitem(sys.modules, "stable_baselines3", None)
    with pytest.raises(ValueError, match=r"rl extra.*mecsim\[rl\]"):
        PolicyScheduler(str(policies["dict"]))


def test_wrong_network_size_is_refused(policies):
    from mecsim.testing import random_network

    scheduler = PolicyScheduler(str(policies["dict"]))
    with pytest.raises(ValueError, match="trained for 6 IoTDs and 2 MECs"):
        scheduler.reset(0, random_network(np.random.default_rng(0), 7, 2))
    agents = PolicyAgents(str(policies["agents"]))
    with pytest.raises(ValueError, match="trained for 6 IoTDs"):
        agents.reset(0, random_network(np.random.default_rng(0), 5, 2))
    with pytest.raises(ValueError, match="PolicyAgents"):
        PolicyScheduler(str(policies["agents"]))
    with pytest.raises(ValueError, match="Box"):
        PolicyAgents(str(policies["dict"]))


# -- the CLI --------------------------------------------------------------------------------


def _mecsim(*args):
    return subprocess.run([sys.executable, "-m", "mecsim", *args], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)


def test_cli_sb3_prefix(policies, tmp_path):
    out = tmp_path / "run"
    proc = _mecsim("run", str(TINY), "--scheduler", f"sb3:{policies['dict']}",
                   "--scheduler", f"sb3:{policies['agents']}", "--scheduler", "optimal",
                   "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert {"sb3:dict.zip", "sb3:agents.zip", "optimal"} <= set(summary["schedulers"])
    assert all(s["complete"] for s in summary["schedulers"].values())


def test_cli_missing_policy_is_one_line(tmp_path):
    proc = _mecsim("run", str(TINY), "--scheduler", f"sb3:{tmp_path / 'nope.zip'}",
                   "--out", str(tmp_path / "run"), "--quiet")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "no trained policy at" in proc.stderr and "nope.zip" in proc.stderr


def test_scenario_entry_with_params(policies, tmp_path):
    scenario = tmp_path / "s.yaml"
    text = TINY.read_text().replace(
        "schedulers: [local, random, greedy, optimal]",
        "schedulers:\n  - {name: \"schedulers.sb3_policy:PolicyScheduler\", "
        f"params: {{path: \"{policies['dict']}\"}}, label: ppo}}\n  - local")
    scenario.write_text(text)
    proc = _mecsim("run", str(scenario), "--out", str(tmp_path / "run"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["schedulers"]["ppo"]["complete"]


# -- a small training ------------------------------------------------------------------------


def test_a_short_training_round_trip(tmp_path):
    start = time.perf_counter()
    env = MecEnv(TINY)
    model = sb3.PPO("MultiInputPolicy", env, n_steps=64, batch_size=64, n_epochs=2, seed=0,
                    device="cpu")
    model.learn(256)
    model.save(tmp_path / "agent.zip")
    scheduler = make(f"sb3:{tmp_path / 'agent.zip'}")
    check_scheduler(scheduler, n_iotds=6, n_mecs=2)
    assert time.perf_counter() - start < 60
