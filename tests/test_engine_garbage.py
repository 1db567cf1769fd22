"""A run leaves no cyclic garbage behind (issue 14, item 6).

SimPy events hold callbacks bound to the CPUs, lines and processes of a simulation, which
point back to it: left as they are when a run ends, the whole graph (world, pending tasks,
events) waits for the next full collection, paid by whatever runs next.
"""

import gc
import os

import pytest

from mecsim.config import SchedulerSpec
from mecsim.engine.runner import run_scenario
from mecsim.engine.simulation import Simulation

MAX_GARBAGE = 100  # unreachable objects a full collection may still find after a run
QUICK_DIRS = {"demonstrations": 8, "demo_holdout": 2, "pretrain_steps": 20, "train_slots": 4}


def _garbage_after(run) -> int:
    """Unreachable objects a full collection finds after ``run()``, collection off during it.

    ``run()`` runs twice, and only the second is counted: a first run's imports and
    first-use caches (torch's, for one) leave garbage of their own, once per process.
    """
    run()
    gc.collect()
    gc.disable()
    try:
        run()
        return gc.collect()
    finally:
        gc.enable()


@pytest.mark.parametrize("spec", [SchedulerSpec(name="greedy"), SchedulerSpec(name="optimal"),
                                  SchedulerSpec(name="dirs_shared", params=QUICK_DIRS)],
                         ids=lambda s: s.name)
def test_a_run_leaves_no_cyclic_garbage(tiny, tmp_path, spec):
    # greedy on 16 IoTDs: a few tasks still queued, uploading and on MECs at the end
    scenario = tiny("iotds.count=16", "slots=6", "tasks.deadline_s={dist: constant, value: 3}")
    results = []

    def run():
        results[:] = run_scenario(scenario, tmp_path / "run", schedulers=[spec])
    found = _garbage_after(run)
    assert results[0].complete and results[0].error is None
    assert results[0].counts["in_flight"] > 0 or spec.name != "greedy"
    assert found < MAX_GARBAGE


def test_a_stopped_run_is_freed_too(tiny, tmp_path):
    def stop_at_slot_3(name, slots):
        def tick(slot, tasks):
            if slot == 3:
                raise KeyboardInterrupt
        return tick

    scenario = tiny("iotds.count=16", "slots=10")

    def run():
        with pytest.raises(KeyboardInterrupt):
            run_scenario(scenario, tmp_path / "run", schedulers=[SchedulerSpec(name="greedy")],
                         progress=stop_at_slot_3)
    assert _garbage_after(run) < MAX_GARBAGE


def test_a_scheduler_error_is_freed_too(tiny, tmp_path):
    from engine_schedulers import Raises

    scenario = tiny("iotds.count=16", "slots=10")
    results = []

    def run():
        results[:] = run_scenario(scenario, tmp_path / "run",
                                  schedulers=[SchedulerSpec(name="raises")],
                                  make=lambda name, **params: Raises())
    assert _garbage_after(run) < MAX_GARBAGE
    assert "boom" in results[0].error


def test_close_frees_a_simulation_and_keeps_its_figures(tiny):
    from mecsim.registry import make

    scenario = tiny("iotds.count=16", "slots=6", "mecs.failures=[{mec: 2, start_s: 4, "
                    "duration_s: 10}]")
    rows = []
    figures = {}

    def run():
        rows.clear()
        sim = Simulation(scenario, make("greedy"), "greedy", 0, on_tasks=rows.append,
                         on_slot=lambda r: None)
        sim.scheduler.reset(0, sim.network)
        sim.run(scenario.slots)
        sim.close()
        sim.close()  # idempotent
        figures.update(counts=sim.counts(), realized=sim.realized.summary(),
                       backlog=sim.backlog_series(), costs=list(sim.model_costs))
    assert _garbage_after(run) < MAX_GARBAGE
    c = figures["counts"]
    assert c["generated"] == sum(len(r["iotd"]) for r in rows) == 16 * 6
    assert c["in_flight"] > 0 and c["generated"] == c["completed"] + c["dropped"] + c["in_flight"]
    assert len(figures["costs"]) == len(figures["backlog"]["time_s"]) == 6


# --------------------------------------------------------------------------- memory release
# Freed heap memory is given back to the OS after each commit (glibc's malloc_trim): else
# the RSS of a process that runs many large runs (a sweep worker) keeps their high mark.


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_release_memory_gives_freed_heap_back():
    from mecsim.engine.runner import _malloc_trim, release_memory

    if _malloc_trim() is None:
        pytest.skip("no malloc_trim (not glibc)")
    # 200 MiB in 4-KiB blocks (malloc's heap, not mmap), then a block above them, kept:
    # the freed blocks below it cannot be returned by shrinking the heap's top
    blocks = [bytes(4096) for _ in range(51_200)]
    fence = bytes(4096)
    high = _rss_mib()
    del blocks
    freed = _rss_mib()
    assert release_memory()
    after = _rss_mib()
    assert high - freed < 50 < freed - after  # [MiB] kept by free(), given back by the trim
    del fence


def test_each_commit_releases_memory(tiny, tmp_path, monkeypatch):
    from mecsim.engine import runner

    calls = []
    monkeypatch.setattr(runner, "release_memory", lambda: calls.append(1) or True)
    results = run_scenario(tiny("slots=3"), tmp_path / "run",
                           schedulers=[SchedulerSpec(name="greedy"), SchedulerSpec(name="local")])
    assert all(r.complete for r in results)
    assert len(calls) >= 3  # the first summary, and at least one commit per scheduler
