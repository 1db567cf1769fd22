"""DIRS against its targets (issue 4, "Targets"): a script, not a test.

Run: ``python benchmarks/bench_dirs.py`` (about 10 minutes on 2 cores) or
``python benchmarks/bench_dirs.py --quick`` (scaled-down schedules, a smoke check of the
script; its quality figures are indicative only). ``--only time,quality,grid,imitation,
inference`` runs a subset; ``--scheduler dirs_shared`` measures the registered variant
(shared agents, the vote's loss) instead of the paper's ``dirs``, with its parameters in
every DIRS run; ``--out DIR`` (default ``results/bench_dirs``) receives the run
folders, ``bench_dirs.md`` (the tables printed) and ``bench_dirs.csv`` (one row per figure).
The exit status is 1 when a target fails. See ``benchmarks/README.md``.

1. **Training time**: ``scenarios/paper.yaml`` with ``dirs`` alone for the paper's schedule,
   ``demonstrations + demo_holdout`` slots of demonstration collection then ``train_slots``
   online slots (defaults of :class:`schedulers.dirs.DirsConfig`): the scheduler's
   ``SchedulerResult.wall_s``.
2. **Quality**: the same schedule with ``dirs``, ``optimal``, ``greedy``, ``random`` and
   ``local`` through :func:`mecsim.engine.runner.run_scenario` (common random numbers); the
   mean ``model_cost`` of the last 500 slots of ``slots.parquet`` and its ratio to
   ``optimal`` on the same slots. Then the grid ``N`` = 10, 30, 50, 100 (``M`` = 2) and
   ``M`` = 2, 5, 10 (``N`` = 30) with ``dirs``, ``optimal`` and ``greedy``.
3. **Imitation** (paper Table II): held-out accuracy after pre-training on 256
   demonstrations, ``L_I`` against ``L_D``, Lévy against optimal demonstrations (from
   ``training.parquet``); plus the quality of the Lévy labels themselves.
4. **Inference**: all agents, the vote and the exact allocation, timed directly on random
   observations at ``N = 100, M = 10`` and ``N = 30, M = 2``; and ``decision_s`` of the runs.
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

from mecsim.config import load_scenario  # noqa: E402
from mecsim.engine.runner import run_scenario  # noqa: E402
from mecsim.model.optimum import solve_optimum  # noqa: E402
from mecsim.params import ModelParams  # noqa: E402
from mecsim.scheduler import Network, agent_views, vote  # noqa: E402
from mecsim.testing import outcome_for, random_observation  # noqa: E402
from schedulers.dirs import Dirs, DirsConfig  # noqa: E402
from schedulers.dirs.levy import levy_search  # noqa: E402

PAPER = ROOT / "scenarios" / "paper.yaml"
SECTIONS = ("time", "quality", "grid", "imitation", "inference")
QUICK_PARAMS = {"train_slots": 300, "demonstrations": 64, "pretrain_steps": 200}
TAIL = 500  # slots at the end of the schedule that the quality figures average
QUICK_TAIL = 100
GRID_N = (10, 30, 50, 100)  # with M = 2
GRID_M = (2, 5, 10)  # with N = 30
INFERENCE_SIZES = ((100, 10), (30, 2))
INFERENCE_OBS = 300
WARMUP_DEMOS = 64  # optimal demonstrations the timed agents are pre-trained on

# targets of issue 4
RATIO_TARGET = 1.05
RATIO_AIM = 1.02
ACCURACY_TARGET = 0.96
TRAIN_TIME_TARGET_S = 120.0
INFERENCE_TARGET_S = 2e-3

# the paper's figures
PAPER_TRAIN_S = 2970.84  # Table III
PAPER_INFERENCE_S = 0.0165  # Table III, N = 30, M = 2
PAPER_REWARD = 0.0348  # Table III, average reward (1 / objective)
PAPER_ACCURACY = {("L_I", "train"): 0.967, ("L_I", "test"): 0.963,  # Table II, 256 demos
                  ("L_D", "train"): 0.966, ("L_D", "test"): 0.934}


@dataclass
class Row:
    """One figure of a table."""

    section: str
    what: str
    measured: float
    unit: str  # "ratio", "cost", "s", "ms", "%", "" (text)
    target: str = "-"
    ok: bool | None = None  # None: no target
    paper: str = "-"
    text: str = ""  # shown instead of ``measured`` when set

    def shown(self) -> str:
        if self.text:
            return self.text
        v = self.measured
        if not math.isfinite(v):
            return "n/a"
        if self.unit == "ratio":
            return f"{v:.3f}"
        if self.unit == "%":
            return f"{100 * v:.1f} %"
        if self.unit == "ms":
            return f"{1e3 * v:.3f} ms"
        if self.unit == "s":
            return f"{v:.1f} s"
        return f"{v:.4g}"

    def result(self) -> str:
        return "-" if self.ok is None else ("PASS" if self.ok else "FAIL")


class Bench:
    """Runs the sections and collects their rows."""

    def __init__(self, out: Path, quick: bool, scheduler: str = "dirs") -> None:
        from schedulers import BUILTINS

        self.out, self.quick = out, quick
        self.variant = dict(BUILTINS[scheduler][1])  # dirs_shared: its registered defaults
        self.params = {**self.variant, **(QUICK_PARAMS if quick else {})}
        self.cfg = DirsConfig.from_params(self.params)
        self.slots = self.cfg.demonstrations + self.cfg.demo_holdout + self.cfg.train_slots
        self.tail = QUICK_TAIL if quick else TAIL
        self.tables: dict[str, list[Row]] = {}
        self.notes: dict[str, list[str]] = {}
        self.runs: dict[str, Path] = {}
        self.code = _code_state()  # at the start: others may commit while this runs

    # ------------------------------------------------------------------ helpers
    def run(self, tag: str, schedulers: list, overrides: tuple[str, ...] = (),
            slots: int | None = None, channels: bool = False):
        """Run ``paper.yaml`` with overrides; return (results by label, slots frame)."""
        sets = [f"slots={slots if slots is not None else self.slots}",
                f"schedulers={json.dumps(schedulers)}", *overrides]
        scenario = load_scenario(PAPER, sets)
        folder = self.out / "runs" / tag
        started = time.perf_counter()
        results = run_scenario(scenario, folder, channels=channels)
        wall = time.perf_counter() - started
        for r in results:
            if not r.complete:
                raise RuntimeError(f"run {tag}: scheduler {r.name} failed: {r.error}")
        print(f"  run {tag}: {len(results)} scheduler(s), {scenario.slots} slots, "
              f"{wall:.1f} s", flush=True)
        self.runs[tag] = folder
        return {r.name: r for r in results}, pd.read_parquet(folder / "slots.parquet")

    def dirs_spec(self, label: str = "dirs", **extra) -> dict:
        params = {**self.params, **extra}
        spec: dict = {"name": "dirs", "label": label}
        if params:
            spec["params"] = params
        return spec

    def tail_costs(self, slots: pd.DataFrame) -> dict[str, pd.Series]:
        """Per scheduler, ``model_cost`` of the last ``tail`` slots, indexed by slot."""
        last = int(slots["slot"].max())
        keep = slots[slots["slot"] > last - self.tail]
        return {name: g.set_index("slot")["model_cost"].sort_index()
                for name, g in keep.groupby("scheduler")}

    def offloaded(self, slots: pd.DataFrame) -> str:
        """Share of tasks offloaded over the last slots, dirs against optimal."""
        last = int(slots["slot"].max())
        keep = slots[slots["slot"] > last - self.tail]
        share = {name: g["offloaded"].sum() / g["tasks"].sum()
                 for name, g in keep.groupby("scheduler")}
        return (f"tasks offloaded: dirs {100 * share['dirs']:.0f} %, "
                f"optimal {100 * share['optimal']:.0f} %")

    def add(self, table: str, row: Row) -> None:
        self.tables.setdefault(table, []).append(row)

    def note(self, table: str, text: str) -> None:
        self.notes.setdefault(table, []).append(text)

    # ------------------------------------------------------------------ sections
    def training_time(self) -> None:
        print("training time: dirs alone, the paper's schedule", flush=True)
        results, slots = self.run("time", [self.dirs_spec()])
        r = results["dirs"]
        self.time_run = slots
        what = (f"DIRS whole schedule ({self.cfg.demonstrations}+{self.cfg.demo_holdout} demo "
                f"slots, T_D={self.cfg.pretrain_steps}, {self.cfg.train_slots} online slots)")
        self.add("Training time", Row("time", what, r.wall_s, "s", f"<= {TRAIN_TIME_TARGET_S:g} s",
                                      r.wall_s <= TRAIN_TIME_TARGET_S, f"{PAPER_TRAIN_S:g} s"))
        phases = _phase_times(self.runs["time"] / "training.parquet")
        if phases:
            self.note("Training time", phases)

    def quality(self) -> None:
        print("quality: paper.yaml, dirs against the baselines", flush=True)
        results, slots = self.run(
            "paper", [self.dirs_spec(), "optimal", "greedy", "random", "local"], channels=True)
        tails = self.tail_costs(slots)
        opt = tails["optimal"]
        dirs_mean = float(tails["dirs"].mean())
        table = "Quality (paper.yaml, N=30, M=2)"
        span = f"last {self.tail} slots"
        for name in ("dirs", "optimal", "greedy", "random", "local"):
            mean = float(tails[name].mean())
            ratio = mean / float(opt.mean())
            if name == "dirs":
                target, ok = f"<= {RATIO_TARGET} (aim {RATIO_AIM})", ratio <= RATIO_TARGET
            elif name == "optimal":
                target, ok = "-", None
            else:
                target, ok = "dirs below", dirs_mean < mean
            self.add(table, Row("quality", f"{name}: mean cost, {span}", mean, "cost"))
            self.add(table, Row("quality", f"{name}: ratio to optimal, {span}", ratio, "ratio",
                                target, ok))
        reward = 1.0 / dirs_mean
        self.add(table, Row("quality", f"dirs: reward 1/mean cost, {span}", reward, "",
                            paper=f"{PAPER_REWARD} (other cost scale)"))
        self.add(table, Row("quality", f"optimal: reward 1/mean cost, {span}",
                            1.0 / float(opt.mean()), ""))
        self._tail_notes(table, tails["dirs"], opt, slots)
        self._levy_notes(table, self.runs["paper"] / "training.parquet", slots)
        if hasattr(self, "time_run"):
            other = self.tail_costs(self.time_run)["dirs"]
            same = np.allclose(other.to_numpy(), tails["dirs"].to_numpy(), rtol=1e-12)
            self.note(table, f"dirs alone (training-time run) and dirs here give "
                             f"{'identical' if same else 'DIFFERENT'} costs on these slots "
                             f"(mean {other.mean():.3f} against {dirs_mean:.3f}).")
        self.grid_paper = (dirs_mean / float(opt.mean()),
                           float(tails["greedy"].mean()) / float(opt.mean()))
        self.decision_rows = [("N=30, M=2 (paper run)", results["dirs"].median_decision_s)]

    def _tail_notes(self, table: str, dirs: pd.Series, opt: pd.Series,
                    slots: pd.DataFrame) -> None:
        per_slot = dirs / opt
        q = np.percentile(per_slot, [50, 90, 99])
        worst = per_slot.idxmax()
        trimmed = dirs[per_slot <= np.percentile(per_slot, 99)].sum() / \
            opt[per_slot <= np.percentile(per_slot, 99)].sum()
        self.note(table, f"dirs/optimal per slot over the last {self.tail}: median {q[0]:.3f}, "
                         f"p90 {q[1]:.3f}, p99 {q[2]:.3f}, max {per_slot.max():.1f} (slot "
                         f"{worst}: {dirs[worst]:.1f} against {opt[worst]:.1f}); without the "
                         f"worst 1 % of slots the ratio is {trimmed:.3f}; "
                         f"{self.offloaded(slots)}.")
        d = slots[slots["scheduler"] == "dirs"].set_index("slot")["model_cost"].sort_index()
        o = slots[slots["scheduler"] == "optimal"].set_index("slot")["model_cost"].sort_index()
        start = self.cfg.demonstrations + self.cfg.demo_holdout
        width = max(self.cfg.train_slots // 6, 1)
        parts = []
        for a in range(start, start + self.cfg.train_slots, width):
            ratio = d.loc[a:a + width - 1].sum() / o.loc[a:a + width - 1].sum()
            parts.append(f"{a}-{a + width - 1}: {ratio:.3f}")
        self.note(table, "dirs/optimal over the online phase, by window: " + ", ".join(parts)
                  + f" (demonstration phase, untrained agents: "
                    f"{d.loc[:start - 1].sum() / o.loc[:start - 1].sum():.3f}).")

    def _levy_notes(self, table: str, path: Path, slots: pd.DataFrame) -> None:
        """How close the online Lévy refinement (the replay's targets) gets to the optimum."""
        log = pd.read_parquet(path)
        levy = log[(log["scheduler"] == "dirs") & (log["kind"] == "levy")]
        if levy.empty:
            return
        fit = levy.sort_values(["slot", "iteration"]).groupby("slot")["fitness"]
        start, end = fit.first(), fit.last()
        opt = slots[slots["scheduler"] == "optimal"].set_index("slot")["model_cost"]
        opt = opt.loc[start.index]
        last = start.index >= start.index.max() - self.tail
        at_opt = float(np.mean(end[last] <= opt[last] * (1 + 1e-9)))
        self.note(table, f"online Lévy refinement (the replay's targets; logged searches of "
                         f"the last {self.tail} slots, {int(last.sum())} of them): the agents' "
                         f"vote costs {start[last].sum() / opt[last].sum():.3f} x optimal, "
                         f"the refined target {end[last].sum() / opt[last].sum():.3f} x; "
                         f"the target is the optimum in {100 * at_opt:.0f} % of searches "
                         f"(over the whole online phase: {start.sum() / opt.sum():.3f} -> "
                         f"{end.sum() / opt.sum():.3f}).")

    def grid(self) -> None:
        print("quality grid: dirs, optimal, greedy", flush=True)
        table = "Quality grid (ratio to optimal, last slots)"
        points = [(n, 2) for n in GRID_N] + [(30, m) for m in GRID_M if m != 2]
        self.decision_rows = getattr(self, "decision_rows", [])
        for n, m in points:
            if (n, m) == (30, 2) and hasattr(self, "grid_paper"):
                dirs_ratio, greedy_ratio = self.grid_paper
                src = " (paper run)"
            else:
                results, slots = self.run(
                    f"grid_N{n}_M{m}", [self.dirs_spec(), "optimal", "greedy"],
                    (f"iotds.count={n}", f"mecs.count={m}", "mecs.cpu_hz=50e9"))
                tails = self.tail_costs(slots)
                opt = float(tails["optimal"].mean())
                dirs_ratio = float(tails["dirs"].mean()) / opt
                greedy_ratio = float(tails["greedy"].mean()) / opt
                per_slot = tails["dirs"] / tails["optimal"]
                self.note(table, f"N={n}, M={m}: dirs/optimal per slot median "
                                 f"{per_slot.median():.3f}, max {per_slot.max():.1f}; "
                                 f"{self.offloaded(slots)}.")
                src = ""
                if (n, m) in ((100, 2), (30, 10)):
                    self.decision_rows.append((f"N={n}, M={m} (grid run)",
                                               results["dirs"].median_decision_s))
            self.add(table, Row("grid", f"N={n}, M={m}: dirs / optimal{src}", dirs_ratio,
                                "ratio", f"<= {RATIO_TARGET}", dirs_ratio <= RATIO_TARGET))
            self.add(table, Row("grid", f"N={n}, M={m}: greedy / optimal", greedy_ratio,
                                "ratio", "dirs below", dirs_ratio < greedy_ratio))

    def imitation(self) -> None:
        print("imitation: 256 demonstrations, L_I vs L_D, levy vs optimal labels", flush=True)
        table = "Imitation (Table II, 256 demonstrations)"
        k = 256
        holdout = DirsConfig().demo_holdout
        variants = [(loss, source) for source in ("levy", "optimal") for loss in ("L_I", "L_D")]
        specs = [{"name": "dirs", "label": f"dirs_{loss}_{source}",
                  "params": {**self.variant, "imitation_loss": loss, "demo_source": source,
                             "demonstrations": k, "train_slots": 0}}
                 for loss, source in variants]
        self.run("imitation", specs, slots=k + holdout + 1)
        log = pd.read_parquet(self.runs["imitation"] / "training.parquet")
        acc = log[log["kind"] == "imitation"]
        for loss, source in variants:
            rows = acc[acc["scheduler"] == f"dirs_{loss}_{source}"]
            last = rows[rows["step"] == rows["step"].max()]
            for split in ("train", "test"):
                value = float(last.loc[last["split"] == split, "accuracy"].iloc[0])
                paper = PAPER_ACCURACY[(loss, split)]
                test = split == "test"
                self.add(table, Row(
                    "imitation", f"{loss}, {source} demonstrations, {split} accuracy", value,
                    "%", f">= {100 * ACCURACY_TARGET:g} %" if test else "-",
                    value >= ACCURACY_TARGET if test else None,
                    f"{100 * paper:.1f} %" if source == "levy" else "-"))
        self._label_quality(table)

    def _label_quality(self, table: str, count: int = 64) -> None:
        """How good Lévy demonstrations are: cost ratio and agreement with the optimum."""
        cfg = DirsConfig()
        rng = np.random.default_rng(11)
        net = _paper_network(30, 2)
        ratios, agree, gains, optima = [], [], [], []
        for _ in range(count):
            obs = random_observation(rng, 30, 2, network=net, data_bits=8e5, cycles=1e9)
            p = obs.problem
            start = np.argmin(p.cost_table, axis=1)  # as DIRS starts its demonstrations
            lab = levy_search(p, start, rng=rng, beta=cfg.demo_beta,
                              iterations=cfg.demo_iterations, th=cfg.levy_th)
            best = solve_optimum(p)
            ratios.append(lab.cost / best.cost)
            agree.append(float(np.mean(lab.placement == best.placement)))
            gains.append(p.gains)
            optima.append(best.placement)
        for _ in range(4 * count):  # more optima, for the own-gain rule below
            p = random_observation(rng, 30, 2, network=net, data_bits=8e5, cycles=1e9).problem
            gains.append(p.gains)
            optima.append(solve_optimum(p).placement)
        rule = _own_gain_rule(np.array(gains), np.array(optima))
        self.add(table, Row("imitation", f"Lévy labels (beta={cfg.demo_beta}, "
                                         f"{cfg.demo_iterations} it.): cost / optimum",
                            float(np.mean(ratios)), "ratio"))
        self.add(table, Row("imitation", "Lévy labels: decisions equal to the optimum's",
                            float(np.mean(agree)), "%"))
        self.add(table, Row("imitation", "reference: decentralisable rule 'MEC of highest own "
                                         "gain if above one threshold' vs the optimum, held out",
                            rule, "%"))
        self.note(table, "Accuracies are against each run's own demonstration labels (Lévy or "
                         "optimal), on the 64 held-out demonstrations, at the last pre-training "
                         "step. The reference rule needs only each agent's own gains (score = "
                         "the same increasing function of the gain for every agent, then the "
                         "vote); its threshold is fitted on half of 320 optimal slots and "
                         "scored on the other half: an accuracy that decentralised agents can "
                         "reach.")

    def inference(self) -> None:
        print("inference: agents + vote + exact allocation", flush=True)
        table = "Inference (per slot)"
        for n, m in INFERENCE_SIZES:
            agents, alloc, total, offloaded, worst = _time_inference(n, m, self.variant)
            paper = f"{1e3 * PAPER_INFERENCE_S:g} ms" if (n, m) == (30, 2) else "-"
            big = (n, m) == (100, 10)
            self.add(table, Row("inference", f"N={n}, M={m}: agents + vote + allocation, "
                                             f"median of {INFERENCE_OBS}", total, "ms",
                                f"<= {1e3 * INFERENCE_TARGET_S:g} ms" if big else "-",
                                total <= INFERENCE_TARGET_S if big else None, paper))
            self.add(table, Row("inference", f"N={n}, M={m}: of which agents + vote", agents,
                                "ms"))
            self.add(table, Row("inference", f"N={n}, M={m}: of which allocation", alloc, "ms"))
            self.add(table, Row("inference", f"N={n}, M={m}: allocation of a placement "
                                             f"offloading every task (worst case)", worst, "ms"))
            self.note(table, f"N={n}, M={m}: agents pre-trained on {WARMUP_DEMOS} optimal "
                             f"demonstrations first; their votes offloaded "
                             f"{100 * offloaded:.0f} % of the tasks.")
        for what, value in getattr(self, "decision_rows", []):
            self.add(table, Row("inference", f"decision_s median, slots.parquet, {what}", value,
                                "ms", paper="16.5 ms" if "M=2 (paper" in what else "-"))
        self.note(table, "decision_s is the engine's timing of agent views + agents + vote "
                         "(the allocation is outside it).")

    # ------------------------------------------------------------------ output
    def report(self, seconds: float, sections: list[str]) -> bool:
        lines = [f"# DIRS benchmark ({'quick' if self.quick else 'full'})", "",
                 f"Sections: {', '.join(sections)}; DIRS params "
                 f"{json.dumps(self.params) if self.params else 'defaults'}; schedule "
                 f"{self.slots} slots; benchmark wall time {seconds:.0f} s; {self.code} at the "
                 f"start; "
                 f"load average at the end {os.getloadavg()[0]:.2f} on {os.cpu_count()} "
                 f"CPUs.", ""]
        failed = False
        for table, rows in self.tables.items():
            lines += [f"## {table}", "", "| what | measured | target | result | paper |",
                      "|---|---:|---|---|---|"]
            for r in rows:
                lines.append(f"| {r.what} | {r.shown()} | {r.target} | {r.result()} | {r.paper} |")
                failed |= r.ok is False
            lines.append("")
            lines += [f"- {n}" for n in self.notes.get(table, [])]
            if self.notes.get(table):
                lines.append("")
        text = "\n".join(lines)
        print(text)
        (self.out / "bench_dirs.md").write_text(text + "\n")
        with open(self.out / "bench_dirs.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["section", "what", "measured", "unit", "target", "result", "paper"])
            for rows in self.tables.values():
                for r in rows:
                    w.writerow([r.section, r.what, r.text or repr(r.measured), r.unit, r.target,
                                r.result(), r.paper])
        print(f"written: {self.out / 'bench_dirs.md'}, {self.out / 'bench_dirs.csv'}")
        return failed


def _code_state() -> str:
    """The commit and whether the DIRS or engine code differs from it (others edit them)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "schedulers", "mecsim"],
                               cwd=ROOT, text=True, capture_output=True,
                               check=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return "commit unknown"
    changed = [line[3:] for line in dirty if line.strip()]
    return f"commit {head}" + (f" with local changes in {', '.join(changed)}" if changed else "")


def _paper_network(n: int, m: int) -> Network:
    """The paper's network: 50 m square, MECs on the default grid, 50 GHz, f0 = 1 GHz."""
    scenario = load_scenario(PAPER, [f"iotds.count={n}", f"mecs.count={m}",
                                     "mecs.cpu_hz=50e9"])
    return Network(n_iotds=n, n_mecs=m, mec_cpu_hz=np.asarray(scenario.mecs.cpu_hz, float),
                   mec_positions_m=np.asarray(scenario.mec_positions_m, float),
                   local_cpu_hz=np.full(n, scenario.iotds.cpu_hz), area_m=scenario.area_m,
                   slot_s=scenario.slot_s, params=ModelParams())


def _own_gain_rule(gains: np.ndarray, optima: np.ndarray) -> float:
    """Held-out agreement with the optimum of "offload to the best gain if above t"."""
    half = len(gains) // 2
    best = np.argmax(gains, axis=2) + 1
    top = np.log(gains.max(axis=2))

    def agreement(t: float, part: slice) -> float:
        return float(np.mean(np.where(top[part] >= t, best[part], 0) == optima[part]))

    fit = slice(0, half)
    candidates = np.quantile(top[fit], np.linspace(0, 1, 201))
    t = max(candidates, key=lambda c: agreement(c, fit))
    return agreement(t, slice(half, None))


def _time_inference(n: int, m: int,
                    params: dict) -> tuple[float, float, float, float, float]:
    """Median per-slot seconds of agents + vote, allocation, both; offloaded fraction;
    median seconds of the allocation of an all-offloaded placement."""
    rng = np.random.default_rng(5)
    net = _paper_network(n, m)
    dirs = Dirs(**{**params, "demonstrations": WARMUP_DEMOS, "demo_holdout": 0,
                   "demo_source": "optimal", "train_slots": 0})
    dirs.reset(1, net)

    def observation():
        return random_observation(rng, n, m, network=net, data_bits=8e5, cycles=1e9)

    for _ in range(WARMUP_DEMOS):  # pre-train so that the placements are realistic
        obs = observation()
        dirs.feedback(outcome_for(obs, dirs.decide(obs)))
    dirs.drain_log()
    observations = [observation() for _ in range(INFERENCE_OBS + 20)]
    threshold = dirs.config.vote_threshold
    t_agents, t_alloc, t_total, offloaded, t_worst = [], [], [], [], []
    for k, obs in enumerate(observations):
        t0 = time.perf_counter()
        views = agent_views(obs)
        scores = {j: dirs.act(view) for j, view in views.items()}
        placement = vote(scores, obs.n_tasks, threshold)
        t1 = time.perf_counter()
        obs.problem.allocate(placement)
        t2 = time.perf_counter()
        everywhere = rng.integers(1, m + 1, obs.n_tasks)
        t3 = time.perf_counter()
        obs.problem.allocate(everywhere)
        t4 = time.perf_counter()
        if k >= 20:  # warm-up
            t_worst.append(t4 - t3)
            t_agents.append(t1 - t0)
            t_alloc.append(t2 - t1)
            t_total.append(t2 - t0)
            offloaded.append(float(np.mean(placement > 0)))
    return (statistics.median(t_agents), statistics.median(t_alloc),
            statistics.median(t_total), float(np.mean(offloaded)), statistics.median(t_worst))


def _phase_times(path: Path) -> str:
    """Nothing is timed per phase in the log; report the log's row counts instead."""
    if not path.exists():
        return ""
    log = pd.read_parquet(path, columns=["kind"])
    counts = log["kind"].value_counts().to_dict()
    return "training.parquet rows: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="scaled-down schedules")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench_dirs",
                        help="folder for the runs and the tables (default results/bench_dirs)")
    parser.add_argument("--scheduler", choices=("dirs", "dirs_shared"), default="dirs",
                        help="which registered DIRS to measure (default: dirs, the paper's "
                             "agents); its registered parameters apply to every DIRS run")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated subset of {','.join(SECTIONS)}")
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    bench = Bench(args.out, args.quick, args.scheduler)
    started = time.perf_counter()
    steps = {"time": bench.training_time, "quality": bench.quality, "grid": bench.grid,
             "imitation": bench.imitation, "inference": bench.inference}
    for name in SECTIONS:  # always in this order: grid reuses the paper run, inference the runs
        if name in sections:
            steps[name]()
    failed = bench.report(time.perf_counter() - started, [s for s in SECTIONS if s in sections])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
