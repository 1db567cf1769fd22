"""The closed-form resource allocation (spec section 4) against scipy.optimize.

Each closed form must reach the optimum a general-purpose optimiser finds, to 1e-6 relative
in the cost, on at least 200 random instances, and scipy must never beat it by more.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize, minimize_scalar

from mecsim.model import (
    SlotProblem,
    check_decision,
    cpu_split,
    mec_cpu_cost,
    optimal_power,
)
from mecsim.params import ModelParams

TOL = 1e-6
N_INSTANCES = 240


# --------------------------------------------------------------------------- power


def _upload_cost(p, gamma, phi_t, phi_e, d_bits, b_hz):
    """(phi_T + phi_E p) D / (B log2(1 + p gamma)), with log1p for tiny SNR."""
    return (phi_t + phi_e * p) * d_bits * math.log(2.0) / (b_hz * math.log1p(p * gamma))


def _scipy_power_cost(gamma, phi_t, phi_e, pmax, d_bits, b_hz):
    """Best cost scipy finds over (0, Pmax], searched in log p (Brent, bounded)."""
    hi = math.log(pmax)
    lo = hi - 70.0  # p down to Pmax e^-70
    res = minimize_scalar(lambda u: _upload_cost(math.exp(u), gamma, phi_t, phi_e, d_bits, b_hz),
                          bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-11, "maxiter": 2000})
    assert res.success, res.message
    # Brent never evaluates the bound itself; the cap is an admissible point too
    return min(float(res.fun), _upload_cost(pmax, gamma, phi_t, phi_e, d_bits, b_hz))


def _compare_power(gamma, phi_t, phi_e, pmax, d_bits=8e5, b_hz=1e6, n0=1e-12):
    noise = n0 * b_hz
    gain = gamma * noise
    p = float(optimal_power(gain, noise, phi_t, phi_e, pmax))
    assert 0.0 < p <= pmax
    closed = _upload_cost(p, gamma, phi_t, phi_e, d_bits, b_hz)
    best = _scipy_power_cost(gamma, phi_t, phi_e, pmax, d_bits, b_hz)
    # the closed form is at most 1e-6 worse, and scipy is not better by more than that
    assert closed <= best * (1 + TOL), (gamma, phi_t, phi_e, pmax, p, closed, best)
    assert abs(closed - best) <= TOL * best
    return p


def _random_power_instance(rng):
    gamma = 10 ** rng.uniform(-7, 9)  # SNR per watt [1/W]
    pmax = 10 ** rng.uniform(-3, 4)
    phi_t = 10 ** rng.uniform(-3, 3)
    phi_e = 0.0 if rng.random() < 0.15 else 10 ** rng.uniform(-3, 3)
    d_bits = 10 ** rng.uniform(3, 8)
    b_hz = 10 ** rng.uniform(4, 8)
    n0 = 10 ** rng.uniform(-15, -9)
    return gamma, phi_t, phi_e, pmax, d_bits, b_hz, n0


def test_power_matches_scipy_on_random_instances():
    rng = np.random.default_rng(20240601)
    binding = interior = 0
    for _ in range(N_INSTANCES):
        gamma, phi_t, phi_e, pmax, d_bits, b_hz, n0 = _random_power_instance(rng)
        p = _compare_power(gamma, phi_t, phi_e, pmax, d_bits, b_hz, n0)
        if p == pmax:
            binding += 1
        else:
            interior += 1
    # the sample exercises both regimes
    assert binding >= 30 and interior >= 30


@pytest.mark.parametrize("gamma", [1e-6, 1e-3, 1.0, 10.0, 1e3, 1e6])
@pytest.mark.parametrize("pmax", [1e-3, 1.5, 1e6])
@pytest.mark.parametrize(("phi_t", "phi_e"), [(1.0, 1.0), (1.0, 0.0), (1e-3, 1.0), (1.0, 1e-3)])
def test_power_edge_cases(gamma, pmax, phi_t, phi_e):
    # tiny (1e-6 /W) and huge (1e6 /W) SNR, a binding and a loose Pmax, phi_E = 0
    p = _compare_power(gamma, phi_t, phi_e, pmax)
    if phi_e == 0:
        assert p == pmax


def test_power_regimes():
    noise = 1e-6
    # tiny SNR with the default Pmax: the cap binds (p* ~ sqrt(2 / gamma) ~ 1414 W)
    assert optimal_power(1e-6 * noise, noise, 1.0, 1.0, 1.5) == 1.5
    p = optimal_power(1e-6 * noise, noise, 1.0, 1.0, 1e6)
    assert p == pytest.approx(math.sqrt(2.0 / 1e-6), rel=1e-3)  # series of the stationarity
    # huge SNR: a small power suffices
    assert 0.0 < optimal_power(1e6 * noise, noise, 1.0, 1.0, 1.5) < 0.1
    # zero gain: nothing to optimise, Pmax (the link is unusable anyway)
    assert optimal_power(0.0, noise, 1.0, 1.0, 1.5) == 1.5
    # phi_E = 0: Pmax everywhere
    np.testing.assert_array_equal(optimal_power([1e-9, 1e-3], noise, 1.0, 0.0, 0.7), [0.7, 0.7])


def test_power_vectorised_matches_elementwise():
    rng = np.random.default_rng(3)
    gains = 10 ** rng.uniform(-14, -2, (7, 4))
    gains[2, 1] = 0.0
    batch = optimal_power(gains, 1e-6, 1.0, 2.0, 0.8)
    assert batch.shape == (7, 4)
    for idx in np.ndindex(gains.shape):
        assert batch[idx] == optimal_power(gains[idx], 1e-6, 1.0, 2.0, 0.8)


def test_power_does_not_depend_on_data_size():
    gains = np.array([[1e-5], [1e-5]])
    problem = SlotProblem(gains, [1e5, 3e6], [1e9, 1e9], 1e9, [1e10])
    assert problem.tx_power_w[0, 0] == problem.tx_power_w[1, 0]
    assert problem.cost_table[1, 1] == pytest.approx(30 * problem.cost_table[0, 1], rel=1e-13)


# --------------------------------------------------------------------------- CPU split


def _scipy_split_cost(cycles, fmax, phi_t):
    """Minimise phi_T sum F_i / f_i s.t. sum f_i <= Fmax with SLSQP, in shares s = f / Fmax."""
    k = cycles.size
    if k == 0:
        return 0.0
    w = cycles / cycles.sum()
    scale = phi_t * cycles.sum() / fmax

    def objective(s):
        return float(np.sum(w / s))

    def gradient(s):
        return -w / s**2

    best = math.inf
    for x0 in (np.full(k, 1.0 / k), w.copy()):
        res = minimize(objective, x0, jac=gradient, method="SLSQP",
                       bounds=[(1e-12, 1.0)] * k,
                       constraints=[{"type": "ineq", "fun": lambda s: 1.0 - s.sum(),
                                     "jac": lambda s: -np.ones_like(s)}],
                       options={"ftol": 1e-16, "maxiter": 2000})
        assert res.x.sum() <= 1.0 + 1e-9  # scipy's answer is feasible
        best = min(best, scale * objective(res.x))
    return best


def _closed_split_cost(placement, cycles, fmax, phi_t):
    f = cpu_split(placement, cycles, fmax)
    off = placement > 0
    assert (f[off] > 0).all() and (f[~off] == 0).all()
    per_mec = np.bincount(placement, weights=np.where(off, cycles / np.where(off, f, 1.0), 0.0),
                          minlength=fmax.size + 1)[1:]
    load = np.bincount(placement, weights=f, minlength=fmax.size + 1)[1:]
    assert (load <= fmax * (1 + 1e-12)).all()  # constraint 6
    return phi_t * per_mec


def test_cpu_split_matches_slsqp_on_random_instances():
    rng = np.random.default_rng(7)
    for _ in range(N_INSTANCES):
        m = int(rng.integers(1, 4))
        n = int(rng.integers(1, 9))
        placement = rng.integers(0, m + 1, n)
        cycles = 10 ** rng.uniform(8, 10.5, n)  # unequal F_i
        fmax = 10 ** rng.uniform(9, 11, m)  # unequal Fmax across MECs
        phi_t = 10 ** rng.uniform(-1, 1)
        closed = _closed_split_cost(placement, cycles, fmax, phi_t)
        formula = mec_cpu_cost(placement, cycles, fmax, phi_t)
        np.testing.assert_allclose(closed, formula, rtol=1e-12)
        for j in range(m):
            mine = cycles[placement == j + 1]
            best = _scipy_split_cost(mine, fmax[j], phi_t)
            if mine.size == 0:
                assert formula[j] == 0.0 and best == 0.0
                continue
            assert formula[j] <= best * (1 + TOL)
            assert abs(formula[j] - best) <= TOL * best, (mine, fmax[j], formula[j], best)


def test_cpu_split_single_mec_many_tasks_against_slsqp():
    rng = np.random.default_rng(11)
    for k in range(1, 9):
        cycles = 10 ** rng.uniform(8, 10.5, k)
        placement = np.ones(k, dtype=np.int64)
        formula = mec_cpu_cost(placement, cycles, [2.5e10], 1.7)[0]
        best = _scipy_split_cost(cycles, 2.5e10, 1.7)
        assert abs(formula - best) <= TOL * best
        # the closed form itself: phi_T (sum sqrt F)^2 / Fmax
        assert formula == pytest.approx(1.7 * np.sqrt(cycles).sum() ** 2 / 2.5e10, rel=1e-13)


def test_cpu_split_by_hand_unequal_cycles():
    # F = 1e9 and 4e9 share 3e9 Hz in proportion sqrt(F): 1e9 and 2e9 Hz, 1 s + 2 s
    f = cpu_split([1, 1], [1e9, 4e9], [3e9])
    np.testing.assert_allclose(f, [1e9, 2e9], rtol=1e-14)
    assert mec_cpu_cost([1, 1], [1e9, 4e9], [3e9], 1.0)[0] == pytest.approx(3.0, rel=1e-14)
    # the split beats the equal split (1.5e9 each: 1/1.5 + 4/1.5 = 3.33 s)
    assert 1e9 / 1.5e9 + 4e9 / 1.5e9 > 3.0


def test_cpu_split_empty_mec():
    f = cpu_split([1, 0, 1], [1e9, 2e9, 4e9], [3e9, 7e9])
    assert f[1] == 0.0
    assert f[0] + f[2] == pytest.approx(3e9, rel=1e-14)
    cost = mec_cpu_cost([1, 0, 1], [1e9, 2e9, 4e9], [3e9, 7e9], 1.0)
    assert cost[1] == 0.0
    assert cost[0] == pytest.approx(9e9 / 3e9, rel=1e-14)
    # all local: nothing at any MEC
    np.testing.assert_array_equal(cpu_split([0, 0], [1e9, 1e9], [1e9, 1e9]), [0.0, 0.0])
    np.testing.assert_array_equal(mec_cpu_cost([0, 0], [1e9, 1e9], [1e9, 1e9], 1.0), [0, 0])
    # no tasks at all
    assert cpu_split(np.zeros(0, dtype=np.int64), np.zeros(0), [1e9]).shape == (0,)
    np.testing.assert_array_equal(mec_cpu_cost([], [], [1e9, 2e9], 1.0), [0.0, 0.0])


def test_cpu_split_single_task_gets_all_of_fmax():
    f = cpu_split([2], [3.7e9], [1e9, 4.2e10])
    assert f[0] == pytest.approx(4.2e10, rel=1e-15)
    assert mec_cpu_cost([2], [3.7e9], [1e9, 4.2e10], 2.0)[1] == pytest.approx(2 * 3.7e9 / 4.2e10)


def test_cpu_split_unequal_fmax_across_mecs():
    cycles = [1e9, 2e9, 1e9, 2e9]
    placement = np.array([1, 1, 2, 2])
    fmax = np.array([1e10, 4e10])
    f = cpu_split(placement, cycles, fmax)
    # same tasks, 4x the capacity: 4x the shares and a quarter of the cost
    np.testing.assert_allclose(f[2:], 4 * f[:2], rtol=1e-14)
    cost = mec_cpu_cost(placement, cycles, fmax, 1.0)
    assert cost[1] == pytest.approx(cost[0] / 4, rel=1e-14)
    assert f[:2].sum() == pytest.approx(1e10, rel=1e-14)
    assert f[2:].sum() == pytest.approx(4e10, rel=1e-14)


def test_unequal_cycles_and_data_in_a_slot():
    gains = np.full((3, 2), 1e-5)
    data = np.array([2e5, 8e5, 1.6e6])
    cycles = np.array([1e9, 4e9, 9e9])
    problem = SlotProblem(gains, data, cycles, 1e9, [6e9, 1.2e10])
    alloc = problem.allocate([1, 1, 2])
    np.testing.assert_allclose(alloc.cpu_hz, [2e9, 4e9, 1.2e10], rtol=1e-14)
    ev = problem.evaluate([1, 1, 2])
    upload = data / alloc.rate_bps
    np.testing.assert_allclose(ev.latency_s, upload + cycles / alloc.cpu_hz, rtol=1e-13)
    assert check_decision(problem, [1, 1, 2], alloc.cpu_hz, alloc.tx_power_w) == []


def test_local_power_above_pmax_is_infeasible():
    # kappa f0^nu = 1e-27 (1.2e9)^3 = 1.728 W > Pmax = 1.5 W for task 1
    problem = SlotProblem(np.full((3, 1), 1e-6), [8e5] * 3, [1e9] * 3, [1e9, 1.2e9, 0.9e9],
                          [5e10])
    np.testing.assert_array_equal(problem.local_feasible, [True, False, True])
    assert problem.cost_table[1, 0] == math.inf
    assert np.isfinite(problem.cost_table[[0, 2], 0]).all()
    assert problem.cost([0, 0, 0]) == math.inf
    assert math.isfinite(problem.cost([0, 1, 0]))
    msgs = check_decision(problem, [0, 0, 0])
    assert len(msgs) == 1
    assert "tasks 1 run locally" in msgs[0] and "1.728" in msgs[0] and "Pmax" in msgs[0]
    assert check_decision(problem, [0, 1, 0]) == []
    alloc = problem.allocate([0, 1, 0])
    assert check_decision(problem, [0, 1, 0], alloc.cpu_hz, alloc.tx_power_w) == []


def test_local_power_exactly_pmax_is_feasible():
    problem = SlotProblem([[1e-6]], [8e5], [1e9], 1e9, [5e10], ModelParams(max_power_w=1.0))
    assert problem.local_feasible[0]
    assert problem.cost([0]) == pytest.approx(2.0)
    assert check_decision(problem, [0]) == []


def test_phi_e_zero_slot_transmits_at_pmax():
    params = ModelParams(phi_e=0.0, max_power_w=1.2)
    problem = SlotProblem(10 ** np.linspace(-9, -4, 6).reshape(3, 2), [8e5] * 3, [1e9] * 3,
                          1e9, [1e10, 2e10], params)
    np.testing.assert_array_equal(problem.tx_power_w, 1.2)
    # cost is latency only: local = 1 s
    np.testing.assert_allclose(problem.cost_table[:, 0], 1.0)


def _stationarity(t: float) -> float:
    """(1+t) ln(1+t) - t, by its series for small t (no cancellation)."""
    if t < 0.05:
        return sum((-1) ** k * t**k / (k * (k - 1)) for k in range(2, 40))
    return (1 + t) * math.log1p(t) - t


def _root(x: float) -> float:
    lo, hi = 0.0, max(1.0, 2 * math.sqrt(2 * x))
    while _stationarity(hi) < x:
        hi *= 2
    for _ in range(400):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if _stationarity(mid) < x else (lo, mid)
    return 0.5 * (lo + hi)


@pytest.mark.parametrize("x", np.logspace(-14, 12, 53).tolist())
def test_power_is_the_stationary_point_to_high_accuracy(x):
    # p* gamma solves (1+t) ln(1+t) - t = phi_T gamma / phi_E; the Newton polish keeps it
    # accurate near the Lambert-W branch point (tiny x) as well as for huge x
    noise, gamma = 1e-6, 1e-3 * x  # phi_T / phi_E = 1000
    p = float(optimal_power(gamma * noise, noise, 1.0, 1e-3, 1e300))
    assert p * gamma == pytest.approx(_root(x), rel=1e-8)
