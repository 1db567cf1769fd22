"""Learning schedulers off the paper's setting, trained then frozen (issue 13): a script.

Run: ``python benchmarks/bench_learners.py`` (the whole grid; long) or ``--quick`` (under
10 minutes on 2 cores: the cells ``paper``, ``unequal_tasks``, ``poisson`` and
``unequal_mecs``, short training schedules, one evaluation seed of 100 slots; the
``quick`` section of the grid file). ``--cells a,b`` and ``--learners x,y`` run subsets,
``--grid FILE`` another grid, ``--workers K`` cells at a time (a process pool, default 2),
``--out DIR`` (default ``results/bench_learners``) receives the runs, the checkpoints,
``bench_learners.md`` and ``bench_learners.csv``. ``--no-inference`` skips the inference
timing. The exit status is 1 when a target fails.

The grid file (default ``analysis/sweeps/learners.yaml``), a mapping:

- ``base``: scenario file every cell starts from; ``cells``: ``{name: [KEY=VALUE, ...]}``,
  ``--set`` overrides of it;
- ``train_seed``: scenario seed A of training (the world trained on is
  :func:`mecsim.rng.training_seed` of it, as ``mecsim train --seed A``); ``eval_seeds``:
  the scenario seeds B of the evaluation (never that world: checked); ``slots``: the
  evaluation's slots per seed;
- ``learners``: ``{scheduler id: training params}``; ``train_margin``: share of slots added
  to a training run beyond the scheduler's schedule (:func:`mecsim.training.schedule_slots`);
- ``baselines``: run beside the learners (``optimal`` among them: the reference);
- ``labels``: also run ``optimal`` on the training world, to price the replay targets
  DIRS logs (``training.parquet``, ``kind: levy``) against the optimum;
- ``quick``: ``cells``, ``eval_seeds``, ``slots`` and ``learners`` (params merged over the
  full ones) of ``--quick``.

Per cell: each learner is trained by :func:`mecsim.training.train`, the code path of
``mecsim train``, on the training world, and saved; then one
:func:`mecsim.engine.runner.run_scenario` per evaluation seed runs every learner frozen
(``train: false``, its checkpoint) beside the baselines on the same world (common random
numbers). Reported per cell and scheduler: the ratio of the mean per-slot model cost to
``optimal``'s on the same slots (pooled over the seeds), the realized mean latency with the
tasks still in flight counted at their age, the realized cost lower bound, the MEC backlog
(mean, and at the last slot; ``grows``: the backlog trend says it grows where
``optimal``'s does not), the training wall time, the median decision time, and ``labels``
(DIRS's logged Lévy targets over ``optimal`` on the same training slots).

Then the inference time of a frozen ``dirs_shared`` (agents + vote + exact allocation on
random observations) at ``N=100, M=10`` and ``N=300, M=20``.

Targets (issue 13): ``dirs_shared`` at most 1.03x ``optimal`` in every cell and 1.01x on
``paper``, and no backlog growing where ``optimal``'s does not; its training at most 120 s
per cell; inference at most 2 ms per slot at ``N=100, M=10``; ``droo``, ``actor_critic``
and ``ddpg`` at most ``greedy``'s ratio in every cell.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

from mecsim.config import SchedulerSpec, load_scenario  # noqa: E402
from mecsim.engine.runner import run_scenario  # noqa: E402
from mecsim.registry import make  # noqa: E402
from mecsim.rng import training_seed  # noqa: E402
from mecsim.training import schedule_slots, train  # noqa: E402

GRID = ROOT / "analysis" / "sweeps" / "learners.yaml"
LEARNERS = ("dirs_shared", "dirs", "droo", "actor_critic", "ddpg")
PEERS = ("droo", "actor_critic", "ddpg")  # must do at least as well as greedy
INFERENCE_SIZES = ((100, 10), (300, 20))
INFERENCE_OBS = 100
INFERENCE_DEMOS = 16

# targets of issue 13
RATIO_TARGET = 1.03
PAPER_RATIO_TARGET = 1.01
TRAIN_TARGET_S = 120.0
INFERENCE_TARGET_S = 2e-3


@dataclass
class Grid:
    """The benchmark's grid file, ``--quick`` applied."""

    base: Path
    cells: dict[str, list[str]]
    train_seed: int
    eval_seeds: list[int]
    slots: int
    learners: dict[str, dict[str, Any]]
    baselines: list[str]
    train_margin: float = 0.05
    labels: bool = True


@dataclass
class Row:
    """One scheduler in one cell (figures pooled over the evaluation seeds)."""

    cell: str
    scheduler: str
    ratio: float = math.nan  # mean per-slot model cost / optimal's
    mean_cost: float = math.nan  # per-slot model cost
    latency_s: float = math.nan  # realized mean latency, in-flight tasks at their age
    cost_lower_bound: float = math.nan  # realized cost per task, in flight counted
    in_flight: float = math.nan  # share of tasks still in flight at the end
    backlog_mean: float = math.nan  # MEC backlog [tasks], mean over slots
    backlog_final: float = math.nan  # MEC backlog [tasks] at the last slot
    stable: bool | None = None
    grows: bool = False  # its backlog grows where optimal's does not
    train_s: float = math.nan
    train_slots: int = 0
    finished: bool | None = None  # the training schedule ended within its run
    decision_ms: float = math.nan
    labels: float = math.nan  # DIRS's logged replay targets / optimal (training world)
    online_slots: int = 0  # evaluation slots decided while learning (must be 0)
    error: str = ""
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- the grid


def load_grid(path: Path, quick: bool) -> Grid:
    """Read the grid file; with ``quick``, apply its ``quick`` section."""
    data = yaml.safe_load(Path(path).read_text())
    quick_part = data.get("quick") or {}
    cells = {name: list(sets or []) for name, sets in data["cells"].items()}
    learners = {name: dict(params or {}) for name, params in data["learners"].items()}
    seeds, slots = list(data["eval_seeds"]), int(data["slots"])
    if quick:
        keep = quick_part.get("cells")
        if keep:
            cells = {name: cells[name] for name in keep}
        seeds = list(quick_part.get("eval_seeds", seeds))
        slots = int(quick_part.get("slots", slots))
        for name, params in (quick_part.get("learners") or {}).items():
            learners[name] = {**learners.get(name, {}), **(params or {})}
    grid = Grid(base=ROOT / data["base"], cells=cells, train_seed=int(data["train_seed"]),
                eval_seeds=seeds, slots=slots, learners=learners,
                baselines=list(data.get("baselines", ["optimal", "greedy"])),
                train_margin=float(data.get("train_margin", 0.05)),
                labels=bool(data.get("labels", True)))
    world = training_seed(grid.train_seed)
    if world in grid.eval_seeds:
        raise ValueError(f"{path}: eval_seeds holds {world}, the training world of "
                         f"train_seed {grid.train_seed}")
    if "optimal" not in grid.baselines:
        raise ValueError(f"{path}: baselines must include optimal (the reference)")
    return grid


def training_length(name: str, params: dict[str, Any], margin: float) -> int:
    """Slots of a training run: the scheduler's whole schedule plus ``margin`` of it."""
    need = schedule_slots(make(name, **params))
    if need is None:
        raise ValueError(f"{name}: its training schedule's length is unknown")
    return max(1, math.ceil(need * (1.0 + margin)) + 2)


# --------------------------------------------------------------------------- one cell


def run_cell(cell: str, overrides: list[str], grid: Grid, out: Path) -> list[Row]:
    """Train every learner on the cell's training world, then evaluate them frozen."""
    import torch

    torch.set_num_threads(1)
    folder = out / "runs" / cell
    rows = {name: Row(cell, name) for name in [*grid.learners, *grid.baselines]}
    frozen = []
    longest = 0
    for name, params in grid.learners.items():
        slots = training_length(name, params, grid.train_margin)
        longest = max(longest, slots)
        scenario = load_scenario(grid.base, [*overrides, f"seed={grid.train_seed}",
                                             f"slots={slots}"])
        spec = SchedulerSpec(name=name, params=params)
        checkpoint = folder / "train" / f"{name}.pt"
        print(f"  {cell}: training {name} ({slots} slots)", flush=True)
        try:
            trained = train(scenario, spec, checkpoint, run_dir=folder / "train" / name,
                            scenario_file=grid.base)
        except Exception as exc:  # noqa: BLE001 - one learner failing is a row, not the end
            rows[name].error = f"training: {type(exc).__name__}: {exc}"
            continue
        row = rows[name]
        row.train_s, row.train_slots = trained.result.wall_s, trained.result.slots
        row.finished = trained.finished
        frozen.append(SchedulerSpec(name=name, params={**params, "train": False,
                                                       "checkpoint": str(checkpoint)}))
    if grid.labels and longest:
        _labels(cell, overrides, grid, folder, longest, rows)
    per_seed = []
    for seed in grid.eval_seeds:
        scenario = load_scenario(grid.base, [*overrides, f"seed={seed}",
                                             f"slots={grid.slots}"])
        specs = frozen + [SchedulerSpec(name=b, params={}) for b in grid.baselines]
        run = folder / f"eval_seed{seed}"
        print(f"  {cell}: evaluating {len(specs)} schedulers, seed {seed}", flush=True)
        results = run_scenario(scenario, run, schedulers=specs, channels=False)
        per_seed.append((run, {r.name: r for r in results}))
    _fill(rows, per_seed)
    return list(rows.values())


def _labels(cell: str, overrides: list[str], grid: Grid, folder: Path, slots: int,
            rows: dict[str, Row]) -> None:
    """Price DIRS's logged replay targets against ``optimal`` on the training world."""
    logs = {}
    for name, params in grid.learners.items():
        config = getattr(make(name, **params), "config", None)
        if getattr(config, "online_target", None) == "optimal":
            rows[name].labels = 1.0  # its online targets are optimal's own decisions
            continue
        if not (folder / "train" / name / "training.parquet").exists():
            continue
        log = pd.read_parquet(folder / "train" / name / "training.parquet")
        if "kind" in log and (log["kind"] == "levy").any():
            logs[name] = log[log["kind"] == "levy"]
    if not logs:
        return
    scenario = load_scenario(grid.base, [*overrides, f"seed={grid.train_seed}",
                                         f"slots={slots}"])
    world = scenario.model_copy(update={"seed": training_seed(grid.train_seed)})
    run = folder / "train" / "optimal"
    print(f"  {cell}: optimal on the training world ({slots} slots), for the labels",
          flush=True)
    run_scenario(world, run, schedulers=[SchedulerSpec(name="optimal", params={})],
                 channels=False)
    opt = pd.read_parquet(run / "slots.parquet").set_index("slot")["model_cost"]
    for name, levy in logs.items():
        mode = levy["mode"].mode().iloc[0] if "mode" in levy else None
        if mode is not None:
            levy = levy[levy["mode"] == mode]
        end = levy.sort_values(["slot", "iteration"]).groupby("slot")["fitness"].last()
        common = end.index.intersection(opt.index)
        base = float(opt.loc[common].sum())
        if base > 0:
            rows[name].labels = float(end.loc[common].sum()) / base


def _fill(rows: dict[str, Row], per_seed: list[tuple[Path, dict]]) -> None:
    """Pool each scheduler's figures over the evaluation seeds."""
    opt_cost = [res["optimal"].mean_cost_per_slot for _, res in per_seed]
    opt_stable = [res["optimal"].stable for _, res in per_seed]
    for name, row in rows.items():
        mine = [(run, res[name]) for run, res in per_seed if name in res]
        if not mine:
            continue
        errors = [r.error for _, r in mine if r.error]
        if errors:
            row.error = errors[0]
            continue
        costs = [r.mean_cost_per_slot for _, r in mine]
        row.mean_cost = float(np.mean(costs))
        row.ratio = float(np.sum(costs) / np.sum(opt_cost))
        row.cost_lower_bound = float(np.mean([r.realized_cost_lower_bound for _, r in mine]))
        row.in_flight = float(np.mean([r.in_flight_share for _, r in mine]))
        row.decision_ms = 1e3 * statistics.median(r.median_decision_s for _, r in mine)
        row.online_slots = sum(getattr(r, "training_slots", 0) for _, r in mine)
        row.stable = None if any(r.stable is None for _, r in mine) else all(
            r.stable for _, r in mine)
        row.grows = any(r.stable is False and o is not False
                        for (_, r), o in zip(mine, opt_stable, strict=True))
        lat, means, finals = [], [], []
        for run, _ in mine:
            lat.append(_latency_with_in_flight(run, name))
            b = _backlog(run, name)
            means.append(b[0])
            finals.append(b[1])
        row.latency_s = float(np.mean(lat))
        row.backlog_mean, row.backlog_final = float(np.mean(means)), float(np.mean(finals))


def _latency_with_in_flight(run: Path, name: str) -> float:
    """Mean realized latency [s] of the tasks completed or in flight (these at their age)."""
    tasks = pd.read_parquet(run / "tasks.parquet", columns=["status", "realized_latency_s"],
                            filters=[("scheduler", "==", name)])
    kept = tasks[tasks["status"].isin(["completed", "in_flight"])]
    return float(kept["realized_latency_s"].mean()) if len(kept) else math.nan


def _backlog(run: Path, name: str) -> tuple[float, float]:
    """The MEC backlog [tasks] (uploading or on a MEC, all MECs): mean and at the end."""
    slots = pd.read_parquet(run / "slots.parquet", columns=["slot", "backlog_tasks_total"],
                            filters=[("scheduler", "==", name)]).sort_values("slot")
    series = slots["backlog_tasks_total"].to_numpy(dtype=float)
    return (float(series.mean()), float(series[-1])) if series.size else (math.nan, math.nan)


# --------------------------------------------------------------------------- inference


def inference_times(params: dict[str, Any]) -> list[tuple[int, int, float, float]]:
    """Per-slot seconds of a frozen ``dirs_shared``: ``(N, M, agents + vote, + allocation)``.

    Its agents are pre-trained on a few optimal demonstrations, then frozen (numpy
    forwards), and timed on random observations (one task per IoTD, equal sizes).
    """
    import torch

    from mecsim.config import default_mec_layout
    from mecsim.params import ModelParams
    from mecsim.scheduler import Network, agent_views, vote
    from mecsim.testing import outcome_for, random_observation
    from schedulers import BUILTINS
    from schedulers.dirs import Dirs

    torch.set_num_threads(1)
    out = []
    for n, m in INFERENCE_SIZES:
        rng = np.random.default_rng(5)
        area = (100.0, 100.0) if n <= 100 else (200.0, 200.0)
        net = Network(n_iotds=n, n_mecs=m, mec_cpu_hz=np.full(m, 50e9),
                      mec_positions_m=default_mec_layout(m, area),
                      local_cpu_hz=np.full(n, 1e9), area_m=area, slot_s=1.0,
                      params=ModelParams())
        dirs = Dirs(**{**BUILTINS["dirs_shared"][1], **params,
                       "demonstrations": INFERENCE_DEMOS, "demo_holdout": 0,
                       "demo_source": "optimal", "train_slots": 0,
                       "pretrain_steps": min(int(params.get("pretrain_steps", 200)), 200)})
        dirs.reset(1, net)

        def observation(rng=rng, n=n, m=m, net=net):
            return random_observation(rng, n, m, network=net, data_bits=8e5, cycles=1e9)

        for _ in range(INFERENCE_DEMOS):
            obs = observation()
            dirs.feedback(outcome_for(obs, dirs.decide(obs)))
        dirs.drain_log()
        if dirs.learning:
            raise RuntimeError(f"dirs_shared not frozen after {INFERENCE_DEMOS} demos")
        agents, total = [], []
        for k in range(INFERENCE_OBS + 10):
            obs = observation()
            t0 = time.perf_counter()
            views = agent_views(obs)
            placement = vote({j: dirs.act(v) for j, v in views.items()}, obs.n_tasks,
                             dirs.config.vote_threshold)
            t1 = time.perf_counter()
            obs.problem.allocate(placement)
            t2 = time.perf_counter()
            if k >= 10:
                agents.append(t1 - t0)
                total.append(t2 - t0)
        out.append((n, m, statistics.median(agents), statistics.median(total)))
    return out


# --------------------------------------------------------------------------- report


def verdicts(rows: list[Row], inference: list[tuple[int, int, float, float]]) -> list[str]:
    """The failed targets, one line each (empty: every target met)."""
    failed = []
    by_cell: dict[str, dict[str, Row]] = {}
    for r in rows:
        by_cell.setdefault(r.cell, {})[r.scheduler] = r
    for cell, named in by_cell.items():
        ds = named.get("dirs_shared")
        if ds is not None:
            limit = PAPER_RATIO_TARGET if cell == "paper" else RATIO_TARGET
            if ds.error or not ds.ratio <= limit:
                failed.append(f"{cell}: dirs_shared ratio {ds.ratio:.3f} > {limit}"
                              + (f" ({ds.error})" if ds.error else ""))
            if ds.grows:
                failed.append(f"{cell}: dirs_shared's MEC backlog grows, optimal's does not")
            if not ds.train_s <= TRAIN_TARGET_S:
                failed.append(f"{cell}: dirs_shared trained in {ds.train_s:.0f} s > "
                              f"{TRAIN_TARGET_S:g} s")
        greedy = named.get("greedy")
        for peer in PEERS:
            r = named.get(peer)
            if r is None or greedy is None:
                continue
            if r.error or not r.ratio <= greedy.ratio:
                failed.append(f"{cell}: {peer} ratio {r.ratio:.3f} above greedy's "
                              f"{greedy.ratio:.3f}" + (f" ({r.error})" if r.error else ""))
        for r in named.values():
            if r.online_slots:
                failed.append(f"{cell}: {r.scheduler} was still learning in the evaluation")
    for n, m, _, total in inference:
        if (n, m) == (100, 10) and not total <= INFERENCE_TARGET_S:
            failed.append(f"inference at N=100, M=10: {1e3 * total:.2f} ms > "
                          f"{1e3 * INFERENCE_TARGET_S:g} ms")
    return failed


COLUMNS = (  # (header, Row field, format)
    ("ratio", "ratio", "{:.3f}"), ("labels", "labels", "{:.3f}"),
    ("latency s", "latency_s", "{:.3g}"), ("cost LB", "cost_lower_bound", "{:.3g}"),
    ("in-flt %", "in_flight", "pct"), ("MEC backlog mean", "backlog_mean", "{:.3g}"),
    ("final", "backlog_final", "{:.3g}"), ("stable", "stable", "bool"),
    ("grows", "grows", "grows"), ("train s", "train_s", "{:.1f}"),
    ("train slots", "train_slots", "int"), ("schedule done", "finished", "bool"),
    ("decide ms", "decision_ms", "{:.3g}"),
)


def _cell_text(value: Any, fmt: str) -> str:
    if fmt == "bool":
        return "?" if value is None else ("yes" if value else "**no**")
    if fmt == "grows":
        return "**GROWS**" if value else "-"
    if fmt == "int":
        return str(value) if value else "-"
    if isinstance(value, float) and not math.isfinite(value):
        return "-"
    if fmt == "pct":
        return f"{100 * value:.3g}"
    return fmt.format(value)


def report(rows: list[Row], inference, grid: Grid, args, seconds: float) -> list[str]:
    """Write ``bench_learners.md`` and ``.csv``; print the tables; return the failures."""
    failed = verdicts(rows, inference)
    lines = [f"# Learning schedulers, trained then frozen ({'quick' if args.quick else 'full'})",
             "",
             f"Grid {_rel(args.grid)} on {_rel(grid.base)}; training: scenario seed "
             f"{grid.train_seed}, world seed {training_seed(grid.train_seed)}; evaluation: "
             f"seeds {grid.eval_seeds}, {grid.slots} slots each, frozen learners beside "
             f"{', '.join(grid.baselines)} in one run per seed; benchmark wall time "
             f"{seconds:.0f} s with {args.workers} worker(s); {_code_state()}; load average "
             f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs.", "",
             "ratio: mean per-slot model cost over optimal's (same slots, pooled over the "
             "seeds). labels: DIRS's logged replay targets (Lévy) over optimal on the same "
             "training slots. latency: realized mean, tasks still in flight counted at their "
             "age. cost LB: realized cost per task, in-flight tasks at their cost so far. MEC "
             "backlog: tasks uploading to or on a MEC, mean over slots and at the last. "
             "grows: the backlog grows where optimal's does not. train s: wall time of the "
             "training run; schedule done: the learner was frozen at its end.", ""]
    params = {name: grid.learners[name] for name in grid.learners}
    lines += [f"Training params: `{json.dumps(params)}`", ""]
    for cell in dict.fromkeys(r.cell for r in rows):
        lines += [f"## {cell}", "", f"Overrides: `{'; '.join(grid.cells[cell]) or 'none'}`",
                  "", "| scheduler | " + " | ".join(h for h, _, _ in COLUMNS) + " |",
                  "|---|" + "---:|" * len(COLUMNS)]
        for r in (r for r in rows if r.cell == cell):
            cells = [_cell_text(getattr(r, f), fmt) for _, f, fmt in COLUMNS]
            lines.append(f"| {r.scheduler} | " + " | ".join(cells) + " |")
        errors = [f"- {r.scheduler}: {r.error}" for r in rows if r.cell == cell and r.error]
        lines += ["", *errors, *([""] if errors else [])]
    if inference:
        lines += ["## Inference (frozen dirs_shared, per slot)", "",
                  "| N | M | agents + vote ms | with allocation ms | target |",
                  "|---:|---:|---:|---:|---|"]
        for n, m, agents, total in inference:
            target = f"<= {1e3 * INFERENCE_TARGET_S:g} ms" if (n, m) == (100, 10) else "-"
            lines.append(f"| {n} | {m} | {1e3 * agents:.3f} | {1e3 * total:.3f} | {target} |")
        lines.append("")
    lines += ["## Targets", ""]
    lines += [f"- FAIL: {f}" for f in failed] or ["- every target met"]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_learners.md").write_text(text)
    with open(args.out / "bench_learners.csv", "w", newline="") as f:
        names = [k for k in asdict(rows[0]) if k != "notes"] if rows else []
        w = csv.DictWriter(f, fieldnames=names, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: v for k, v in asdict(r).items() if k != "notes"})
    print(f"written: {args.out / 'bench_learners.md'}, {args.out / 'bench_learners.csv'}")
    return failed


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _code_state() -> str:
    """The commit, and whether mecsim/ or schedulers/ differ from it (others edit them)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "schedulers", "mecsim"],
                               cwd=ROOT, text=True, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "commit unknown"
    return f"commit {head}" + (" with local changes" if dirty.strip() else "")


# --------------------------------------------------------------------------- main


def _subset(text: str | None, known: list[str], what: str) -> list[str] | None:
    if not text:
        return None
    chosen = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in known]
    if unknown:
        raise SystemExit(f"bench_learners: unknown {what} {unknown}; the grid has {known}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="the grid's quick section: fewer cells, short schedules, 1 seed")
    parser.add_argument("--grid", type=Path, default=GRID, help="grid file")
    parser.add_argument("--cells", help="comma-separated cells to run (default: all)")
    parser.add_argument("--learners", help="comma-separated learners (default: the grid's)")
    parser.add_argument("--workers", type=int, default=2, help="cells run at a time")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench_learners")
    parser.add_argument("--no-inference", dest="inference", action="store_false",
                        help="skip the inference timing")
    args = parser.parse_args(argv)
    grid = load_grid(args.grid, args.quick)
    full = load_grid(args.grid, False)
    cells = _subset(args.cells, list(full.cells), "cells")
    if cells is not None:
        grid.cells = {c: full.cells[c] for c in cells}
    learners = _subset(args.learners, list(grid.learners), "learners")
    if learners is not None:
        grid.learners = {n: grid.learners[n] for n in learners}
    started = time.perf_counter()
    rows: list[Row] = []
    if args.workers > 1 and len(grid.cells) > 1:
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            futures = [pool.submit(run_cell, c, sets, grid, args.out)
                       for c, sets in grid.cells.items()]
            for future in futures:
                rows += future.result()
    else:
        for c, sets in grid.cells.items():
            rows += run_cell(c, sets, grid, args.out)
    inference = []
    if args.inference and "dirs_shared" in grid.learners:
        print("inference: frozen dirs_shared", flush=True)
        inference = inference_times(grid.learners["dirs_shared"])
    failed = report(rows, inference, grid, args, time.perf_counter() - started)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
