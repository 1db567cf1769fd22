"""The exact optimum of a slot (spec section 5): exhaustive, min-cost flow, local search."""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest

from mecsim.model import SlotProblem, solve_optimum
from mecsim.model.optimum import (
    SMALL_EXHAUSTIVE,
    descend,
    equal_cycles,
    exhaustive,
    local_search,
    min_cost_flow,
    relaxation_bound,
)
from mecsim.params import ModelParams


def _instance(rng, n: int, m: int, *, equal: bool, all_available: bool = False) -> SlotProblem:
    """Devices and MECs in a 50 m square, Rayleigh fading, scarce and unequal MEC CPUs.

    Capacities are small enough that MECs congest, so optima mix local and offloaded tasks;
    some local CPUs need more than Pmax (local infeasible), some MECs are down, and Pmax is
    sometimes small enough to bind.
    """
    dev = rng.uniform(0, 50, (n, 2))
    mec = rng.uniform(0, 50, (m, 2))
    d = np.linalg.norm(dev[:, None, :] - mec[None, :, :], axis=2)
    fading = rng.exponential(1.0, (n, m))
    gains = 1e-3 * fading / np.maximum(d, 1.0) ** 2
    cycles = np.full(n, 1e9) if equal else 10 ** rng.uniform(8.5, 9.7, n)
    data = 10 ** rng.uniform(5, 6.5, n)
    local = rng.uniform(0.6e9, 1.2e9, n)
    fmax = 10 ** rng.uniform(9, 10.3, m)
    pmax = float(rng.choice([0.05, 0.3, 1.5, 1.5]))
    # local power kappa f0^3 scales with Pmax: above it (infeasible) for f0 > 1.145e9 Hz
    params = ModelParams(max_power_w=pmax, kappa=1e-27 * pmax / 1.5)
    available = np.ones(m, bool) if all_available else rng.random(m) < 0.75
    return SlotProblem(gains, data, cycles, local, fmax, params, available)


def _naive(problem: SlotProblem) -> tuple[float, tuple]:
    best, arg = math.inf, None
    for a in itertools.product(range(problem.n_mecs + 1), repeat=problem.n_tasks):
        c = problem.cost(np.array(a, dtype=np.int64))
        if c < best:
            best, arg = c, a
    return best, arg


def test_exhaustive_and_min_cost_flow_agree_on_equal_cycles():
    rng = np.random.default_rng(12345)
    mixed = binding = down = 0
    sizes = [(n, m) for n in range(1, 10) for m in (1, 2, 3)] * 3 + [(10, 1), (10, 2), (10, 3)]
    for n, m in sizes:
        problem = _instance(rng, n, m, equal=True)
        assert equal_cycles(problem)
        ex = exhaustive(problem)
        flow = min_cost_flow(problem)
        assert ex.exact and flow.exact and flow.method == "min_cost_flow"
        assert flow.cost == pytest.approx(ex.cost, rel=1e-12, abs=0)
        assert flow.cost == pytest.approx(problem.cost(flow.placement), rel=1e-15)
        assert problem.available[flow.placement[flow.placement > 0] - 1].all()
        mixed += bool(0 < np.count_nonzero(ex.placement) < n)
        binding += bool((problem.tx_power_w == problem.params.max_power_w).any())
        down += bool(not problem.available.all())
    # the sample is not trivial: mixed optima, a binding Pmax, unavailable MECs
    assert mixed >= 20 and binding >= 20 and down >= 10


def test_min_cost_flow_with_congestion_and_a_tight_unit_bound():
    # Tiny MECs: each unit of CPU costs a lot, so the K_j bound cuts the unit slots short;
    # the flow must still match the enumeration.
    rng = np.random.default_rng(99)
    for _ in range(12):
        n, m = int(rng.integers(5, 10)), int(rng.integers(1, 4))
        problem = _instance(rng, n, m, equal=True, all_available=True)
        problem = SlotProblem(problem.gains, problem.data_bits, problem.cycles,
                              problem.local_cpu_hz, rng.uniform(1e9, 3e9, m), problem.params)
        ex, flow = exhaustive(problem), min_cost_flow(problem)
        assert flow.cost == pytest.approx(ex.cost, rel=1e-12, abs=0)


def test_min_cost_flow_when_local_is_infeasible_for_some():
    # Tasks that cannot run locally must go to a MEC however full it is: the unit bound
    # K_j has to leave room for them (K_j >= number of such tasks).
    rng = np.random.default_rng(5)
    for trial in range(30):
        n, m = int(rng.integers(2, 10)), int(rng.integers(1, 4))
        problem = _instance(rng, n, m, equal=True, all_available=True)
        stuck = int(rng.integers(1, n + 1)) if trial % 3 else n
        local = rng.uniform(0.6e9, 1.1e9, n)
        local[:stuck] = 1.3e9  # 2.2 W > Pmax = 1.5 W
        fmax = rng.uniform(3e8, 3e9, m)  # scarce CPU: few units pay for themselves
        problem = SlotProblem(problem.gains, problem.data_bits, problem.cycles, local, fmax,
                              ModelParams())
        assert not problem.local_feasible[:stuck].any()
        ex, flow = exhaustive(problem), min_cost_flow(problem)
        assert math.isfinite(ex.cost)
        assert flow.cost == pytest.approx(ex.cost, rel=1e-12, abs=0)
        assert (flow.placement[:stuck] > 0).all()


def test_exhaustive_equals_naive_product_loop():
    rng = np.random.default_rng(2)
    for trial in range(16):
        n, m = int(rng.integers(1, 6)), int(rng.integers(1, 3))
        problem = _instance(rng, n, m, equal=trial % 2 == 0)
        best, arg = _naive(problem)
        ex = exhaustive(problem)
        if math.isinf(best):
            assert math.isinf(ex.cost)
            continue
        assert ex.cost == pytest.approx(best, rel=1e-12, abs=0)
        assert problem.cost(ex.placement) == pytest.approx(best, rel=1e-12, abs=0)
        assert ex.lower_bound == ex.cost and ex.method == "exhaustive"


def test_local_search_bounds_the_exhaustive_optimum():
    rng = np.random.default_rng(77)
    hits = 0
    for _ in range(25):
        n, m = int(rng.integers(3, 9)), int(rng.integers(1, 4))
        problem = _instance(rng, n, m, equal=False)
        assert not equal_cycles(problem)
        opt = exhaustive(problem).cost
        ls = local_search(problem, starts=4, rng=np.random.default_rng(0))
        assert ls.method == "local_search"
        assert ls.lower_bound <= opt * (1 + 1e-12)
        assert opt <= ls.cost * (1 + 1e-12)
        assert ls.cost == pytest.approx(problem.cost(ls.placement), rel=1e-15)
        if ls.exact:
            assert ls.cost == pytest.approx(opt, rel=1e-12)
        hits += ls.cost <= opt * (1 + 1e-12)
        _, bound = relaxation_bound(problem)
        assert bound <= opt * (1 + 1e-12)
    assert hits >= 20  # the local search mostly finds the optimum on small instances


def test_local_search_on_equal_cycles_is_bounded_by_the_flow_optimum():
    rng = np.random.default_rng(8)
    problem = _instance(rng, 200, 5, equal=True, all_available=True)
    flow = min_cost_flow(problem)
    ls = local_search(problem, starts=2)
    assert ls.lower_bound <= flow.cost * (1 + 1e-12) <= ls.cost * (1 + 1e-12)
    assert ls.cost <= flow.cost * 1.05


def test_descend_leaves_an_infeasible_start():
    # Task 0 cannot run locally (1.728 W > Pmax) and MEC 2 is down: from "all local" the
    # descent must still move task 0 to a MEC (inf - inf must not stop it).
    rng = np.random.default_rng(1)
    n = 6
    local = np.full(n, 1e9)
    local[0] = 1.2e9
    problem = SlotProblem(rng.uniform(1e-7, 1e-5, (n, 3)), rng.uniform(4e5, 1e6, n),
                          rng.uniform(5e8, 2e9, n), local, [2e9, 3e9, 4e9],
                          available=[True, False, True])
    placement = descend(problem, np.zeros(n, dtype=np.int64))
    assert math.isfinite(problem.cost(placement))
    assert placement[0] in (1, 3)
    assert problem.cost(placement) <= exhaustive(problem).cost * 1.2


def test_solve_optimum_picks_the_method():
    rng = np.random.default_rng(4)
    # tiny, equal cycles, 3^5 <= SMALL_EXHAUSTIVE: enumerated (no scipy), as the flow finds
    tiny_equal = _instance(rng, 5, 2, equal=True, all_available=True)
    res = solve_optimum(tiny_equal)
    assert (res.method, res.exact) == ("exhaustive", True)
    assert res.cost == pytest.approx(_naive(tiny_equal)[0], rel=1e-12)
    assert res.cost == pytest.approx(min_cost_flow(tiny_equal).cost, rel=1e-12)
    # small, unequal cycles: exhaustive
    small = _instance(rng, 6, 2, equal=False, all_available=True)
    res = solve_optimum(small)
    assert (res.method, res.exact) == ("exhaustive", True)
    assert res.cost == res.lower_bound == pytest.approx(_naive(small)[0], rel=1e-12)
    # equal cycles, (M+1)^N above the limit: min-cost flow, exact
    big_equal = _instance(rng, 14, 3, equal=True, all_available=True)
    assert 4.0**14 > 2e6
    res = solve_optimum(big_equal)
    assert (res.method, res.exact) == ("min_cost_flow", True)
    assert res.lower_bound == res.cost
    # forced past the limit on a small instance, the flow still equals the enumeration
    mid = _instance(rng, 7, 3, equal=True, all_available=True)
    forced = solve_optimum(mid, exhaustive_limit=10)
    assert forced.method == "min_cost_flow"
    assert forced.cost == pytest.approx(exhaustive(mid).cost, rel=1e-12)
    # unequal cycles above the limit: local search, with a bound, exact only if they meet
    big = _instance(rng, 14, 3, equal=False, all_available=True)
    res = solve_optimum(big)
    assert res.method == "local_search"
    assert res.lower_bound <= res.cost
    assert res.exact == (res.cost - res.lower_bound <= 1e-12 * res.cost)
    small_unequal = _instance(rng, 7, 3, equal=False, all_available=True)
    forced = solve_optimum(small_unequal, exhaustive_limit=10)
    assert forced.method == "local_search"
    opt = exhaustive(small_unequal).cost
    assert forced.lower_bound <= opt * (1 + 1e-12) <= forced.cost * (1 + 1e-12)
    # equal cycles above SMALL_EXHAUSTIVE (4^6 > 1024): the flow, even below the limit
    small_equal = _instance(rng, 6, 3, equal=True, all_available=True)
    assert (solve_optimum(small_equal).method, 4**6 > SMALL_EXHAUSTIVE) == \
        ("min_cost_flow", True)


def test_solve_optimum_counts_only_available_mecs():
    rng = np.random.default_rng(6)
    problem = _instance(rng, 12, 5, equal=False, all_available=True)
    problem = SlotProblem(problem.gains, problem.data_bits, problem.cycles,
                          problem.local_cpu_hz, problem.mec_cpu_hz, problem.params,
                          [False, True, False, False, False])
    res = solve_optimum(problem)  # 2^12 placements over {local, MEC 2}
    assert (res.method, res.exact) == ("exhaustive", True)
    assert set(res.placement.tolist()) <= {0, 2}
    # all MECs down: everything local
    down = SlotProblem(problem.gains, problem.data_bits, problem.cycles, 1e9,
                       problem.mec_cpu_hz, ModelParams(), np.zeros(5, bool))
    res = solve_optimum(down)
    np.testing.assert_array_equal(res.placement, 0)
    assert res.cost == pytest.approx(down.local.cost.sum(), rel=1e-12)


def test_solve_optimum_empty_slot():
    problem = SlotProblem(np.zeros((0, 3)), [], [], 1e9, [1e9, 2e9, 3e9])
    res = solve_optimum(problem)
    assert res.placement.shape == (0,)
    assert (res.cost, res.lower_bound, res.exact) == (0.0, 0.0, True)
    assert problem.batch_cost(np.zeros((4, 0), dtype=np.int64)).tolist() == [0.0] * 4


def test_min_cost_flow_refuses_unequal_cycles():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="equal cycles"):
        min_cost_flow(_instance(rng, 4, 2, equal=False))


def _large(n, m, seed=0):
    from mecsim.testing import random_network, random_observation

    rng = np.random.default_rng(seed)
    problem = random_observation(rng, n, m, network=random_network(rng, n, m)).problem
    assert np.ptp(problem.cycles) > 0  # unequal cycles: the local search, not the flow
    return problem


def test_batch_descent_reaches_a_single_move_local_optimum():
    """descend_batch (n >= BATCH_TASKS): never above its start, and no single move helps."""
    from mecsim.model.optimum import descend_batch

    problem = _large(1200, 8)
    rng = np.random.default_rng(1)
    start = rng.integers(0, 9, problem.n_tasks)
    start[~np.isfinite(problem.cost_table[np.arange(problem.n_tasks), start])] = 0
    done = descend_batch(problem, start)
    assert problem.cost(done) < problem.cost(start)
    np.testing.assert_array_equal(descend(problem, done, max_moves=1), done)


@pytest.mark.parametrize(("n", "m", "budget"), [(300, 20, 10.0), (10_000, 100, 2.0)])
def test_time_budget_bounds_the_search_at_size(n, m, budget):
    """No overflow at size and, at 10,000 x 100, the budget is kept with a labelled bound
    (before: one slot's local search had not finished after 150 s)."""
    problem = _large(n, m)
    _ = problem.cost_table  # built before the clock starts, as the engine does
    cpu, started = time.process_time(), time.perf_counter()
    result = solve_optimum(problem, rng=np.random.default_rng(0), time_budget_s=budget)
    took = time.perf_counter() - started
    cpu = time.process_time() - cpu
    assert took < budget + 1.0
    assert np.isfinite(result.lower_bound) and result.lower_bound <= result.cost
    assert result.cost == pytest.approx(problem.cost(result.placement))
    # What a wall-clock budget buys depends on the CPU it gets: on a loaded machine (other
    # processes took more than a fifth of the core) the gap is not checked. At 10,000 x 100
    # it is 8.6e-5 with the whole core (2.1e-3 with a 0.5-s budget).
    if cpu >= 0.8 * took:
        assert result.cost / result.lower_bound - 1 < 0.05
    if n == 10_000:
        assert result.method == "local_search_budget" and not result.exact


def test_optimal_checks_its_time_budget():
    from schedulers.optimal import TIME_BUDGET_S, Optimal

    assert Optimal().params["time_budget_s"] == TIME_BUDGET_S == 9.0
    assert Optimal(time_budget_s=None).params["time_budget_s"] is None
    for bad in (0, -1.0, True, "fast"):
        with pytest.raises(ValueError, match="time_budget_s"):
            Optimal(time_budget_s=bad)
