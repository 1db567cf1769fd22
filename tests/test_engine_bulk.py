"""Local tasks computed in bulk (``LOCAL_IN_BULK``) give exactly the event-by-event run.

Each scenario runs twice in one process, once with the local CPUs as :class:`LocalCpus`
(finish times computed when tasks are placed, no SimPy event each) and once with one SimPy
timeout per local task (the reference); the tasks table (rows in the order written), the
slot records, the counters and the backlog series must be identical, bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mecsim.config import load_scenario
from mecsim.engine import simulation
from mecsim.engine.lines import AheadEnvironment, Job, LocalCpus
from mecsim.engine.records import read_table, table_path
from mecsim.engine.runner import run_scenario
from mecsim.engine.simulation import Simulation
from mecsim.registry import make, registered
from mecsim.rng import scheduler_seed

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def _run(path: Path, overrides: list[str], name: str, bulk: bool, monkeypatch) -> dict:
    """Run scheduler ``name`` on a scenario; return everything the run wrote or counts."""
    monkeypatch.setattr(simulation, "LOCAL_IN_BULK", bulk)
    scenario = load_scenario(path, overrides)
    rows, slots = [], []
    scheduler = make(name)
    seen = _watch(scheduler)
    sim = Simulation(scenario, scheduler, name, scenario.seed, on_tasks=rows.append,
                     on_slot=slots.append)
    scheduler.reset(scheduler_seed(scenario.seed, 0), sim.network)
    sim.run(scenario.slots)
    events = next(sim.env._eid) - len(sim.env._queue)
    sim.close()
    tasks = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]} if rows else {}
    for record in slots:
        del record["decision_s"]  # wall-clock time of the decision, never the same
    return {"tasks": tasks, "slots": slots, "counts": sim.counts(),
            "counters": vars(sim.counters), "ended": sim.ended,
            "backlog": sim.backlog_series(), "model_costs": sim.model_costs,
            "in_flight_at_end": sim.in_flight_at_end, "observed": seen, "events": events}


def _watch(scheduler) -> list:
    """Keep the backlog that each observation shows the scheduler (centralized ones)."""
    seen = []
    if not scheduler.centralized:
        return seen
    decide = scheduler.decide

    def watched(obs):
        seen.append({k: np.array(getattr(obs, k)) for k in (
            "local_busy_s", "uplink_busy_s", "backlog_tasks", "backlog_cycles")})
        return decide(obs)

    scheduler.decide = watched
    return seen


def _same(a, b) -> bool:
    """Bit-identical (NaN equal to NaN), through dicts and lists."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "f":
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    if a.dtype == object:
        return a.shape == b.shape and all(x == y or (x != x and y != y)
                                          for x, y in zip(a.ravel(), b.ravel(), strict=True))
    return a.shape == b.shape and np.array_equal(a, b)


def _compare(path: Path, overrides: list[str], name: str, monkeypatch) -> tuple[dict, dict]:
    bulk = _run(path, overrides, name, True, monkeypatch)
    each = _run(path, overrides, name, False, monkeypatch)
    for key in each:
        if key != "events":
            assert _same(bulk[key], each[key]), key
    return bulk, each


TINY, FAILURES = SCENARIOS / "tiny.yaml", SCENARIOS / "failures.yaml"
LOADED, DENSE = SCENARIOS / "loaded.yaml", SCENARIOS / "dense_100.yaml"


def test_per_slot_tasks_finishing_exactly_at_the_next_epoch(monkeypatch):
    # tiny: 1e9 cycles at 1e9 cycle/s: every local task ends exactly at the next epoch, a
    # tie with the epoch's own event that one SimPy timeout each breaks by creation order
    bulk, each = _compare(TINY, [], "local", monkeypatch)
    assert each["counts"]["in_flight"] > 0  # the last slot's tasks are running at the end
    assert bulk["events"] < each["events"] / 4


def test_queued_work_and_run_end_in_flight(monkeypatch):
    # twice the work of one slot per task: the local queues grow slot after slot, and the
    # run ends with tasks running (energy so far) and queued (none) on every IoTD
    bulk, each = _compare(TINY, ["tasks.cycles={dist: uniform, low: 1.5e9, high: 2.5e9}"],
                          "local", monkeypatch)
    busy = [row["backlog_cycles_total"] for row in each["slots"]]
    assert busy[-1] > busy[len(busy) // 2] > busy[1] > 0
    flying = each["tasks"]["status"] == "in_flight"
    assert flying.sum() > 6 and (each["tasks"]["realized_energy_j"][flying] > 0).any()


def test_poisson_arrivals_and_deadlines_missed_locally(monkeypatch):
    bulk, each = _compare(FAILURES, ["slots=80"], "local", monkeypatch)
    tasks = each["tasks"]
    late = (tasks["drop_reason"] == "deadline") & (tasks["target"] == 0)
    assert late.sum() >= 10
    assert (tasks["realized_energy_j"][late] > 0).all()  # cut while running
    two = np.unique(tasks["iotd"] * 10_000 + tasks["slot"], return_counts=True)[1]
    assert two.max() >= 2  # several tasks of one IoTD in one slot
    assert bulk["events"] < each["events"] / 4


def test_deadlines_that_pass_before_the_epoch(monkeypatch):
    # deadlines shorter than a slot: some expire before they are placed, others locally
    overrides = ["slots=40", "tasks.deadline_s=0.9"]
    bulk, each = _compare(FAILURES, overrides, "local", monkeypatch)
    assert (each["tasks"]["target"] == -1).any()
    assert ((each["tasks"]["drop_reason"] == "deadline") & (each["tasks"]["target"] == 0)).any()


@pytest.mark.parametrize("on_failure", ["local", "drop"])
def test_mec_failures_with_tasks_run_again_locally(on_failure, monkeypatch):
    # every MEC fails in turn; a task run again locally joins its IoTD's line behind
    # younger ones, and its (earlier) deadline can take it off the line while queued
    overrides = ["slots=110", f"mecs.on_failure={on_failure}", "tasks.deadline_s=5.0",
                 "mecs.failures=[{mec: 1, start_s: 30.0, duration_s: 30.0}, "
                 "{mec: 2, start_s: 60.0, duration_s: 30.0}, {mec: 3, start_s: 70.0, "
                 "duration_s: 30.0}, {mec: 4, start_s: 80.0, duration_s: 30.0}]"]
    queued = []
    remove = LocalCpus.remove

    def counted(cpus, iotd, job, now):
        queued.append(cpus._queues[iotd][0] is not job)
        return remove(cpus, iotd, job, now)

    monkeypatch.setattr(LocalCpus, "remove", counted)
    bulk, each = _compare(FAILURES, overrides, "random", monkeypatch)
    assert any(queued) if on_failure == "local" else queued  # taken off while queued
    tasks = each["tasks"]
    rerun = tasks["rerun_local"]
    assert rerun.any() if on_failure == "local" else not rerun.any()
    assert (tasks["drop_reason"] == ("deadline" if on_failure == "local" else "mec_failure")
            ).any()


def test_offloading_schedulers_on_a_loaded_network(monkeypatch):
    _compare(LOADED, ["slots=30"], "greedy", monkeypatch)
    _compare(DENSE, ["slots=20", "iotds.count=300"], "random", monkeypatch)


@pytest.mark.parametrize("name", registered())
def test_every_built_in_scheduler(name, monkeypatch):
    # slow MECs far away: every scheduler keeps some tasks on their IoTDs
    overrides = ["slots=12", "tasks.cycles={dist: uniform, low: 0.3e9, high: 1.6e9}",
                 "tasks.arrival={process: poisson, rate_per_s: 1.2}", "tasks.deadline_s=2.5",
                 "iotds.count=12", "mecs.cpu_hz=[2e9, 3e9]", "area_m=[400.0, 400.0]"]
    bulk, each = _compare(TINY, overrides, name, monkeypatch)
    assert (each["tasks"]["target"] == 0).any()  # it placed tasks locally


# ---------------------------------------------------------------------- LocalCpus alone
def _cpus(rate_hz=(1e9, 2e9)):
    env = AheadEnvironment()
    done = []
    cpus = LocalCpus(env, np.array(rate_hz), lambda job, t: done.append((job.token, t)))
    return env, cpus, done


def test_local_finish_times_are_cumulated_in_order():
    env, cpus, done = _cpus()
    jobs = [Job(name, -1, cycles, 1.0) for name, cycles in
            [("a", 1e9), ("b", 2e9), ("c", 1e9), ("d", 0.5e9)]]
    finish = cpus.add(np.array([0, 0, 1, 0]), jobs, 0.0)
    assert finish.tolist() == [1.0, 3.0, 0.5, 3.5]
    assert cpus.busy_s(0.25, 2).tolist() == [3.25, 0.25]  # [s] work held, per IoTD
    env.run(until=10.0)
    assert done == [("c", 0.5), ("a", 1.0), ("b", 3.0), ("d", 3.5)]
    assert not cpus.due and len(cpus) == 0


def test_a_removed_local_job_brings_the_next_ones_earlier():
    env, cpus, done = _cpus()
    jobs = [Job(name, -1, 1e9, 1.0) for name in "abc"]
    cpus.add(np.array([0, 0, 0]), jobs, 0.0)

    def deadlines():
        yield env.timeout(0.5)
        assert cpus.remove(0, jobs[1], env.now) == 0.0  # queued: never served
        yield env.timeout(0.25)
        assert cpus.remove(0, jobs[0], env.now) == 0.75  # in service since 0
        later = cpus.add(np.array([0]), [Job("d", -1, 1e9, 1.0)], env.now)
        assert later.tolist() == [2.75]  # after c, which started at 0.75

    env.process(deadlines())
    env.run(until=10.0)
    assert done == [("c", 1.75), ("d", 2.75)]


@pytest.mark.parametrize("timeout_first", [True, False])
def test_a_tie_with_a_simpy_event_goes_to_the_one_made_first(timeout_first):
    env, cpus, done = _cpus()
    if timeout_first:
        env.timeout(1.0).callbacks.append(lambda _e: done.append(("timeout", env.now)))
    cpus.add(np.array([0]), [Job("a", -1, 1e9, 1.0)], 0.0)  # ends at 1.0 too
    if not timeout_first:
        env.timeout(1.0).callbacks.append(lambda _e: done.append(("timeout", env.now)))
    env.run(until=1.0 + 1e-9)
    first = "timeout" if timeout_first else "a"
    assert done[0] == (first, 1.0) and len(done) == 2


def test_the_run_ends_before_a_local_job_due_at_its_end():
    env, cpus, done = _cpus()
    cpus.add(np.array([0, 1]), [Job("a", -1, 1e9, 1.0), Job("b", -1, 1e9, 1.0)], 0.0)
    env.run(until=1.0)  # b ended at 0.5, a is due at 1.0: still running, as with SimPy
    assert done == [("b", 0.5)]
    assert [job.token for _, job in cpus.in_service()] == ["a"]


def test_written_tables_of_a_whole_run(monkeypatch, tmp_path):
    # through run_scenario and Parquet: the same tasks and slots tables, row for row
    tables = {}
    for bulk in (True, False):
        monkeypatch.setattr(simulation, "LOCAL_IN_BULK", bulk)
        scenario = load_scenario(FAILURES, ["slots=80", "schedulers=[local, greedy]"])
        run_scenario(scenario, tmp_path / str(bulk))
        tables[bulk] = {name: {k: np.asarray(v) for k, v in read_table(
            table_path(tmp_path / str(bulk), name)).to_pydict().items()}
            for name in ("tasks", "slots")}
        del tables[bulk]["slots"]["decision_s"]  # wall-clock time
    assert _same(tables[True], tables[False])
    tasks = tables[True]["tasks"]
    assert ((tasks["drop_reason"] == "deadline") & (tasks["target"] == 0)).sum() > 10
