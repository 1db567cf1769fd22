"""Garbage and memory left by a run (issue 14, "No garbage left behind", "Memory flat").

Run: ``python benchmarks/bench_garbage.py`` (about a minute on 2 cores) or
``python benchmarks/bench_garbage.py --quick`` (scaled down, a smoke check of the script).
Prints one table with each figure, its target and PASS/FAIL; the exit status is 1 when a
target fails. Each part runs in a child process of its own, so that one part's heap does
not weigh on another's figures.

1. **Garbage**: ``scenarios/dense_100.yaml`` with 1,000 IoTDs and ``greedy`` for 20 slots
   through :func:`mecsim.engine.runner.run_scenario`, four times in one process (the first
   run pays the imports' and first uses' own garbage, once per process, as a sweep
   worker's first cell does); after each of the other three, a full ``gc.collect()``: the
   unreachable objects it found (the most of the three) and its time, and the time of a
   second collection, which has nothing to free and so is the cost of scanning the heap
   alone (the best of three each). The same is measured with
   :meth:`~mecsim.engine.simulation.Simulation.close` made a no-op: the engine as it was
   before, which left the simulation's object graph as cyclic garbage.
2. **Memory flat in run length**: ``scenarios/dense_100.yaml`` with ``greedy`` for 300
   slots; the current RSS (``/proc/self/statm``) sampled by the progress callback after
   slots 100, 200 and 300. Target: RSS at slot 300 within 5 % of that at slot 100.

   The run commits its rows every 2 s of wall time (``MECSIM_FLUSH_S``), and its first
   commit costs memory once (the Parquet writers, Arrow's memory pool): about 13 to 25 MiB
   here. This run takes about 1 s per 100 slots, so with the default interval the first
   commit falls between slots 100 and 300, and that step shows as growth although the RSS
   then stays level (about 209 to 223 MiB from slot 200 to 600). The target is therefore
   measured on a run that commits every 0.25 s, whose first commit is long past at slot
   100, as in any run of more than a few seconds; the default run is printed beside it.
3. **Sizes**: ``greedy`` with 100, 1,000 and 10,000 IoTDs and 100 MECs (the scale scenario
   of ``bench_engine.py``, its area grown with the IoTDs), :data:`SIZE_RUNS` runs in one
   process, as a sweep worker runs its cells: after each run, a full ``gc.collect()`` (its
   time, the unreachable objects it found) and the RSS. RSS growth: from after the first
   run to after the last; and the RSS after a quarter, half and all of the last run's slots.
   Each size is measured with the memory release after commits (Arrow's pool's unused
   pages, then glibc's ``malloc_trim``: :func:`mecsim.engine.runner.release_memory`) and
   without it.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

DENSE = ROOT / "scenarios" / "dense_100.yaml"
MAX_GARBAGE = 100  # unreachable objects a full collection may find after a run
REPEATS = 3  # runs measured in the garbage part: most garbage found, best times
RSS_GROWTH = 0.05  # RSS at the last mark within 5 % of that at the first
COMMIT_EARLY_S = 0.25  # [s] MECSIM_FLUSH_S of the RSS target's run: see the docstring
SIZES = ((100, 400), (1000, 100), (10_000, 100))  # (IoTDs, slots) of part 3
SIZES_QUICK = ((100, 20), (1000, 12))
SIZE_RUNS = 3  # runs per process in part 3


def _rss_mb() -> float:
    """Current resident set size [MiB] (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _scenario(overrides: list[str]):
    from mecsim.config import load_scenario

    return load_scenario(DENSE, ["schedulers=[greedy]", *overrides])


# --------------------------------------------------------------------------- 1. garbage


def garbage_child(overrides: list[str], without_close: bool) -> dict:
    """Run, then time a full collection and a second one (the heap scan alone), 3 times."""
    from mecsim.engine.runner import run_scenario
    from mecsim.engine.simulation import Simulation

    if without_close:
        Simulation.close = lambda self: None  # the engine before issue 14
    scenario = _scenario(overrides)
    found, collect_s, floor_s, run_s = [], [], [], []
    with tempfile.TemporaryDirectory() as out:
        run_scenario(scenario, out)  # first run: imports' and first uses' garbage
        for _ in range(REPEATS):
            gc.collect()
            started = time.perf_counter()
            results = run_scenario(scenario, out)
            run_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            found.append(gc.collect())
            collect_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            gc.collect()
            floor_s.append(time.perf_counter() - started)
    return {"found": max(found), "collect_s": min(collect_s), "floor_s": min(floor_s),
            "run_s": min(run_s), "tasks": results[0].counts["generated"],
            "tracked": len(gc.get_objects())}


# --------------------------------------------------------------------------- 2. RSS


def rss_child(overrides: list[str], marks: list[int]) -> dict:
    """Run ``greedy`` on dense_100, sampling the current RSS after each slot in ``marks``."""
    from mecsim.engine.runner import run_scenario

    scenario = _scenario(overrides)
    samples: dict[int, float] = {}

    def progress(name: str, slots: int):
        def tick(slot: int, tasks: int) -> None:
            if slot + 1 in marks:  # slot is 0-based: after slot k, k + 1 slots are done
                samples[slot + 1] = _rss_mb()
        return tick

    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        results = run_scenario(scenario, out, progress=progress)
        wall_s = time.perf_counter() - started
    return {"samples": samples, "wall_s": wall_s, "counts": results[0].counts}


# --------------------------------------------------------------------------- 3. sizes


def sizes_child(overrides: list[str], runs: int, release: bool) -> dict:
    """Run ``runs`` times; after each, a timed full collection and the RSS.

    Also the RSS after a quarter, half and all of the slots of each run (``marks``).
    """
    from mecsim.engine import runner

    if not release:
        runner.release_memory = lambda: False  # no release after commits
    scenario = _scenario(overrides)
    marks = [scenario.slots // 4, scenario.slots // 2, scenario.slots]
    rss, collect_s, found, run_s, in_run = [], [], [], [], []

    def progress(name: str, slots: int):
        def tick(slot: int, tasks: int) -> None:
            if slot + 1 in marks:
                in_run[-1].append(_rss_mb())
        return tick

    with tempfile.TemporaryDirectory() as out:
        for _ in range(runs):
            in_run.append([])
            started = time.perf_counter()
            results = runner.run_scenario(scenario, out, progress=progress)
            run_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            found.append(gc.collect())
            collect_s.append(time.perf_counter() - started)
            rss.append(_rss_mb())
    return {"rss": rss, "collect_s": collect_s, "found": found, "run_s": run_s,
            "tasks": results[0].counts["generated"], "marks": marks, "in_run": in_run}


def sizes_rows(table, quick: bool) -> None:
    """Part 3: garbage and RSS across runs at each size, with and without the release."""
    from bench_engine import SCALE, STABLE_CYCLES  # the scale scenario (parent only)

    tag = " (quick)" if quick else ""
    for iotds, slots in SIZES_QUICK if quick else SIZES:
        side = round(1000 * (iotds / 10_000) ** 0.5)  # [m] the scale scenario's density
        overrides = [o.replace("iotds.count=10000", f"iotds.count={iotds}")
                     .replace("area_m=[1000,1000]", f"area_m=[{side},{side}]") for o in SCALE]
        overrides += [STABLE_CYCLES, f"slots={slots}"]
        for release in (True, False):
            label = "release after commits" if release else "no release (before)"
            print(f"[3] sizes: {iotds} IoTDs x 100 MECs, {slots} slots, {SIZE_RUNS} runs, "
                  f"{label} ...", flush=True)
            g = _child("sizes", overrides, SIZE_RUNS, release)
            rss = g["rss"]
            growth = (rss[-1] - rss[0]) / rss[0]
            table.add(f"{iotds:,} IoTDs x 100 MECs, greedy, {slots} slots, {label}{tag}: "
                      f"RSS after runs 1..{SIZE_RUNS}",
                      " / ".join(f"{r:.0f}" for r in rss) + f" MiB ({growth:+.1%})")
            first, *_, last = g["in_run"][-1]
            table.add(f"  RSS in the last run, after slots {', '.join(map(str, g['marks']))}",
                      " / ".join(f"{r:.0f}" for r in g["in_run"][-1])
                      + f" MiB ({(last - first) / first:+.1%})")
            table.add("  full collection after a run (worst), objects it found (most)",
                      f"{max(g['collect_s'][1:]) * 1e3:.1f} ms, {max(g['found'][1:]):,}")
            table.add("  a run (best)", f"{min(g['run_s']):.2f} s, {g['tasks']:,} tasks")


def _child(part: str, *args, flush_s: float | None = None) -> dict:
    """Run ``part``'s child function in a fresh interpreter; return what it printed.

    ``flush_s``: the child's ``MECSIM_FLUSH_S`` (None: the default commit interval).
    """
    env = {k: v for k, v in os.environ.items() if k != "MECSIM_FLUSH_S"}
    if flush_s is not None:
        env["MECSIM_FLUSH_S"] = str(flush_s)
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps([part, *args])],
                          capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{part} child failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def garbage_rows(table, quick: bool) -> None:
    """Part 1: the garbage a run leaves, with and without ``Simulation.close``."""
    tag = " (quick)" if quick else ""
    iotds = 300 if quick else 1000
    overrides = [f"iotds.count={iotds}", "slots=5" if quick else "slots=20"]
    for label, without_close in (("engine", False), ("without close (before)", True)):
        print(f"[1] garbage, {label}: {' '.join(overrides)} ...", flush=True)
        g = _child("garbage", overrides, without_close)
        what = f"dense_100, {iotds} IoTDs, greedy, {overrides[1][6:]} slots, {label}{tag}"
        table.add(f"{what}: unreachable objects after the run", f"{g['found']:,}",
                  "-" if without_close else f"< {MAX_GARBAGE}",
                  None if without_close else g["found"] < MAX_GARBAGE)
        table.add("  full collection / heap scan alone (second collection)",
                  f"{g['collect_s'] * 1e3:.1f} / {g['floor_s'] * 1e3:.1f} ms "
                  f"({g['tracked']:,} objects tracked)")
        table.add("  the run", f"{g['run_s']:.2f} s, {g['tasks']:,} tasks")


def rss_rows(table, quick: bool) -> None:
    """Part 2: the RSS in run length."""
    tag = " (quick)" if quick else ""
    marks = [25, 50, 75] if quick else [100, 200, 300]
    overrides = [f"slots={marks[-1]}"]
    for flush_s, target in ((None, False), (COMMIT_EARLY_S, True)):
        every = f"commits every {flush_s:g} s" if flush_s else "default commits"
        print(f"[2] RSS: dense_100, greedy, {marks[-1]} slots, {every} ...", flush=True)
        r = _child("rss", overrides, marks, flush_s=flush_s)
        samples = {int(k): v for k, v in r["samples"].items()}
        table.add(f"dense_100, greedy, {every}: RSS after slots "
                  f"{', '.join(map(str, marks))}{tag}",
                  " / ".join(f"{samples[m]:.1f}" for m in marks) + " MiB")
        first, last = samples[marks[0]], samples[marks[-1]]
        growth = (last - first) / first
        table.add(f"  RSS growth, slot {marks[0]} -> {marks[-1]}",
                  f"{growth:+.2%} ({last - first:+.1f} MiB)",
                  f"within {RSS_GROWTH:.0%}" if target else "-",
                  abs(growth) <= RSS_GROWTH if target else None)
        c = r["counts"]
        table.add("  the run", f"{r['wall_s']:.1f} s, {c['generated']:,} tasks, "
                  f"{c['in_flight']:,} in flight at the end")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="scaled-down smoke check")
    parser.add_argument("--only", choices=("sizes",), help="run only part 3 (sizes)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        part, *rest = json.loads(args.child)
        child = {"garbage": garbage_child, "rss": rss_child, "sizes": sizes_child}[part]
        print(json.dumps(child(*rest)))
        return 0
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_engine import Table  # the benchmarks' PASS/FAIL table (not in the children)

    quick, table = args.quick, Table()

    if args.only is None:
        garbage_rows(table, quick)
        rss_rows(table, quick)
    sizes_rows(table, quick)

    print()
    table.print()
    return 1 if table.failed else 0


if __name__ == "__main__":
    sys.exit(main())
