"""Realized figures: hand-computed rows, quantiles, and a real run read back from its files."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from mecsim.engine.realized import COMPLETED, DROPPED, FIGURES, IN_FLIGHT, RealizedStats
from mecsim.engine.runner import run_scenario

REL = 6e-4  # the latency histogram's accuracy (half a bin: 0.058 %)


def _stats() -> RealizedStats:
    """phi_T = 2, phi_E = 0.5; rows fed in two calls, one of them empty."""
    stats = RealizedStats(phi_t=2.0, phi_e=0.5)
    stats.add(np.array([COMPLETED, DROPPED, COMPLETED], dtype=np.int8),
              np.array([1.0, 3.0, 2.0]), np.array([0.2, 1.0, 0.4]))
    stats.add(np.array([], dtype=np.int8), np.array([]), np.array([]))
    stats.add(np.array([IN_FLIGHT, COMPLETED, IN_FLIGHT], dtype=np.int8),
              np.array([10.0, 4.0, 6.0]), np.array([0.5, 0.6, np.nan]))
    return stats


def test_summary_of_hand_computed_rows():
    s = _stats().summary()
    assert list(s) == list(FIGURES)
    # completed: latency 1, 2, 4 s; energy 0.2, 0.4, 0.6 J -> cost 2*7 + 0.5*1.2 = 14.6
    assert s["realized_cost_per_task"] == pytest.approx(14.6 / 3)
    assert s["mean_realized_latency_s"] == pytest.approx(7 / 3)
    assert s["mean_realized_energy_j"] == pytest.approx(0.4)
    # in flight: ages 10 and 6 s, energy 0.5 J and none yet (NaN counts as 0):
    # 2*16 + 0.5*0.5 = 32.25; the dropped row (3 s, 1 J) is in neither
    assert s["realized_cost_lower_bound"] == pytest.approx((14.6 + 32.25) / 5)
    assert s["in_flight_mean_age_s"] == pytest.approx(8.0)
    assert s["drop_rate"] == pytest.approx(1 / 6)
    assert s["in_flight_share"] == pytest.approx(2 / 6)
    # quantiles of 1, 2, 4 (inverse CDF): p50 is the 2nd smallest, p95 and p99 the 3rd
    assert s["latency_p50_s"] == pytest.approx(2.0, rel=REL)
    assert s["latency_p95_s"] == pytest.approx(4.0, rel=REL)
    assert s["latency_p99_s"] == pytest.approx(4.0, rel=REL)
    assert all(isinstance(v, float) for v in s.values())


def test_no_rows_gives_nan_and_only_drops_give_a_drop_rate():
    empty = RealizedStats(1.0, 1.0).summary()
    assert all(np.isnan(v) for v in empty.values())
    stats = RealizedStats(1.0, 1.0)
    stats.add(np.array([DROPPED, DROPPED]), np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    s = stats.summary()
    assert s["drop_rate"] == 1.0 and s["in_flight_share"] == 0.0
    assert np.isnan(s["realized_cost_per_task"]) and np.isnan(s["realized_cost_lower_bound"])


def test_quantiles_match_the_inverse_cdf_over_decades():
    rng = np.random.default_rng(0)
    latency = 10.0 ** rng.uniform(-3, 3, 5001)
    stats = RealizedStats(1.0, 1.0)
    for part in np.array_split(latency, 7):
        stats.add(np.zeros(part.size, dtype=np.int8), part, np.zeros(part.size))
    for q in (0.01, 0.5, 0.95, 0.99, 1.0):
        expect = np.quantile(latency, q, method="inverted_cdf")
        assert stats.quantile(q) == pytest.approx(expect, rel=REL), q


def test_extreme_latencies_are_clamped_without_warnings():
    stats = RealizedStats(1.0, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stats.add(np.zeros(3, dtype=np.int8), np.array([0.0, 1e-9, 1e9]), np.zeros(3))
    assert stats.quantile(0.0) == pytest.approx(1e-6, rel=REL)
    assert stats.quantile(1.0) == pytest.approx(1e7, rel=REL)


def test_a_real_run_agrees_with_its_tasks_file(tiny, tmp_path):
    """Overloaded local CPUs (3e9 cycles at 1 GHz each second): many tasks in flight."""
    scenario = tiny("slots=30", "tasks.cycles=3e9", "schedulers=[local, greedy, optimal]")
    run_scenario(scenario, tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())["schedulers"]
    tasks = pd.read_parquet(tmp_path / "tasks.parquet")
    phi_t, phi_e = scenario.weights.latency_per_s, scenario.weights.energy_per_j
    for label, s in summary.items():
        rows = tasks[tasks["scheduler"] == label]
        cost = phi_t * rows["realized_latency_s"] + phi_e * rows["realized_energy_j"]
        done = rows["status"] == "completed"
        flying = rows["status"] == "in_flight"
        assert s["realized_cost_per_task"] == pytest.approx(cost[done].mean())
        assert s["realized_cost_lower_bound"] == pytest.approx(cost[done | flying].mean())
        # an in-flight row's latency is its age at the end of the run
        age = scenario.slots * scenario.slot_s - rows.loc[flying, "arrival_s"]
        np.testing.assert_allclose(rows.loc[flying, "realized_latency_s"], age)
        assert s["in_flight_share"] == pytest.approx(flying.mean())
        assert s["drop_rate"] == pytest.approx((rows["status"] == "dropped").mean())
        if flying.any():
            assert s["in_flight_mean_age_s"] == pytest.approx(age.mean())
        latency = rows.loc[done, "realized_latency_s"]
        for q in (50, 95, 99):
            expect = np.quantile(latency, q / 100, method="inverted_cdf")
            assert s[f"latency_p{q}_s"] == pytest.approx(expect, rel=REL)
    assert summary["local"]["in_flight_share"] > 0.5
    # each realized ratio is the scheduler's figure over optimal's, as written
    base = summary["optimal"]
    for s in summary.values():
        ratios = s["realized_ratio_to_optimal"]
        assert set(ratios) == set(FIGURES)
        for key in FIGURES:
            if base[key]:
                assert ratios[key] == pytest.approx(s[key] / base[key], rel=1e-12), key
            else:
                assert ratios[key] is None, key
    assert summary["local"]["realized_ratio_to_optimal"]["realized_cost_per_task"] > 1.0
