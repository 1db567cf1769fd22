"""The Lévy flight search of DIRS (spec section 6, paper Algorithm 4)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mecsim.model import SlotProblem, solve_optimum
from mecsim.model.optimum import exhaustive
from mecsim.params import ModelParams
from schedulers.dirs.levy import (
    LevyResult,
    channel_ratio,
    classic_threshold,
    levy_search,
    levy_steps,
    levy_trials,
    mantegna_sigma,
    sweep_start,
)

# -- instances -----------------------------------------------------------------------------


def _gains(rng, n: int, m: int) -> np.ndarray:
    """Devices and MECs uniform in a 50 m square, Rayleigh fading, beta0 = 1e-3."""
    dev = rng.uniform(0, 50, (n, 2))
    mec = rng.uniform(0, 50, (m, 2))
    d = np.linalg.norm(dev[:, None, :] - mec[None, :, :], axis=2)
    return 1e-3 * rng.exponential(1.0, (n, m)) / np.maximum(d, 1.0) ** 2


def _paper(rng, n: int = 30, m: int = 2) -> SlotProblem:
    """The paper's setting: D = 8e5 bit, F = 1e9 cycles, f0 = 1 GHz, Fmax = 50 GHz."""
    return SlotProblem(_gains(rng, n, m), np.full(n, 8e5), np.full(n, 1e9), 1e9,
                       np.full(m, 50e9))


def _varied(rng, n: int, m: int, *, hard: bool = False) -> SlotProblem:
    """Unequal tasks and scarce, unequal MECs; ``hard`` adds failed MECs, zero gains and
    tasks that cannot run locally (local power above Pmax for f0 > 1.145 GHz)."""
    gains = _gains(rng, n, m)
    local = rng.uniform(0.6e9, 1.1e9, n)
    available = None
    if hard:
        gains[rng.random((n, m)) < 0.1] = 0.0
        local = rng.uniform(0.6e9, 1.3e9, n)
        available = rng.random(m) < 0.7
    return SlotProblem(gains, 10 ** rng.uniform(5, 6.5, n), 10 ** rng.uniform(8.5, 9.7, n),
                       local, 10 ** rng.uniform(9, 10.3, m), ModelParams(), available)


def _options(problem: SlotProblem) -> np.ndarray:
    return np.concatenate(([0], np.flatnonzero(problem.available) + 1))


def _reference(problem: SlotProblem, start, seed, *, beta=1.5, iterations=100, th=0.5,
               mode="proposed"):
    """Algorithm 4 task by task and iteration by iteration, with the module's choices."""
    rng = np.random.default_rng(seed)
    n, m = problem.gains.shape
    options = _options(problem)
    steps = levy_steps(rng, beta, (iterations, n))
    picks = rng.integers(0, options.size, (iterations, n))
    usable = [j for j in range(m) if problem.available[j]]
    x = [int(v) for v in start]
    cost = problem.cost(np.array(x))
    fitness = [cost]
    for g in range(1, iterations + 1):
        gamma = 2 - 2 * g / (iterations + 1)
        w = [gamma * abs(steps[g - 1, i]) for i in range(n)]
        mutant = list(x)
        for i in range(n):
            if mode == "classic":
                r = 1 / (len(usable) + 1)
            else:
                total = sum(problem.gains[i, j] for j in usable)
                on = x[i] > 0 and problem.available[x[i] - 1] and total > 0
                r = problem.gains[i, x[i] - 1] / total if on else 0.0
            if w[i] > r:
                mutant[i] = int(options[picks[g - 1, i]])
        trial = [mutant[i] if w[i] > th else x[i] for i in range(n)]
        if mutant != x and trial == x:
            i = max((i for i in range(n) if mutant[i] != x[i]), key=lambda i: w[i])
            trial[i] = mutant[i]
        c = problem.cost(np.array(trial))
        if c < cost:
            x, cost = trial, c
        fitness.append(cost)
    return np.array(x), cost, np.array(fitness)


# -- Mantegna steps ------------------------------------------------------------------------


def _formula(beta: float) -> float:
    num = math.gamma(1 + beta) * math.sin(math.pi * beta / 2)
    den = math.gamma((1 + beta) / 2) * beta * 2 ** ((beta - 1) / 2)
    return (num / den) ** (1 / beta)


def test_mantegna_sigma_matches_the_paper_value_and_the_formula():
    assert mantegna_sigma(1.5) == pytest.approx(0.6966, abs=1e-3)
    assert mantegna_sigma(1.0) == pytest.approx(1.0, rel=1e-12)  # Cauchy: u / |v|, u ~ N(0,1)
    for beta in (0.3, 0.5, 1.0, 1.2, 1.5, 1.8, 1.99):
        assert mantegna_sigma(beta) == pytest.approx(_formula(beta), rel=1e-12)
    assert mantegna_sigma(2.0) == 0.0  # sin(pi) = 0: the ratio degenerates at beta = 2


@pytest.mark.parametrize("beta", [0, -1.0, 2.0001, 3, float("nan"), float("inf"), True, "1.5"])
def test_mantegna_rejects_beta_out_of_range(beta):
    with pytest.raises(ValueError, match="beta"):
        mantegna_sigma(beta)
    with pytest.raises(ValueError, match="beta"):
        levy_steps(np.random.default_rng(0), beta, 10)


def _tail_slope(d: np.ndarray) -> float:
    """Slope of log P(|d| > x) against log x over the upper quantiles 1e-2 .. 1e-4."""
    probs = np.array([1e-2, 3e-3, 1e-3, 3e-4, 1e-4])
    xs = np.quantile(np.abs(d), 1 - probs)
    return float(np.polyfit(np.log(xs), np.log(probs), 1)[0])


@pytest.mark.parametrize("beta", [1.0, 1.5, 1.8])
def test_levy_steps_have_a_power_law_tail(beta):
    d = levy_steps(np.random.default_rng(7), beta, 1_000_000)
    assert d.shape == (1_000_000,)
    assert _tail_slope(d) == pytest.approx(-beta, abs=0.15)
    assert abs(np.mean(d > 0) - 0.5) < 0.005  # symmetric


def test_levy_steps_carry_far_more_mass_far_out_than_a_gaussian():
    rng = np.random.default_rng(3)
    heavy = np.abs(levy_steps(rng, 1.5, 1_000_000))
    thin = np.abs(levy_steps(rng, 2.0, 1_000_000))  # Gaussian limit, N(0, 2)
    assert np.sqrt(np.mean(thin**2)) == pytest.approx(math.sqrt(2), rel=0.01)
    assert _tail_slope(thin) < -5
    # ten medians out: a Gaussian has P ~ 1e-11 there, Mantegna beta = 1.5 about 2.5 %
    assert np.mean(heavy > 10 * np.median(heavy)) > 0.015
    assert np.count_nonzero(thin > 10 * np.median(thin)) == 0
    # five standard deviations of the Gaussian: P ~ 6e-7 for it
    assert np.count_nonzero(thin > 5 * math.sqrt(2)) <= 5
    assert np.mean(heavy > 5 * math.sqrt(2)) > 0.01


# -- the rule of one iteration -------------------------------------------------------------


def test_channel_ratio_local_and_failed_mecs_have_ratio_zero():
    gains = np.array([[1.0, 3.0, 4.0], [0.0, 0.0, 2.0], [5.0, 5.0, 0.0], [1.0, 1.0, 1.0]])
    problem = SlotProblem(gains, np.full(4, 8e5), np.full(4, 1e9), 1e9, np.full(3, 5e10),
                          available=[True, True, False])
    ratio = channel_ratio(problem)
    expected = np.array([[0, 0.25, 0.75, 0], [0, 0, 0, 0], [0, 0.5, 0.5, 0], [0, 0.5, 0.5, 0]])
    np.testing.assert_allclose(ratio, expected)
    assert classic_threshold(problem) == pytest.approx(1 / 3)
    problem = SlotProblem(gains, np.full(4, 8e5), np.full(4, 1e9), 1e9, np.full(3, 5e10))
    assert classic_threshold(problem) == pytest.approx(1 / 4)


def test_trials_use_the_step_magnitude_and_one_shared_step():
    x = np.array([1, 1, 1, 2, 0])
    choices = np.array([[0, 2, 1, 0, 2]])
    ratio = np.array([0.3, 0.3, 0.3, 0.9, 0.0])
    # entry 0: |d| large, negative -> changes; entry 1: positive -> changes; entry 2: the
    # choice equals x; entry 3: above th but below its ratio -> no mutation; entry 4:
    # mutates (ratio 0) but is below th -> the crossover keeps x
    steps = np.array([[-2.0, 2.0, 2.0, -0.8, 0.2]])
    trial = levy_trials(x, steps, [1.0], choices, ratio, 0.5)
    np.testing.assert_array_equal(trial, [[0, 2, 1, 2, 0]])
    # gamma scales the step: at gamma = 0.2 no entry clears th, but the mutant differs
    # from x (entries 0, 1 and 4 mutate), so the one with the largest weighted step moves
    trial = levy_trials(x, steps, [0.2], choices, ratio, 0.5)
    np.testing.assert_array_equal(trial, [[0, 1, 1, 2, 0]])
    # a scalar ratio (classic): entry 3 now mutates too
    trial = levy_trials(x, steps, [1.0], choices, 0.5, 0.5)
    np.testing.assert_array_equal(trial, [[0, 2, 1, 0, 0]])
    # no mutation at all: the trial is x
    trial = levy_trials(x, steps, [0.01], choices, np.ones(5), 0.5)
    np.testing.assert_array_equal(trial, [x])


@pytest.mark.parametrize("mode", ["proposed", "classic"])
@pytest.mark.parametrize("seed", range(6))
def test_search_equals_the_sequential_algorithm(mode, seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(3, 25)), int(rng.integers(1, 5))
    problem = _varied(rng, n, m, hard=seed % 2 == 1)
    start = rng.integers(0, m + 1, n)
    kw = dict(beta=float(rng.choice([0.8, 1.5, 1.9])), iterations=int(rng.integers(1, 150)),
              th=float(rng.choice([0.0, 0.5, 1.0])), mode=mode)
    placement, cost, fitness = _reference(problem, start, seed, **kw)
    result = levy_search(problem, start, rng=np.random.default_rng(seed), **kw)
    np.testing.assert_array_equal(result.placement, placement)
    np.testing.assert_allclose(result.fitness, fitness, rtol=1e-12)
    assert result.cost == pytest.approx(cost, rel=1e-12)


# -- the search ----------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 12), m=st.integers(1, 4),
       iterations=st.integers(1, 60), beta=st.sampled_from([0.5, 1.0, 1.5, 2.0]),
       th=st.sampled_from([0.0, 0.5, 2.0]), mode=st.sampled_from(["proposed", "classic"]))
def test_search_never_worsens_and_reports_a_consistent_fitness(seed, n, m, iterations, beta,
                                                               th, mode):
    rng = np.random.default_rng(seed)
    problem = _varied(rng, n, m, hard=True)
    start = rng.integers(0, m + 1, n)
    start_cost = problem.cost(start)
    result = levy_search(problem, start, rng=rng, beta=beta, iterations=iterations, th=th,
                         mode=mode)
    assert isinstance(result, LevyResult)
    assert result.placement.dtype == np.int64 and result.placement.shape == (n,)
    assert result.fitness.shape == (iterations + 1,)
    assert result.fitness[0] == start_cost
    assert np.all(result.fitness[1:] <= result.fitness[:-1])
    assert result.cost == problem.cost(result.placement) == result.fitness[-1]
    assert result.cost <= start_cost
    if math.isfinite(start_cost):  # feasible start: no infeasible choice is ever kept
        assert math.isfinite(result.cost)
        assert np.all(np.isin(result.placement, _options(problem)))
        assert np.all(problem.cost_table[np.arange(n), result.placement] < np.inf)


def test_search_never_tries_a_failed_mec_and_leaves_an_infeasible_start():
    rng = np.random.default_rng(11)
    problem = _varied(rng, 12, 4)
    problem.available[:] = [True, False, True, False]
    tried = []
    batch = problem.batch_cost

    def spy(placements):
        tried.append(np.array(placements))
        return batch(placements)

    problem.batch_cost = spy
    start = rng.integers(0, 5, 12)
    start[:3] = 2  # on a failed MEC: infeasible
    assert problem.cost(start) == np.inf
    result = levy_search(problem, start, rng=rng, iterations=200)
    assert math.isfinite(result.cost)
    assert not np.isin(result.placement, [2, 4]).any()
    trials = np.concatenate(tried)
    moved = trials != start
    assert moved.any()
    assert not np.isin(trials[moved], [2, 4]).any()  # new entries are never failed MECs


def test_tasks_that_cannot_run_locally_stay_offloaded():
    rng = np.random.default_rng(5)
    n = 10
    local = np.where(np.arange(n) < 5, 1.3e9, 0.8e9)  # the first five exceed Pmax locally
    problem = SlotProblem(_gains(rng, n, 2), np.full(n, 8e5), np.full(n, 1e9), local,
                          [2e9, 2e9])
    assert np.all(np.isinf(problem.cost_table[:5, 0]))
    result = levy_search(problem, np.ones(n, dtype=np.int64), rng=rng, iterations=300)
    assert np.all(result.placement[:5] > 0)
    assert result.cost < problem.cost(np.ones(n, dtype=np.int64))


def test_search_reaches_the_exhaustive_optimum_on_small_instances():
    hits = 0
    for seed in range(30):
        rng = np.random.default_rng([2024, seed])
        n, m = int(rng.integers(3, 7)), int(rng.integers(1, 3))
        problem = _varied(rng, n, m)
        best = exhaustive(problem).cost
        result = levy_search(problem, rng.integers(0, m + 1, n), rng=rng, iterations=500)
        assert result.cost >= best * (1 - 1e-12)
        hits += result.cost <= best * (1 + 1e-9)
    assert hits >= 27, f"reached the optimum in {hits} of 30 instances"


def test_proposed_beats_classic_on_paper_like_instances():
    proposed, classic = [], []
    for seed in range(30):
        rng = np.random.default_rng([7, seed])
        problem = _paper(rng)
        start = rng.integers(0, 3, 30)
        for mode, out in (("proposed", proposed), ("classic", classic)):
            result = levy_search(problem, start, rng=np.random.default_rng([7, seed, 1]),
                                 iterations=100, mode=mode)
            out.append(result.cost)
    proposed, classic = np.array(proposed), np.array(classic)
    # measured: 40.4 against 43.8 (optimum 36.3), proposed ahead in 28 of 30
    assert proposed.mean() <= 0.97 * classic.mean()
    assert np.mean(proposed < classic) >= 0.7


def test_search_improves_a_random_start_a_lot():
    rng = np.random.default_rng(9)
    problem = _paper(rng)
    start = rng.integers(0, 3, 30)
    result = levy_search(problem, start, rng=rng, iterations=100)
    best = solve_optimum(problem)
    assert best.exact
    assert result.cost <= 1.1 * best.cost < 0.7 * problem.cost(start)
    assert np.count_nonzero(np.diff(result.fitness)) >= 5


def test_search_is_reproducible_with_the_same_seed():
    problem = _paper(np.random.default_rng(1))
    start = np.random.default_rng(2).integers(0, 3, 30)
    a = levy_search(problem, start, rng=np.random.default_rng(42))
    b = levy_search(problem, start, rng=np.random.default_rng(42))
    c = levy_search(problem, start, rng=np.random.default_rng(43))
    np.testing.assert_array_equal(a.placement, b.placement)
    np.testing.assert_array_equal(a.fitness, b.fitness)
    assert a.cost == b.cost
    assert not np.array_equal(a.fitness, c.fitness)


def test_search_does_not_modify_the_start():
    problem = _paper(np.random.default_rng(1))
    start = np.random.default_rng(2).integers(0, 3, 30)
    before = start.copy()
    result = levy_search(problem, start, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(start, before)
    assert result.placement is not start


def test_search_on_an_empty_slot():
    problem = SlotProblem(np.zeros((0, 2)), np.zeros(0) + 1, np.zeros(0) + 1, 1e9, [1e9, 1e9])
    result = levy_search(problem, np.zeros(0, dtype=np.int64), rng=np.random.default_rng(0),
                         iterations=5)
    assert result.placement.shape == (0,)
    assert result.cost == 0.0
    np.testing.assert_array_equal(result.fitness, np.zeros(6))


@pytest.mark.parametrize("kwargs, name", [
    (dict(iterations=0), "iterations"),
    (dict(iterations=-3), "iterations"),
    (dict(iterations=2.5), "iterations"),
    (dict(iterations=True), "iterations"),
    (dict(beta=0.0), "beta"),
    (dict(beta=2.5), "beta"),
    (dict(th=-0.1), "th"),
    (dict(th=float("nan")), "th"),
    (dict(mode="levy"), "mode"),
    (dict(rng=np.random.RandomState(0)), "rng"),
    (dict(start=np.zeros(3, dtype=np.int64)), "start"),
    (dict(start=np.full(4, 3)), "start"),
    (dict(start=np.full(4, -1)), "start"),
    (dict(start=np.full(4, 0.5)), "start"),
    (dict(start=np.zeros(4, dtype=bool)), "start"),
])
def test_search_validates_its_arguments(kwargs, name):
    problem = _paper(np.random.default_rng(0), n=4)
    args = dict(start=np.zeros(4, dtype=np.int64), rng=np.random.default_rng(0))
    args.update(kwargs)
    start = args.pop("start")
    with pytest.raises(ValueError, match=name):
        levy_search(problem, start, **args)


def test_search_accepts_integral_floats_and_numpy_integers():
    problem = _paper(np.random.default_rng(0), n=4)
    result = levy_search(problem, np.array([0.0, 1.0, 2.0, 1.0]), rng=np.random.default_rng(0),
                         iterations=np.int64(3), th=1, beta=np.float32(1.5))
    assert result.fitness.shape == (4,)


# -- warm start of the demonstrations -----------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_sweep_start_is_the_best_of_its_family(seed):
    # brute force over "offload the k largest standalone savings to their cheapest MEC"
    rng = np.random.default_rng(seed)
    problem = _varied(rng, 12, 3)
    table = problem.cost_table
    best_mec = 1 + np.argmin(table[:, 1:], axis=1)
    order = np.argsort(-(table[:, 0] - table[np.arange(12), best_mec]), kind="stable")
    family = []
    for k in range(13):
        a = np.zeros(12, dtype=np.int64)
        a[order[:k]] = best_mec[order[:k]]
        family.append(problem.cost(a))
    got = sweep_start(problem)
    assert problem.cost(got) == pytest.approx(min(family), rel=1e-12)
    assert problem.cost(got) <= problem.cost(np.zeros(12, dtype=np.int64))


def test_sweep_start_prices_the_contention():
    # 100 paper-like tasks, 2 MECs: offloading everything alone-optimally is far from
    # optimal (the MEC CPUs are shared); the warm start is close to the optimum.
    problem = _paper(np.random.default_rng(3), n=100, m=2)
    table = problem.cost_table
    everyone = 1 + np.argmin(table[:, 1:], axis=1)
    best = solve_optimum(problem).cost
    assert problem.cost(everyone) > 1.3 * best
    assert problem.cost(sweep_start(problem)) < 1.1 * best
