"""Reproduce the paper's Tables II and III and Figs. 5-10 into one folder, then the reports.

    python analysis/reproduce_paper.py [--quick] [--out DIR] [--only PART ...] [--workers N]

``DIR`` (default ``results/paper``) receives one sub-folder per part, each with its own
``report.html`` (``mecsim.report`` reads a run folder or a sweep folder, not a parent of
several, so each part is reported on its own):

- ``training/`` (Figs. 5-8): one run of ``scenarios/paper.yaml`` with ``dirs``
  (``levy_compare: true``), ``dirs-no-levy`` (``levy: off``), ``dirs-no-imitation``
  (``imitation: false``), ``dirs-classic`` (``levy: classic``), ``dirs-shared``
  (``dirs_shared``: shared per-IoTD agents and the vote's loss, ``levy_compare: true``),
  ``optimal``, ``greedy``, ``random``, ``local``.
- ``table2/`` (Table II): ``cells/demonstrations=K/``, per demonstrations count ``K``, a run
  of ``K + demo_holdout + 1`` slots with ``dirs_L_I`` and ``dirs_L_D`` (``train_slots: 0``);
  ``table2.csv``, ``table2.md``. The report reads it as a sweep folder without
  ``sweep.parquet`` (its imitation figure gathers every cell's ``training.parquet``).
- ``table3/`` (Table III): ``analysis/table3.py``'s ``table3.csv``, ``table3.md``; schedulers
  that ``mecsim.registry.registered()`` lacks are skipped (``skipped.txt``).
- ``sweeps/iotds/``, ``sweeps/mecs/`` (Figs. 9, 10): ``analysis/sweeps/iotds.yaml`` and
  ``mecs.yaml`` (``local``, ``random``, ``greedy``, ``optimal``; DIRS is not in the sweeps).

plus ``DIR/README.md`` (the tables and each part's wall time) and ``DIR/timings.json``.

``--quick`` scales everything down (DIRS schedule ``demonstrations: 64``,
``pretrain_steps: 200``, ``train_slots: 300``; Table II as in the full run; Table III with
one seed and 600 slots; sweeps with one seed and 100 slots): about 1.6 minutes on 2 cores;
the full run about 6 minutes. See
``docs/reproduction.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "analysis"))

PAPER = ROOT / "scenarios" / "paper.yaml"
PARTS = ("training", "table2", "table3", "sweeps")
SWEEPS = ("iotds", "mecs")
BASELINES = ("optimal", "greedy", "random", "local")

#: Table II of the paper: accuracy [%] (train, test) by loss and number of demonstrations.
PAPER_TABLE2: dict[tuple[str, int], tuple[float, float]] = {
    ("L_I", 64): (90.8, 90.1), ("L_I", 128): (92.4, 91.8),
    ("L_I", 256): (96.7, 96.3), ("L_I", 512): (96.7, 96.5),
    ("L_D", 64): (90.3, 85.5), ("L_D", 128): (92.2, 89.8),
    ("L_D", 256): (96.6, 93.4), ("L_D", 512): (96.6, 94.3),
}
LOSSES = ("L_I", "L_D")


@dataclass
class Settings:
    """How much of everything to run."""

    name: str
    dirs_params: dict = field(default_factory=dict)  # the Figs. 5-8 run's DIRS schedule
    table2_counts: tuple[int, ...] = (64, 128, 256, 512)
    table2_params: dict = field(default_factory=dict)  # extra DIRS params of Table II
    table3_seeds: tuple[int, ...] = (0, 1, 2)
    table3_slots: int | None = None  # None: table3.py's default (the paper's schedule)
    sweep_slots: int | None = None  # None: the sweep files' (200)
    sweep_seeds: tuple[int, ...] | None = None  # None: the sweep files' ([0, 1, 2])
    sweep_files: tuple[str, ...] = SWEEPS


FULL = Settings("full")
QUICK = Settings(
    "quick", dirs_params={"demonstrations": 64, "pretrain_steps": 200, "train_slots": 300},
    table3_seeds=(0,), table3_slots=600,
    sweep_slots=100, sweep_seeds=(0,))
#: For the tests: seconds, not minutes. The figures mean nothing.
SMOKE = Settings(
    "smoke", dirs_params={"demonstrations": 8, "demo_holdout": 4, "pretrain_steps": 10,
                          "train_slots": 12, "demo_iterations": 20, "levy_iterations": 10,
                          "batch_size": 16},
    table2_counts=(8, 16),
    table2_params={"demo_holdout": 4, "pretrain_steps": 10, "demo_iterations": 20},
    table3_seeds=(0,), table3_slots=10, sweep_slots=3, sweep_seeds=(0,), sweep_files=())


def _scenario(slots: int, schedulers: list[dict]):
    from mecsim.config import load_scenario

    return load_scenario(PAPER, [f"slots={slots}", f"schedulers={json.dumps(schedulers)}"])


def _dirs_slots(params: dict) -> int:
    from schedulers.dirs import DirsConfig

    cfg = DirsConfig.from_params(params)
    return cfg.demonstrations + cfg.demo_holdout + cfg.train_slots


def _check(results, what: str) -> None:
    for r in results:
        if not r.complete:
            raise RuntimeError(f"{what}: scheduler {r.name} failed: {r.error}")


# ---------------------------------------------------------------------------- Figs. 5-8
def training_schedulers(params: dict) -> list[dict]:
    """The DIRS variants of Figs. 5-8 (same schedule each) and the baselines."""
    variants = [("dirs", {"levy_compare": True}), ("dirs-no-levy", {"levy": "off"}),
                ("dirs-no-imitation", {"imitation": False}),
                ("dirs-classic", {"levy": "classic"}),
                # the paper's online Lévy refinement (Fig. 7), not dirs_shared's descent
                ("dirs-shared", {"levy_compare": True, "online_target": "levy"})]
    return [{"name": "dirs_shared" if label == "dirs-shared" else "dirs", "label": label,
             "params": {**params, **extra}} for label, extra in variants] + list(BASELINES)


def run_training(out: Path, params: dict) -> Path:
    """One run of ``paper.yaml`` with the DIRS variants and the baselines: ``out/training``."""
    from mecsim.engine.runner import run_scenario

    folder = out / "training"
    scenario = _scenario(_dirs_slots(params), training_schedulers(params))
    _check(run_scenario(scenario, folder, channels=False), "training")
    return folder


# ---------------------------------------------------------------------------- Table II
def _table2_cell(folder: Path, count: int, params: dict) -> None:
    from mecsim.engine.runner import run_scenario
    from schedulers.dirs import DirsConfig

    full = {**params, "demonstrations": count, "train_slots": 0}
    slots = count + DirsConfig.from_params(full).demo_holdout + 1
    specs = [{"name": name, "label": f"{name}_{loss}", "params": {**full, "imitation_loss": loss}}
             for name in ("dirs", "dirs_shared") for loss in LOSSES]
    _check(run_scenario(_scenario(slots, specs), folder, channels=False), f"table2 {count}")


def table2_rows(folder: Path) -> pd.DataFrame:
    """Accuracy after pre-training, one row per (loss, demonstrations), beside the paper's."""
    rows = []
    for cell in sorted((folder / "cells").iterdir()):
        log = pd.read_parquet(cell / "training.parquet")
        acc = log[log["kind"] == "imitation"]
        for label, part in acc.groupby("scheduler"):
            first = part[part["step"] == part["step"].min()]
            last = part[part["step"] == part["step"].max()]
            loss = str(last["loss_name"].iloc[0]) if last["loss_name"].notna().any() \
                else str(label).rsplit("_", 1)[-1]
            count = int(last["demonstrations"].iloc[0])
            paper = PAPER_TABLE2.get((loss, count), (float("nan"), float("nan")))
            name = "dirs_shared" if str(label).startswith("dirs_shared") else "dirs"
            row = {"scheduler": name, "loss": loss, "demonstrations": count,
                   "steps": int(last["step"].iloc[0])}
            for split in ("train", "test"):
                row[f"{split}_before"] = 100 * float(
                    first.loc[first["split"] == split, "accuracy"].iloc[0])
                row[split] = 100 * float(last.loc[last["split"] == split, "accuracy"].iloc[0])
            row["paper_train"], row["paper_test"] = paper
            rows.append(row)
    df = pd.DataFrame(rows)
    order = {name: i for i, name in enumerate(("dirs", "dirs_shared", *LOSSES))}
    return df.sort_values(["scheduler", "loss", "demonstrations"], key=lambda s: s.map(order)
                          if s.name in ("scheduler", "loss") else s).reset_index(drop=True)


def table2_markdown(df: pd.DataFrame) -> str:
    lines = ["| scheduler | loss | demonstrations | train [%] | test [%] | before pre-training: "
             "train / test [%] | paper: train [%] | paper: test [%] |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in df.itertuples():
        lines.append(f"| {r.scheduler} | {r.loss} | {r.demonstrations} | {r.train:.1f} | "
                     f"{r.test:.1f} | "
                     f"{r.train_before:.1f} / {r.test_before:.1f} | {r.paper_train:.1f} | "
                     f"{r.paper_test:.1f} |")
    return "\n".join(lines) + "\n"


def run_table2(out: Path, counts: tuple[int, ...], params: dict, workers: int = 2) -> pd.DataFrame:
    """One run per demonstrations count (``L_I`` and ``L_D`` side by side); the table."""
    folder = out / "table2"
    cells = [folder / "cells" / f"demonstrations={k}" for k in counts]
    if workers > 1 and len(counts) > 1:
        with ProcessPoolExecutor(max_workers=min(workers, len(counts))) as pool:
            # the largest first: it is the longest
            futures = [pool.submit(_table2_cell, c, k, params)
                       for c, k in sorted(zip(cells, counts, strict=True), key=lambda x: -x[1])]
            for f in futures:
                f.result()
    else:
        for c, k in zip(cells, counts, strict=True):
            _table2_cell(c, k, params)
    df = table2_rows(folder)
    df.to_csv(folder / "table2.csv", index=False)
    (folder / "table2.md").write_text(table2_markdown(df))
    return df


# ---------------------------------------------------------------------------- Table III
def table3_schedulers() -> tuple[list[str], list[str]]:
    """(registered, missing) among Table III's schedulers."""
    import table3

    from mecsim.registry import registered

    have = set(registered())
    names = list(table3.SCHEDULERS)
    return [n for n in names if n in have], [n for n in names if n not in have]


def run_table3(out: Path, seeds: tuple[int, ...], slots: int | None, workers: int = 2) -> Path:
    import table3

    folder = out / "table3"
    names, missing = table3_schedulers()
    for name in missing:
        print(f"  table3: scheduler {name!r} is not registered yet: skipped", flush=True)
    argv = ["--seeds", *map(str, seeds), "--workers", str(workers), "--schedulers", *names,
            "--out", str(folder)]
    if slots is not None:
        argv += ["--slots", str(slots)]
    table3.main(argv)
    if missing:
        (folder / "skipped.txt").write_text("not registered: " + ", ".join(missing) + "\n")
    return folder


# ---------------------------------------------------------------------------- Figs. 9-10
def run_sweeps(out: Path, files: tuple[str, ...], slots: int | None,
               seeds: tuple[int, ...] | None, workers: int = 2) -> list[Path]:
    from mecsim.sweep import load_sweep, run_sweep

    folders = []
    for name in files:
        sweep = load_sweep(ROOT / "analysis" / "sweeps" / f"{name}.yaml", slots=slots,
                           seeds=list(seeds) if seeds is not None else None)
        folder = out / "sweeps" / name
        result = run_sweep(sweep, folder, workers=workers)
        if result.failed:
            raise RuntimeError(f"sweep {name}: failed cells {result.failed}")
        folders.append(folder)
    return folders


def sweep_summary(folder: Path) -> pd.DataFrame:
    """Mean objective per slot over seeds: one row per grid value, one column per scheduler."""
    t = pd.read_parquet(folder / "sweep.parquet")
    grid = [c for c in ("iotds.count", "mecs.count") if c in t.columns]
    t = t[t["complete"]]
    return t.pivot_table(index=grid, columns="scheduler", values="mean_cost_per_slot",
                         aggfunc="mean")


# ---------------------------------------------------------------------------- reports
def build_reports(folders: list[Path]) -> list[Path]:
    from mecsim.report import build_report

    done = []
    for folder in folders:
        report = build_report(folder)
        done.append(Path(report.path))
    return done


def training_summary(folder: Path, tail: int) -> pd.DataFrame:
    """Mean objective, reward and ratio to optimal over the last ``tail`` slots, per label."""
    slots = pd.read_parquet(folder / "slots.parquet", columns=["scheduler", "slot",
                                                                "model_cost"])
    last = int(slots["slot"].max())
    keep = slots[slots["slot"] > last - tail]
    mean = keep.groupby("scheduler", sort=False)["model_cost"].mean()
    reward = keep.assign(r=1.0 / keep["model_cost"]).groupby("scheduler", sort=False)["r"].mean()
    return pd.DataFrame({"mean_cost": mean, "average_reward": reward,
                         "ratio_to_optimal": mean / mean["optimal"]})


def levy_summary(folder: Path) -> pd.DataFrame | None:
    """Fig. 7: mean best fitness at iterations 0, 10, 50 and the last, per DIRS variant
    that compared the Lévy modes and per mode."""
    log = pd.read_parquet(folder / "training.parquet")
    levy = log[(log["kind"] == "levy") & log["scheduler"].isin(["dirs", "dirs-shared"])]
    if levy.empty:
        return None
    fit = levy.groupby(["scheduler", "mode", "iteration"])["fitness"].mean().unstack(
        "iteration")
    cols = sorted({0, 10, 50, int(fit.columns.max())} & set(fit.columns))
    return fit[cols]


def loss_summary(folder: Path) -> pd.DataFrame:
    """Fig. 5: mean agent loss by phase and update window, per DIRS variant."""
    log = pd.read_parquet(folder / "training.parquet")
    upd = log[log["kind"] == "update"]
    rows = []
    for (label, name), part in upd.groupby(["scheduler", "loss_name"], sort=False):
        steps = part["step"]
        rows.append({"scheduler": label, "loss": name, "updates": int(steps.nunique()),
                     "first": float(part[steps == steps.min()]["loss"].mean()),
                     "last_10": float(part[steps > steps.max() - 10]["loss"].mean())})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- main
def _md(df: pd.DataFrame, index: bool = True, fmt: str = ".4g") -> str:
    """A DataFrame as a Markdown table (no tabulate needed)."""
    if index:
        df = df.reset_index()
    df.columns = [str(c) for c in df.columns]

    def cell(v) -> str:
        return format(v, fmt) if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def reproduce(out: Path, settings: Settings, parts: tuple[str, ...] = PARTS,
              workers: int = 2, reports: bool = True) -> dict:
    """Run the parts into ``out``; return the timings (seconds per part) and what ran."""
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    folders: list[Path] = []
    info: dict = {"settings": settings.name}

    def timed(name: str, fn):
        print(f"{name} ...", flush=True)
        started = time.perf_counter()
        value = fn()
        timings[name] = round(time.perf_counter() - started, 1)
        print(f"{name}: {timings[name]:.1f} s", flush=True)
        return value

    if "training" in parts:
        folders.append(timed("training", lambda: run_training(out, settings.dirs_params)))
    if "table2" in parts:
        info["table2"] = timed("table2", lambda: run_table2(
            out, settings.table2_counts, settings.table2_params, workers))
        folders.append(out / "table2")
    if "table3" in parts:
        timed("table3", lambda: run_table3(out, settings.table3_seeds, settings.table3_slots,
                                           workers))
    if "sweeps" in parts and settings.sweep_files:
        folders += timed("sweeps", lambda: run_sweeps(
            out, settings.sweep_files, settings.sweep_slots, settings.sweep_seeds, workers))
    if reports:
        info["reports"] = timed("reports", lambda: build_reports(folders))
    info["timings"] = timings
    write_readme(out, settings, timings, parts)
    return info


def write_readme(out: Path, settings: Settings, timings: dict, parts: tuple[str, ...]) -> None:
    lines = [f"# Paper reproduction ({settings.name})", "",
             "Wall time per part [s]: " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items())
             + f"; total {sum(timings.values()):.0f}.", ""]
    if (out / "training" / "slots.parquet").exists():
        tail = 100 if settings.name != "full" else 500
        lines += [f"## Figs. 5-8: last {tail} slots of the training run", "",
                  _md(training_summary(out / "training", tail)), ""]
        levy = levy_summary(out / "training")
        if levy is not None:
            lines += ["Fig. 7: mean best fitness by iteration", "",
                      _md(levy), ""]
        lines += ["Fig. 5: agent loss (first update, mean of the last 10)", "",
                  _md(loss_summary(out / "training"), index=False, fmt=".3g"), ""]
    for name, path in (("Table II", out / "table2" / "table2.md"),
                       ("Table III", out / "table3" / "table3.md")):
        if path.exists():
            lines += [f"## {name}", "", path.read_text().removeprefix("# "), ""]
    for name in SWEEPS:
        folder = out / "sweeps" / name
        if (folder / "sweep.parquet").exists():
            lines += [f"## Sweep {name}: mean objective per slot", "",
                      _md(sweep_summary(folder)), ""]
    (out / "README.md").write_text("\n".join(lines))
    (out / "timings.json").write_text(json.dumps(
        {"settings": settings.name, "parts": list(parts), "seconds": timings}, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="scaled-down run (~1.5 min)")
    parser.add_argument("--smoke", action="store_true", help="tiny run for tests (seconds)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "paper")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args(argv)
    settings = SMOKE if args.smoke else QUICK if args.quick else FULL
    info = reproduce(args.out, settings, tuple(args.only), args.workers, not args.no_report)
    print((args.out / "README.md").read_text())
    print("reports:", *info.get("reports", []), sep="\n  ")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
