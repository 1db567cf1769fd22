import json
import os
import signal

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from engine_schedulers import AllToMec1, OutOfRange, Raises, RecordingAgents, SignalsItself

from mecsim.config import SchedulerSpec
from mecsim.engine.interrupt import Interrupted
from mecsim.engine.runner import run_scenario
from mecsim.engine.simulation import Simulation
from mecsim.registry import make as registry_make

CUSTOM = {"all_to_mec1": AllToMec1, "out_of_range": OutOfRange, "raises": Raises,
          "agents": RecordingAgents, "signals_itself": SignalsItself}


def make(name, **params):
    if name in CUSTOM:
        return CUSTOM[name](**params)
    return registry_make(name, **params)


def specs(*names):
    return [SchedulerSpec(name=n) for n in names]


def run(scenario, tmp_path, *names, **kwargs):
    out = tmp_path / "run"
    results = run_scenario(scenario, out, schedulers=specs(*names) if names else None,
                           make=make, **kwargs)
    return out, {r.name: r for r in results}


def test_task_accounting_invariant(tiny, tmp_path):
    scenario = tiny("tasks.arrival={process: poisson, rate_per_s: 1.5}", "tasks.deadline_s=2",
                    "on_invalid=local", "mecs.cpu_hz=[2e9, 2e9]",
                    "mecs.failures=[{mec: 1, start_s: 5, duration_s: 4}]")
    out, results = run(scenario, tmp_path, "local", "greedy", "all_to_mec1", "optimal")
    tasks = pd.read_parquet(out / "tasks.parquet")
    for name, r in results.items():
        c = r.counts
        assert c["generated"] == c["completed"] + c["dropped"] + c["in_flight"]
        rows = tasks[tasks.scheduler == name]
        assert len(rows) == c["generated"] and rows.task_id.is_unique
        by_status = rows.status.value_counts().to_dict()
        assert by_status.get("completed", 0) == c["completed"]
        assert by_status.get("dropped", 0) == c["dropped"]
        assert by_status.get("in_flight", 0) == c["in_flight"]
    # the overloaded scheduler misses deadlines and loses tasks to the failure
    reasons = tasks[tasks.scheduler == "all_to_mec1"].drop_reason.value_counts().to_dict()
    assert reasons.get("deadline", 0) > 0 and reasons.get("mec_failure", 0) > 0


def test_same_seed_same_files_and_common_random_numbers(tiny, tmp_path):
    scenario = tiny("tasks.arrival={process: poisson, rate_per_s: 1.0}",
                    "tasks.cycles={dist: uniform, low: 5e8, high: 2e9}")
    a, _ = run(scenario, tmp_path / "a")
    b, _ = run(scenario, tmp_path / "b")
    # the same rows in the same order (the split into parts follows the wall clock)
    for table in ("tasks", "channels", "positions"):
        pd.testing.assert_frame_equal(pd.read_parquet(a / f"{table}.parquet"),
                                      pd.read_parquet(b / f"{table}.parquet"))
    sa = pd.read_parquet(a / "slots.parquet").drop(columns="decision_s")
    sb = pd.read_parquet(b / "slots.parquet").drop(columns="decision_s")
    pd.testing.assert_frame_equal(sa, sb)
    tasks = pd.read_parquet(a / "tasks.parquet")
    world = ["task_id", "iotd", "slot", "arrival_s", "data_bits", "cycles"]
    frames = [g[world].sort_values("task_id").reset_index(drop=True)
              for _, g in tasks.groupby("scheduler")]
    assert len(frames) == 4
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(frames[0], frame)
    # another seed changes the world
    c, _ = run(scenario.model_copy(update={"seed": 7}), tmp_path / "c")
    assert not pd.read_parquet(c / "tasks.parquet")[world].equals(tasks[world])


def test_backlog_makes_realized_latency_exceed_the_model(tiny, tmp_path):
    # 6 tasks of 1e9 cycles per slot on a 1.5e9 cycle/s MEC: the backlog grows every slot.
    out, results = run(tiny("mecs.cpu_hz=[1.5e9, 1.5e9]"), tmp_path, "all_to_mec1")
    tasks = pd.read_parquet(out / "tasks.parquet")
    done = tasks[tasks.status == "completed"]
    assert done.realized_latency_s.mean() > 2 * done.model_latency_s.mean()
    assert (tasks.status == "in_flight").sum() > len(tasks) / 2
    slots = pd.read_parquet(out / "slots.parquet")
    assert slots.backlog_tasks_1.iloc[-1] > slots.backlog_tasks_1.iloc[1] > 0
    assert (slots.backlog_tasks_2 == 0).all()


def test_realized_equals_model_for_an_isolated_task(tiny, tmp_path):
    scenario = tiny("iotds.count=1", "mecs.count=1", "mecs.cpu_hz=50e9", "slots=5")
    out, _ = run(scenario, tmp_path, "optimal")
    tasks = pd.read_parquet(out / "tasks.parquet")
    done = tasks[tasks.status == "completed"]
    assert len(done) >= 4
    np.testing.assert_allclose(done.realized_latency_s, done.model_latency_s, rtol=1e-9)
    np.testing.assert_allclose(done.realized_energy_j, done.model_energy_j, rtol=1e-9)


@pytest.mark.parametrize("on_failure", ["drop", "local"])
def test_mec_failure(tiny, tmp_path, on_failure):
    scenario = tiny("mecs.failures=[{mec: 1, start_s: 4, duration_s: 6}]",
                    f"mecs.on_failure={on_failure}", "mecs.cpu_hz=[2e9, 2e9]",
                    "on_invalid=local")
    out, results = run(scenario, tmp_path, "all_to_mec1", "optimal")
    slots = pd.read_parquet(out / "slots.parquet")
    down = slots[(slots.time_s >= 4) & (slots.time_s < 10)]
    assert not down.available_1.any() and slots[slots.time_s >= 10].available_1.all()
    tasks = pd.read_parquet(out / "tasks.parquet")
    opt = tasks[(tasks.scheduler == "optimal") & tasks.slot.isin(down.slot)]
    assert (opt.target != 1).all(), "a failed MEC must take no task"
    # all_to_mec1 keeps sending to MEC 1: those decisions are invalid and run locally
    invalid = slots[slots.scheduler == "all_to_mec1"].set_index("slot").invalid
    assert (invalid[down.slot.unique()] > 0).all() and invalid.drop(down.slot.unique()).eq(0).all()
    hit = tasks[(tasks.scheduler == "all_to_mec1") & (tasks.slot < 4)]
    if on_failure == "drop":
        assert (hit.drop_reason == "mec_failure").any()
    else:
        assert hit.rerun_local.any() and (hit[hit.rerun_local].status == "completed").all()


def test_invalid_decision_is_named_and_other_schedulers_kept(tiny, tmp_path):
    out, results = run(tiny(), tmp_path, "out_of_range", "greedy")
    err = results["out_of_range"].error
    assert "out_of_range" in err and "slot 3" in err and "placement must be in 0..2" in err
    assert not results["out_of_range"].complete and results["out_of_range"].slots == 3
    assert results["greedy"].complete
    slots = pd.read_parquet(out / "slots.parquet")
    assert (slots.scheduler == "out_of_range").sum() == 3


def test_invalid_decision_runs_locally_when_asked(tiny, tmp_path):
    out, results = run(tiny("on_invalid=local"), tmp_path, "out_of_range")
    r = results["out_of_range"]
    assert r.complete and r.invalid_tasks == 17  # slots 3..19, one task each
    slots = pd.read_parquet(out / "slots.parquet")
    assert slots.invalid.tolist() == [0] * 3 + [1] * 17


def test_scheduler_exception_is_named_with_its_slot(tiny, tmp_path):
    _, results = run(tiny(), tmp_path, "raises", "local")
    assert "'raises' at slot 5" in results["raises"].error and "boom" in results["raises"].error
    assert results["local"].complete


def test_decentralized_agents_get_only_their_view(tiny, tmp_path):
    scenario = tiny("mecs.failures=[{mec: 2, start_s: 2, duration_s: 3}]")
    sim = Simulation(scenario, RecordingAgents(), "agents", 0, on_tasks=lambda c: None,
                     on_slot=lambda r: None)
    sched = sim.scheduler
    sched.reset(0, sim.network)
    seen_gains = []

    def on_world(world):
        seen_gains.append(world)
    sim._on_world = on_world
    sim.run(8)
    by_slot = {}
    for view in sched.seen:
        by_slot.setdefault(view.slot, {})[view.mec] = view
    assert set(by_slot[1]) == {1, 2} and set(by_slot[3]) == {1}  # MEC 2 down: no decision
    for world in seen_gains:
        for mec, view in by_slot[world.slot].items():
            assert view.gains.shape == (world.iotd.size,)
            np.testing.assert_array_equal(view.gains, world.gains[world.iotd, mec - 1])


def test_results_are_valid_parquet_with_documented_columns(tiny, tmp_path):
    out, _ = run(tiny(), tmp_path, "greedy")
    cols = set(pq.read_schema(out / "tasks.parquet" / "part-schema.parquet").names)
    assert {"scheduler", "task_id", "iotd", "slot", "arrival_s", "target", "cpu_hz",
            "tx_power_w", "data_bits", "cycles", "gain", "rate_bps", "model_latency_s",
            "model_energy_j", "model_cost", "status", "drop_reason", "done_s",
            "realized_latency_s", "realized_energy_j"} <= cols
    chan = pd.read_parquet(out / "channels.parquet")
    assert len(chan) == 20 * 6 * 2 and list(chan.columns) == ["slot", "iotd", "mec", "gain",
                                                              "distance_m"]
    tasks = pd.read_parquet(out / "tasks.parquet")
    local = tasks[tasks.target == 0]
    assert local.gain.isna().all()
    off = tasks[tasks.target > 0].merge(chan, left_on=["slot", "iotd", "target"],
                                        right_on=["slot", "iotd", "mec"])
    np.testing.assert_array_equal(off.gain_x, off.gain_y)
    assert not any(p.name.endswith(".partial") for p in out.iterdir())
    pos = pd.read_parquet(out / "positions.parquet").merge(chan[chan.mec == 1], on=["slot",
                                                                                    "iotd"])
    summary = __import__("json").loads((out / "summary.json").read_text())
    x1, y1 = summary["mec_positions_m"][0]
    np.testing.assert_allclose(np.hypot(pos.x_m - x1, pos.y_m - y1), pos.distance_m)


def test_mostly_ended_epochs_are_written_early(tiny, tmp_path, monkeypatch):
    import mecsim.engine.simulation as simulation

    monkeypatch.setattr(simulation, "COMPACT_MIN_ROWS", 1)
    scenario = tiny("iotds.count=16", "slots=30")  # deep fades leave a few slow uploads
    rows, compacted = [], []

    def held(_record) -> None:  # an epoch written in part holds its open rows only
        for b in sim._open.values():
            if b.pos is not None:
                compacted.append(b.slot)
                assert isinstance(b.pos, dict) and len(b.pos) == b.size == b.index.size
                assert b.size < 16  # not the epoch's 16 tasks
                assert all(b.row(int(t)) == r for r, t in enumerate(b.index))

    sim = Simulation(scenario, AllToMec1(), "all_to_mec1", 0,
                     on_tasks=lambda cols: rows.append(len(cols["iotd"])), on_slot=held)
    sim.scheduler.reset(0, sim.network)
    sim.run(30)
    assert compacted
    held = [b for b in sim._open.values()]
    assert not held  # finish() wrote every epoch
    assert sum(rows) == sim.counts()["generated"]
    assert len(rows) > 30  # some epochs were written in parts
    out, results = run(scenario, tmp_path, "all_to_mec1")
    tasks = pd.read_parquet(out / "tasks.parquet")
    assert tasks.task_id.is_unique and len(tasks) == results["all_to_mec1"].counts["generated"]
    c = results["all_to_mec1"].counts
    assert (tasks.status == "in_flight").sum() == c["in_flight"]


def _summary(out, name):
    return json.loads((out / "summary.json").read_text())["schedulers"][name]


@pytest.mark.parametrize(("signum", "raised"), [(signal.SIGTERM, Interrupted),
                                                (signal.SIGINT, KeyboardInterrupt)])
def test_signal_in_scheduler_code_stops_at_once_with_files_in_step(tiny, tmp_path, signum,
                                                                   raised):
    # The signal arrives inside slot 5's decision: scheduler code changes no engine state,
    # so the run stops there; slot 5 is not recorded, and the scheduler is not blamed.
    scenario = tiny("slots=40")
    out = tmp_path / "run"
    spec = SchedulerSpec(name="signals_itself", params={"signum": int(signum), "at": 5})
    before = signal.getsignal(signum)
    with pytest.raises(raised):
        run_scenario(scenario, out, schedulers=[spec], make=make)
    summary = _summary(out, "signals_itself")
    assert summary["complete"] is False and summary["error"] is None
    assert summary["slots"] == 5
    slots = pd.read_parquet(out / "slots.parquet")
    assert slots.slot.tolist() == list(range(5))
    tasks = pd.read_parquet(out / "tasks.parquet")
    assert len(tasks) == summary["counts"]["generated"] == slots.tasks.sum()
    assert signal.getsignal(signum) is before  # the handler is restored


def test_signal_in_engine_code_stops_at_the_next_epoch(tiny, tmp_path, monkeypatch):
    # The signal arrives while the engine records slot 5: slot 5 finishes whole (its tasks
    # counted and written) and the run stops before slot 6.
    record = Simulation._slot_record

    def record_then_signal(self, world, *args):
        record(self, world, *args)
        if world.slot == 5:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(Simulation, "_slot_record", record_then_signal)
    out = tmp_path / "run"
    with pytest.raises(Interrupted):
        run_scenario(tiny("slots=40"), out, schedulers=specs("local"), make=make)
    summary = _summary(out, "local")
    assert summary["complete"] is False and summary["slots"] == 6
    slots = pd.read_parquet(out / "slots.parquet")
    assert slots.slot.tolist() == list(range(6))
    tasks = pd.read_parquet(out / "tasks.parquet")
    assert len(tasks) == summary["counts"]["generated"] == slots.tasks.sum()


def test_second_signal_stops_at_once(tiny, tmp_path):
    scenario = tiny("slots=40")
    out = tmp_path / "run"
    spec = SchedulerSpec(name="signals_itself", params={"at": 5, "twice": True})
    with pytest.raises(Interrupted):
        run_scenario(scenario, out, schedulers=[spec], make=make)
    summary = _summary(out, "signals_itself")
    assert summary["complete"] is False and summary["slots"] == 5  # slot 5 never finished
    assert len(pd.read_parquet(out / "slots.parquet")) == 5
