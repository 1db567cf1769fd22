"""Regenerate the paper's Table III on ``scenarios/paper.yaml``: DIRS against the DRL peers.

For each seed, every learning scheduler runs alone on the same world for the paper's
schedule (DIRS: demonstration slots, then 3000 online slots; the peers get the same number
of slots and train online for 3000 of them), and ``optimal`` runs on the same slots. Per
scheduler: training time (its whole run's wall time, simulation included), median decision
time per slot, average reward ``1 / objective`` over the last 500 slots and the ratio of
mean costs to ``optimal`` on those slots; mean and standard deviation over the seeds, next
to the paper's published values.

    python analysis/table3.py [--seeds 0 1 2] [--slots N] [--workers 2] [--out docs]

Writes ``OUT/table3.csv`` and ``OUT/table3.md``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCHEDULERS = ("dirs", "dirs_shared", "actor_critic", "ddpg", "droo")
PEERS = ("actor_critic", "ddpg", "droo")
PAPER = {  # Table III of the paper: training time [s], inference time [s], average reward
    "dirs": (2970.84, 0.0165, 0.0348),
    "actor_critic": (3482.72, 0.0195, 0.0309),
    "ddpg": (3823.15, 0.0192, 0.0317),
}
LAST = 500


def window(slots: int) -> int:
    """Slots at the end of a run that are measured (500, or half of a short run)."""
    return min(LAST, slots // 2)


def default_slots() -> int:
    from schedulers.dirs import DirsConfig

    cfg = DirsConfig()
    return cfg.demonstrations + cfg.demo_holdout + cfg.train_slots


def run_one(name: str, seed: int, slots: int) -> dict:
    """One scheduler alone on the paper's world; the peers train for ``slots - 500`` slots so
    that the last 500 measure their frozen policy, as DIRS's do."""
    from mecsim.config import SchedulerSpec, load_scenario
    from mecsim.engine.runner import run_scenario
    from mecsim.registry import make

    scenario = load_scenario(ROOT / "scenarios" / "paper.yaml", [f"seed={seed}",
                                                                 f"slots={slots}"])
    params = {"train_slots": slots - window(slots)} if name in PEERS else {}
    with tempfile.TemporaryDirectory() as tmp:
        spec = SchedulerSpec(name=name, params=params)
        result, = run_scenario(scenario, tmp, schedulers=[spec], make=make, channels=False)
        slots_df = pd.read_parquet(Path(tmp) / "slots.parquet")
    if result.error:
        raise RuntimeError(result.error)
    return {"scheduler": name, "seed": seed, "training_s": result.wall_s,
            "inference_s": float(slots_df.decision_s.median()),
            "costs": slots_df.model_cost.to_numpy()}


def table(runs: list[dict]) -> pd.DataFrame:
    optimal = {r["seed"]: r["costs"] for r in runs if r["scheduler"] == "optimal"}
    rows = []
    for r in runs:
        k = window(len(r["costs"]))
        last = r["costs"][-k:]
        rows.append({"scheduler": r["scheduler"], "seed": r["seed"],
                     "training_s": r["training_s"], "inference_s": r["inference_s"],
                     "average_reward": float(np.mean(1.0 / last)),
                     "ratio_to_optimal": float(last.mean() / optimal[r["seed"]][-k:].mean())})
    return pd.DataFrame(rows)


def markdown(per_seed: pd.DataFrame) -> str:
    stats = per_seed.groupby("scheduler", sort=False).agg(["mean", "std"])
    lines = ["| scheduler | training time [s] | median inference [ms] | average reward (last "
             f"{LAST}) | ratio to optimal | paper: training [s] | paper: inference [ms] | "
             "paper: reward |", "|---|---|---|---|---|---|---|---|"]
    for name in stats.index:
        s = stats.loc[name]
        paper = PAPER.get(name)
        paper_cells = (f"{paper[0]:.2f} | {paper[1] * 1e3:.1f} | {paper[2]:.4f}" if paper
                       else "- | - | -")
        lines.append(
            f"| {name} | {s[('training_s', 'mean')]:.1f} ± {s[('training_s', 'std')]:.1f} | "
            f"{s[('inference_s', 'mean')] * 1e3:.2f} ± {s[('inference_s', 'std')] * 1e3:.2f} | "
            f"{s[('average_reward', 'mean')]:.4f} ± {s[('average_reward', 'std')]:.4f} | "
            f"{s[('ratio_to_optimal', 'mean')]:.3f} ± {s[('ratio_to_optimal', 'std')]:.3f} | "
            f"{paper_cells} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--slots", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--schedulers", nargs="+", default=list(SCHEDULERS))
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args(argv)
    slots = args.slots or default_slots()
    jobs = [(name, seed) for seed in args.seeds for name in [*args.schedulers, "optimal"]]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = [pool.submit(run_one, name, seed, slots) for name, seed in jobs]
        runs = [f.result() for f in futures]
    per_seed = table(runs)
    args.out.mkdir(parents=True, exist_ok=True)
    per_seed.to_csv(args.out / "table3.csv", index=False)
    md = (f"# Table III on `scenarios/paper.yaml` ({slots} slots, seeds {args.seeds}; "
          f"mean ± std over seeds)\n\n" + markdown(per_seed.drop(columns="seed")))
    (args.out / "table3.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
