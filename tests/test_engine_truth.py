"""What happens after a decision: uploads through a changing channel, deadlines at the
deadline, failures at t = 0, moving fading and shadowing in the world."""

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import j0

from mecsim.config import SchedulerSpec
from mecsim.engine import world as world_module
from mecsim.engine.runner import run_scenario
from mecsim.engine.world import SlotChannel, World
from mecsim.physics.fading import SPEED_OF_LIGHT_MPS
from mecsim.registry import make as registry_make
from mecsim.scheduler import Decision, Observation, Scheduler


class FirstTaskUpFullPower(Scheduler):
    """Offloads slot 0's tasks to MEC 1 at 1 W with the whole CPU; later ones run locally."""

    def decide(self, observation: Observation) -> Decision:
        n = observation.n_tasks
        up = observation.slot == 0
        return Decision(np.full(n, int(up)), cpu_hz=np.full(n, 50e9 if up else 0.0),
                        tx_power_w=np.full(n, 1.0 if up else 0.0))


class AllToMec1(Scheduler):
    def decide(self, observation: Observation) -> Decision:
        return Decision(np.ones(observation.n_tasks, dtype=np.int64))


SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
CUSTOM = {"first_up": FirstTaskUpFullPower, "all_to_mec1": AllToMec1}


def run(scenario, tmp_path, *names):
    out = tmp_path / "run"
    specs = [SchedulerSpec(name=n) for n in names]
    results = run_scenario(scenario, out, schedulers=specs,
                           make=lambda name, **kw: CUSTOM[name](**kw) if name in CUSTOM
                           else registry_make(name, **kw))
    return pd.read_parquet(out / "tasks.parquet"), pd.read_parquet(out / "slots.parquet"), \
        {r.name: r for r in results}


def pin_gains(monkeypatch, gain_by_slot):
    """Make every link's gain ``gain_by_slot[k]`` for the whole of slot ``k``."""
    next_slot = World.next_slot

    def pinned(self):
        w = next_slot(self)
        g = gain_by_slot[w.slot]
        channel = SlotChannel(w.time_s, w.channel.step_s, w.channel.steps,
                              lambda iotd, mec: np.full((w.channel.steps, iotd.size), g))
        return dataclasses.replace(w, gains=np.full_like(w.gains, g), channel=channel)

    monkeypatch.setattr(World, "next_slot", pinned)


def test_an_upload_follows_the_channel_across_three_known_rates(tiny, tmp_path, monkeypatch):
    # B = 1 MHz, N0 B = 1e-6 W, p = 1 W: gains 1e-6, 3e-7, 3e-6 give 1, log2(1.3) and 2
    # Mbit/s. 2 Mbit: 1 Mbit in slot 0, 0.3785 Mbit in slot 1, the rest at 2 Mbit/s.
    pin_gains(monkeypatch, [1e-6, 3e-7, 3e-6] + [1e-6] * 3)
    scenario = tiny("iotds.count=1", "mecs.count=1", "mecs.cpu_hz=50e9", "slots=6",
                    "tasks.data_bits=2e6")
    tasks, _, _ = run(scenario, tmp_path, "first_up")
    up = tasks[tasks.slot == 0].iloc[0]
    r1 = 1e6 * np.log2(1.3)
    expected = 2.0 + (2e6 - 1e6 - r1) / 2e6
    assert up.start_s == 0.0
    assert up.uploaded_s == pytest.approx(expected, abs=1e-9)
    assert up.done_s == pytest.approx(expected + 1e9 / 50e9, abs=1e-9)
    assert up.realized_energy_j == pytest.approx(1.0 * expected, abs=1e-9)  # p x time
    # the model priced the decision epoch's rate for the whole upload
    assert up.rate_bps == pytest.approx(1e6)
    assert up.model_latency_s == pytest.approx(2e6 / 1e6 + 1e9 / 50e9)
    # slot 1's task runs locally, unaffected by the upload
    assert tasks[tasks.slot == 1].iloc[0].done_s == pytest.approx(1.0 + 1e9 / 1e9)


def test_uploads_of_one_iotd_are_first_come_first_served_without_idling(tiny, tmp_path):
    scenario = tiny("tasks.arrival={process: poisson, rate_per_s: 2.0}", "slots=30",
                    "tasks.data_bits={dist: uniform, low: 1e6, high: 4e6}",
                    "channel.fading.rho=jakes", "channel.fading.step_s=0.1",
                    "tasks.deadline_s={dist: uniform, low: 1.0, high: 6.0}")
    tasks, _, _ = run(scenario, tmp_path, "all_to_mec1")
    up = tasks[(tasks.target == 1) & tasks.start_s.notna()].copy()
    up["end"] = up.uploaded_s.fillna(up.done_s)  # a task dropped while uploading left then
    up["decided"] = up.slot * scenario.slot_s
    checked = 0
    for _, g in up.sort_values("start_s").groupby("iotd"):
        end, start, decided = g.end.to_numpy(), g.start_s.to_numpy(), g.decided.to_numpy()
        assert (start[1:] >= end[:-1] - 1e-9).all(), "two uploads of one IoTD overlap"
        waited = decided[1:] < end[:-1]  # queued behind the previous upload
        np.testing.assert_allclose(start[1:][waited], end[:-1][waited], atol=1e-9)
        checked += waited.sum()
    assert checked > 10
    freed = up[up.uploaded_s.isna() & (up.status == "dropped")]
    assert len(freed) > 0, "some uploads are cut by their deadline"


def test_deadline_drops_happen_at_the_deadline_wherever_the_task_is(tiny, tmp_path):
    scenario = tiny("tasks.arrival={process: poisson, rate_per_s: 1.5}", "slots=40",
                    "tasks.deadline_s={dist: uniform, low: 0.5, high: 3.0}",
                    "mecs.cpu_hz=[3e9, 3e9]", "tasks.cycles={dist: uniform, low: 5e8, high: 3e9}")
    tasks, _, results = run(scenario, tmp_path, "local", "all_to_mec1", "greedy")
    assert tasks.deadline_s.between(0.5, 3.0).all() and tasks.deadline_s.std() > 0.5
    late = tasks[tasks.drop_reason == "deadline"]
    np.testing.assert_allclose(late.done_s, late.arrival_s + late.deadline_s, atol=1e-9)
    where = {
        "before its epoch": (late.target == -1).sum(),
        "on its IoTD": (late.target == 0).sum(),
        "uploading": ((late.target > 0) & late.uploaded_s.isna()).sum(),
        "on its MEC": ((late.target > 0) & late.uploaded_s.notna()).sum(),
    }
    assert all(count > 0 for count in where.values()), where
    done = tasks[tasks.status == "completed"]
    assert (done.done_s <= done.arrival_s + done.deadline_s + 1e-9).all()
    end = scenario.slots * scenario.slot_s
    flying = tasks[tasks.status == "in_flight"]
    assert (flying.arrival_s + flying.deadline_s >= end - 1e-9).all()
    for name, r in results.items():
        rows = tasks[tasks.scheduler == name]
        assert r.counts["generated"] == len(rows)
        assert r.dropped_by_reason["deadline"] == (rows.drop_reason == "deadline").sum()


def test_a_local_task_dropped_at_its_deadline_frees_its_cpu(tiny, tmp_path):
    # 2-Gcycle tasks on a 1 GHz CPU, one per slot, 1.5 s deadline: the task of slot 0 runs
    # until 1.5 and is dropped; from then on the task of slot k starts when its predecessor
    # is dropped (k + 0.5), runs 1 s and is dropped at its own deadline k + 1.5.
    scenario = tiny("iotds.count=1", "slots=6", "tasks.cycles=2e9", "tasks.deadline_s=1.5")
    tasks, _, _ = run(scenario, tmp_path, "local")
    tasks = tasks.sort_values("slot")
    dropped = tasks[tasks.status == "dropped"]
    assert len(dropped) == 5  # the last is in flight at the end
    np.testing.assert_allclose(dropped.done_s, dropped.slot + 1.5)
    # slot k's task starts when slot k-1's is dropped (k + 0.5), or at its epoch
    np.testing.assert_allclose(tasks.start_s.iloc[1:], tasks.slot.iloc[1:] + 0.5)
    # energy: only the 1.5 - 0.5 = 1 s each one ran (kappa f0^3 = 1 W); the first ran 1.5 s
    np.testing.assert_allclose(dropped.realized_energy_j, [1.5, 1.0, 1.0, 1.0, 1.0])


def test_a_failure_at_time_zero_is_seen_by_the_first_epoch(tiny, tmp_path):
    scenario = tiny("mecs.failures=[{mec: 1, start_s: 0, duration_s: 5}]", "slots=8")
    tasks, slots, _ = run(scenario, tmp_path, "random", "greedy", "optimal")
    early = tasks[tasks.slot < 5]
    assert (early.target != 1).all()
    assert not slots[slots.slot == 0].available_1.any()
    assert (tasks[tasks.slot >= 5].target == 1).any()


@pytest.mark.parametrize("on_failure", ["drop", "local"])
def test_a_failure_stops_uploads_to_the_mec_at_once(tiny, tmp_path, on_failure):
    scenario = tiny("mecs.failures=[{mec: 1, start_s: 2.5, duration_s: 3}]", "slots=6",
                    "tasks.data_bits=6e6", f"mecs.on_failure={on_failure}", "on_invalid=local")
    tasks, _, _ = run(scenario, tmp_path, "all_to_mec1")
    cut = tasks[(tasks.target == 1) & (tasks.start_s < 2.5) & tasks.uploaded_s.isna()]
    assert len(cut) > 0
    if on_failure == "drop":
        assert (cut.drop_reason == "mec_failure").all()
        np.testing.assert_allclose(cut.done_s, 2.5)
    else:
        assert cut.rerun_local.all()
        assert (cut[cut.status == "completed"].done_s >= 2.5 + 1.0 - 1e-9).all()


def test_fading_in_its_own_steps_follows_jakes_at_every_lag():
    from mecsim.config import load_scenario

    v, step = 1.0, 0.01  # [m/s], [s]: f_D = 8 Hz, lag-1 J0(2 pi 0.08) = 0.94
    scenario = load_scenario(SCENARIOS / "tiny.yaml", [
        "iotds.count=400", "mecs.count=2", "slot_s=0.1", f"channel.fading.step_s={step}",
        "channel.fading.rho=jakes", "channel.fading.sinusoids=32",  # finite-Q bias < 0.015
        f"iotds.mobility={{model: random_waypoint, speed_range_mps: [{v}, {v * 1.0001}]}}",
        "area_m=[5000, 5000]"])
    world = World(scenario, 0)
    powers = []
    for _ in range(3):
        w = world.next_slot()
        iotd = np.repeat(np.arange(400), 2)
        mec = np.tile(np.arange(2), 400)
        gains = w.channel.gains(iotd, mec)  # (10, 800)
        path = scenario.channel.beta0 / w.distance_m[iotd, mec] ** 2  # moves < 1e-4 here
        powers.append(gains / path)
    p = np.concatenate(powers)  # (30, 800) fading power, across three slots
    fd = v * scenario.channel.carrier_hz / SPEED_OF_LIGHT_MPS
    for lag in range(1, 6):
        a, b = p[:-lag].ravel(), p[lag:].ravel()
        assert np.corrcoef(a, b)[0, 1] == pytest.approx(j0(2 * np.pi * fd * lag * step) ** 2,
                                                        abs=0.04), lag


def test_shadowing_moves_with_the_device(tiny, monkeypatch):
    walks = []
    real = world_module.Shadowing.walk

    def spy(self, moved_m, steps, out=None):
        walks.append((np.array(moved_m), steps))
        return real(self, moved_m, steps, out=out)

    monkeypatch.setattr(world_module.Shadowing, "walk", spy)
    scenario = tiny("channel.fading.shadowing_std_db=4", "channel.fading.step_s=0.5")
    world = World(scenario, 0)
    first = world.next_slot()
    calls_first = len(walks)
    second, third = world.next_slot(), world.next_slot()
    chord = np.hypot(*(second.positions_m - first.positions_m).T)
    chord2 = np.hypot(*(third.positions_m - second.positions_m).T)
    # slot 0: the stationary draw at epoch 0, then one walk of its two fading steps (the
    # second one reaching epoch 1), each half of slot 0's move
    assert calls_first == 2 and walks[1][1] == 2
    np.testing.assert_allclose(walks[1][0], chord / 2)
    # slot 1: its two steps move by half of slot 1's move, up to epoch 2
    assert walks[2][1] == 2
    np.testing.assert_allclose(walks[2][0], chord2 / 2)
    assert chord.min() > 0.5  # tiny's devices walk 1-2 m/s
