"""The backlog-aware slot problem: its waits against the engine, and every solver on it."""

import itertools

import numpy as np
import pandas as pd
import pytest
from test_engine_truth import pin_gains

from mecsim.config import SchedulerSpec
from mecsim.engine.runner import run_scenario
from mecsim.model import SlotProblem, Waits, backlog_waits, drift_price, solve_optimum
from mecsim.model.optimum import exhaustive, local_search, min_cost_flow, unit_slots
from mecsim.params import ModelParams
from mecsim.scheduler import Decision, Observation, Scheduler


class Planned(Scheduler):
    """Applies ``plan[slot]`` (local elsewhere); records the backlog-aware model latency."""

    def __init__(self, plan):
        super().__init__()
        self.plan = plan
        self.predicted: dict[int, np.ndarray] = {}
        self.plain: dict[int, np.ndarray] = {}

    def decide(self, observation: Observation) -> Decision:
        a = np.asarray(self.plan.get(observation.slot, [0] * observation.n_tasks))
        self.predicted[observation.slot] = observation.backlog_problem().evaluate(a).latency_s
        self.plain[observation.slot] = observation.problem.evaluate(a).latency_s
        return Decision(a.astype(np.int64))


def run_plan(tiny, tmp_path, monkeypatch, plan, *overrides):
    pin_gains(monkeypatch, [1e-6] * 12)
    scenario = tiny("slots=10", "channel.fading.shadowing_std_db=0", *overrides)
    probe = Planned(plan)
    run_scenario(scenario, tmp_path / "run", schedulers=[SchedulerSpec(name="probe")],
                 make=lambda name, **kw: probe)
    tasks = pd.read_parquet(tmp_path / "run" / "tasks.parquet")
    return tasks[tasks.slot == 1].sort_values("iotd"), probe


def test_a_local_task_waits_for_its_cpu_exactly(tiny, tmp_path, monkeypatch):
    # 2.5 Gcycles at 1 GHz: slot 0's task runs to 2.5 s, so slot 1's waits 1.5 s, then 2.5 s.
    tasks, probe = run_plan(tiny, tmp_path, monkeypatch, {0: [0], 1: [0]},
                            "iotds.count=1", "mecs.count=1", "mecs.cpu_hz=50e9",
                            "tasks.cycles=2.5e9")
    assert probe.plain[1][0] == pytest.approx(2.5)
    assert probe.predicted[1][0] == pytest.approx(4.0)
    assert tasks.realized_latency_s.iloc[0] == pytest.approx(4.0, abs=1e-9)


def test_an_upload_waits_for_the_uplink_exactly(tiny, tmp_path, monkeypatch):
    # A 4 Mbit upload takes longer than a slot, so slot 1's upload queues behind it; the MEC
    # (50 GHz) is idle again by the time the second task reaches it.
    tasks, probe = run_plan(tiny, tmp_path, monkeypatch, {0: [1], 1: [1]},
                            "iotds.count=1", "mecs.count=1", "mecs.cpu_hz=50e9",
                            "tasks.data_bits=4e6")
    up = tasks.iloc[0]
    upload_s = 4e6 / up.rate_bps
    assert upload_s > 1.0
    assert probe.predicted[1][0] == pytest.approx((upload_s - 1.0) + upload_s + 1e9 / 50e9)
    assert up.realized_latency_s == pytest.approx(probe.predicted[1][0], abs=1e-9)


def test_a_mec_backlog_smaller_than_the_new_task_is_priced_exactly(tiny, tmp_path,
                                                                    monkeypatch):
    # MEC at 2 GHz. Slot 0: IoTD 0's 2.5 Gcycles reach it after the upload u and run alone.
    # Slot 1: IoTD 1's task reaches it at 1 + u, shares it equally with what is left of the
    # first (less than 2.5 Gcycles), and ends when both ends' work is done: exactly the
    # model's "backlog first, then the task" time.
    tasks, probe = run_plan(tiny, tmp_path, monkeypatch, {0: [1, 0], 1: [0, 1]},
                            "iotds.count=2", "mecs.count=1", "mecs.cpu_hz=2e9",
                            "tasks.cycles=2.5e9")
    new = tasks[tasks.iotd == 1].iloc[0]
    u = 8e5 / new.rate_bps
    left_at_arrival = 2.5e9 - (1.0 - u) * 2e9 - u * 2e9  # what the first task still needs
    assert 0 < left_at_arrival <= 2.5e9
    expected = u + (left_at_arrival + 2.5e9) / 2e9
    assert probe.predicted[1][1] == pytest.approx(expected)
    assert new.realized_latency_s == pytest.approx(expected, abs=1e-9)
    assert probe.plain[1][1] == pytest.approx(u + 2.5e9 / 2e9)  # the spec's model: no wait


def test_a_mec_backlog_larger_than_the_new_task_is_overestimated(tiny, tmp_path,
                                                                  monkeypatch):
    # Slot 0: two tasks share the 2 GHz MEC (weights 1 GHz each). Slot 1: a third (weight
    # 2 GHz) joins while they still hold more than its 2.5 Gcycles, gets half the CPU and
    # finishes first, after 2.5 / 1 s: sooner than the model's "backlog first" time.
    tasks, probe = run_plan(tiny, tmp_path, monkeypatch, {0: [1, 1, 0], 1: [0, 0, 1]},
                            "iotds.count=3", "mecs.count=1", "mecs.cpu_hz=2e9",
                            "tasks.cycles=2.5e9")
    new = tasks[tasks.iotd == 2].iloc[0]
    u = 8e5 / new.rate_bps
    engine = u + 2.5e9 / 1e9
    assert new.realized_latency_s == pytest.approx(engine, abs=1e-9)
    backlog_s = 2 * (2.5e9 - (1.0 - u) * 1e9) / 2e9  # both old tasks at the epoch [s]
    assert probe.predicted[1][2] == pytest.approx(u + (backlog_s - u) + 2.5e9 / 2e9)
    assert probe.predicted[1][2] > new.realized_latency_s


# ---------------------------------------------------------------- the solvers on it
def random_problem(rng, n, m, *, equal, extras):
    gains = rng.uniform(1e-7, 1e-5, (n, m))
    cycles = np.full(n, 1e9) if equal else rng.uniform(0.3e9, 2e9, n)
    kwargs = {}
    problem = SlotProblem(gains, rng.uniform(2e5, 8e5, n), cycles, 1e9,
                          rng.uniform(3e9, 12e9, m), ModelParams())
    if "waits" in extras:
        kwargs["waits"] = backlog_waits(problem, rng.uniform(0, 20e9, m),
                                        rng.uniform(0, 3, n), rng.uniform(0, 2, n))
    if "price" in extras:
        queues = Waits(rng.uniform(0, 3, n), rng.uniform(0, 2, n), rng.uniform(0, 5, m))
        kwargs["price"], kwargs["mec_weight"] = drift_price(problem, queues, 0.3)
    return problem.replaced(**kwargs)


def brute_force(problem):
    best = np.inf
    for a in itertools.product(range(problem.n_mecs + 1), repeat=problem.n_tasks):
        best = min(best, problem.cost(np.array(a)))
    return best


@pytest.mark.parametrize("extras", [("waits",), ("price",), ("waits", "price")])
def test_min_cost_flow_is_exact_with_waits_and_prices(extras):
    rng = np.random.default_rng(3)
    for _ in range(12):
        problem = random_problem(rng, 6, 2, equal=True, extras=extras)
        result = min_cost_flow(problem)
        assert result.cost == pytest.approx(brute_force(problem), rel=1e-12)
        assert result.cost == pytest.approx(exhaustive(problem).cost, rel=1e-12)


@pytest.mark.parametrize("extras", [("waits",), ("price",)])
def test_local_search_and_its_bound_hold_with_waits_and_prices(extras):
    rng = np.random.default_rng(4)
    for _ in range(10):
        problem = random_problem(rng, 7, 2, equal=False, extras=extras)
        best = exhaustive(problem).cost
        found = local_search(problem, rng=np.random.default_rng(0))
        assert found.lower_bound <= best * (1 + 1e-9)
        assert found.cost >= best * (1 - 1e-12)
        assert found.cost <= best * 1.05
        assert solve_optimum(problem).cost == pytest.approx(best, rel=1e-12)


def test_waits_and_prices_change_the_cost_table_by_what_they_say():
    rng = np.random.default_rng(5)
    plain = random_problem(rng, 5, 3, equal=False, extras=())
    waits = Waits(np.array([0.5, 0, 0, 0, 0]), np.array([0, 2.0, 0, 0, 0]),
                  np.array([10.0, 0, 0]))
    priced = plain.replaced(waits=waits)
    diff = priced.cost_table - plain.cost_table
    up = plain.upload_s
    assert diff[0, 0] == pytest.approx(0.5)  # phi_T = 1: the local wait
    assert diff[1, 2] == pytest.approx(2.0)  # the uplink wait, MEC 2 empty
    assert diff[1, 1] == pytest.approx(2.0 + max(10.0 - 2.0 - up[1, 0], 0.0))
    assert diff[2, 1] == pytest.approx(max(10.0 - up[2, 0], 0.0))
    assert np.count_nonzero(np.abs(diff) > 1e-12) == 5 + 3  # MEC 1, the local and uplink waits
    a = np.array([0, 1, 1, 2, 3])
    # the per-task costs add up to the slot's cost, latency includes the waits
    assert priced.evaluate(a).cost.sum() == pytest.approx(priced.cost(a), rel=1e-12)
    assert (priced.evaluate(a).latency_s - plain.evaluate(a).latency_s) == pytest.approx(
        priced.wait_table[np.arange(5), a])


def test_the_drift_price_is_queue_times_work_over_v():
    problem = SlotProblem(np.full((2, 2), 1e-6), [8e5, 8e5], [1e9, 2e9], 1e9, [10e9, 20e9])
    queues = Waits(np.array([1.0, 0.0]), np.array([0.0, 3.0]), np.array([4.0, 0.5]))
    price, weight = drift_price(problem, queues, 2.0)
    up = problem.upload_s
    expected = np.array([[1.0 * 1.0, 4.0 * 0.1, 0.5 * 0.05],
                         [0.0, 3.0 * up[1, 0] + 4.0 * 0.2, 3.0 * up[1, 1] + 0.5 * 0.1]]) / 2
    assert price == pytest.approx(expected)
    # a^2 / 2 of each MEC, priced at the mean cycles: 1.5e9 / (2 Fmax^2 V)
    assert weight == pytest.approx(1.5e9 / (2 * np.array([10e9, 20e9]) ** 2) / 2.0)
    with pytest.raises(ValueError, match="v must be"):
        drift_price(problem, queues, 0.0)


def test_waits_are_checked():
    problem = SlotProblem(np.full((2, 1), 1e-6), [8e5, 8e5], [1e9, 1e9], 1e9, [10e9])
    with pytest.raises(ValueError, match="waits.local_s"):
        problem.replaced(waits=Waits(np.array([-1.0, 0]), np.zeros(2), np.zeros(1)))
    with pytest.raises(ValueError, match="mec_backlog_cycles"):
        backlog_waits(problem, [np.nan], np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="no argument"):
        problem.replaced(wait=None)
    # an uplink with no rate at all this slot waits a long but finite time
    assert backlog_waits(problem, [0.0], np.zeros(2), [np.inf, 0.0]).uplink_s[0] == 1e6


def test_unit_slots_count_the_tasks_that_can_pay_for_each_unit():
    # Ten equal tasks, one MEC (u = phi_T F / Fmax = 0.1: units cost 0.1, 0.3, 0.5, ...).
    # One task saves 5.0 by offloading (it alone could pay for the 25th unit), the other nine
    # save 0.35: enough for two tasks, not three. The largest saving alone would allow all 10.
    problem = SlotProblem(np.full((10, 1), 1e-6), np.full(10, 8e5), np.full(10, 1e9), 1e9,
                          [10e9])
    saving = np.r_[5.0, np.full(9, 0.35)]
    price = np.zeros((10, 2))
    price[:, 1] = problem.cost_table[:, 0] - problem.cost_table[:, 1] - saving
    priced = problem.replaced(price=price)
    assert unit_slots(priced).tolist() == [2]
    assert min_cost_flow(priced).cost == pytest.approx(brute_force_small(priced))


def brute_force_small(problem):
    return min(problem.cost(np.array(a)) for a in itertools.product((0, 1),
                                                                     repeat=problem.n_tasks))
