"""Channel, rate and per-task cost against values computed by hand (spec sections 2, 3, 7).

The reference numbers are computed here with :mod:`math` from the spec's formulas, never by
calling the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mecsim.model import (
    SlotProblem,
    channel_gain,
    check_decision,
    local_cost,
    offload_cost,
    optimal_power,
    rate_bps,
    snr,
)
from mecsim.params import LOCAL_CPU_HZ, MEC_CPU_HZ, TASK_CYCLES, TASK_DATA_BITS, ModelParams

REL = 1e-9

# The hand example: one device, one MEC, known SNR.
D = 8e5  # [bit]
F = 1e9  # [cycle]
B = 1e6  # [Hz]
N0 = 1e-12  # [W/Hz]
H = 1e-5  # [-] channel gain
NOISE = N0 * B  # 1e-6 W
GAMMA = H / NOISE  # 10 per W
FMAX = 1e10  # [cycle/s], the lone task gets all of it


def _solve_t(x: float) -> float:
    """Root of (1+t) ln(1+t) - t = x by bisection (the stationarity condition, t = p gamma)."""
    lo, hi = 0.0, 1.0
    while (1 + hi) * math.log1p(hi) - hi < x:
        hi *= 2
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if (1 + mid) * math.log1p(mid) - mid < x:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _hand(p: float, phi_t: float = 1.0, phi_e: float = 1.0):
    rate = B * math.log2(1 + p * GAMMA)
    upload = D / rate
    latency = upload + F / FMAX
    energy = p * upload
    return rate, latency, energy, phi_t * latency + phi_e * energy


def _problem(pmax: float, phi_t: float = 1.0, phi_e: float = 1.0) -> SlotProblem:
    params = ModelParams(bandwidth_hz=B, noise_psd_w_per_hz=N0, max_power_w=pmax,
                         phi_t=phi_t, phi_e=phi_e)
    return SlotProblem([[H]], [D], [F], LOCAL_CPU_HZ, [FMAX], params)


def test_hand_example_constants():
    assert NOISE == pytest.approx(1e-6, rel=1e-15)
    assert GAMMA == pytest.approx(10.0, rel=1e-15)
    assert snr(H, NOISE) == pytest.approx(10.0, rel=1e-15)
    assert ModelParams(bandwidth_hz=B, noise_psd_w_per_hz=N0).noise_w == pytest.approx(1e-6)


@pytest.mark.parametrize(("phi_t", "phi_e"), [(1.0, 1.0), (2.0, 0.5)])
def test_hand_example_large_pmax(phi_t, phi_e):
    x = phi_t * GAMMA / phi_e
    t = _solve_t(x)
    p_star = t / GAMMA
    # the stationary point is a minimum of the cost over p
    cost_at = lambda p: (phi_t + phi_e * p) * D / (B * math.log2(1 + p * GAMMA))  # noqa: E731
    assert cost_at(p_star) < cost_at(p_star * 1.01)
    assert cost_at(p_star) < cost_at(p_star * 0.99)
    # and agrees with the spec's Lambert-W form, evaluated independently by Newton on w e^w = z
    z = (x - 1) / math.e
    w = math.log1p(z)
    for _ in range(100):
        w -= (w * math.exp(w) - z) / (math.exp(w) * (1 + w))
    assert (math.exp(1 + w) - 1) / GAMMA == pytest.approx(p_star, rel=1e-12)

    pmax = 100.0
    assert p_star < pmax
    rate, latency, energy, cost = _hand(p_star, phi_t, phi_e)
    problem = _problem(pmax, phi_t, phi_e)
    assert problem.tx_power_w[0, 0] == pytest.approx(p_star, rel=REL)
    assert problem.rate_bps[0, 0] == pytest.approx(rate, rel=REL)
    parts = problem.evaluate([1])
    assert parts.latency_s[0] == pytest.approx(latency, rel=REL)
    assert parts.energy_j[0] == pytest.approx(energy, rel=REL)
    assert parts.cost[0] == pytest.approx(cost, rel=REL)
    assert problem.cost([1]) == pytest.approx(cost, rel=REL)
    assert problem.cost_table[0, 1] == pytest.approx(cost - phi_t * F / FMAX, rel=REL)
    alloc = problem.allocate([1])
    assert alloc.cpu_hz[0] == pytest.approx(FMAX, rel=1e-15)
    assert alloc.tx_power_w[0] == pytest.approx(p_star, rel=REL)
    assert alloc.rate_bps[0] == pytest.approx(rate, rel=REL)
    assert optimal_power(H, NOISE, phi_t, phi_e, pmax) == pytest.approx(p_star, rel=REL)


def test_hand_example_x10_numbers():
    # x = phi_T gamma / phi_E = 10: (1+t) ln(1+t) - t = 10 has t = 7.2... (a sanity anchor)
    t = _solve_t(10.0)
    assert 7.0 < t < 7.5
    assert (1 + t) * math.log(1 + t) - t == pytest.approx(10.0, rel=1e-13)
    assert _problem(100.0).tx_power_w[0, 0] == pytest.approx(t / 10.0, rel=REL)


def test_hand_example_small_pmax_binds():
    pmax = 0.1  # far below p* ~ 0.72 W: the cap binds, p = Pmax, p gamma = 1
    rate, latency, energy, cost = _hand(pmax)
    assert rate == pytest.approx(1e6, rel=1e-15)  # B log2(1 + 1)
    assert latency == pytest.approx(0.8 + 0.1, rel=1e-15)
    assert energy == pytest.approx(0.08, rel=1e-15)
    problem = _problem(pmax)
    assert problem.tx_power_w[0, 0] == pmax
    assert problem.rate_bps[0, 0] == pytest.approx(rate, rel=REL)
    parts = problem.evaluate([1])
    assert parts.latency_s[0] == pytest.approx(latency, rel=REL)
    assert parts.energy_j[0] == pytest.approx(energy, rel=REL)
    assert parts.cost[0] == pytest.approx(cost, rel=REL)
    assert problem.cost([1]) == pytest.approx(0.98, rel=REL)
    assert check_decision(problem, [1], [FMAX], [pmax]) == []


def test_hand_example_phi_e_zero_uses_pmax():
    problem = _problem(0.3, phi_t=1.0, phi_e=0.0)
    assert problem.tx_power_w[0, 0] == 0.3
    _, latency, _, _ = _hand(0.3)
    assert problem.cost([1]) == pytest.approx(latency, rel=REL)


def test_local_cost_defaults():
    params = ModelParams()
    parts = local_cost(TASK_CYCLES, LOCAL_CPU_HZ, params.kappa, params.nu, params.phi_t,
                       params.phi_e)
    assert parts.latency_s == pytest.approx(1.0, rel=1e-12)  # 1e9 / 1e9
    assert parts.energy_j == pytest.approx(1.0, rel=1e-12)  # 1e-27 * (1e9)^3 * 1 s
    assert parts.cost == pytest.approx(2.0, rel=1e-12)
    problem = SlotProblem([[1e-6]], [TASK_DATA_BITS], [TASK_CYCLES], LOCAL_CPU_HZ, [MEC_CPU_HZ])
    assert problem.cost([0]) == pytest.approx(2.0, rel=1e-12)
    assert problem.cost_table[0, 0] == pytest.approx(2.0, rel=1e-12)
    ev = problem.evaluate([0])
    assert (ev.latency_s[0], ev.energy_j[0], ev.cost[0]) == pytest.approx((1.0, 1.0, 2.0))


def test_local_cost_other_values():
    # F = 3e9 cycles on f0 = 2e9 Hz, kappa = 1e-28, nu = 2.5: T = 1.5 s, P = 1e-28 (2e9)^2.5
    power = 1e-28 * (2e9) ** 2.5
    parts = local_cost([3e9], [2e9], 1e-28, 2.5, 0.7, 1.3)
    assert parts.latency_s[0] == pytest.approx(1.5, rel=1e-12)
    assert parts.energy_j[0] == pytest.approx(power * 1.5, rel=1e-12)
    assert parts.cost[0] == pytest.approx(0.7 * 1.5 + 1.3 * power * 1.5, rel=1e-12)


def test_offload_cost_by_hand():
    parts = offload_cost([8e5, 1.6e6], [1e9, 2e9], [2e6, 4e6], [0.5, 1.0], [1e10, 5e9], 2.0,
                         3.0)
    latency = np.array([8e5 / 2e6 + 1e9 / 1e10, 1.6e6 / 4e6 + 2e9 / 5e9])
    energy = np.array([0.5 * 0.4, 1.0 * 0.4])
    np.testing.assert_allclose(parts.latency_s, latency, rtol=1e-15)
    np.testing.assert_allclose(parts.energy_j, energy, rtol=1e-15)
    np.testing.assert_allclose(parts.cost, 2.0 * latency + 3.0 * energy, rtol=1e-15)
    assert parts._fields == ("latency_s", "energy_j", "cost")


def test_offload_cost_zero_rate_or_cpu_is_infinite_not_nan():
    with np.errstate(all="raise"):
        zero_rate = offload_cost(8e5, 1e9, 0.0, 0.0, 1e9, 1.0, 1.0)
        zero_cpu = offload_cost(8e5, 1e9, 1e6, 1.0, 0.0, 1.0, 1.0)
    assert np.isinf(zero_rate.cost) and np.isinf(zero_rate.latency_s)
    assert np.isinf(zero_cpu.cost) and zero_cpu.energy_j == pytest.approx(0.8)


def test_channel_gain_values():
    d = np.array([[10.0, 20.0], [5.0, 40.0]])
    fading = np.array([[0.5, 2.0], [1.0, 1.5]])
    g = channel_gain(d, fading, beta0=1e-3, d_min_m=1.0)
    assert g.shape == (2, 2)
    expected = [[1e-3 * 0.5 / 100, 1e-3 * 2.0 / 400], [1e-3 * 1.0 / 25, 1e-3 * 1.5 / 1600]]
    np.testing.assert_allclose(g, expected, rtol=1e-15)
    # the spec's defaults: beta0 = 1e-3 (-30 dB at 1 m), d_min = 1 m
    assert channel_gain(25.0, 1.0) == pytest.approx(1e-3 / 625, rel=1e-15)
    # fading broadcasts against the distances
    np.testing.assert_allclose(channel_gain([2.0, 4.0], 1.0, 2e-3), [5e-4, 1.25e-4], rtol=1e-15)


def test_channel_gain_d_min_floor():
    g = channel_gain([0.0, 0.3, 1.0, 2.0], 1.0, beta0=1e-3, d_min_m=1.0)
    np.testing.assert_allclose(g, [1e-3, 1e-3, 1e-3, 2.5e-4], rtol=1e-15)
    g = channel_gain([0.0, 1.5, 2.0, 3.0], 0.8, beta0=1e-3, d_min_m=2.0)
    np.testing.assert_allclose(g, [2e-4, 2e-4, 2e-4, 0.8e-3 / 9], rtol=1e-15)
    assert np.isfinite(channel_gain(0.0, 1.0)).all()


def test_rate_bps_values():
    assert rate_bps(1.0, 1e-5, 1e6, 1e-6) == pytest.approx(1e6 * math.log2(11.0), rel=1e-14)
    assert rate_bps(0.0, 1e-5, 1e6, 1e-6) == 0.0
    assert rate_bps(1.5, 0.0, 1e6, 1e-6) == 0.0
    # tiny SNR: log1p keeps the digits (B x / ln 2 to first order)
    x = 1e-13
    assert rate_bps(1.0, x * 1e-6, 1e6, 1e-6) == pytest.approx(1e6 * x / math.log(2), rel=1e-12)
    # vectorised over (N, M)
    p = np.array([[0.5], [1.0]])
    h = np.array([[1e-6, 2e-6, 4e-6], [1e-6, 2e-6, 4e-6]])
    r = rate_bps(p, h, 2e6, 2e-6)
    assert r.shape == (2, 3)
    np.testing.assert_allclose(r, 2e6 * np.log2(1 + p * h / 2e-6), rtol=1e-14)


def test_default_params_match_spec_section_7():
    p = ModelParams()
    assert (p.bandwidth_hz, p.noise_psd_w_per_hz, p.beta0, p.d_min_m) == (1e6, 1e-12, 1e-3, 1.0)
    assert (p.max_power_w, p.kappa, p.nu, p.phi_t, p.phi_e) == (1.5, 1e-27, 3.0, 1.0, 1.0)
    assert (TASK_DATA_BITS, TASK_CYCLES, LOCAL_CPU_HZ, MEC_CPU_HZ) == (8e5, 1e9, 1e9, 50e9)
    assert p.noise_w == pytest.approx(1e-6, rel=1e-15)


def test_slot_cost_by_hand_two_devices():
    # Two devices, one MEC, both offloaded: upload costs at p = Pmax (binding) plus the CPU
    # term phi_T (sqrt F1 + sqrt F2)^2 / Fmax, all computed here from the formulas.
    gains = np.array([[1e-5], [2e-5]])
    data = np.array([8e5, 4e5])
    cycles = np.array([1e9, 4e9])
    params = ModelParams(max_power_w=0.05)
    problem = SlotProblem(gains, data, cycles, 1e9, [3e9], params)
    total = 0.0
    for g, d in zip(gains[:, 0], data, strict=True):
        r = 1e6 * math.log2(1 + 0.05 * g / 1e-6)
        total += (1.0 + 0.05) * d / r
    total += (math.sqrt(1e9) + math.sqrt(4e9)) ** 2 / 3e9  # = 3 s of CPU latency
    assert problem.cost([1, 1]) == pytest.approx(total, rel=REL)
    # local execution at f0 = 1e9 needs 1 W > Pmax = 0.05 W: infeasible (constraint 7)
    assert problem.cost([0, 1]) == math.inf
    # at f0 = 3e8 Hz it needs 1e-27 (3e8)^3 = 0.027 W: one local, one offloaded alone
    slow = SlotProblem(gains, data, cycles, 3e8, [3e9], params)
    local_t = 1e9 / 3e8
    local = local_t + 1e-27 * 3e8**3 * local_t
    r2 = 1e6 * math.log2(1 + 0.05 * 2e-5 / 1e-6)
    alone = 1.05 * 4e5 / r2 + 4e9 / 3e9
    assert slow.cost([0, 1]) == pytest.approx(local + alone, rel=REL)
