"""Issue 14, item 4: a faster ``optimal`` that finds what the slower one found.

Lockstep descents follow the sequential ones move for move, the lean Frank-Wolfe gives the
plain one's bound, the local search is never worse than any of its starts' descents, the
proven-optimal exit skips only what cannot help, and small slots need no scipy.optimize.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mecsim.model import SlotProblem, solve_optimum
from mecsim.model.optimum import (
    SMALL_EXHAUSTIVE,
    descend,
    descend_lockstep,
    local_search,
    min_cost_flow,
    relaxation_bound,
    warm_start,
)
from mecsim.params import ModelParams
from mecsim.testing import random_network, random_observation

ROOT = Path(__file__).resolve().parent.parent


def _instance(rng, n: int, m: int, *, equal: bool = False, fmax=(1e9, 2e10)) -> SlotProblem:
    """A slot with congested, unequal MECs, some down, some tasks that cannot run locally."""
    dev, mec = rng.uniform(0, 50, (n, 2)), rng.uniform(0, 50, (m, 2))
    d = np.linalg.norm(dev[:, None, :] - mec[None, :, :], axis=2)
    gains = 1e-3 * rng.exponential(1.0, (n, m)) / np.maximum(d, 1.0) ** 2
    gains[rng.random((n, m)) < 0.05] = 0.0  # no link: an infeasible choice
    cycles = np.full(n, 1e9) if equal else 10 ** rng.uniform(8.5, 9.7, n)
    local = rng.uniform(0.6e9, 1.3e9, n)  # above 1.145e9 Hz: local power > Pmax
    available = rng.random(m) < 0.8
    available[0] = True
    return SlotProblem(gains, 10 ** rng.uniform(5, 6.5, n), cycles, local,
                       rng.uniform(*fmax, m), ModelParams(), available)


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": ""})


def test_importing_the_optimum_loads_no_scipy_optimize():
    done = _run("import mecsim.model.optimum, sys; assert 'scipy.optimize' not in sys.modules")
    assert done.returncode == 0, done.stderr


def test_a_tiny_equal_cycles_slot_is_solved_without_scipy_optimize():
    # tiny.yaml's shape: 6 tasks, 2 MECs, equal cycles (3^6 = 729 placements)
    done = _run(
        "import sys, numpy as np\n"
        "from mecsim.model import SlotProblem, solve_optimum\n"
        "rng = np.random.default_rng(0)\n"
        "p = SlotProblem(rng.uniform(1e-7, 1e-5, (6, 2)), np.full(6, 8e5), np.full(6, 1e9),"
        " 1e9, [1e10, 2e10])\n"
        "r = solve_optimum(p)\n"
        "assert r.exact and r.method == 'exhaustive', r\n"
        "assert 'scipy.optimize' not in sys.modules\n")
    assert done.returncode == 0, done.stderr


def test_small_slots_enumerated_equal_the_flows_optimum():
    """The old path (min-cost flow, scipy) and the new one (enumeration) agree."""
    rng = np.random.default_rng(31)
    enumerated = 0
    for _ in range(60):
        n, m = int(rng.integers(1, 7)), int(rng.integers(1, 4))
        problem = _instance(rng, n, m, equal=True, fmax=(1e9, 5e9))
        result = solve_optimum(problem)
        flow = min_cost_flow(problem)
        small = (1 + int(problem.available.sum())) ** n <= SMALL_EXHAUSTIVE
        assert result.method == ("exhaustive" if small else "min_cost_flow")
        enumerated += small
        if np.isfinite(flow.cost):
            assert result.cost == pytest.approx(flow.cost, rel=1e-12, abs=0)
        else:
            assert not np.isfinite(result.cost)
        assert result.exact and result.lower_bound == result.cost
    assert enumerated >= 40


@pytest.mark.parametrize("seed", range(6))
def test_lockstep_descents_follow_the_sequential_ones(seed):
    rng = np.random.default_rng(seed)
    problem = _instance(rng, int(rng.integers(5, 60)), int(rng.integers(1, 8)))
    n, width = problem.n_tasks, problem.n_mecs + 1
    starts = rng.integers(0, width, (7, n))
    starts[0] = np.argmin(problem.cost_table, axis=1)
    starts[1] = 0  # all local, infeasible for some tasks: they must move
    for cap in (None, 3):
        done = descend_lockstep(problem, starts, max_moves=cap)
        for start, row in zip(starts, done, strict=True):
            np.testing.assert_array_equal(row, descend(problem, start, max_moves=cap))


def _plain_frank_wolfe(problem: SlotProblem, iterations: int = 300):
    """Frank-Wolfe on the relaxation recomputing everything from ``x`` (the old code)."""
    table = problem.cost_table
    n = table.shape[0]
    allowed = np.isfinite(table)
    c = np.where(allowed, table, 0.0)
    root, weight = problem.sqrt_cycles, problem.cpu_weight
    x = allowed / allowed.sum(axis=1, keepdims=True)
    best = -np.inf
    for _ in range(iterations):
        sums = root @ x[:, 1:]
        value = float((c * x).sum() + weight @ sums**2)
        grad = c.copy()
        grad[:, 1:] += 2.0 * weight * sums * root[:, None]
        grad = np.where(allowed, grad, np.inf)
        target = np.argmin(grad, axis=1)
        gap = float((np.where(allowed, grad, 0.0) * x).sum() - grad[np.arange(n), target].sum())
        best = max(best, value - gap)
        if gap <= 1e-12 * max(abs(value), 1.0):
            break
        d = -x
        d[np.arange(n), target] += 1.0
        curve = float(weight @ (root @ d[:, 1:]) ** 2)
        x = x + (1.0 if curve <= 0 else min(1.0, gap / (2.0 * curve))) * d
    return x, best


@pytest.mark.parametrize("seed", range(5))
def test_the_lean_relaxation_gives_the_plain_bound_and_iterate(seed):
    rng = np.random.default_rng(100 + seed)
    problem = _instance(rng, int(rng.integers(10, 80)), int(rng.integers(2, 8)))
    x, bound = relaxation_bound(problem)
    x_ref, bound_ref = _plain_frank_wolfe(problem)
    assert bound == pytest.approx(bound_ref, rel=1e-10)
    np.testing.assert_allclose(x, x_ref, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(np.argmax(x, axis=1), np.argmax(x_ref, axis=1))
    # told a cost the bound reaches, it stops early with a bound that proves it
    _, early = _plain_frank_wolfe(problem, iterations=5)
    _, stopped = relaxation_bound(problem, stop_at=early)
    assert early * (1 - 1e-12) <= stopped < bound  # it stopped: later bounds are tighter


@pytest.mark.parametrize("seed", range(8))
def test_local_search_is_no_worse_than_any_of_its_starts(seed):
    rng = np.random.default_rng(200 + seed)
    problem = _instance(rng, int(rng.integers(15, 60)), int(rng.integers(2, 7)))
    result = local_search(problem, starts=4, rng=np.random.default_rng(seed))
    # the old search's starts, each descended on its own
    table = problem.cost_table
    options = np.concatenate(([0], np.flatnonzero(problem.available) + 1))
    draws = np.random.default_rng(seed)
    randoms = [options[draws.integers(0, options.size, problem.n_tasks)] for _ in range(4)]
    greedy = np.argmin(table, axis=1)
    starts = [greedy, np.argmax(relaxation_bound(problem)[0], axis=1),
              np.where(np.isfinite(table[:, 0]), 0, greedy), *randoms]
    best = min(problem.cost(descend(problem, s)) for s in starts)
    assert result.cost <= best * (1 + 1e-12)
    assert result.lower_bound <= result.cost
    assert result.cost == pytest.approx(problem.cost(result.placement), rel=1e-15)


def test_a_proven_optimum_skips_the_other_starts(monkeypatch):
    """Ample MEC CPUs: the relaxation is tight at the cheapest choices, so the search stops
    after its first round of descents with ``exact`` set."""
    import mecsim.model.optimum as optimum

    rng = np.random.default_rng(3)
    problem = _instance(rng, 40, 4, fmax=(1e15, 2e15))
    rounds = []
    real = optimum.descend_lockstep
    monkeypatch.setattr(optimum, "descend_lockstep",
                        lambda p, s, **kw: rounds.append(len(s)) or real(p, s, **kw))
    result = optimum.local_search(problem, starts=8)
    assert result.exact and result.method == "local_search"
    assert len(rounds) == 1 and rounds[0] <= 2
    assert result.cost == pytest.approx(problem.cost(np.argmin(problem.cost_table, axis=1)))
    # congested MECs: not proven, so the second round runs
    rounds.clear()
    assert not optimum.local_search(_instance(rng, 40, 4, fmax=(1e9, 3e9)), starts=8).exact
    assert len(rounds) == 2 and rounds[1] >= 8


def test_warm_start_keeps_feasible_entries_and_mends_the_rest():
    rng = np.random.default_rng(4)
    problem = _instance(rng, 30, 4)
    table = problem.cost_table
    warm = rng.integers(-1, 7, 30)  # -1: none; 5, 6: past M
    start = warm_start(problem, warm)
    rows = np.arange(30)
    assert np.isfinite(table[rows, start]).all()
    kept = (warm >= 0) & (warm <= 4)
    kept[kept] = np.isfinite(table[rows[kept], warm[kept]])
    np.testing.assert_array_equal(start[kept], warm[kept])
    np.testing.assert_array_equal(start[~kept], np.argmin(table[~kept], axis=1))


def test_optimal_warm_starts_from_each_iotds_last_placement(monkeypatch):
    import schedulers.optimal as module

    seen = []
    real = module.solve_optimum
    monkeypatch.setattr(module, "solve_optimum",
                        lambda p, **kw: seen.append(kw["warm"]) or real(p, **kw))
    rng = np.random.default_rng(5)
    net = random_network(rng, 12, 3)
    scheduler = module.Optimal()
    scheduler.reset(0, net)
    first = random_observation(rng, 10, 3, network=net, iotd=np.arange(10))
    placed = scheduler.decide(first).placement
    second = random_observation(rng, 4, 3, network=net, iotd=[9, 10, 0, 9])
    scheduler.decide(second)
    assert seen[0] is None
    np.testing.assert_array_equal(seen[1], [placed[9], -1, placed[0], placed[9]])
    scheduler.reset(1, net)
    scheduler.decide(second)
    assert seen[2] is None


def test_optimal_budget_counts_from_the_call_of_decide(monkeypatch):
    """What building the slot's problem took comes off the search's budget, so the whole
    decision keeps ``time_budget_s`` (10k x 100: a slot within 10 s, bench_scale.py)."""
    import time

    import schedulers.optimal as module

    budgets = []
    real_solve, real_failures = module.solve_optimum, module.with_failures

    def slow_failures(observation):
        time.sleep(0.3)
        return real_failures(observation)

    monkeypatch.setattr(module, "with_failures", slow_failures)
    monkeypatch.setattr(module, "solve_optimum",
                        lambda p, **kw: budgets.append(kw["time_budget_s"]) or real_solve(p, **kw))
    rng = np.random.default_rng(6)
    net = random_network(rng, 6, 2)
    for budget, expected in ((2.0, 1.7), (0.2, 0.0)):
        scheduler = module.Optimal(time_budget_s=budget)
        scheduler.reset(0, net)
        scheduler.decide(random_observation(rng, 6, 2, network=net, iotd=np.arange(6)))
        assert expected - 0.1 < budgets[-1] <= expected
    scheduler = module.Optimal(time_budget_s=None)
    scheduler.reset(0, net)
    scheduler.decide(random_observation(rng, 6, 2, network=net, iotd=np.arange(6)))
    assert budgets[-1] is None
