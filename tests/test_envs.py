"""The RL envs (issue 12): Gymnasium's and PettingZoo's checkers, agreement with ``run``, the
realized reward against ``tasks.parquet``, seeding, invalid actions, failed MECs, render."""

import dataclasses
import re
import sys
import types
import warnings

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence

from mecsim.config import SchedulerSpec, load_scenario
from mecsim.engine.runner import run_scenario
from mecsim.envs import IDS, MecEnv, parallel_env
from mecsim.envs.encoding import encode
from mecsim.envs.render import draw_map, frame_shape
from tests.conftest import SCENARIOS

TINY = str(SCENARIOS / "tiny.yaml")
FAILURES = str(SCENARIOS / "failures.yaml")
#: failures.yaml cut short: MEC 2 is down from 60 s to 100 s; 70 s sees it fail only.
FAIL_70 = ["slots=70"]


def _make(env_id: str, **kwargs) -> gym.Env:
    if IDS[env_id] is None:
        kwargs.setdefault("scenario", TINY)
    return gym.make(env_id, **kwargs)


def _episode(env, actions, seed):
    """Observations, rewards and infos of one episode of ``env`` under ``actions(t)``."""
    obs, info = env.reset(seed=seed)
    trace = [(obs, info)]
    t, done = 0, False
    while not done:
        obs, reward, terminated, truncated, info = env.step(actions(t))
        assert terminated is False
        trace.append((obs, reward, truncated, info))
        t, done = t + 1, truncated
    return trace


# ---------------------------------------------------------------- Gymnasium's checkers
@pytest.mark.parametrize("env_id", sorted(IDS))
def test_check_env_passes_without_a_warning(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = _make(env_id, render_mode="rgb_array")
        check_env(env.unwrapped)
        env.close()


def test_vector_envs_step_through_an_autoreset():
    fns = [lambda: gym.make("mecsim/Scenario-v0", scenario=TINY, overrides=["slots=3"])] * 2
    for vec_cls in (gym.vector.SyncVectorEnv, gym.vector.AsyncVectorEnv):
        envs = vec_cls(fns)
        try:
            obs, infos = envs.reset(seed=[4, 5])
            assert obs["gains"].shape == (2, 6, 2)
            assert list(infos["world_seed"]) == [4, 5]
            for _ in range(5):  # over the 3-slot episode's end: one autoreset step
                obs, rewards, terminated, truncated, infos = envs.step(envs.action_space.sample())
                assert rewards.shape == (2,) and not terminated.any()
                assert envs.single_observation_space.contains(
                    {k: v[0] for k, v in obs.items()})
        finally:
            envs.close()


# ---------------------------------------------------------------- agreement with `run`
def _local_run(tmp_path, scenario):
    run_scenario(scenario, tmp_path, schedulers=[SchedulerSpec(name="local")])
    return (pd.read_parquet(tmp_path / "slots.parquet").sort_values("slot"),
            pd.read_parquet(tmp_path / "tasks.parquet"))


def test_all_local_episode_reproduces_the_local_scheduler(tmp_path):
    """Poisson arrivals, random sizes, MEC failures: the model cost of every slot agrees."""
    scenario = load_scenario(FAILURES, ["slots=40"])
    slots, _ = _local_run(tmp_path, scenario)
    env = MecEnv(scenario)
    trace = _episode(env, lambda t: np.zeros(40, dtype=np.int64), seed=scenario.seed)
    env.close()
    steps = trace[1:]
    assert len(steps) == len(slots) == 40
    rewards = np.array([r for _, r, _, _ in steps])
    np.testing.assert_array_equal(-rewards, slots["model_cost"].to_numpy())
    np.testing.assert_array_equal([i["tasks"] for *_, i in steps], slots["tasks"])
    assert [tr for _, _, tr, _ in steps] == [False] * 39 + [True]
    assert all(i["invalid"] == 0 and i["offloaded"] == 0 for *_, i in steps)


def test_realized_reward_is_the_cost_of_the_tasks_that_ended(tmp_path):
    """Overloaded local CPUs (3e9 cycles a second at 1 GHz, 5-s deadline): completions
    and drops; the episode's realized rewards add up to ``tasks.parquet``'s ended tasks."""
    scenario = load_scenario(TINY, ["slots=30", "tasks.cycles.value=3e9",
                                    "tasks.deadline_s=5.0"])
    _, tasks = _local_run(tmp_path, scenario)
    ended = tasks[tasks["status"].isin(["completed", "dropped"])]
    w = scenario.weights
    cost = w.latency_per_s * ended["realized_latency_s"] + w.energy_per_j * ended[
        "realized_energy_j"]
    assert (tasks["status"] == "dropped").any() and (tasks["status"] == "completed").any()
    env = MecEnv(scenario, reward="realized", drop_penalty=2.5)
    steps = _episode(env, lambda t: np.zeros(6, dtype=np.int64), seed=scenario.seed)[1:]
    env.close()
    infos = [i for *_, i in steps]
    assert sum(i["completed"] for i in infos) == (ended["status"] == "completed").sum()
    assert sum(i["dropped"] for i in infos) == (ended["status"] == "dropped").sum()
    for _, reward, _, info in steps:
        assert reward == pytest.approx(-(info["realized_cost"] + 2.5 * info["dropped"]))
    assert sum(i["realized_cost"] for i in infos) == pytest.approx(cost.sum(), rel=1e-9)


def test_reset_with_a_seed_replays_the_same_trajectory():
    env = MecEnv(FAILURES, ["slots=25"], reward="realized")
    rng = np.random.default_rng(7)
    actions = rng.integers(0, 5, size=(25, 40))
    first = _episode(env, lambda t: actions[t], seed=11)
    second = _episode(env, lambda t: actions[t], seed=11)
    other = _episode(env, lambda t: actions[t], seed=12)
    env.close()
    assert data_equivalence(first, second)
    assert not data_equivalence(first, other)
    # reset() without a seed draws the next world seed from the seeded np_random
    a, b = MecEnv(TINY), MecEnv(TINY)
    seeds = [[e.reset(seed=3)[1]["world_seed"], e.reset()[1]["world_seed"]] for e in (a, b)]
    assert seeds[0] == seeds[1] and seeds[0][0] == 3 and seeds[0][1] != 3
    a.close(), b.close()


def test_a_failed_mec_in_the_action_runs_locally_and_is_counted():
    env = MecEnv(FAILURES, FAIL_70)
    obs, _ = env.reset(seed=2)
    to_mec2 = np.full(40, 2, dtype=np.int64)
    counted = []
    for _ in range(70):
        down = obs["available"][1] == 0
        obs, _, _, _, info = env.step(to_mec2)
        if down:
            assert info["invalid"] == info["tasks"] and info["offloaded"] == 0
            counted.append(info["invalid"])
        else:
            assert info["invalid"] == 0 and info["offloaded"] == info["tasks"]
    env.close()
    assert len(counted) >= 9 and sum(counted) > 0  # slots 60..69


# ---------------------------------------------------------------- render
def test_render_is_an_rgb_frame_that_shows_the_placements(monkeypatch):
    env = MecEnv(TINY, render_mode="rgb_array")
    assert MecEnv(TINY).render() is None
    before = env.render()  # before reset: the area alone
    shape = (*frame_shape((50.0, 50.0)), 3)
    assert before.shape == shape and before.dtype == np.uint8
    frames = {}
    for action in (0, 1, 2):
        env.reset(seed=1)
        env.step(np.full(6, action))
        frames[action] = env.render()
        assert frames[action].shape == shape and frames[action].dtype == np.uint8
    env.reset(seed=1)
    env.step(np.full(6, 1))
    np.testing.assert_array_equal(env.render(), frames[1])  # deterministic
    assert not np.array_equal(frames[0], frames[1])
    assert not np.array_equal(frames[1], frames[2])
    assert not np.array_equal(before, frames[0])
    env.close()
    # a wide area keeps its aspect
    wide = load_scenario(TINY, ["area_m=[200.0, 50.0]"])
    assert draw_map(wide).shape == (100, 400, 3)


def test_record_video_records_the_frames(monkeypatch, tmp_path):
    """RecordVideo with a stand-in for moviepy (not a dependency): every frame is kept."""
    clips = []

    class Clip:
        def __init__(self, frames, fps):
            clips.append((list(frames), fps))

        def write_videofile(self, path, logger=None):
            open(path, "wb").close()

    for name in ("moviepy", "moviepy.video", "moviepy.video.io",
                 "moviepy.video.io.ImageSequenceClip"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    sys.modules["moviepy.video.io.ImageSequenceClip"].ImageSequenceClip = Clip
    env = gym.make("mecsim/Scenario-v0", scenario=TINY, overrides=["slots=5"],
                   render_mode="rgb_array")
    env = gym.wrappers.RecordVideo(env, str(tmp_path / "videos"),
                                   episode_trigger=lambda e: True)
    env.reset(seed=0)
    for _ in range(5):
        env.step(env.action_space.sample())
    env.close()
    (frames, fps), = clips
    assert len(frames) == 6 and fps == 4
    assert all(f.shape == frames[0].shape and f.dtype == np.uint8 for f in frames)
    assert list((tmp_path / "videos").glob("*.mp4"))


# ---------------------------------------------------------------- PettingZoo
@pytest.mark.parametrize("args", [(TINY, ()), (FAILURES, FAIL_70)], ids=["tiny", "failures"])
def test_parallel_env_passes_pettingzoo_checks(args):
    from pettingzoo.test import parallel_api_test, parallel_seed_test

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(parallel_env(*args), num_cycles=1000)
        parallel_seed_test(lambda: parallel_env(*args))


def test_agents_see_their_own_column_and_share_the_reward_of_the_same_placement():
    """Scores 1 for the MEC that MecEnv's action names, 0 elsewhere: same world, same
    reward and info at every epoch; each agent's observation is its column of MecEnv's."""
    scenario = load_scenario(FAILURES, ["slots=30"])
    central, par = MecEnv(scenario, reward="realized"), parallel_env(scenario,
                                                                     reward="realized")
    rng = np.random.default_rng(3)
    obs_c, _ = central.reset(seed=5)
    obs_p, infos = par.reset(seed=5)
    assert set(infos) == set(par.agents) == set(par.possible_agents)
    for _ in range(30):
        for agent in par.agents:
            j = int(agent.split("_")[1]) - 1
            for key in ("tasks", "data_mbit", "cycles_g"):
                np.testing.assert_array_equal(obs_p[agent][key], obs_c[key])
            np.testing.assert_array_equal(obs_p[agent]["gains"], obs_c["gains"][:, j])
            np.testing.assert_array_equal(obs_p[agent]["backlog"], obs_c["backlog"][j:j + 1])
            assert par.observation_space(agent).contains(obs_p[agent])
        np.testing.assert_array_equal(par.state(), gym.spaces.flatten(
            central.observation_space, obs_c))
        action = np.where(obs_c["available"][rng.integers(0, 4, 40)] > 0,
                          rng.integers(0, 5, 40), 0)
        scores = {a: (action == int(a.split("_")[1])).astype(np.float32) for a in par.agents}
        obs_c, reward, _, trunc, info_c = central.step(action)
        obs_p, rewards, terms, truncs, infos = par.step(scores)
        assert set(rewards.values()) == {reward}
        assert all(i == info_c for i in infos.values())
        assert not any(terms.values()) and all(v == trunc for v in truncs.values())
    assert par.agents == []
    central.close(), par.close()


def test_a_failed_mec_leaves_the_agents_and_rejoins_when_repaired():
    par = parallel_env(FAILURES, ["slots=105"])
    par.reset(seed=2)
    all_agents = ["mec_1", "mec_2", "mec_3", "mec_4"]
    assert par.agents == par.possible_agents == all_agents
    events = []
    for t in range(105):
        before = list(par.agents)
        obs, rewards, terms, truncs, infos = par.step(
            {a: np.ones(40, np.float32) for a in par.agents})
        assert set(obs) == set(before) | set(par.agents) == set(rewards) == set(truncs)
        if "mec_2" in before and "mec_2" not in par.agents and par.agents:
            events.append(("down", t))
            assert truncs["mec_2"] and not any(terms.values())
            assert not np.any(obs["mec_2"]["tasks"])
            assert rewards["mec_2"] == rewards["mec_1"]
        if "mec_2" in par.agents and "mec_2" not in before:
            events.append(("up", t))
            assert rewards["mec_2"] == 0.0 and not truncs["mec_2"]
            assert par.observation_space("mec_2").contains(obs["mec_2"])
            np.testing.assert_array_equal(obs["mec_2"]["tasks"], obs["mec_1"]["tasks"])
        if "mec_2" not in par.agents and par.agents:
            # all ones: ties go to the lowest MEC, so MEC 1 gets everything while 2 is down
            assert infos["mec_1"]["offloaded"] == infos["mec_1"]["tasks"]
    assert [e for e, _ in events] == ["down", "up"]
    assert 55 <= events[0][1] <= 60 and 95 <= events[1][1] <= 100
    assert par.agents == []
    par.close()


def test_parallel_render_and_invalid_actions():
    par = parallel_env(TINY, render_mode="rgb_array")
    par.reset(seed=0)
    with pytest.raises(ValueError, match="scores"):
        par.step({"mec_1": np.ones(3)})
    with pytest.raises(ValueError, match="NaN"):
        par.step({"mec_1": np.full(6, np.nan)})
    # out-of-range scores are clipped; a missing agent scores nothing
    _, _, _, _, infos = par.step({"mec_2": np.full(6, 7.0)})
    assert infos["mec_1"]["offloaded"] == 6
    frame = par.render()
    assert frame.shape == (400, 400, 3) and frame.dtype == np.uint8
    par.close()
    with pytest.raises(RuntimeError):
        par.step({})


def test_encode_caps_keep_observations_in_the_space():
    """Sizes and backlogs beyond the finite bounds are clipped to them."""
    env = MecEnv(TINY, ["tasks.cycles.value=1e15", "tasks.arrival.process=poisson",
                        "tasks.arrival.rate_per_s=5.0"])
    env.reset(seed=0)
    obs = env._stepper.observation
    huge = dataclasses.replace(obs, backlog_cycles=np.array([1e40, 0.0]))
    encoded = encode(huge, 6, 2)
    assert env.observation_space.contains(encoded)
    assert encoded["cycles_g"].max() == 1e6 and encoded["backlog"][0] == 50.0
    assert encoded["tasks"].max() > 1
    env.close()
    assert set(encode(None, 2, 1)) == set(env.observation_space.spaces)


def test_the_docs_example_runs(monkeypatch):
    text = (SCENARIOS.parent / "docs" / "envs.md").read_text()
    code, = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    monkeypatch.chdir(SCENARIOS.parent)
    namespace: dict = {}
    exec(compile(code, "docs/envs.md", "exec"), namespace)  # noqa: S102
    assert namespace["frame"].shape == (400, 400, 3) and namespace["total"] < 0
    assert namespace["par"].agents == []
