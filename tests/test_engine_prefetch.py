"""The next slot's world drawn in a background thread (``PREFETCH_WORLD``): same run."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from mecsim.config import load_scenario
from mecsim.engine import prefetch, simulation
from mecsim.engine.prefetch import WorldAhead, worth_it
from mecsim.engine.simulation import Simulation
from mecsim.engine.world import World
from mecsim.registry import make
from mecsim.rng import scheduler_seed

DENSE = Path(__file__).resolve().parents[1] / "scenarios" / "dense_100.yaml"
NEXT_SLOT = World.next_slot  # unpatched


def _run(prefetch_on: bool, monkeypatch, name="random", overrides=("slots=12",), stop_at=None):
    monkeypatch.setattr(simulation, "PREFETCH_WORLD", prefetch_on)
    monkeypatch.setattr(prefetch, "MIN_LINKS", 0)  # dense_100's 600 links would not
    scenario = load_scenario(DENSE, ["output.channels=false", *overrides])
    threads = []

    def next_slot(self):
        threads.append(threading.current_thread().name)
        return NEXT_SLOT(self)

    monkeypatch.setattr(World, "next_slot", next_slot)
    rows, slots = [], []
    done = [0]

    def check_stop():
        if stop_at is not None and done[0] == stop_at:
            raise KeyboardInterrupt
        done[0] += 1

    scheduler = make(name)
    sim = Simulation(scenario, scheduler, name, scenario.seed, on_tasks=rows.append,
                     on_slot=slots.append, check_stop=check_stop)
    scheduler.reset(scheduler_seed(scenario.seed, 0), sim.network)
    try:
        sim.run(scenario.slots)
    finally:
        world_slot = sim.world._slot
        sim.close()
    return rows, slots, threads, world_slot, sim


def _same(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for key in x:
            if key == "decision_s":
                continue
            np.testing.assert_array_equal(np.asarray(x[key]), np.asarray(y[key]), err_msg=key)


@pytest.mark.parametrize("name", ["random", "greedy", "local"])
def test_prefetching_the_world_changes_nothing(name, monkeypatch):
    rows, slots, threads, world_slot, _ = _run(True, monkeypatch, name)
    ref_rows, ref_slots, ref_threads, ref_world_slot, _ = _run(False, monkeypatch, name)
    _same(rows, ref_rows)
    _same(slots, ref_slots)
    # slot 0 is drawn by the engine's thread, every later one by the world's thread
    assert threads == ["MainThread"] + ["mecsim-world"] * 11
    assert ref_threads == ["MainThread"] * 12
    assert world_slot == ref_world_slot == 12  # never advanced past the run


def test_candidate_links_are_not_prefetched(monkeypatch):
    # choosing the next slot's links redraws fading in place: the current slot reads it
    *_, threads, _, _ = _run(True, monkeypatch, overrides=("slots=4", "mecs.count=6",
                                                           "channel.candidate_mecs=3"))
    assert threads == ["MainThread"] * 4


def test_a_stopped_run_leaves_no_world_thread(monkeypatch):
    with pytest.raises(KeyboardInterrupt):
        _run(True, monkeypatch, stop_at=3)
    assert not [t for t in threading.enumerate() if t.name == "mecsim-world"]


def test_an_error_drawing_a_slot_reaches_the_engine(monkeypatch):
    world = World(load_scenario(DENSE, ["output.channels=false"]))
    calls = [0]

    def failing(self):
        calls[0] += 1
        if calls[0] == 3:
            raise ValueError("bad slot")
        return NEXT_SLOT(self)

    monkeypatch.setattr(World, "next_slot", failing)
    ahead = WorldAhead(world)
    assert ahead.next_slot(more=True).slot == 0
    assert ahead.next_slot(more=True).slot == 1
    with pytest.raises(ValueError, match="bad slot"):
        ahead.next_slot(more=True)
    ahead.close()


def test_only_worlds_with_many_links_are_drawn_ahead():
    # a small world's draws are mostly Python holding the GIL: two threads only take turns
    small = World(load_scenario(DENSE, ["output.channels=false"]))
    assert small.links == 600 and not worth_it(small, 1000)
    big = World(load_scenario(DENSE, ["output.channels=false", "iotds.count=2000",
                                      "mecs.count=6"]))
    assert big.links == 12_000 and worth_it(big, 1000)
    assert not worth_it(big, 1)  # one slot: nothing to draw ahead
    near = World(load_scenario(DENSE, ["output.channels=false", "iotds.count=4000",
                                       "channel.candidate_mecs=3"]))
    assert near.links == 12_000 and not worth_it(near, 1000)  # candidate links


def test_the_switch_interval_is_lowered_only_while_a_slot_is_drawn(monkeypatch):
    """A thread retaking the GIL waits up to the switch interval: lowered during a draw."""
    import sys

    world = World(load_scenario(DENSE, ["output.channels=false"]))
    seen = []

    def next_slot(self):
        seen.append((threading.current_thread().name, sys.getswitchinterval()))
        return NEXT_SLOT(self)

    monkeypatch.setattr(World, "next_slot", next_slot)
    before = sys.getswitchinterval()
    ahead = WorldAhead(world)
    ahead.next_slot(more=True)
    ahead.next_slot(more=True)
    lowered = pytest.approx(prefetch.SWITCH_INTERVAL_S)  # kept in whole microseconds
    assert sys.getswitchinterval() == lowered  # slot 2 is being drawn
    ahead.next_slot(more=False)
    assert sys.getswitchinterval() == before
    ahead.next_slot(more=True)
    ahead.close()  # a stopped run
    assert sys.getswitchinterval() == before
    # after more=False the engine's thread draws the next slot
    main, thread = ("MainThread", before), ("mecsim-world", lowered)
    assert seen == [main, thread, thread, main, thread]


def test_large_calls_draw_the_same_world_in_fewer_calls(monkeypatch):
    from mecsim.physics.fading import SumOfSinusoids

    calls = [0]
    power = SumOfSinusoids._power

    def counted(self, *args):
        calls[0] += 1
        return power(self, *args)

    monkeypatch.setattr(SumOfSinusoids, "_power", counted)
    scenario = load_scenario(DENSE, ["output.channels=false", "iotds.count=4000",
                                     "mecs.count=6", "channel.fading.step_s=1.0"])
    plain, large = World(scenario), World(scenario)
    large.draw_in_large_calls()
    for _ in range(3):
        calls[0] = 0
        a = plain.next_slot()
        plain_calls, calls[0] = calls[0], 0
        b = large.next_slot()
        assert plain_calls > calls[0] == 1  # 24,000 links x sinusoids: many cache-sized calls
        for field in ("distance_m", "gains", "iotd", "arrival_s", "data_bits", "cycles"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
        iotd, mec = np.arange(0, 4000, 7), np.arange(0, 4000, 7) % 6
        np.testing.assert_array_equal(a.channel.gains(iotd, mec), b.channel.gains(iotd, mec))
