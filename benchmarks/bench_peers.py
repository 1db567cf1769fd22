"""Actor-Critic and DDPG scored frozen (issue 13): trained on seed 0, evaluated on 1 and 2.

Run: ``python benchmarks/bench_peers.py`` (every cell, about 30 minutes on 2 cores),
``--quick`` (paper, unequal_tasks, poisson, M10; shorter schedules), ``--cells paper,N300``
(a subset), ``--train-slots``/``--eval-slots`` (the schedules), ``--peers actor_critic``
(one of them), ``--params '{"entropy": 0.02}'`` (parameters of every peer run, JSON),
``--out DIR`` (default ``results/bench_peers``: the run folders, ``bench_peers.md`` and
``.csv``). The exit status is 1 when a frozen peer is worse than ``greedy`` in some cell.

Per cell (overrides of ``scenarios/paper.yaml``, or ``scenarios/dense_100.yaml``; the grid
of issue 13, as in ``benchmarks/bench_droo_frozen.py``):

1. each peer trains online for ``train_slots`` slots on seed 0 (its decisions then sample
   its policy or add noise: they are not its policy's) and is saved;
2. on seeds 1 and 2, each peer frozen (``train: false`` + the checkpoint), ``greedy`` and
   ``optimal`` run on common random numbers.

Printed per cell and peer: the mean of the two seeds' ``SchedulerResult.ratio_to_optimal``
(mean per-slot model cost over the run's slots, to ``optimal``'s on the same slots), the
same for ``greedy``, the peer's share of offloaded tasks, its mean realized latency against
``optimal``'s, the training wall time (the scheduler's ``wall_s``) and the median decision
time [ms].
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
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
PEERS = ("actor_critic", "ddpg")

def _cells() -> dict[str, tuple[Path, list[str]]]:
    """The grid's cells (``analysis/sweeps/learners.yaml``, as ``bench_learners.py``), and
    ``scenarios/dense_100.yaml`` as shipped."""
    grid = load_grid(GRID, quick=False)
    return {**{name: (grid.base, sets) for name, sets in grid.cells.items()},
            "dense_100": (DENSE_100, [])}


#: cell -> (base scenario, overrides): the grid of issue 13.
CELLS: dict[str, tuple[Path, list[str]]] = _cells()

QUICK_CELLS = ("paper", "unequal_tasks", "poisson", "M10")
TRAIN_SLOTS, EVAL_SLOTS = 1000, 200
QUICK_TRAIN_SLOTS, QUICK_EVAL_SLOTS = 500, 100
COLUMNS = ("cell", "peer", "ratio", "greedy", "offload", "latency", "train_s", "decide_ms")


def scenario(cell: str, seed: int, slots: int):
    """The cell's scenario with ``seed`` and ``slots`` applied."""
    base, overrides = CELLS[cell]
    return load_scenario(base, [*overrides, f"seed={seed}", f"slots={slots}"])


def offload_share(result) -> float:
    """Share of the placed tasks that went to a MEC (NaN where the result lacks it)."""
    return float(getattr(result, "offload_share", float("nan")))


def measure(cell: str, out: Path, peers: tuple[str, ...], train_slots: int,
            eval_slots: int, params: dict) -> list[dict[str, float | str]]:
    """Train on seed 0, evaluate frozen on the evaluation seeds; one row per peer."""
    specs = [SchedulerSpec(name=p, params={**params, "train_slots": train_slots})
             for p in peers]
    trained = run_scenario(scenario(cell, TRAIN_SEED, train_slots), out / "train",
                           schedulers=specs)
    frozen = []
    for peer, result in zip(peers, trained, strict=True):
        if result.error is not None:
            raise RuntimeError(f"{cell}: {peer} training failed: {result.error}")
        checkpoint = out / f"{peer}.pt"
        result.scheduler.save(checkpoint)
        frozen.append(SchedulerSpec(name=peer, params={**params, "train": False,
                                                       "checkpoint": str(checkpoint)}))
    specs = [*frozen, SchedulerSpec(name="greedy"), SchedulerSpec(name="optimal")]
    runs = {seed: run_scenario(scenario(cell, seed, eval_slots), out / f"seed{seed}",
                               schedulers=specs) for seed in EVAL_SEEDS}
    for seed, results in runs.items():
        for r in results:
            if r.error is not None:
                raise RuntimeError(f"{cell}: {r.name} failed on seed {seed}: {r.error}")
    greedy = statistics.mean(r[len(peers)].ratio_to_optimal for r in runs.values())
    rows = []
    for k, peer in enumerate(peers):
        rows.append({
            "cell": cell, "peer": peer, "greedy": greedy, "train_s": trained[k].wall_s,
            "ratio": statistics.mean(r[k].ratio_to_optimal for r in runs.values()),
            "offload": statistics.mean(offload_share(r[k]) for r in runs.values()),
            "latency": statistics.mean(r[k].mean_realized_latency_s
                                       / r[-1].mean_realized_latency_s
                                       for r in runs.values()),
            "decide_ms": 1e3 * statistics.mean(r[k].median_decision_s for r in runs.values())})
    return rows


def table(rows: list[dict]) -> str:
    """The markdown table of the rows."""
    lines = ["| cell | peer | ratio to optimal | greedy | offloaded | realized latency "
             "/ optimal's | train [s] | decide [ms] |", "|---" * 8 + "|"]
    for r in rows:
        lines.append(f"| {r['cell']} | {r['peer']} | {r['ratio']:.3f} | {r['greedy']:.3f} | "
                     f"{100 * r['offload']:.0f} % | {r['latency']:.2f} | {r['train_s']:.0f} | "
                     f"{r['decide_ms']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the cells, print and write the table; 1 if a peer loses to greedy somewhere."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--cells", default=None, help="comma-separated cells (default: all)")
    ap.add_argument("--peers", default=",".join(PEERS), help="comma-separated peers")
    ap.add_argument("--train-slots", type=int, default=None)
    ap.add_argument("--eval-slots", type=int, default=None)
    ap.add_argument("--params", default="{}", help="parameters of every peer run, JSON")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "bench_peers")
    args = ap.parse_args(argv)
    cells = (args.cells.split(",") if args.cells
             else list(QUICK_CELLS if args.quick else CELLS))
    unknown = sorted(set(cells) - set(CELLS))
    if unknown:
        ap.error(f"unknown cell(s) {unknown}; known: {sorted(CELLS)}")
    peers = tuple(args.peers.split(","))
    if set(peers) - set(PEERS):
        ap.error(f"unknown peer(s) {sorted(set(peers) - set(PEERS))}; known: {PEERS}")
    train_slots = args.train_slots or (QUICK_TRAIN_SLOTS if args.quick else TRAIN_SLOTS)
    eval_slots = args.eval_slots or (QUICK_EVAL_SLOTS if args.quick else EVAL_SLOTS)
    params = json.loads(args.params)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for cell in cells:
        new = measure(cell, args.out / cell, peers, train_slots, eval_slots, params)
        rows += new
        print("\n".join(table(new).splitlines()[2:]), flush=True)
    text = (f"Actor-Critic and DDPG frozen: trained {train_slots} slots on seed {TRAIN_SEED}, "
            f"evaluated {eval_slots} slots on seeds {EVAL_SEEDS} (ratios: mean of the "
            f"seeds); params {params}\n\n{table(rows)}\n")
    print("\n" + text)
    (args.out / "bench_peers.md").write_text(text)
    with open(args.out / "bench_peers.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    slow = [(r["cell"], r["peer"]) for r in rows if r["train_s"] > TRAIN_TIME_TARGET_S]
    losing = [(r["cell"], r["peer"]) for r in rows if r["ratio"] > r["greedy"]]
    if slow:
        print(f"training above {TRAIN_TIME_TARGET_S:.0f} s: {slow}")
    if losing:
        print(f"frozen peer worse than greedy: {losing}")
    return 1 if losing else 0


if __name__ == "__main__":
    sys.exit(main())
