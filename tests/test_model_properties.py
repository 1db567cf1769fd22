"""Properties of the slot model that must hold on every instance (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mecsim.model import SlotProblem, check_decision, mec_cpu_cost
from mecsim.params import ModelParams

SETTINGS = settings(max_examples=150, deadline=None)


@st.composite
def slots(draw, max_tasks: int = 7, max_mecs: int = 4):
    """A random slot: sizes, channel and capacities drawn around the spec's defaults."""
    n = draw(st.integers(1, max_tasks))
    m = draw(st.integers(1, max_mecs))
    seed = draw(st.integers(0, 2**32 - 1))
    pmax = draw(st.sampled_from([0.05, 0.5, 1.5, 10.0]))
    phi_t = draw(st.sampled_from([0.1, 1.0, 5.0]))
    phi_e = draw(st.sampled_from([0.0, 0.2, 1.0, 10.0]))
    rng = np.random.default_rng(seed)
    gains = 10 ** rng.uniform(-10, -3, (n, m))
    data = 10 ** rng.uniform(4, 7, n)
    cycles = 10 ** rng.uniform(8, 10, n)
    local = 10 ** rng.uniform(8, 9.2, n)  # some local powers exceed a small Pmax
    fmax = 10 ** rng.uniform(9, 11, m)
    available = rng.random(m) < 0.8
    params = ModelParams(max_power_w=pmax, phi_t=phi_t, phi_e=phi_e)
    problem = SlotProblem(gains, data, cycles, local, fmax, params, available)
    return problem, rng


def _feasible_placement(problem: SlotProblem, rng, k: int | None = None) -> np.ndarray:
    """Random placement(s) over each task's feasible choices; -1 rows where a task has none."""
    ok = np.isfinite(problem.cost_table)
    shape = (problem.n_tasks,) if k is None else (k, problem.n_tasks)
    scores = rng.random(shape + (problem.n_mecs + 1,))
    return np.argmax(np.where(ok, scores + 1.0, 0.0), axis=-1).astype(np.int64)


def _all_feasible(problem: SlotProblem) -> bool:
    return bool(np.isfinite(problem.cost_table).any(axis=1).all())


@SETTINGS
@given(slots())
def test_allocation_is_always_feasible(drawn):
    problem, rng = drawn
    if not _all_feasible(problem):
        return
    for _ in range(5):
        a = _feasible_placement(problem, rng)
        alloc = problem.allocate(a)
        assert check_decision(problem, a, alloc.cpu_hz, alloc.tx_power_w) == []
        off = a > 0
        assert (alloc.tx_power_w[off] > 0).all()
        assert (alloc.tx_power_w <= problem.params.max_power_w).all()
        assert (alloc.cpu_hz[~off] == 0).all() and (alloc.tx_power_w[~off] == 0).all()
        assert np.isfinite(problem.cost(a))


@SETTINGS
@given(slots())
def test_exact_allocation_beats_perturbed_ones(drawn):
    # any other feasible allocation of the same placement costs at least as much
    problem, rng = drawn
    if not _all_feasible(problem):
        return
    a = _feasible_placement(problem, rng)
    exact = problem.allocate(a)
    best = problem.evaluate(a).cost.sum()
    for _ in range(5):
        cpu = exact.cpu_hz * rng.uniform(0.3, 1.0, a.size)  # shrinking keeps constraint 6
        power = np.minimum(exact.tx_power_w * rng.uniform(0.2, 3.0, a.size),
                           problem.params.max_power_w)
        other = exact._replace(cpu_hz=cpu, tx_power_w=power)
        assert check_decision(problem, a, cpu, power) == []
        assert problem.evaluate(a, other).cost.sum() >= best * (1 - 1e-12)


@SETTINGS
@given(slots(), st.data())
def test_adding_a_task_never_lowers_a_mecs_cost(drawn, data):
    problem, rng = drawn
    if not _all_feasible(problem):
        return
    a = _feasible_placement(problem, rng)
    i = data.draw(st.integers(0, problem.n_tasks - 1))
    choices = [j for j in range(1, problem.n_mecs + 1)
               if j != a[i] and np.isfinite(problem.cost_table[i, j])]
    if not choices:
        return
    j = data.draw(st.sampled_from(choices))
    b = a.copy()
    b[i] = j
    before = mec_cpu_cost(a, problem.cycles, problem.mec_cpu_hz, problem.params.phi_t)
    after = mec_cpu_cost(b, problem.cycles, problem.mec_cpu_hz, problem.params.phi_t)
    assert after[j - 1] >= before[j - 1]
    assert after[j - 1] > before[j - 1]  # strictly: every task needs CPU time
    # the slot's cost at MEC j: every task already there pays at least as much, and the
    # MEC's total (uploads + computing) grows
    cost_a, cost_b = problem.evaluate(a).cost, problem.evaluate(b).cost
    there = np.flatnonzero(a == j)
    assert (cost_b[there] >= cost_a[there] * (1 - 1e-12)).all()
    assert cost_b[b == j].sum() >= cost_a[a == j].sum()


def _permuted(problem: SlotProblem, perm: np.ndarray) -> SlotProblem:
    return SlotProblem(problem.gains[perm], problem.data_bits[perm], problem.cycles[perm],
                       problem.local_cpu_hz[perm], problem.mec_cpu_hz, problem.params,
                       problem.available)


@SETTINGS
@given(slots(), st.data())
def test_cost_does_not_depend_on_device_order(drawn, data):
    problem, rng = drawn
    perm = np.array(data.draw(st.permutations(range(problem.n_tasks))), dtype=np.int64)
    other = _permuted(problem, perm)
    np.testing.assert_array_equal(other.cost_table, problem.cost_table[perm])
    placements = rng.integers(0, problem.n_mecs + 1, (6, problem.n_tasks))
    np.testing.assert_allclose(other.batch_cost(placements[:, perm]),
                               problem.batch_cost(placements), rtol=1e-12)
    for a in placements:
        np.testing.assert_allclose(other.cost(a[perm]), problem.cost(a), rtol=1e-12)
        for mine, theirs in zip(other.allocate(a[perm]), problem.allocate(a), strict=True):
            np.testing.assert_allclose(mine, theirs[perm], rtol=1e-12)


@SETTINGS
@given(slots())
def test_batch_cost_equals_sum_of_evaluate(drawn):
    problem, rng = drawn
    if not _all_feasible(problem):
        return
    placements = _feasible_placement(problem, rng, k=8)
    batch = problem.batch_cost(placements)
    for a, cost in zip(placements, batch, strict=True):
        parts = problem.evaluate(a)
        assert np.isfinite(cost)
        np.testing.assert_allclose(cost, parts.cost.sum(), rtol=1e-11)
        p = problem.params
        np.testing.assert_allclose(parts.cost, p.phi_t * parts.latency_s
                                   + p.phi_e * parts.energy_j, rtol=1e-14)


@SETTINGS
@given(slots(), st.integers(1, 40))
def test_batch_cost_of_k_equals_k_single_costs(drawn, k):
    problem, rng = drawn
    placements = rng.integers(0, problem.n_mecs + 1, (k, problem.n_tasks))
    batch = problem.batch_cost(placements)
    assert batch.shape == (k,)
    single = np.array([problem.cost(a) for a in placements])
    finite = np.isfinite(single)
    np.testing.assert_array_equal(np.isfinite(batch), finite)
    np.testing.assert_allclose(batch[finite], single[finite], rtol=1e-13)
    # a placement with an infeasible choice (down MEC, local power over Pmax) costs inf
    table = problem.cost_table
    infeasible = ~np.isfinite(table[np.arange(problem.n_tasks), placements]).all(axis=1)
    np.testing.assert_array_equal(~finite, infeasible)
