"""Candidate links (``channel.candidate_mecs``, issue 14): an N x K world."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mecsim.config import ScenarioError, load_scenario
from mecsim.engine.simulation import SchedulerError, Simulation
from mecsim.engine.world import World
from mecsim.registry import make
from mecsim.scheduler import Decision, Scheduler
from mecsim.testing import random_network, random_observation
from schedulers.greedy import Greedy

DENSE = Path(__file__).resolve().parents[1] / "scenarios" / "dense_100.yaml"
# dense_100 with 12 MECs (a 4 x 3 grid) so that 3 candidates leave 9 MECs out
TWELVE = ["mecs.count=12", "mecs.cpu_hz=20e9", "output.channels=false"]


def _worlds(k, slots=6, extra=()):
    scenario = load_scenario(DENSE, [*TWELVE, f"channel.candidate_mecs={k}", *extra])
    world = World(scenario)
    return world, [world.next_slot() for _ in range(slots)]


@pytest.mark.parametrize("generator", ["sum_of_sinusoids", "ar1"])
def test_links_are_the_k_nearest_and_others_have_gain_zero(generator):
    world, _ = _worlds(3, slots=0, extra=[f"channel.fading.generator={generator}"])
    mec_xy = world.mec_positions_m
    for _ in range(6):  # a slot's channel is used during that slot
        w = world.next_slot()
        assert w.candidates.shape == (100, 3)
        every = np.hypot(*(w.positions_m[:, None, :] - mec_xy[None]).transpose(2, 0, 1))
        nearest = np.sort(np.argsort(every, axis=1, kind="stable")[:, :3], axis=1)
        np.testing.assert_array_equal(np.sort(w.candidates, axis=1), nearest)
        np.testing.assert_array_equal(w.distance_m, np.take_along_axis(every, w.candidates, 1))
        linked = np.zeros(w.gains.shape, dtype=bool)
        np.put_along_axis(linked, w.candidates, True, axis=1)
        assert np.all(w.gains[linked] > 0)
        assert np.all(w.gains[~linked] == 0)
        # the slot's channel: step 0 is the epoch's gains, 0 off the candidate links
        iotd = np.repeat(np.arange(100), 12)
        mec = np.tile(np.arange(12), 100)
        steps = w.channel.gains(iotd, mec)
        np.testing.assert_allclose(steps[0], w.gains.ravel(), rtol=1e-12)
        assert np.all(steps[:, ~linked.ravel()] == 0)
        assert np.all(steps[:, linked.ravel()] > 0)


def test_a_kept_mec_keeps_its_column_and_the_physics_is_n_by_k():
    world, slots = _worlds(3, slots=30)
    assert world._sos.shape == (100, 3)
    assert world._sos.nbytes == 100 * 3 * 24 * 8
    changed = 0
    for before, after in zip(slots, slots[1:], strict=False):
        assert not after.candidates.flags.writeable
        for dev in range(100):
            for col in range(3):
                if before.candidates[dev, col] in after.candidates[dev]:
                    assert after.candidates[dev, col] == before.candidates[dev, col]
                else:
                    changed += 1
    assert changed > 0  # the devices move: some links were replaced


def test_a_new_link_gets_fresh_fading():
    """A column whose MEC changed draws new parameters; one that did not keeps them."""
    world, slots = _worlds(2, slots=20)
    params = world._sos._params.copy()
    w = world.next_slot()
    prev = slots[-1].candidates
    same = (w.candidates == prev).reshape(-1)
    now = world._sos._params
    np.testing.assert_array_equal(now[same], params[same])
    if (~same).any():
        assert np.all(now[~same] != params[~same])


def test_every_mec_is_the_same_world():
    scenario = load_scenario(DENSE, [*TWELVE])
    plain = World(scenario).next_slot()
    all_k = World(load_scenario(DENSE, [*TWELVE, "channel.candidate_mecs=12"])).next_slot()
    assert all_k.candidates is None
    np.testing.assert_array_equal(all_k.gains, plain.gains)


def test_candidate_mecs_is_checked():
    with pytest.raises(ScenarioError, match="channel.candidate_mecs"):
        load_scenario(DENSE, ["channel.candidate_mecs=0"])
    with pytest.raises(ScenarioError, match="channel.candidate_mecs"):
        load_scenario(DENSE, ["channel.candidate_mecs=2.5"])


def test_greedy_on_candidates_matches_greedy_on_the_full_matrix():
    rng = np.random.default_rng(5)
    network = random_network(rng, 400, 12)
    obs = random_observation(rng, 300, 12, network=network)
    k = 4
    every = obs.distance_m
    cand = np.argsort(every, axis=1)[:, :k][:, ::-1].copy()  # any column order
    gains = np.zeros_like(obs.problem.gains)
    rows = np.arange(obs.n_tasks)[:, None]
    gains[rows, cand[obs.iotd]] = obs.problem.gains[rows, cand[obs.iotd]]
    gains[0, cand[obs.iotd[0]]] = 0.0  # a task with no usable link runs locally
    problem = obs.problem.replaced(gains=gains)
    linked = replace(obs, problem=problem, candidates=cand,
                     distance_m=np.take_along_axis(every, cand, axis=1))
    dense = replace(obs, problem=problem)
    assert np.array_equal(linked.task_distances_m(network.mec_positions_m), every[obs.iotd])
    greedy = Greedy(max_tasks_per_mec=10**6)
    greedy.reset(0, network)
    got = greedy.decide(linked).placement
    np.testing.assert_array_equal(got, greedy.decide(dense).placement)
    assert got[0] == 0
    assert np.all(np.isin(got[1:] - 1, cand[obs.iotd[1:]]))


def test_distances_in_the_observation_are_the_worlds():
    scenario = load_scenario(DENSE, ["slots=3", "output.channels=false"])
    seen = []

    class Spy(Scheduler):
        centralized = True

        def decide(self, observation):
            seen.append(observation)
            return Decision(np.zeros(observation.n_tasks, dtype=np.int64))

    sim = Simulation(scenario, Spy(), "spy", 1, on_tasks=lambda r: None,
                     on_slot=lambda r: None)
    sim.scheduler.reset(0, sim.network)
    sim.run(3)
    obs = seen[-1]
    assert not obs.distance_m.flags.writeable
    mec = sim.network.mec_positions_m
    expect = np.hypot(*(obs.iotd_positions_m[:, None, :] - mec[None]).transpose(2, 0, 1))
    np.testing.assert_array_equal(obs.distance_m, expect)
    np.testing.assert_array_equal(obs.task_distances_m(mec), expect[obs.iotd])
    no_world = replace(obs, distance_m=None)
    np.testing.assert_array_equal(no_world.task_distances_m(mec), expect[obs.iotd])


def test_an_offload_off_the_candidates_is_an_invalid_decision():
    scenario = load_scenario(DENSE, [*TWELVE, "channel.candidate_mecs=2", "slots=2"])

    class Farthest(Scheduler):
        centralized = True

        def decide(self, observation):
            far = np.argmax(observation.task_distances_m(self.network.mec_positions_m), axis=1)
            return Decision(far + 1)

    sim = Simulation(scenario, Farthest(), "farthest", 1, on_tasks=lambda r: None,
                     on_slot=lambda r: None)
    sim.scheduler.reset(0, sim.network)
    with pytest.raises(SchedulerError, match="zero channel gain"):
        sim.run(2)


def test_greedy_runs_on_candidate_links():
    scenario = load_scenario(DENSE, [*TWELVE, "channel.candidate_mecs=2", "slots=20"])
    greedy = make("greedy", max_tasks_per_mec=20)
    sim = Simulation(scenario, greedy, "greedy", 1, on_tasks=lambda r: None,
                     on_slot=lambda r: None)
    greedy.reset(0, sim.network)
    sim.run(20)
    counts = sim.counts()
    assert counts["generated"] > 500
    assert counts["completed"] > 0.8 * counts["generated"]


def test_channels_file_has_the_candidate_links_only(tmp_path):
    import pyarrow.parquet as pq

    from mecsim.engine.runner import run_scenario

    scenario = load_scenario(DENSE, [*TWELVE, "channel.candidate_mecs=2", "slots=3",
                                     "output.channels=true", "schedulers=[greedy]"])
    run_scenario(scenario, tmp_path / "run")
    ch = pq.read_table(tmp_path / "run" / "channels.parquet").to_pandas()
    assert len(ch) == 3 * 100 * 2
    assert (ch["gain"] > 0).all()
    assert ch.groupby(["slot", "iotd"])["mec"].nunique().eq(2).all()
    world = World(scenario)
    first = world.next_slot()
    row0 = ch[(ch["slot"] == 0)].sort_values(["iotd", "mec"])
    expect = np.sort(first.candidates, axis=1) + 1
    np.testing.assert_array_equal(row0["mec"].to_numpy().reshape(100, 2), expect)
