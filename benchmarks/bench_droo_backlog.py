"""Does DROO gain from the queues? droo, droo(backlog_input), lydroo, lyapunov (issue 11).

Run: ``python benchmarks/bench_droo_backlog.py`` (``scenarios/loaded.yaml``, 300 slots,
arrival rates 0.4, 0.56 and 0.72 task/s per IoTD, i.e. 50, 70 and 90 % of the network's
capacity of 0.8, seeds 1-3) or ``--quick`` (100 slots, rate 0.56, seed 1: a smoke check of
the script, its figures are indicative only). ``--rates``, ``--seeds``, ``--slots`` and
``--v`` override; ``--train-slots T`` stops the learners' training after ``T`` slots
(default: they train for the whole run) and adds a column, the mean realized latency of the
tasks that arrived after slot ``T`` (the frozen DNNs, each applying its 0.5-threshold
candidate alone); ``--out DIR`` (default ``results/bench_droo_backlog``) receives the run
folders and ``bench_droo_backlog.md`` (the table printed).

Each (rate, seed) is one :func:`mecsim.engine.runner.run_scenario` of the schedulers on
common random numbers. The learners train online for the whole run (``train_slots`` =
slots, unless ``--train-slots``): their figures include the exploration of the first
slots. ``lydroo`` and ``lyapunov`` use the same ``V`` (``--v``). Per scheduler and rate,
over the seeds (mean; ``stable`` counts the seeds the engine judged stable): realized cost
per task, p95 realized latency, the model cost per slot (``mean_cost_per_slot``, the
spec's per-slot cost without the queues), the median decision time and the wall time.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

import pandas as pd  # noqa: E402

from mecsim.config import SchedulerSpec, load_scenario  # noqa: E402
from mecsim.engine.runner import run_scenario  # noqa: E402
from schedulers.lyapunov import DEFAULT_V  # noqa: E402

LOADED = ROOT / "scenarios" / "loaded.yaml"
CAPACITY = 0.8  # task/s per IoTD that loaded.yaml's CPUs can serve


def specs(slots: int, v: float) -> list[SchedulerSpec]:
    """The five schedulers, learners training for the whole run (lydroo with and without
    its polish, the paper's rule)."""
    train = {"train_slots": slots}
    return [SchedulerSpec(name="droo", params=dict(train), label="droo"),
            SchedulerSpec(name="droo", params={**train, "backlog_input": True},
                          label="droo+queues"),
            SchedulerSpec(name="lydroo", params={**train, "v": v}, label="lydroo"),
            SchedulerSpec(name="lydroo", params={**train, "v": v, "polish": False},
                          label="lydroo-nopolish"),
            SchedulerSpec(name="lyapunov", params={"v": v}, label="lyapunov")]


def run(rate: float, seed: int, slots: int, v: float, out: Path, train_slots: int
        ) -> tuple[list, dict[str, float]]:
    """One run of the schedulers; their results and latency after ``train_slots``."""
    scenario = load_scenario(LOADED, [f"slots={slots}", f"seed={seed}",
                                      f"tasks.arrival.rate_per_s={rate}"])
    folder = out / f"rate{rate}_seed{seed}"
    results = run_scenario(scenario, folder, schedulers=specs(train_slots, v),
                           channels=False)
    for r in results:
        if r.error is not None:
            raise RuntimeError(f"{r.name} at rate {rate}, seed {seed}: {r.error}")
    tail: dict[str, float] = {}
    if train_slots < slots:
        tasks = pd.read_parquet(folder / "tasks.parquet",
                                columns=["scheduler", "slot", "realized_latency_s"])
        late = tasks[tasks.slot >= train_slots]
        tail = late.groupby("scheduler").realized_latency_s.mean().to_dict()
    return results, tail


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def table(rows: dict[tuple[float, str], list], rates: list[float], labels: list[str],
          tails: dict[tuple[float, str], list[float]] | None = None,
          train_slots: int = 0) -> str:
    """The Markdown table: one row per (rate, scheduler), means over the seeds."""
    extra = f" latency after slot {train_slots} [s] |" if tails else ""
    lines = ["| rate [task/s/IoTD] | load | scheduler | realized cost/task | p95 latency [s] "
             "| stable (seeds) | model cost/slot | decision [ms] | wall [s] |" + extra,
             "|---|---|---|---|---|---|---|---|---|" + ("---|" if tails else "")]
    for rate in rates:
        for label in labels:
            rs = rows[(rate, label)]
            stable = sum(bool(r.stable) for r in rs)
            lines.append(
                f"| {rate:g} | {rate / CAPACITY:.0%} | {label} "
                f"| {_mean([r.realized_cost_per_task for r in rs]):.3f} "
                f"| {_mean([r.latency_p95_s for r in rs]):.2f} "
                f"| {stable}/{len(rs)} "
                f"| {_mean([r.mean_cost_per_slot for r in rs]):.2f} "
                f"| {1e3 * _mean([r.median_decision_s for r in rs]):.1f} "
                f"| {_mean([r.wall_s for r in rs]):.0f} |"
                + (f" {_mean(tails[(rate, label)]):.2f} |" if tails else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 slots, rate 0.56, seed 1")
    parser.add_argument("--rates", type=float, nargs="+")
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--slots", type=int)
    parser.add_argument("--train-slots", type=int,
                        help="learners freeze after this many slots (default: all)")
    parser.add_argument("--v", type=float, default=DEFAULT_V, help="V of lydroo and lyapunov")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench_droo_backlog")
    args = parser.parse_args(argv)
    rates = args.rates or ([0.56] if args.quick else [0.4, 0.56, 0.72])
    seeds = args.seeds or ([1] if args.quick else [1, 2, 3])
    slots = args.slots or (100 if args.quick else 300)
    train_slots = slots if args.train_slots is None else min(args.train_slots, slots)
    labels = [s.label for s in specs(slots, args.v)]
    rows: dict[tuple[float, str], list] = {(rate, label): [] for rate in rates
                                           for label in labels}
    tails: dict[tuple[float, str], list[float]] = {key: [] for key in rows}
    start = time.perf_counter()
    for rate in rates:
        for seed in seeds:
            t0 = time.perf_counter()
            results, tail = run(rate, seed, slots, args.v, args.out, train_slots)
            for r in results:
                rows[(rate, r.name)].append(r)
                tails[(rate, r.name)].append(tail.get(r.name, math.nan))
            print(f"rate {rate:g}, seed {seed}: {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr, flush=True)
    frozen = f", learners frozen after slot {train_slots}" if train_slots < slots else ""
    text = (f"loaded.yaml, {slots} slots, seeds {', '.join(map(str, seeds))}, V = {args.v:g}"
            f"{frozen} ({time.perf_counter() - start:.0f} s)\n\n"
            + table(rows, rates, labels, tails if train_slots < slots else None, train_slots))
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_droo_backlog.md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
