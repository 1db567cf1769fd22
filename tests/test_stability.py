"""Stability: the offered load, and the backlog-trend criterion on synthetic and real series."""

import json

import numpy as np
import pytest

from mecsim.engine.runner import run_scenario
from mecsim.engine.stability import MIN_POINTS, backlog_trend, load_line, offered_load

N = 600  # epochs of the synthetic series
CYCLES_PER_TASK = 1e9


def ar1(rng, phi: float, mean: float = 20.0, sd: float = 6.0, n: int = N) -> np.ndarray:
    """A stationary AR(1) backlog with the given mean and standard deviation (>= 0)."""
    x = np.empty(n)
    x[0] = mean + rng.normal(0.0, sd)
    noise = rng.normal(0.0, sd * np.sqrt(1 - phi**2), n)
    for i in range(1, n):
        x[i] = mean + phi * (x[i - 1] - mean) + noise[i]
    return np.maximum(x, 0.0)


def trend(tasks, cycles=None, slot_s: float = 1.0):
    tasks = np.asarray(tasks, dtype=float)
    cycles = tasks * CYCLES_PER_TASK if cycles is None else cycles
    return backlog_trend(np.arange(tasks.size) * slot_s, tasks, cycles)


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.8])
def test_stationary_noise_is_not_flagged(phi):
    rng = np.random.default_rng(11)
    flagged = [trend(ar1(rng, phi))["stable"] is False for _ in range(40)]
    assert not any(flagged)


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.8])
def test_a_ramp_in_the_same_noise_is_flagged(phi):
    """0.2 task per epoch: 60 tasks over the 300-epoch window, ten noise deviations."""
    rng = np.random.default_rng(12)
    for _ in range(40):
        t = trend(ar1(rng, phi) + 0.2 * np.arange(N))
        assert t["stable"] is False
        assert t["tasks_grows"] and t["tasks_slope_per_s"] == pytest.approx(0.2, rel=0.3)


def test_slopes_are_per_second_and_the_window_is_the_second_half():
    t = trend(3.0 * np.arange(40), slot_s=0.5)
    assert t["window_s"] == [10.0, 19.5]
    assert t["tasks_slope_per_s"] == pytest.approx(6.0)
    assert t["cycles_slope_per_s"] == pytest.approx(6.0 * CYCLES_PER_TASK)
    assert t["tasks_growth"] == pytest.approx(3.0 * 19)
    assert t["tasks_mean"] == pytest.approx(3.0 * np.mean(np.arange(20, 40)))
    assert t["stable"] is False


def test_constant_small_and_short_backlogs():
    assert trend(np.full(50, 7.0))["stable"] is True
    assert trend(np.zeros(50))["stable"] is True
    # from 0 to 1 task: a trend, but below the absolute minimum of growth
    assert trend(np.linspace(0.0, 1.0, 50))["stable"] is True
    # a ramp too short to judge
    short = trend(np.arange(2 * MIN_POINTS - 2, dtype=float))  # MIN_POINTS - 1 in the window
    assert short["stable"] is None and short["window_s"] is None
    assert trend(np.arange(2 * MIN_POINTS - 1, dtype=float))["stable"] is False


def test_cycles_alone_can_grow():
    """A constant number of tasks whose remaining work piles up."""
    tasks = np.full(60, 10.0)
    cycles = 10 * CYCLES_PER_TASK + 0.5 * CYCLES_PER_TASK * np.arange(60)
    t = trend(tasks, cycles)
    assert not t["tasks_grows"] and t["cycles_grows"] and t["stable"] is False


def test_offered_load(tiny):
    load = offered_load(tiny())  # 6 IoTDs, 1 task/s of 1e9 cycles; f0 1 GHz; 10 + 20 GHz
    assert load["local"] == pytest.approx(1.0)
    assert load["mec_pool"] == pytest.approx(6e9 / 30e9)
    assert load["all_cpus"] == pytest.approx(6e9 / 36e9)
    load = offered_load(tiny("slot_s=2", "tasks.arrival={process: bernoulli, probability: 0.5}",
                             "tasks.cycles={dist: uniform, low: 1e9, high: 3e9}"))
    assert load["tasks_per_s_per_iotd"] == pytest.approx(0.25)
    assert load["mean_task_cycles"] == pytest.approx(2e9)
    assert load["local"] == pytest.approx(0.5)
    assert load["mec_pool"] == pytest.approx(6 * 0.25 * 2e9 / 30e9)
    assert "local CPU 0.5" in load_line(load) and "overloaded" not in load_line(load)
    assert "no scheduler can keep up" in load_line(offered_load(tiny("tasks.cycles=9e9")))


def test_real_runs_overloaded_and_not(tiny, tmp_path):
    """Local CPUs at load 3 pile up under ``local``; the default tiny scenario does not."""
    schedulers = "schedulers=[local, greedy, optimal]"
    # 100 slots: over 40, greedy's backlog wanders with the devices' motion for long enough
    # to look like growth over the second half (the criterion's stated limit)
    run_scenario(tiny("slots=100", "tasks.cycles=3e9", schedulers), tmp_path / "heavy")
    run_scenario(tiny("slots=40", "tasks.arrival={process: poisson, rate_per_s: 0.8}",
                      schedulers), tmp_path / "light")
    heavy = json.loads((tmp_path / "heavy" / "summary.json").read_text())
    light = json.loads((tmp_path / "light" / "summary.json").read_text())
    assert heavy["load"]["local"] == pytest.approx(3.0)
    local = heavy["schedulers"]["local"]
    assert local["stable"] is False and local["backlog_trend"]["tasks_grows"]
    # each IoTD gets 1 task a second and serves 1/3: the backlog grows by 6 x 2/3 a second
    assert local["backlog_trend"]["tasks_slope_per_s"] == pytest.approx(6 * 2 / 3, rel=0.05)
    assert heavy["schedulers"]["optimal"]["stable"] is True
    assert heavy["schedulers"]["greedy"]["stable"] is True
    assert light["load"]["local"] == pytest.approx(0.8)
    for label, s in light["schedulers"].items():
        assert s["stable"] is True, label
        assert s["backlog_trend"]["window_s"] == [20.0, 39.0]
