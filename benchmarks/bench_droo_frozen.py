"""DROO scored frozen (issue 13): trained on world seed 0, evaluated frozen on seeds 1 and 2.

Run: ``python benchmarks/bench_droo_frozen.py`` (every cell, about 20 minutes on 2 cores),
``--quick`` (paper, unequal_tasks, poisson, M10; short schedules, a few minutes),
``--cells paper,N300`` (a subset), ``--train-slots``/``--eval-slots`` (the schedules),
``--params '{"per_task": false}'`` (DROO parameters of every DROO run, JSON), ``--out DIR``
(default ``results/bench_droo_frozen``: the run folders, ``bench_droo_frozen.md`` and
``.csv``). The exit status is 1 when frozen DROO (default ``K``) is worse than ``greedy`` in
some cell.

Per cell (overrides of ``scenarios/paper.yaml``, or ``scenarios/dense_100.yaml``):

1. ``droo`` trains online for ``train_slots`` slots on seed 0 (its decisions then are its
   search's, not its policy's) and is saved;
2. on seeds 1 and 2, ``droo`` frozen (``train: false`` + the checkpoint) with
   ``frozen_k: 1`` (the network alone) and with the default ``frozen_k`` (the ``K`` reached
   in training: the best of ``K`` exactly priced candidates), ``greedy`` and ``optimal`` run
   on common random numbers.

Printed per cell: the mean of the two seeds' ``SchedulerResult.ratio_to_optimal`` (mean
per-slot model cost over the slots of the run, to ``optimal``'s on the same slots) for
both DROO variants and ``greedy``, ``K``, the training wall time and the median decision time
of each DROO variant [ms].
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

from mecsim.config import SchedulerSpec, load_scenario  # noqa: E402
from mecsim.engine.runner import run_scenario  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_learners import load_grid  # noqa: E402  (the grid file's reader)

PAPER = ROOT / "scenarios" / "paper.yaml"
GRID = ROOT / "analysis" / "sweeps" / "learners.yaml"
DENSE_100 = ROOT / "scenarios" / "dense_100.yaml"
TRAIN_SEED, EVAL_SEEDS = 0, (1, 2)
TRAIN_TIME_TARGET_S = 120.0


def _cells() -> dict[str, tuple[Path, list[str]]]:
    """The grid's cells (``analysis/sweeps/learners.yaml``, as ``bench_learners.py``), and
    ``scenarios/dense_100.yaml`` as shipped."""
    grid = load_grid(GRID, quick=False)
    return {**{name: (grid.base, sets) for name, sets in grid.cells.items()},
            "dense_100": (DENSE_100, [])}


#: cell -> (base scenario, overrides): the grid of issue 13.
CELLS: dict[str, tuple[Path, list[str]]] = _cells()

QUICK_CELLS = ("paper", "unequal_tasks", "poisson", "M10")
TRAIN_SLOTS, EVAL_SLOTS = 1000, 300
QUICK_TRAIN_SLOTS, QUICK_EVAL_SLOTS = 400, 100
COLUMNS = ("cell", "droo_k1", "droo_K", "greedy", "K", "train_s", "k1_ms", "K_ms")


def scenario(cell: str, seed: int, slots: int):
    """The cell's scenario with ``seed`` and ``slots`` applied."""
    base, overrides = CELLS[cell]
    return load_scenario(base, [*overrides, f"seed={seed}", f"slots={slots}"])


def measure(cell: str, out: Path, train_slots: int, eval_slots: int,
            params: dict) -> dict[str, float | str]:
    """Train on seed 0, evaluate frozen on the evaluation seeds; one row of the table."""
    start = time.perf_counter()
    (trained,) = run_scenario(scenario(cell, TRAIN_SEED, train_slots), out / "train",
                              schedulers=[SchedulerSpec(name="droo", params={
                                  **params, "train_slots": train_slots})])
    if trained.error is not None:
        raise RuntimeError(f"{cell}: training failed: {trained.error}")
    train_s = time.perf_counter() - start
    checkpoint = out / "droo.pt"
    trained.scheduler.save(checkpoint)
    frozen = {**params, "train": False, "checkpoint": str(checkpoint)}
    specs = [SchedulerSpec(name="droo", label="droo_k1", params={**frozen, "frozen_k": 1}),
             SchedulerSpec(name="droo", label="droo_K", params=frozen),
             SchedulerSpec(name="greedy"), SchedulerSpec(name="optimal")]
    runs = [run_scenario(scenario(cell, seed, eval_slots), out / f"seed{seed}", schedulers=specs)
            for seed in EVAL_SEEDS]
    row: dict[str, float | str] = {"cell": cell, "K": trained.scheduler.k,
                                   "train_s": train_s}
    for k, label in enumerate(("droo_k1", "droo_K", "greedy")):
        for results in runs:
            if results[k].error is not None:
                raise RuntimeError(f"{cell}: {label} failed: {results[k].error}")
        row[label] = statistics.mean(results[k].ratio_to_optimal for results in runs)
    row["k1_ms"] = 1e3 * statistics.mean(r[0].median_decision_s for r in runs)
    row["K_ms"] = 1e3 * statistics.mean(r[1].median_decision_s for r in runs)
    return row


def table(rows: list[dict]) -> str:
    """The markdown table of the rows."""
    lines = ["| cell | droo `frozen_k: 1` | droo default `K` | greedy | K | train [s] "
             "| decide k=1 [ms] | decide K [ms] |", "|---" * 8 + "|"]
    for r in rows:
        lines.append(f"| {r['cell']} | {r['droo_k1']:.3f} | {r['droo_K']:.3f} | "
                     f"{r['greedy']:.3f} | {r['K']} | {r['train_s']:.0f} | {r['k1_ms']:.2f} | "
                     f"{r['K_ms']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the cells, print and write the table; 1 if DROO loses to greedy somewhere."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--cells", default=None, help="comma-separated cells (default: all)")
    ap.add_argument("--train-slots", type=int, default=None)
    ap.add_argument("--eval-slots", type=int, default=None)
    ap.add_argument("--params", default="{}", help="DROO parameters, JSON")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "bench_droo_frozen")
    args = ap.parse_args(argv)
    cells = (args.cells.split(",") if args.cells
             else list(QUICK_CELLS if args.quick else CELLS))
    unknown = sorted(set(cells) - set(CELLS))
    if unknown:
        ap.error(f"unknown cell(s) {unknown}; known: {sorted(CELLS)}")
    train_slots = args.train_slots or (QUICK_TRAIN_SLOTS if args.quick else TRAIN_SLOTS)
    eval_slots = args.eval_slots or (QUICK_EVAL_SLOTS if args.quick else EVAL_SLOTS)
    params = json.loads(args.params)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for cell in cells:
        rows.append(measure(cell, args.out / cell, train_slots, eval_slots, params))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    text = (f"DROO frozen: trained {train_slots} slots on seed {TRAIN_SEED}, evaluated "
            f"{eval_slots} slots on seeds {EVAL_SEEDS} (ratio to optimal, mean of the "
            f"seeds); params {params}\n\n{table(rows)}\n")
    print("\n" + text)
    (args.out / "bench_droo_frozen.md").write_text(text)
    with open(args.out / "bench_droo_frozen.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    slow = [r["cell"] for r in rows if r["train_s"] > TRAIN_TIME_TARGET_S]
    losing = [r["cell"] for r in rows if r["droo_K"] > r["greedy"]]
    if slow:
        print(f"training above {TRAIN_TIME_TARGET_S:.0f} s: {slow}")
    if losing:
        print(f"frozen DROO worse than greedy: {losing}")
    return 1 if losing else 0


if __name__ == "__main__":
    sys.exit(main())
