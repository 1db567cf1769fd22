"""Speed and size at scale (issue 14): a script, not a test.

Run: ``python benchmarks/bench_scale.py`` (about 8 min on 2 cores; ``--only floor``,
``--only memory``, ``--only million``, ``--only optimal`` for one section) or ``--quick``
(scaled down, a smoke check: its figures are indicative only). Prints one table with each
figure, its target and PASS/FAIL; the exit status is 1 when a target fails. See
``benchmarks/README.md``.

1. **Floor**: ``greedy`` with 10,000 IoTDs and 100 MECs (bench_engine.py's scale scenario)
   against the *floor* of the same work, measured in the same run: a numpy-only loop doing
   the same world work plus a bare SimPy loop firing the same number of events. Target: the
   engine at most 1.3x the floor.
2. **Memory flat in run length**: the same scenario for 310 slots in a child process; RSS
   at slot 300 within 5 % of that at slot 100, each sample taken once the allocators have
   given their free pages back (:func:`mecsim.engine.runner.release_memory`, as every
   commit does); the raw RSS is printed beside it.
3. **A million IoTDs**: 1,000,000 IoTDs, 100 MECs, ``channel.candidate_mecs: 4``,
   ``greedy``, 10 slots, every result file written, in a child process: peak RSS at most
   16 GB; tasks per second.
4. **``optimal`` at size**: 10,000 IoTDs x 100 MECs with ``dense_100``'s world (100 fading
   steps a slot, unequal cycles), one task per IoTD per slot, 4 slots: each slot's decision
   time, the wall time of each slot after the first (from one ``decide`` call to the next:
   the world drawn alongside in a thread, the decision, the task events and the records)
   and the gap to the lower bound of each slot (labelled a bound). Target: both times at
   most 10 s a slot.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_engine import (  # noqa: E402
    DENSE,
    SCALE,
    STABLE_CYCLES,
    Table,
    _eps,
    bare_events,
    engine_events,
    scale,
)

from mecsim.config import load_scenario  # noqa: E402
from mecsim.engine.world import World  # noqa: E402

FLOOR_TARGET = 1.3  # engine wall / floor wall
MEMORY_TARGET = 0.05  # RSS growth, slot 100 -> 300
MILLION_TARGET_GB = 16.0
REPEATS = 2  # best of, for the floor section
MILLION = ["iotds.count=1000000", "channel.candidate_mecs=4"]
OPTIMAL_TARGET_S = 10.0  # [s] optimal's decision and a whole slot, 10k x 100
OPTIMAL_AT_SIZE = ["iotds.count=10000", "mecs.count=100", "mecs.cpu_hz=50e9",
                   "area_m=[1000,1000]", "tasks.arrival={process: per_slot}",
                   "output.channels=false", "slots=4"]


def _scaled_down(overrides: list[str]) -> list[str]:
    """``--quick``: 10,000 x 100 in 1 km^2 becomes 1,000 x 10 in 0.1 km^2."""
    return [o.replace("iotds.count=10000", "iotds.count=1000")
            .replace("mecs.count=100", "mecs.count=10")
            .replace("area_m=[1000,1000]", "area_m=[316,316]") for o in overrides]


# --------------------------------------------------------------------------- 1. floor
#
# The floor is what the same simulation cannot avoid: the world's numpy work (mobility,
# distances, fading and shadowing of every link at every fading step, arrivals, sizes and
# the epoch's gains: ``World.next_slot``, which is numpy only), greedy's decision reduced to
# its numpy core (the nearest MEC of each task), the uploads' gains at every fading step
# (``SlotChannel.gains`` for as many links as the engine offloaded), and SimPy firing as
# many events as the simulation has, each with a callback (bench_engine.bare_events): the
# events the engine's SimPy processed plus the local completions it ran without a SimPy
# event (``LocalCpus``, issue 14 "Fewer events"), since each is still an event of the model
# with its own callback. Counting only SimPy's would lower the floor whenever the engine
# saves events.
# What the engine adds on top is its own: observation, validation, the exact allocation,
# the model cost, the records, the queues' bookkeeping.


def floor_world(scenario, slots: int, offloaded_per_slot: int) -> float:
    """Time [s] of the numpy part of the floor for ``slots`` slots."""
    world = World(scenario, scenario.seed)
    started = time.perf_counter()
    for _ in range(slots):
        w = world.next_slot()
        nearest = np.argmin(w.distance_m[w.iotd], axis=1)
        k = min(offloaded_per_slot, w.iotd.size)
        w.channel.gains(w.iotd[:k], nearest[:k])
    return time.perf_counter() - started


def _offloaded(scenario) -> int:
    """Tasks the engine's greedy offloads over the run (one untimed run)."""
    from mecsim.engine.runner import CAPACITY_LIMITED
    from mecsim.engine.simulation import Simulation
    from mecsim.registry import make

    params = {}
    if "greedy" in CAPACITY_LIMITED and scenario.greedy_max_tasks_per_mec is not None:
        params["max_tasks_per_mec"] = scenario.greedy_max_tasks_per_mec
    seen = [0]

    def count(rows) -> None:
        seen[0] += int((np.asarray(rows["target"]) > 0).sum())

    sim = Simulation(scenario, make("greedy", **params), "greedy", scenario.seed,
                     on_tasks=count, on_slot=lambda _row: None)
    sim.scheduler.reset(0, sim.network)
    sim.run(scenario.slots)
    sim.finish()
    return seen[0]


def floor(overrides: list[str]) -> dict:
    scenario = load_scenario(DENSE, overrides)
    slots = scenario.slots
    offloaded = _offloaded(scenario)
    per_slot = offloaded // slots
    engine, world_s, bare_s = [], [], []
    for _ in range(REPEATS):
        engine.append(engine_events(scenario, "greedy"))
        world_s.append(floor_world(scenario, slots, per_slot))
        bare_s.append(bare_events(engine[-1]["events"] + engine[-1]["ahead"], slots)[1])
    best = min(engine, key=lambda e: e["wall"])
    floor_s = min(world_s) + min(bare_s)
    return {"slots": slots, "iotds": scenario.iotds.count, "mecs": scenario.mecs.count,
            "tasks": best["tasks"], "events": best["events"], "ahead": best["ahead"],
            "engine_s": best["wall"],
            "world_s": min(world_s), "bare_s": min(bare_s), "floor_s": floor_s,
            "ratio": best["wall"] / floor_s, "offloaded": offloaded}


def floor_rows(table: Table, quick: bool) -> None:
    overrides = [*SCALE, STABLE_CYCLES, "slots=20"]
    if quick:
        overrides = _scaled_down(overrides)
    print(f"[1] floor: {' '.join(overrides)} ...", flush=True)
    f = floor(overrides)
    tag = " (quick)" if quick else ""
    what = f"greedy, {f['iotds']:,} IoTDs x {f['mecs']} MECs, {f['slots']} slots{tag}"
    table.add(f"{what}: engine wall / floor", f"{f['ratio']:.2f}",
              f"<= {FLOOR_TARGET:g}", f["ratio"] <= FLOOR_TARGET)
    table.add("  engine: tasks/s, wall per slot",
              f"{_eps(f['tasks'] / f['engine_s'])}, {f['engine_s'] / f['slots'] * 1e3:.0f} ms "
              f"({f['events']:,} SimPy events + {f['ahead']:,} local completions run ahead, "
              f"{f['offloaded']:,} of {f['tasks']:,} offloaded)")
    table.add("  floor per slot: numpy world + greedy core + uploads / bare SimPy",
              f"{f['world_s'] / f['slots'] * 1e3:.0f} / {f['bare_s'] / f['slots'] * 1e3:.0f} ms")


# --------------------------------------------------------------------------- 2. memory


def memory_rows(table: Table, quick: bool) -> None:
    # 310 slots: at a run's last slot the next slot's world is not drawn ahead (about 40 MiB
    # at 10k x 100), so a sample there reads low
    base = [*SCALE, STABLE_CYCLES, "slots=310"]
    if quick:
        base = _scaled_down(base)
    marks = [100, 200, 300]
    print(f"[2] memory: {' '.join(base)} ...", flush=True)
    s = scale(base, marks)
    tag = " (quick)" if quick else ""
    rss = {m: s["samples"][m][0] for m in marks}
    raw = {m: s["samples"][m][2] for m in marks}
    growth = (rss[300] - rss[100]) / rss[100]
    table.add(f"RSS slot 100 -> 300, greedy {s['iotds']:,} x {s['mecs']}{tag}",
              f"{growth:+.1%} ({rss[100]:.0f} / {rss[200]:.0f} / {rss[300]:.0f} MiB at "
              f"100 / 200 / 300)", f"within {MEMORY_TARGET:.0%}", abs(growth) <= MEMORY_TARGET)
    table.add("  the same before the allocators' free pages go back",
              f"{(raw[300] - raw[100]) / raw[100]:+.1%} ({raw[100]:.0f} / {raw[200]:.0f} / "
              f"{raw[300]:.0f} MiB)")
    c = s["counts"]
    table.add("  tasks/s of that run", f"{_eps(c['generated'] / s['wall_s'])}")


# --------------------------------------------------------------------------- 3. million


def million_rows(table: Table, quick: bool) -> None:
    overrides = [*SCALE, STABLE_CYCLES, *MILLION, "slots=10"]
    if quick:
        overrides = [o.replace("iotds.count=1000000", "iotds.count=20000") for o in overrides]
    print(f"[3] million: {' '.join(overrides)} ...", flush=True)
    s = scale(overrides, [1, 5, 10])
    peak_gb = max(v[1] for v in s["samples"].values()) / 1024
    peak_gb = max(peak_gb, s["before"][1] / 1024)
    c = s["counts"]
    tag = " (quick)" if quick else ""
    what = f"greedy, {s['iotds']:,} IoTDs x {s['mecs']} MECs, K = 4 candidates, 10 slots{tag}"
    table.add(f"{what}: peak RSS", f"{peak_gb:.2f} GiB", f"<= {MILLION_TARGET_GB:g} GB",
              peak_gb * 2**30 <= MILLION_TARGET_GB * 1e9)
    table.add("  tasks/s (run_scenario, every file written)",
              f"{_eps(c['generated'] / s['wall_s'])} ({c['generated']:,} tasks in "
              f"{s['wall_s']:.0f} s, {s['total_s']:.0f} s with set-up; "
              f"{s['tasks_parquet_mb']:.0f} MiB of tasks.parquet)")
    table.add("  RSS after slot 1 / 5 / 10",
              " / ".join(f"{s['samples'][m][0] / 1024:.2f}" for m in (1, 5, 10)) + " GiB")


# --------------------------------------------------------------------------- 4. optimal


def optimal_at_size(overrides: list[str]) -> dict:
    """Run ``optimal`` alone on the scenario; per slot: decision, wall, gap, method."""
    from mecsim.engine.simulation import Simulation
    from mecsim.registry import make

    scenario = load_scenario(DENSE, overrides)
    scheduler = make("optimal")
    entered: list[float] = []
    decide = scheduler.decide

    def timed(observation):
        entered.append(time.perf_counter())
        return decide(observation)

    scheduler.decide = timed
    slots: list[dict] = []
    sim = Simulation(scenario, scheduler, "optimal", scenario.seed,
                     on_tasks=lambda _rows: None, on_slot=slots.append)
    scheduler.reset(0, sim.network)
    started = time.perf_counter()
    sim.run(scenario.slots)
    sim.finish()
    wall = time.perf_counter() - started
    sim.close()
    return {"iotds": scenario.iotds.count, "mecs": scenario.mecs.count, "wall_s": wall,
            "decision_s": [s["decision_s"] for s in slots],
            "slot_s": list(np.diff(entered)),
            "tasks": [s["tasks"] for s in slots],
            "gap": [s["model_cost"] / s["lower_bound"] - 1 for s in slots],
            "exact": [bool(s["exact"]) for s in slots]}


def optimal_rows(table: Table, quick: bool) -> None:
    overrides = list(OPTIMAL_AT_SIZE)
    if quick:
        overrides = _scaled_down(overrides)
    print(f"[4] optimal at size: {' '.join(overrides)} ...", flush=True)
    o = optimal_at_size(overrides)
    tag = " (quick)" if quick else ""
    what = f"optimal, {o['iotds']:,} IoTDs x {o['mecs']} MECs, unequal cycles{tag}"
    worst = max(o["decision_s"])
    table.add(f"{what}: decision per slot, max",
              f"{worst:.2f} s ({', '.join(f'{d:.2f}' for d in o['decision_s'])})",
              f"<= {OPTIMAL_TARGET_S:g} s", worst <= OPTIMAL_TARGET_S)
    slot = max(o["slot_s"])
    table.add("  wall of a whole slot after the first, max",
              f"{slot:.2f} s ({', '.join(f'{d:.2f}' for d in o['slot_s'])})",
              f"<= {OPTIMAL_TARGET_S:g} s", slot <= OPTIMAL_TARGET_S)
    gaps = [f"{g:.1e} ({'exact' if e else 'bound'})"
            for g, e in zip(o["gap"], o["exact"], strict=True)]
    table.add("  gap to the lower bound per slot", ", ".join(gaps))
    table.add("  tasks per slot; wall of the run",
              f"{', '.join(str(t) for t in o['tasks'])}; {o['wall_s']:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="scaled-down smoke check")
    parser.add_argument("--only", choices=("floor", "memory", "million", "optimal"))
    args = parser.parse_args(argv)
    table = Table()
    sections = {"floor": floor_rows, "memory": memory_rows, "million": million_rows,
                "optimal": optimal_rows}
    for name, rows in sections.items():
        if args.only in (None, name):
            rows(table, args.quick)
    print()
    table.print()
    return 1 if table.failed else 0


if __name__ == "__main__":
    sys.exit(main())
