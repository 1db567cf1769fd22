import itertools
from dataclasses import replace

import numpy as np
import pytest

from mecsim.config import SchedulerSpec
from mecsim.engine.runner import run_scenario
from mecsim.model import SlotProblem
from mecsim.params import ModelParams
from mecsim.registry import make
from mecsim.scheduler import Network, Observation
from mecsim.testing import random_network, random_observation
from schedulers._capacity import enforce_room, task_room
from schedulers.greedy import Greedy

MEC_POS = np.array([[0.0, 0.0], [50.0, 0.0], [25.0, 50.0]])


def _network(mec_cpu_hz=(50e9, 50e9, 50e9), local_cpu_hz=1e9, n_iotds=8):
    m = len(mec_cpu_hz)
    return Network(n_iotds=n_iotds, n_mecs=m, mec_cpu_hz=np.asarray(mec_cpu_hz, float),
                   mec_positions_m=MEC_POS[:m].copy(),
                   local_cpu_hz=np.broadcast_to(np.asarray(local_cpu_hz, float),
                                                (n_iotds,)).copy(),
                   area_m=(50.0, 50.0), slot_s=1.0, params=ModelParams())


def _ready(name, network, seed=0, **params):
    s = make(name, **params)
    s.reset(seed, network)
    return s


def _brute_force(problem: SlotProblem):
    options = [0] + [j + 1 for j in np.flatnonzero(problem.available)]
    best = (np.inf, None)
    for a in itertools.product(options, repeat=problem.n_tasks):
        c = problem.cost(np.array(a, dtype=np.int64))
        if c < best[0]:
            best = (c, np.array(a))
    return best


# -- local -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 7])
def test_local_places_everything_locally(n):
    rng = np.random.default_rng(n)
    net = random_network(rng, 8, 3)
    obs = random_observation(rng, n, 3, network=net)
    d = _ready("local", net).decide(obs)
    assert d.placement.shape == (n,) and d.placement.dtype.kind == "i"
    assert not d.placement.any()
    assert d.cpu_hz is None and d.tx_power_w is None


# -- greedy ----------------------------------------------------------------------------------


def test_greedy_sends_each_task_to_its_nearest_mec():
    rng = np.random.default_rng(1)
    net = _network()
    for _ in range(20):
        obs = random_observation(rng, 8, 3, network=net, iotd=np.arange(8))
        d = _ready("greedy", net).decide(obs)
        for i in range(8):
            pos = obs.iotd_positions_m[obs.iotd[i]]
            dist = [np.hypot(*(pos - MEC_POS[j])) for j in range(3)]
            assert d.placement[i] == int(np.argmin(dist)) + 1


def test_greedy_skips_failed_and_unreachable_mecs():
    net = _network()
    positions = np.array([[1.0, 1.0], [49.0, 1.0], [25.0, 49.0], [20.0, 2.0]] + [[0, 0]] * 4)
    rng = np.random.default_rng(0)
    obs = random_observation(rng, 4, 3, network=net, iotd=np.arange(4),
                             iotd_positions_m=positions, available=[False, True, True])
    d = _ready("greedy", net).decide(obs)
    # task 0 sits on MEC 1 (failed): next nearest is MEC 2 (49 m) rather than MEC 3 (~53 m)
    np.testing.assert_array_equal(d.placement, [2, 2, 3, 2])
    # a zero gain makes a MEC unreachable for that task; none reachable -> local
    p = obs.problem
    gains = p.gains.copy()
    gains[1, 1] = 0.0
    gains[2, :] = 0.0
    zero = SlotProblem(gains, p.data_bits, p.cycles, p.local_cpu_hz, p.mec_cpu_hz,
                       available=p.available)
    obs2 = Observation(**{**obs.__dict__, "problem": zero})
    np.testing.assert_array_equal(_ready("greedy", net).decide(obs2).placement, [2, 3, 0, 2])


def _crowd(net, cycles, backlog=(0, 0, 0)):
    """All tasks right next to MEC 1."""
    n = len(cycles)
    positions = np.tile([[2.0, 3.0]], (net.n_iotds, 1))
    return random_observation(np.random.default_rng(5), n, net.n_mecs, network=net,
                              iotd=np.arange(n), iotd_positions_m=positions,
                              cycles=np.asarray(cycles, float), backlog_tasks=backlog)


def test_greedy_sends_the_largest_tasks_local_over_a_fixed_limit():
    net = _network()
    obs = _crowd(net, [5e9, 1e9, 4e9, 2e9, 3e9])
    d = _ready("greedy", net, max_tasks_per_mec=2).decide(obs)
    np.testing.assert_array_equal(d.placement, [0, 1, 0, 1, 0])
    # the backlog counts against the limit
    obs = _crowd(net, [5e9, 1e9, 4e9, 2e9, 3e9], backlog=(1, 0, 0))
    d = _ready("greedy", net, max_tasks_per_mec=2).decide(obs)
    np.testing.assert_array_equal(d.placement, [0, 1, 0, 0, 0])
    # ... unless count_backlog is off; an integral float (YAML's 2.0) is a valid limit
    d = _ready("greedy", net, max_tasks_per_mec=2.0, count_backlog=False).decide(obs)
    np.testing.assert_array_equal(d.placement, [0, 1, 0, 1, 0])


def test_greedy_default_limit_is_fmax_over_the_fastest_local_cpu():
    # Fmax_1 = 5 GHz, fastest f0 = 1 GHz -> a MEC holds at most 5 tasks
    net = _network(mec_cpu_hz=(5e9, 50e9, 50e9), local_cpu_hz=[0.5e9] * 7 + [1e9])
    cycles = [7e8, 1e8, 6e8, 2e8, 5e8, 3e8, 4e8]
    d = _ready("greedy", net).decide(_crowd(net, cycles))
    np.testing.assert_array_equal(d.placement, [0, 1, 0, 1, 1, 1, 1])
    d = _ready("greedy", net).decide(_crowd(net, cycles, backlog=(3, 0, 0)))
    np.testing.assert_array_equal(d.placement, [0, 1, 0, 1, 0, 0, 0])
    # min_cpu_share_hz overrides the default share: floor(5 / 2.5) = 2 tasks
    d = _ready("greedy", net, min_cpu_share_hz=2.5e9).decide(_crowd(net, cycles))
    np.testing.assert_array_equal(d.placement, [0, 1, 0, 1, 0, 0, 0])


def test_equal_cycles_keep_the_earlier_tasks():
    net = _network()
    d = _ready("greedy", net, max_tasks_per_mec=3).decide(_crowd(net, [1e9] * 5))
    np.testing.assert_array_equal(d.placement, [1, 1, 1, 0, 0])


def test_enforce_room_matches_a_loop():
    rng = np.random.default_rng(2)
    for _ in range(200):
        n, m = int(rng.integers(0, 15)), int(rng.integers(1, 4))
        a = rng.integers(0, m + 1, n)
        cycles = rng.integers(1, 4, n).astype(float)  # many ties
        room = rng.integers(0, 5, m)
        want = a.copy()
        for j in range(1, m + 1):
            mine = sorted(np.flatnonzero(a == j), key=lambda i: (cycles[i], i))
            want[mine[room[j - 1]:]] = 0
        np.testing.assert_array_equal(enforce_room(a, cycles, room), want)


def test_task_room_is_zero_on_failed_mecs_and_never_negative():
    net = _network(mec_cpu_hz=(5e9, 3e9, 50e9))
    obs = random_observation(np.random.default_rng(0), 2, 3, network=net,
                             available=[True, True, False], backlog_tasks=[7, 1, 0])
    np.testing.assert_array_equal(task_room(obs, net.local_cpu_hz), [0, 2, 0])
    np.testing.assert_array_equal(task_room(obs, net.local_cpu_hz, max_tasks_per_mec=9),
                                  [2, 8, 0])


# -- random ----------------------------------------------------------------------------------


def test_random_is_reproducible_and_seed_dependent():
    rng = np.random.default_rng(3)
    net = random_network(rng, 40, 3)
    obs = [random_observation(rng, 40, 3, network=net, slot=t) for t in range(3)]
    runs = []
    for seed in (7, 7, 8):
        s = _ready("random", net, seed=seed)
        runs.append(np.concatenate([s.decide(o).placement for o in obs]))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert (runs[0] != runs[2]).any()


def test_random_is_uniform_over_local_and_the_available_mecs():
    net = _network(n_iotds=4000)
    obs = random_observation(np.random.default_rng(4), 4000, 3, network=net,
                             available=[True, False, True])
    d = _ready("random", net, max_tasks_per_mec=10**6).decide(obs)
    counts = np.bincount(d.placement, minlength=4)
    assert counts[2] == 0
    # each of local, MEC 1, MEC 3 with probability 1/3: 4000/3 = 1333 +- 5 sigma (149)
    assert np.all(np.abs(counts[[0, 1, 3]] - 4000 / 3) < 149), counts


def test_random_respects_the_limits():
    net = _network(mec_cpu_hz=(5e9, 3e9, 50e9), n_iotds=60)
    s = _ready("random", net)
    rng = np.random.default_rng(5)
    for t in range(30):
        backlog = rng.integers(0, 6, 3)
        obs = random_observation(rng, 60, 3, network=net, slot=t, backlog_tasks=backlog)
        counts = np.bincount(s.decide(obs).placement, minlength=4)[1:]
        room = np.maximum(np.floor(net.mec_cpu_hz / 1e9).astype(int) - backlog, 0)
        assert (counts <= room).all(), (counts, room)
        assert counts[2] > 0  # the big MEC is used (limit 50 is not hit)


def test_random_sends_the_largest_tasks_local_when_over():
    net = _network(mec_cpu_hz=(5e9, 500e9), n_iotds=400)  # limits 5 and 500
    obs = random_observation(np.random.default_rng(6), 400, 2, network=net)
    # the limit never changes the draws, so an unlimited twin shows what was drawn
    drawn = _ready("random", net, seed=3, max_tasks_per_mec=10**6).decide(obs).placement
    d = _ready("random", net, seed=3).decide(obs).placement
    cycles = obs.problem.cycles
    wanted_1 = np.flatnonzero(drawn == 1)
    assert wanted_1.size > 5
    kept = wanted_1[np.argsort(cycles[wanted_1], kind="stable")[:5]]
    np.testing.assert_array_equal(np.flatnonzero(d == 1), np.sort(kept))
    bumped = np.setdiff1d(wanted_1, kept)
    assert (d[bumped] == 0).all()  # run locally, not re-sent to MEC 2
    assert cycles[bumped].min() > cycles[kept].max()
    others = drawn != 1
    np.testing.assert_array_equal(d[others], drawn[others])  # MEC 2 is under its limit


# -- optimal ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_optimal_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    m = 2 + seed % 2
    net = random_network(rng, 6, m)
    available = np.ones(m, dtype=bool)
    if seed % 3 == 0:
        available[int(rng.integers(m))] = False
    n = int(rng.integers(1, 6))
    obs = random_observation(rng, n, m, network=net, available=available)
    d = _ready("optimal", net).decide(obs)
    best_cost, _ = _brute_force(obs.problem)
    assert obs.problem.cost(d.placement) == pytest.approx(best_cost, rel=1e-12)
    assert d.info["exact"] is True and d.info["method"] in ("exhaustive", "min_cost_flow")
    assert d.info["lower_bound"] == pytest.approx(best_cost, rel=1e-12)
    assert not np.isin(d.placement, np.flatnonzero(~available) + 1).any()


def test_optimal_honours_observation_availability_over_the_problems():
    rng = np.random.default_rng(9)
    net = random_network(rng, 4, 2)
    obs = random_observation(rng, 4, 2, network=net)
    best = _ready("optimal", net).decide(obs).placement
    assert best.any()
    down = int(np.bincount(best, minlength=3)[1:].argmax())  # the MEC it uses most
    avail = np.ones(2, dtype=bool)
    avail[down] = False
    obs2 = Observation(**{**obs.__dict__, "available": avail})  # problem still says all up
    d = _ready("optimal", net).decide(obs2)
    assert not (d.placement == down + 1).any()


def test_optimal_uses_min_cost_flow_for_many_equal_tasks_and_passes_params():
    rng = np.random.default_rng(10)
    net = random_network(rng, 30, 2)
    obs = random_observation(rng, 30, 2, network=net, cycles=1e9)
    d = _ready("optimal", net).decide(obs)
    assert d.info["method"] == "min_cost_flow" and d.info["exact"] is True
    small = random_observation(rng, 4, 2, network=net)
    assert _ready("optimal", net, exhaustive_limit=1).decide(small).info["method"] != \
        "exhaustive"


@pytest.mark.parametrize("seed", range(8))
def test_optimal_is_never_worse_than_the_baselines(seed):
    rng = np.random.default_rng(100 + seed)
    m = int(rng.integers(2, 4))
    net = random_network(rng, 40, m)
    equal = seed % 2 == 0
    n = 30 if equal else int(rng.integers(4, 10))
    avail = np.ones(m, dtype=bool)
    avail[0] = seed % 4 != 1
    obs = random_observation(rng, n, m, network=net, available=avail,
                             cycles=1e9 if equal else None)
    opt = _ready("optimal", net, seed=seed).decide(obs)
    assert opt.info["exact"] is True
    best = obs.problem.cost(opt.placement)
    for name in ("local", "greedy", "random"):
        other = obs.problem.cost(_ready(name, net, seed=seed).decide(obs).placement)
        assert best <= other * (1 + 1e-12), name


def test_optimal_bound_is_below_every_baseline_when_not_exact():
    rng = np.random.default_rng(11)
    net = random_network(rng, 40, 3)
    obs = random_observation(rng, 40, 3, network=net)  # unequal cycles, 4^40 placements
    opt = _ready("optimal", net, starts=2).decide(obs)
    assert opt.info["method"] == "local_search"
    bound = opt.info["lower_bound"]
    assert bound <= obs.problem.cost(opt.placement) * (1 + 1e-12)
    for name in ("local", "greedy", "random"):
        assert bound <= obs.problem.cost(_ready(name, net).decide(obs).placement)


@pytest.mark.parametrize("name, params, fragment", [
    ("optimal", {"starts": -1}, "starts"),
    ("optimal", {"exhaustive_limit": 0}, "exhaustive_limit"),
    ("greedy", {"max_tasks_per_mec": 2.5}, "max_tasks_per_mec"),
    ("random", {"min_cpu_share_hz": 0.0}, "min_cpu_share_hz"),
    ("random", {"max_tasks_per_mec": True}, "max_tasks_per_mec"),
    ("random", {"count_backlog": "yes"}, "count_backlog"),
    ("optimal", {"starts": float("inf")}, "starts"),
])
def test_bad_params_are_rejected(name, params, fragment):
    with pytest.raises(ValueError, match=fragment):
        make(name, **params)


def test_params_survive_save_and_load(tmp_path):
    s = make("greedy", max_tasks_per_mec=3, min_cpu_share_hz=2e9, count_backlog=False)
    s.save(tmp_path / "g.json")
    fresh = make("greedy")
    fresh.load(tmp_path / "g.json")
    assert (fresh.max_tasks_per_mec, fresh.min_cpu_share_hz, fresh.count_backlog) == (
        3, 2e9, False)
    o = make("optimal", starts=3.0, exhaustive_limit=2e6)
    assert o.params == {"starts": 3, "exhaustive_limit": 2_000_000, "backlog": False,
                        "time_budget_s": 9.0}
    assert type(o.starts) is int
    o.save(tmp_path / "o.json")
    fresh = make("optimal")
    fresh.load(tmp_path / "o.json")
    assert fresh.starts == 3


def test_greedy_needs_reset():
    rng = np.random.default_rng(0)
    obs = random_observation(rng, 3, 2)
    with pytest.raises(RuntimeError, match="reset"):
        make("greedy").decide(obs)


# -- the insufficient-resources rule on the MEC's CPU load (issue 13) -----------------------


def _stuck(net, n=6, in_uplinks=(50, 50, 50), at_cpu=(0, 0, 0)):
    """Tasks near MEC 1 while every MEC's backlog is ``in_uplinks`` + ``at_cpu`` tasks."""
    obs = _crowd(net, [1e9] * n)
    at_cpu = np.asarray(at_cpu, dtype=np.int64)
    backlog = np.asarray(in_uplinks, dtype=np.int64) + at_cpu
    return replace(obs, backlog_tasks=backlog, backlog_cycles=backlog * 1e9,
                   mec_cpu_tasks=at_cpu, mec_cpu_cycles=at_cpu * 1e9)


def test_tasks_still_uploading_do_not_fill_a_mec():
    """Uploads stuck in deep fades fill the old cap; only the tasks at the CPU count now."""
    net = _network()  # limit floor(50 GHz / 1 GHz) = 50 per MEC
    obs = _stuck(net)  # 50 tasks uploading to each MEC, none at its CPU
    for name in ("greedy", "random"):
        old = _ready(name, net, count_uploads=True).decide(obs).placement
        assert not old.any(), name  # the old rule: every MEC full, the baseline is `local`
    np.testing.assert_array_equal(_ready("greedy", net).decide(obs).placement, [1] * 6)
    drawn = _ready("random", net, seed=4, max_tasks_per_mec=10**6).decide(obs).placement
    assert drawn.any()
    np.testing.assert_array_equal(_ready("random", net, seed=4).decide(obs).placement, drawn)
    np.testing.assert_array_equal(task_room(obs, net.local_cpu_hz), [50, 50, 50])
    np.testing.assert_array_equal(task_room(obs, net.local_cpu_hz, count_uploads=True),
                                  [0, 0, 0])


def test_tasks_at_the_cpu_still_count():
    net = _network()
    obs = _stuck(net, in_uplinks=(30, 0, 0), at_cpu=(47, 0, 0))
    # MEC 1: 50 - 47 = 3 places; its 30 uploads do not count
    np.testing.assert_array_equal(task_room(obs, net.local_cpu_hz), [3, 50, 50])
    np.testing.assert_array_equal(_ready("greedy", net).decide(obs).placement,
                                  [1, 1, 1, 0, 0, 0])
    # a fixed limit counts the same way; count_backlog=False counts nothing
    np.testing.assert_array_equal(task_room(obs, net.local_cpu_hz, max_tasks_per_mec=48),
                                  [1, 48, 48])
    np.testing.assert_array_equal(task_room(obs, net.local_cpu_hz, max_tasks_per_mec=48,
                                            count_backlog=False), [48, 48, 48])


def test_an_observation_without_the_cpu_split_counts_its_whole_backlog():
    net = _network()
    obs = replace(_stuck(net, in_uplinks=(30, 0, 0), at_cpu=(0, 0, 0)), mec_cpu_tasks=None)
    np.testing.assert_array_equal(task_room(obs, net.local_cpu_hz), [20, 50, 50])


def test_count_uploads_is_validated_and_saved(tmp_path):
    with pytest.raises(ValueError, match="count_uploads"):
        make("greedy", count_uploads="no")
    s = make("random", count_uploads=True)
    s.save(tmp_path / "r.json")
    fresh = make("random")
    fresh.load(tmp_path / "r.json")
    assert fresh.count_uploads is True and make("greedy").count_uploads is False


class _Watching(Greedy):
    """``greedy`` that keeps each observation's MEC load (the engine's split)."""

    def __init__(self, **params):
        super().__init__(**params)
        self.seen = []

    def decide(self, observation):
        self.seen.append((observation.backlog_tasks.copy(), observation.mec_cpu_tasks.copy(),
                          observation.backlog_cycles.copy(), observation.mec_cpu_cycles.copy()))
        return super().decide(observation)


def test_greedy_keeps_offloading_while_uploads_are_stuck(tiny, tmp_path):
    """Engine level: a 10 kHz channel makes each 100 kB upload take seconds, so tasks pile
    up in the uplinks. Counted against the cap (the old rule) they turn ``greedy`` into
    ``local`` after a few epochs; on the CPU load it keeps offloading."""
    scenario = tiny("slots=20", "channel.bandwidth_hz=1e4", "greedy_max_tasks_per_mec=3")
    made = {}

    def factory(name, **params):
        if name == "greedy":
            made[len(made)] = _Watching(**params)
            return made[len(made) - 1]
        return make(name, **params)

    specs = [SchedulerSpec(name="greedy"),
             SchedulerSpec(name="greedy", label="greedy_old", params={"count_uploads": True})]
    results = {r.name: r for r in run_scenario(scenario, tmp_path / "run", schedulers=specs,
                                               make=factory, channels=False)}
    new, old = results["greedy"], results["greedy_old"]
    assert new.complete and old.complete
    # 3 of each epoch's 6 tasks fit a MEC's cap; tasks at a CPU are rare, so ~0.9 of the
    # tasks are offloaded (0.1 with the uploads counted)
    assert new.offload_share > 0.8
    assert old.offload_share < 0.2
    # the engine's split: tasks at a CPU are part of the backlog, the rest are uploading
    seen = made[0].seen
    for backlog, at_cpu, cycles, cpu_cycles in seen:
        assert (0 <= at_cpu).all() and (at_cpu <= backlog).all()
        assert (cpu_cycles <= cycles + 1e-6).all()
    assert seen[-1][0].sum() > 3 * scenario.mecs.count  # the uploads pile up ...
    assert seen[-1][1].sum() <= 3 * scenario.mecs.count  # ... few tasks reach a CPU


@pytest.mark.parametrize("name", ["greedy", "random"])
def test_max_uplink_wait_sends_only_that_iotds_tasks_local(name):
    """``max_uplink_wait_s``: the device's side of "insufficient", one IoTD at a time."""
    from mecsim.testing import random_network, random_observation

    rng = np.random.default_rng(4)
    network = random_network(rng, 8, 2)
    busy = np.zeros(8)
    busy[[2, 5]] = 3.0  # two IoTDs whose own uplinks hold 3 s of uploads
    obs = random_observation(rng, 8, 2, network=network, iotd=np.arange(8),
                             uplink_busy_s=busy)
    plain = make(name, max_tasks_per_mec=100)
    limited = make(name, max_tasks_per_mec=100, max_uplink_wait_s=1.0)
    for scheduler in (plain, limited):
        scheduler.reset(0, network)
    before, after = plain.decide(obs).placement, limited.decide(obs).placement
    assert (before[[2, 5]] > 0).any()  # the rule is what moves them
    np.testing.assert_array_equal(after[[2, 5]], 0)
    others = np.setdiff1d(np.arange(8), [2, 5])
    np.testing.assert_array_equal(after[others], before[others])
    with pytest.raises(ValueError, match="max_uplink_wait_s"):
        make(name, max_uplink_wait_s=-1.0)
