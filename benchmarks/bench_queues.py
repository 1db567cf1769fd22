"""Issue 11, queue-aware scheduling: largest stable load, tails near it, the price of V.

Each *cell* is one scenario, one offered load and one seed; all schedulers of a cell run on
common random numbers (one :func:`mecsim.engine.runner.run_scenario`). The offered load is
the ``all_cpus`` utilisation of :func:`mecsim.engine.stability.offered_load` (1.0: the
arrivals need every CPU of the network, local and MEC, all the time); the arrival rate is
scaled to reach it. Two scenarios:

* ``loaded``: ``scenarios/loaded.yaml`` (100 moving IoTDs, six 10 GHz MECs, 2-Gcycle tasks);
* ``one_mec``: the issue's single 8 GHz MEC with 4-Gcycle tasks, 20 IoTDs on 100 m x 100 m
  (``loaded.yaml`` with overrides, :data:`ONE_MEC`).

Printed (Markdown), each against the issue's target:

1. each scheduler's *largest stable load*: the largest grid load such that the run is
   ``stable`` (:func:`mecsim.engine.stability.backlog_trend`) at it and at every lower grid
   load, for every seed;
2. at 90 % of ``optimal``'s largest stable load, p95 realized latency of ``lyapunov``
   against ``optimal``;
3. per-slot model cost of ``lyapunov`` over ``optimal``'s at the lowest load;
4. median decision time of ``lyapunov`` over ``optimal``'s;
5. ``lydroo`` against ``lyapunov`` (stable wherever it is, realized cost within 10 %);
6. a sweep of ``V`` at one load: model cost, realized latency, backlog.

Usage::

    python benchmarks/bench_queues.py            # 3 seeds; see benchmarks/README.md for times
    python benchmarks/bench_queues.py --quick    # 1 seed, 5 loads, shorter runs
    python benchmarks/bench_queues.py --json out.json --parts stable,v --scenarios one_mec
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mecsim.config import SchedulerSpec, load_scenario  # noqa: E402
from mecsim.engine.runner import run_scenario  # noqa: E402
from mecsim.engine.stability import offered_load  # noqa: E402
from mecsim.registry import registered  # noqa: E402

LOADED = ROOT / "scenarios" / "loaded.yaml"
ONE_MEC = ["mecs.count=1", "mecs.cpu_hz=8e9", "tasks.cycles=4e9", "iotds.count=20",
           "area_m=[100,100]"]
SCENARIOS = {"loaded": [], "one_mec": ONE_MEC}
#: Slots per run (full, quick). one_mec is small (20 IoTDs) and its queue-aware schedulers'
#: backlogs wander on a time scale of hundreds of slots: at 400 slots the stability test
#: flags some of those runs as growing though they settle over 1600 (docs/queues.md).
SLOTS = {"loaded": (400, 300), "one_mec": (1200, 600)}
SCHEDULERS = ["local", "greedy", "optimal", "optimal_backlog", "lyapunov", "lydroo"]
LOADS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
QUICK_LOADS = [0.1, 0.3, 0.5, 0.7, 0.9]
V_VALUES = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
V_LOAD = 0.6


def rate_for(overrides: list[str], load: float) -> float:
    """Arrival rate per IoTD [1/s] that offers ``load`` (all_cpus) on the scenario."""
    scenario = load_scenario(LOADED, overrides)
    now = offered_load(scenario)
    return now["tasks_per_s_per_iotd"] * load / now["all_cpus"]


def run_cell(args: tuple) -> dict[str, Any]:
    """Run one cell; return each scheduler's figures (a process-pool worker)."""
    name, load, seed, slots, specs = args
    overrides = SCENARIOS[name] + [f"slots={slots}", f"seed={seed}"]
    overrides.append(f"tasks.arrival.rate_per_s={rate_for(overrides, load)!r}")
    scenario = load_scenario(LOADED, overrides)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        results = run_scenario(scenario, out, schedulers=[SchedulerSpec(**s) for s in specs])
    rows = {}
    for r in results:
        rows[r.name] = {"stable": r.stable, "mean_s": r.mean_realized_latency_s,
                        "p95_s": r.latency_p95_s, "cost": r.realized_cost_per_task,
                        "cost_lb": r.realized_cost_lower_bound,
                        "model_per_slot": r.mean_cost_per_slot,
                        "decide_ms": 1e3 * r.median_decision_s,
                        "backlog_tasks": r.backlog_trend.get("tasks_mean"),
                        "in_flight": r.in_flight_share, "error": r.error}
    return {"scenario": name, "load": load, "seed": seed, "rows": rows,
            "wall_s": time.perf_counter() - started}


def largest_stable(cells: list[dict], scenario: str, scheduler: str, loads: list[float]
                   ) -> float | None:
    """Largest grid load stable at it and below, on every seed (None: not even the first)."""
    best = None
    for load in loads:
        flags = [c["rows"][scheduler]["stable"] for c in cells
                 if c["scenario"] == scenario and c["load"] == load and scheduler in c["rows"]]
        if not flags or not all(f is True for f in flags):
            break
        best = load
    return best


def mean_of(cells, scenario, load, scheduler, key):
    values = [c["rows"][scheduler][key] for c in cells if c["scenario"] == scenario
              and c["load"] == load and scheduler in c["rows"]]
    values = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, 5 loads, 300 slots")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per cell")
    parser.add_argument("--slots", type=int, default=None,
                        help="slots per run (default: loaded 400, one_mec 1200; quick 300, 600)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help="which of " + ", ".join(SCENARIOS))
    parser.add_argument("--workers", type=int, default=2, help="processes")
    parser.add_argument("--parts", default="stable,v", help="stable and/or v")
    parser.add_argument("--json", default=None, help="write every cell's figures here")
    args = parser.parse_args(argv)
    seeds = args.seeds or (1 if args.quick else 3)
    chosen = args.scenarios.split(",")
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s) {sorted(unknown)}; choose from {list(SCENARIOS)}")

    def slots(sc: str) -> int:
        return args.slots or SLOTS[sc][1 if args.quick else 0]

    loads = QUICK_LOADS if args.quick else LOADS
    names = [s for s in SCHEDULERS if s in registered()]
    specs = [{"name": s} for s in names]
    jobs = []
    parts = set(args.parts.split(","))
    if "stable" in parts:
        jobs += [(sc, load, seed, slots(sc), specs) for sc in chosen for load in loads
                 for seed in range(seeds)]
    v_specs = [{"name": "optimal"}] + [{"name": "lyapunov", "params": {"v": v},
                                        "label": f"lyapunov_v{v:g}"} for v in V_VALUES]
    if "v" in parts:
        jobs += [("v:" + sc, V_LOAD, seed, slots(sc), v_specs) for sc in chosen
                 for seed in range(seeds)]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        cells = list(pool.map(run_cell_any, jobs))
    wall = time.perf_counter() - started
    print(f"# bench_queues: {len(jobs)} cells, {seeds} seed(s), slots "
          + ", ".join(f"{sc} {slots(sc)}" for sc in chosen)
          + f"; {wall:.0f} s wall on {args.workers} worker(s)\n")
    if "stable" in parts:
        report_stable(cells, names, loads, chosen)
    if "v" in parts:
        report_v(cells, chosen)
    if args.json:
        Path(args.json).write_text(json.dumps(cells, indent=1, default=str))
    return 0


def run_cell_any(job: tuple) -> dict[str, Any]:
    name, load, seed, slots, specs = job
    if name.startswith("v:"):
        cell = run_cell((name[2:], load, seed, slots, specs))
        cell["scenario"] = name
        return cell
    return run_cell(job)


def report_stable(cells: list[dict], names: list[str], loads: list[float],
                  scenarios: list[str]) -> None:
    for sc in scenarios:
        print(f"## {sc}: largest stable load (all_cpus; stable at it and below, every seed)\n")
        print("| scheduler | largest stable load | " + " | ".join(
            f"p95 s @ {x:g}" for x in loads) + " |")
        print("|---|---|" + "---|" * len(loads))
        stable = {}
        for s in names:
            stable[s] = largest_stable(cells, sc, s, loads)
            p95 = [mean_of(cells, sc, x, s, "p95_s") for x in loads]
            print(f"| {s} | {stable[s]} | " + " | ".join(f"{v:.3g}" for v in p95) + " |")
        ly, op, gr = stable.get("lyapunov"), stable.get("optimal"), stable.get("greedy")
        print()
        print(f"- target: lyapunov ({ly}) sustains a higher load than optimal ({op}): "
              f"{'met' if _gt(ly, op) else 'MISSED'}; than greedy ({gr}): "
              f"{'met' if _gt(ly, gr) else 'MISSED'}")
        if op is not None:
            at = min(loads, key=lambda x: abs(x - 0.9 * op))
            a, b = mean_of(cells, sc, at, "lyapunov", "p95_s"), mean_of(cells, sc, at,
                                                                       "optimal", "p95_s")
            print(f"- target: at {at:g} (grid load nearest 90 % of optimal's {op:g}), p95 "
                  f"lyapunov {a:.3g} s < optimal {b:.3g} s: {'met' if a < b else 'MISSED'}")
        low = loads[0]
        ratio = mean_of(cells, sc, low, "lyapunov", "model_per_slot") / mean_of(
            cells, sc, low, "optimal", "model_per_slot")
        print(f"- per-slot model cost at load {low:g}: lyapunov / optimal = {ratio:.3f}")
        dec = [mean_of(cells, sc, x, "lyapunov", "decide_ms") / mean_of(cells, sc, x, "optimal",
                                                                          "decide_ms")
               for x in loads]
        print(f"- decision time lyapunov / optimal: max over loads {np.nanmax(dec):.2f} "
              f"(target <= 2): {'met' if np.nanmax(dec) <= 2 else 'MISSED'}")
        if "lydroo" in names:
            ld = stable.get("lydroo")
            worst = max((mean_of(cells, sc, x, "lydroo", "cost_lb")
                         / mean_of(cells, sc, x, "lyapunov", "cost_lb") for x in loads
                         if ly is not None and x <= ly), default=float("nan"))
            print(f"- lydroo: largest stable load {ld} (lyapunov {ly}); realized cost (lower "
                  f"bound) / lyapunov's, worst over lyapunov's stable loads: {worst:.3f} "
                  f"(target: stable there, <= 1.10)")
        print()


def report_v(cells: list[dict], scenarios: list[str]) -> None:
    for sc in scenarios:
        print(f"## {sc}: the V trade-off at load {V_LOAD:g}\n")
        print("| scheduler | model cost / slot | mean latency s | p95 s | mean backlog "
              "(tasks) | stable (all seeds) |")
        print("|---|---|---|---|---|---|")
        mine = [c for c in cells if c["scenario"] == "v:" + sc]
        if not mine:
            continue
        for label in mine[0]["rows"]:
            m = {key: mean_of(mine, "v:" + sc, V_LOAD, label, key)
                 for key in ("model_per_slot", "mean_s", "p95_s", "backlog_tasks")}
            flags = [c["rows"][label]["stable"] for c in mine]
            print(f"| {label} | {m['model_per_slot']:.4g} | {m['mean_s']:.3g} | "
                  f"{m['p95_s']:.3g} | {m['backlog_tasks']:.3g} | "
                  f"{all(f is True for f in flags)} |")
        print()


def _gt(a, b) -> bool:
    return a is not None and (b is None or a > b)


if __name__ == "__main__":
    raise SystemExit(main())
