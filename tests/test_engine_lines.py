"""FCFS lines whose rate follows the channel, and processor sharing with a task aborted."""

from pathlib import Path

import numpy as np
import pytest
import simpy

from mecsim.engine.cpu import MecCpu
from mecsim.engine.lines import FcfsLines, Job


class Clock:
    """Drives a line through slots of ``steps`` fading steps with the given rates."""

    def __init__(self, rates_by_slot, slot_s=1.0, steps=1):
        self.env = simpy.Environment()
        self.rates_by_slot, self.slot_s, self.steps = rates_by_slot, slot_s, steps
        self.slot = 0
        self.done = {}
        self.line = FcfsLines(self.env, self._rates, lambda job, t: self.done.__setitem__(
            job.token, t))

    def _rates(self, iotd, link, power):
        r = np.asarray(self.rates_by_slot[self.slot], dtype=float).reshape(self.steps, 1)
        return np.repeat(r, iotd.size, axis=1) * power[None, :]

    def epochs(self, slots):
        for k in range(slots):
            self.slot = k
            self.line.new_slot(k * self.slot_s, self.slot_s / self.steps, self.steps)
            yield self.env.timeout(self.slot_s)


def test_upload_across_three_known_rates():
    # 1 Mbit at 300 kbit/s, then 200 kbit/s, then 1 Mbit/s (one rate per slot): 0.3 + 0.2
    # Mbit in the first two slots, the last 0.5 Mbit in 0.5 s of the third.
    clock = Clock([[3e5], [2e5], [1e6], [1e6]])
    clock.env.process(clock.epochs(4))
    clock.line.add(np.array([0]), [Job("a", 0, 1e6, 1.0)], 0.0)
    clock.env.run(until=4.0)
    assert clock.done["a"] == pytest.approx(2.5, abs=1e-12)


def test_rate_changes_at_each_fading_step_within_a_slot():
    # Steps of 0.25 s at 4, 1, 2, 8 Mbit/s; a 2.5 Mbit job started at 0.1 s:
    # 0.6 Mbit to 0.25 s, 0.25 Mbit to 0.5 s, 0.5 Mbit to 0.75 s, then 1.15 Mbit at 8 Mbit/s.
    clock = Clock([[4e6, 1e6, 2e6, 8e6]], steps=4)
    clock.env.process(clock.epochs(1))

    def later():
        yield clock.env.timeout(0.1)
        clock.line.add(np.array([3]), [Job("b", 1, 2.5e6, 1.0)], clock.env.now)

    clock.env.process(later())
    clock.env.run(until=1.0)
    assert clock.done["b"] == pytest.approx(0.75 + 1.15 / 8, abs=1e-12)


def test_jobs_of_one_line_follow_each_other_and_a_removed_one_frees_the_line():
    clock = Clock([[1e6]] * 6)
    clock.env.process(clock.epochs(6))
    jobs = [Job(name, 0, bits, 1.0) for name, bits in (("x", 1.5e6), ("y", 1e6), ("z", 1e6))]
    clock.line.add(np.array([7, 7, 7]), jobs, 0.0)

    def abort():
        yield clock.env.timeout(0.5)
        served = clock.line.remove(7, jobs[0], clock.env.now)  # x leaves after 0.5 s
        assert served == pytest.approx(0.5)

    clock.env.process(abort())
    clock.env.run(until=6.0)
    assert "x" not in clock.done
    assert clock.done["y"] == pytest.approx(1.5)  # starts at once, when x leaves
    assert clock.done["z"] == pytest.approx(2.5)
    assert len(clock.line) == 0 and clock.line.queued_work == 0


def test_work_left_counts_the_job_in_service_and_the_queue():
    clock = Clock([[2e6]] * 3)
    clock.env.process(clock.epochs(3))
    clock.line.add(np.array([0, 0]), [Job("p", 0, 3e6, 1.0), Job("q", 0, 1e6, 1.0)], 0.0)
    clock.env.run(until=0.5)
    assert clock.line.work_left(0.5) == pytest.approx(3e6 - 1e6 + 1e6)


def test_processor_sharing_recomputes_finishing_times_when_a_task_is_aborted():
    # 10 GHz shared equally by 1, 2 and 4 Gcycles; the 4-Gcycle task is aborted at 0.15 s,
    # when each task has run 0.5 Gcycles. Then 1 and 2 share 10 GHz: 1 ends at 0.25 s
    # (0.5 Gcycles at 5 GHz), 2 has 1 Gcycle left at 0.25 s and ends alone at 0.35 s.
    env = simpy.Environment()
    done = {}
    cpu = MecCpu(env, 10e9, lambda token, t: done.__setitem__(token, t))
    for name, cycles in (("one", 1e9), ("two", 2e9), ("four", 4e9)):
        cpu.join(name, cycles, 1.0)

    def abort():
        yield env.timeout(0.15)
        assert cpu.backlog_cycles() == pytest.approx(7e9 - 1.5e9)
        assert cpu.remove("four") and not cpu.remove("four")
        assert cpu.tasks == 2 and cpu.backlog_cycles() == pytest.approx(2.0e9)

    env.process(abort())
    env.run()
    assert done == pytest.approx({"one": 0.25, "two": 0.35})


def test_processor_sharing_without_the_abort():
    env = simpy.Environment()
    done = {}
    cpu = MecCpu(env, 10e9, lambda token, t: done.__setitem__(token, t))
    for name, cycles in (("one", 1e9), ("two", 2e9), ("four", 4e9)):
        cpu.join(name, cycles, 1.0)
    env.run()
    assert done == pytest.approx({"one": 0.3, "two": 0.5, "four": 0.7})


def test_mec_backlog_is_never_negative_once_uploads_are_gone(tmp_path):
    """The uploads' running sum of cycles kept float residue (-5e-6 to -7e-5 cycles on these
    seeds) after every upload ended, so the Observation's MEC backlog went negative and
    ``Observation.waits()`` raised (seen by DROO's queue inputs, issue 13)."""
    import pandas as pd

    from mecsim.config import SchedulerSpec, load_scenario
    from mecsim.engine.runner import run_scenario

    unequal = ["tasks.cycles={dist: uniform, low: 2.0e8, high: 2.0e9}",
               "tasks.data_bits={dist: uniform, low: 1.6e5, high: 1.6e6}"]
    root = Path(__file__).resolve().parent.parent
    for seed in (0, 1):
        scenario = load_scenario(root / "scenarios" / "paper.yaml",
                                 [*unequal, f"seed={seed}", "slots=150"])
        run_scenario(scenario, tmp_path / str(seed), channels=False,
                     schedulers=[SchedulerSpec(name="greedy", params={})])
        slots = pd.read_parquet(tmp_path / str(seed) / "slots.parquet")
        assert (slots[["backlog_cycles_1", "backlog_cycles_2"]] >= 0).all().all()


def test_a_batch_of_jobs_gets_its_rates_in_one_call_and_queued_ones_follow_the_slot():
    # Three jobs on IoTD 0 (two queued) and one on IoTD 1, added at once: one call of the
    # rates for all four. A queued job that starts in the next slot uses that slot's rates.
    clock = Clock([[1e6], [4e6], [4e6]])
    calls = []
    inner = clock._rates

    def rates(iotd, link, power):
        calls.append(iotd.size)
        return inner(iotd, link, power)

    clock.line._rates = rates
    clock.env.process(clock.epochs(3))
    jobs = [Job("a", 0, 4e5, 1.0), Job("b", 0, 4e5, 1.0), Job("c", 0, 4e5, 1.0),
            Job("d", 1, 2e5, 1.0)]
    clock.line.add(np.array([0, 0, 0, 1]), jobs, 0.0)
    assert calls == [4]
    busy = clock.line.busy_s(0.0, 2)  # the queued jobs' rates are known: no call
    assert calls == [4]
    np.testing.assert_allclose(busy, [1.2, 0.2])
    clock.env.run(until=3.0)
    # a, b at 1 Mbit/s in slot 0 (0.4 s each); c starts at 0.8 s, 0.2 Mbit by 1.0 s, then
    # 0.2 Mbit at 4 Mbit/s: 1.05 s
    assert clock.done["a"] == pytest.approx(0.4, abs=1e-12)
    assert clock.done["b"] == pytest.approx(0.8, abs=1e-12)
    assert clock.done["c"] == pytest.approx(1.05, abs=1e-12)
    assert clock.done["d"] == pytest.approx(0.2, abs=1e-12)


def test_a_job_queued_across_an_epoch_gets_the_new_slots_rates():
    # b waits behind a long job through slot 0; when it starts in slot 1 its rates are
    # slot 1's (2 Mbit/s), not those computed for it in slot 0 (1 Mbit/s).
    clock = Clock([[1e6], [2e6], [2e6]])
    clock.env.process(clock.epochs(3))
    clock.line.add(np.array([0, 0]), [Job("a", 0, 1.5e6, 1.0), Job("b", 0, 1e6, 1.0)], 0.0)
    clock.env.run(until=3.0)
    assert clock.done["a"] == pytest.approx(1.25, abs=1e-12)
    assert clock.done["b"] == pytest.approx(1.75, abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_finish_times_in_one_pass_equal_the_one_job_path(seed):
    rng = np.random.default_rng(seed)
    steps = int(rng.integers(2, 12))
    env = simpy.Environment()
    line = FcfsLines(env, lambda *a: None, lambda job, t: None)
    start = float(rng.uniform(0, 50))
    line.new_slot(start, 0.1, steps)
    now = start + float(rng.choice([0.0, rng.uniform(0, 0.1 * steps)]))
    jobs = []
    for k in range(20):
        job = Job(k, 0, float(rng.choice([0.0, -1.0, rng.uniform(0, 3e5), 1e9])), 1.0)
        job.rates = rng.uniform(0, 1e6, size=steps) * (rng.uniform(size=steps) > 0.2)
        job.as_of_s = now
        jobs.append(job)
    together = line._finish_times(jobs, now)
    alone = [line._finish_time(job, now) for job in jobs]
    assert together == alone
    assert any(f is None for f in alone) and any(f is not None for f in alone)


def test_busy_estimate_of_queued_jobs_is_their_mean_rate_whoever_shares_the_call():
    # rates that differ per step and per job: each queued job's estimate is its own
    # mean rate over the slot's steps, bit for bit, computed alone or with others
    rng = np.random.default_rng(3)
    table = rng.uniform(1e5, 1e6, size=(5, 4, 3))  # (steps, iotd, link)

    def rates(iotd, link, power):
        return table[:, iotd, link] * power[None, :]

    env = simpy.Environment()
    line = FcfsLines(env, rates, lambda job, t: None)
    line.new_slot(0.0, 0.2, 5)
    jobs, devs = [], [0, 0, 0, 1, 1, 2, 3, 3, 3, 3]
    for k in range(len(devs)):
        jobs.append(Job(k, k % 3, float(rng.uniform(1e4, 5e5)), float(rng.uniform(0.5, 2))))
    line.add(np.array(devs[:4]), jobs[:4], 0.0)
    line.add(np.array(devs[4:]), jobs[4:], 0.0)
    busy = line.busy_s(0.0, 4)
    want = np.zeros(4)
    for dev, job in zip(devs, jobs, strict=True):
        alone = rates(np.array([dev]), np.array([job.link]), np.array([job.power_w]))
        mean = alone.mean(axis=0)[0] if job.rates is None else \
            float(np.add.reduce(job.rates)) / len(job.rates)
        want[dev] += job.left / mean
    np.testing.assert_array_equal(busy, want)


def test_the_one_point_interpolation_is_numpys_bit_for_bit():
    """``lines._interp`` (a job's work done by a time) equals ``np.interp`` exactly."""
    from mecsim.engine.lines import _interp

    rng = np.random.default_rng(0)
    for _ in range(400):
        n = int(rng.integers(1, 120))
        rates = rng.exponential(1e5, n) * rng.choice([1.0, 0.0, 1e-300, 1e300], n,
                                                      p=[0.9, 0.04, 0.03, 0.03])
        cum = np.concatenate(([0.0], np.cumsum(rates))) * 0.01
        grid = np.arange(n + 1)
        points = np.concatenate((rng.uniform(-1.0, n + 1.0, 40), np.arange(n + 1.0),
                                 [-0.0, np.nextafter(n, 0.0), n + 1e-12, 0.5, np.nan]))
        for x in points.tolist():
            want = float(np.interp(x, grid, cum))
            got = _interp(x, cum.tolist())
            assert got == want or (got != got and want != want), (x, got, want)


def _uplink_calls(monkeypatch, ahead: int, name: str = "random"):
    """Run ``name`` on 40 slots of dense_100 with ``QUEUED_AHEAD = ahead``; return the
    rows, the slot records and the calls of the uplink's rates."""
    from mecsim.config import load_scenario
    from mecsim.engine import lines
    from mecsim.engine.simulation import Simulation
    from mecsim.registry import make

    monkeypatch.setattr(lines, "QUEUED_AHEAD", ahead)
    scenario = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "dense_100.yaml",
                             ["slots=40", "output.channels=false", "tasks.deadline_s=1.5"])
    rows, slots, calls = [], [], [0]
    scheduler = make(name)
    sim = Simulation(scenario, scheduler, name, scenario.seed, on_tasks=rows.append,
                     on_slot=slots.append)
    rates = sim.uplink._rates

    def counted(*args):
        calls[0] += 1
        return rates(*args)

    sim.uplink._rates = counted
    scheduler.reset(0, sim.network)
    sim.run(scenario.slots)
    sim.finish()
    sim.close()
    return rows, slots, calls[0]


@pytest.mark.parametrize(("name", "share"), [("random", 0.8), ("lyapunov", 1.0)])
def test_an_epoch_computes_the_next_queued_jobs_rates_with_the_heads(monkeypatch, name, share):
    """A job that starts mid-slot finds its rates ready: fewer calls, the same run
    (``random``'s long queues: 7.4-7.8 -> 6.3-6.4 s on dense_100)."""
    rows, slots, calls = _uplink_calls(monkeypatch, 1, name)
    ref_rows, ref_slots, ref_calls = _uplink_calls(monkeypatch, 0, name)
    assert calls < share * ref_calls
    for mine, ref in ((rows, ref_rows), (slots, ref_slots)):
        assert len(mine) == len(ref)
        for x, y in zip(mine, ref, strict=True):
            for key in x:
                if key != "decision_s":
                    np.testing.assert_array_equal(np.asarray(x[key]), np.asarray(y[key]),
                                                  err_msg=key)
