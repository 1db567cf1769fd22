"""Build the report of a ``run`` or ``sweep`` folder: find the data, draw, write one HTML.

A *run* folder holds ``summary.json`` and the tables of ``docs/results.md`` (folders of
Parquet parts); a *sweep* folder holds ``sweep.parquet`` and ``cells/<cell_id>/`` run
folders. Every file is optional: a section whose data are missing is replaced by a one-line
note, and an unreadable table (a corrupt part, an older engine's ``.partial`` file) is
skipped with a note. See ``docs/report.md``.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mecsim.engine.records import read_table, table_columns, write_text_atomic
from mecsim.report import figures as F
from mecsim.report import pooled as P
from mecsim.report.export import anchor

LEARNING = ("dirs", "actor_critic", "ddpg", "droo")  # schedulers of the DRL comparison
REWARD_TAIL = 500  # Table III's average reward: over the last slots of the run
TASK_COLUMNS = ("scheduler", "task_id", "iotd", "slot", "target", "status", "drop_reason",
                "cycles", "rerun_local",
                "realized_latency_s", "realized_energy_j")
#: The task columns the pooled figures read from every run (the map reads TASK_COLUMNS).
POOL_COLUMNS = ("scheduler", "target", "status", "drop_reason", "cycles", "rerun_local",
                "realized_latency_s", "realized_energy_j")
SLOT_COLUMNS = ("scheduler", "slot", "time_s", "tasks", "model_cost", "model_latency_s",
                "model_energy_j", "backlog_tasks_*")


LOAD_CAPTION = (
    "Against the offered load (the sweep's load key: the work arriving as a share of all "
    "the network's CPUs, N f0 + sum Fmax; 100 %, the dotted line, is its capacity), per "
    "scheduler, log scales, from the top: mean and 95th-percentile realized latency of "
    "completed tasks, and realized cost per completed task (phi_T latency + phi_E "
    "energy). Line: mean over seeds; shaded band: the smallest to the largest seed's "
    "value; open circle: some seed's run was unstable. Star (and the legend's 'stable up "
    "to'): the scheduler's largest stable load, the largest load at which every seed's "
    "run was stable: true in summary.json, i.e. its total backlog (tasks and cycles in "
    "the system) does not grow over the second half of the run (a rising least-squares "
    "trend, significant and steadily increasing: docs/results.md); a failed or undecided "
    "(too short) run at a load disqualifies it. Beyond it the means grow with the run's "
    "length and are not steady-state figures. Failed cells are left out of the curves.")


PER_MEC_CAPTION = (
    "Per MEC and scheduler. Utilisation: the cycles of the tasks the MEC completed (not "
    "re-run locally) over its capacity Fmax (summary.json mec_cpu_hz) times the run's "
    "simulated time (epochs x slot length); cycles of tasks cut short or still in service "
    "at the end are not counted. Load share: the share of the scheduler's offloaded tasks "
    "placed on the MEC. Mean backlog: slots.parquet backlog_tasks_j, mean over epochs. With "
    "several seeds: summed cycles over summed capacity x time, summed counts, the mean over "
    "every seed's epochs.")


class ReportError(Exception):
    """The folder is missing or holds neither a run nor a sweep."""


@dataclass
class Run:
    """One run folder: a lone run, or one cell of a sweep."""

    path: Path
    id: str = ""  # the cell id in a sweep
    config: str = ""  # the cell's grid values other than the seed, "k=v, ..."
    seed: Any = None

    def series(self, label: str) -> str:
        """The name a scheduler of this run gets in figures."""
        return f"{label} · {self.config}" if self.config else label


@dataclass
class Item:
    """One figure of a section (or the note saying why it is absent)."""

    key: str
    title: str
    caption: str
    figure: Any = None  # plotly Figure
    note: str = ""  # why the figure is absent
    skipped: bool = True  # the note says what is missing (else it is a finding)


@dataclass
class Report:
    """What :func:`build_report` wrote."""

    path: Path
    kind: str  # "run" | "sweep"
    sections: list[tuple[str, list[Item]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def figures(self) -> dict[str, Any]:
        """The figures drawn, by key."""
        return {i.key: i.figure for _, items in self.sections for i in items if i.figure}


class _Reader:
    """Reads a folder's files, recording a note for each one it cannot read."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.notes: list[str] = []

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def table(self, path: Path, columns: tuple[str, ...] | None = None) -> pd.DataFrame | None:
        """Read a table (only ``columns``; ``prefix_*`` selects by prefix) or None.

        A table is a folder of Parquet parts (a run's tables) or one Parquet file
        (``sweep.parquet``, and the tables of runs by older engines).
        """
        if not path.exists():
            if path.with_name(path.name + ".partial").exists():
                self.notes.append(f"{self._rel(path)}: only a .partial file (a run by an "
                                  "older engine, in progress or killed), skipped")
            return None
        try:
            names = table_columns(path)
            cols = None
            if columns:
                cols = [n for n in names if n in columns
                        or any(c.endswith("*") and n.startswith(c[:-1]) for c in columns)]
            return read_table(path, columns=cols).to_pandas()
        except Exception as exc:  # noqa: BLE001 - any unreadable file is skipped
            self.notes.append(f"{self._rel(path)}: unreadable ({type(exc).__name__}: {exc})")
            return None

    def json(self, path: Path) -> dict | None:
        """Read a JSON object or None."""
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
            return data if isinstance(data, dict) else None
        except (OSError, ValueError) as exc:
            self.notes.append(f"{self._rel(path)}: unreadable ({exc})")
            return None

    def yaml(self, path: Path) -> dict | None:
        """Read a YAML mapping or None."""
        if not path.exists():
            return None
        try:
            import yaml

            data = yaml.safe_load(path.read_text())
            return data if isinstance(data, dict) else None
        except Exception as exc:  # noqa: BLE001
            self.notes.append(f"{self._rel(path)}: unreadable ({exc})")
            return None


RUN_FILES = ("summary.json", "slots.parquet", "tasks.parquet", "training.parquet",
             "channels.parquet", "positions.parquet")


def _is_run(path: Path) -> bool:
    return any((path / f).exists() or (path / (f + ".partial")).exists() for f in RUN_FILES)


def _grid_columns(sweep: pd.DataFrame) -> list[str]:
    """The sweep's grid columns (dotted names, and ``load``) whose value varies.

    The offered load first, then the number of IoTDs and of MECs (Figs. 9 and 10).
    """
    dotted = [c for c in sweep.columns if "." in c or c == F.LOAD]
    varying = [c for c in dotted if sweep[c].nunique(dropna=False) > 1]
    first = [c for c in (F.LOAD, "iotds.count", "mecs.count") if c in varying]
    return first + [c for c in varying if c not in first]


def _hashable(sweep: pd.DataFrame) -> pd.DataFrame:
    sweep = sweep.copy()
    for c in sweep.columns:
        if sweep[c].dtype == object and sweep[c].map(
                lambda v: isinstance(v, (list, dict, np.ndarray))).any():
            sweep[c] = sweep[c].map(str)
    return sweep


def _ok_rows(sweep: pd.DataFrame) -> pd.Series:
    ok = pd.Series(True, index=sweep.index)
    if "complete" in sweep.columns:
        ok &= sweep["complete"].fillna(False).astype(bool)
    if "error" in sweep.columns:
        ok &= sweep["error"].isna() | (sweep["error"].astype(str) == "")
    return ok


def _label_names(scenario: dict | None) -> dict[str, str]:
    """Map each scheduler label of a resolved scenario to its registered name."""
    out = {}
    for entry in (scenario or {}).get("schedulers") or []:
        if isinstance(entry, str):
            out[entry] = entry
        elif isinstance(entry, dict) and isinstance(entry.get("name"), str):
            out[entry.get("label") or entry["name"]] = entry["name"]
    return out


def _mec_layout(reader: _Reader, run: Run, summary: dict | None):
    """MEC positions and the area: from ``summary.json``, else from ``scenario.yaml``."""
    positions = (summary or {}).get("mec_positions_m")
    area = (summary or {}).get("area_m")
    if positions is None or area is None:
        path = run.path / "scenario.yaml"
        if path.exists():
            try:
                from mecsim.config import load_scenario

                scenario = load_scenario(path)
                positions = positions if positions is not None else \
                    scenario.mec_positions_m.tolist()
                area = area if area is not None else list(scenario.area_m)
            except Exception as exc:  # noqa: BLE001 - a stale scenario file
                reader.notes.append(f"{reader._rel(path)}: MEC positions unavailable ({exc})")
    return positions, area


def _per_slot(slots: pd.DataFrame | None, training: pd.DataFrame | None) -> pd.DataFrame | None:
    """``scheduler, slot, latency_s, energy_j, reward[, run]`` from slots (else training)."""
    if slots is not None and {"scheduler", "slot", "model_cost"} <= set(slots.columns):
        df = slots.rename(columns={"model_latency_s": "latency_s", "model_energy_j": "energy_j"})
        cost = df["model_cost"].astype(float)
        busy = (df["tasks"] > 0) if "tasks" in df.columns else pd.Series(True, index=df.index)
        df = df.assign(reward=np.where(busy & (cost > 0), 1.0 / cost.where(cost > 0), np.nan))
        keep = [c for c in ("run", "scheduler", "slot", "latency_s", "energy_j", "reward")
                if c in df.columns]
        return df[keep]
    if training is not None and "kind" in training.columns:
        df = training[training["kind"] == "slot"]
        if len(df):
            keep = [c for c in ("run", "scheduler", "slot", "latency_s", "energy_j", "reward")
                    if c in df.columns]
            return df[keep]
    return None


def _tail_reward(per_slot: pd.DataFrame | None, series: str) -> float:
    if per_slot is None or "reward" not in per_slot.columns:
        return float("nan")
    values = per_slot[per_slot["scheduler"] == series].sort_values("slot")["reward"]
    values = values.tail(REWARD_TAIL).dropna()
    return float(values.mean()) if len(values) else float("nan")


def discover(folder: Path, reader: _Reader, cell: str | None = None):
    """Return ``(kind, runs, sweep, grid, representative)`` for a run or sweep folder."""
    if not folder.is_dir():
        raise ReportError(f"{folder}: no such folder")
    sweep_path = folder / "sweep.parquet"
    cells_dir = folder / "cells"
    if sweep_path.exists() or (sweep_path.with_name("sweep.parquet.partial")).exists() \
            or cells_dir.is_dir():
        sweep = reader.table(sweep_path)
        sweep = _hashable(sweep) if sweep is not None else None
        if sweep is None:
            reader.notes.append("sweep.parquet missing: cells are reported one by one")
        grid = _grid_columns(sweep) if sweep is not None else []
        runs: list[Run] = []
        by_cell: dict[str, Run] = {}
        found = sorted(p for p in cells_dir.iterdir() if p.is_dir() and _is_run(p)) \
            if cells_dir.is_dir() else []
        order = [str(c) for c in dict.fromkeys(sweep["cell"])] \
            if sweep is not None and "cell" in sweep.columns else []
        found.sort(key=lambda p: (order.index(p.name) if p.name in order else len(order),
                                  p.name))
        facets = [g for g in grid if g != "seed"]
        for path in found:
            run = Run(path, id=path.name, config=path.name if sweep is None else "")
            if sweep is not None and "cell" in sweep.columns:
                rows = sweep[sweep["cell"].astype(str) == path.name]
                if len(rows):
                    run.config = ", ".join(f"{g}={rows.iloc[0][g]}" for g in facets)
                    run.seed = rows.iloc[0]["seed"] if "seed" in rows.columns else None
            runs.append(run)
            by_cell[path.name] = run
        if cell is not None and cell not in by_cell:
            raise ReportError(f"{folder}: no cell {cell!r} under cells/")
        rep = by_cell[cell] if cell is not None else next(
            (r for r in runs if (r.path / "tasks.parquet").exists()), runs[0] if runs else None)
        return "sweep", runs, sweep, grid, rep
    if _is_run(folder):
        run = Run(folder)
        return "run", [run], None, [], run
    raise ReportError(f"{folder}: neither a run folder (summary.json, *.parquet) nor a sweep "
                      "folder (sweep.parquet, cells/)")


def _drops_text(pooled: list[P.Setting], kind: str, where: str) -> tuple[str, str, bool]:
    """The drops figure's caption, its note when absent, and whether nothing dropped.

    Where no task dropped in any setting the note says so (a finding, not a skip); a
    setting without drops is left out of the menu, and the caption names it.
    """
    quiet = P.no_drops(pooled)
    caption = "Tasks dropped (deadline, MEC failure, invalid decision)." + where
    if quiet and len(quiet) == len([s for s in pooled if s.tasks is not None]):
        return caption, "no task dropped" + ("" if kind == "run" else " in any setting"), True
    if quiet and kind != "run":
        caption += " No task dropped in: " + "; ".join(quiet) + " (not in the menu)."
    return caption, "no tasks.parquet", False


def build_report(folder: str | Path, out: str | Path | None = None, *,
                 cell: str | None = None) -> Report:
    """Build the report of a run or sweep folder and write it as one HTML file.

    Args:
        folder: The run or sweep folder.
        out: The HTML file (default: ``FOLDER/report.html``), written atomically.
        cell: In a sweep, the cell whose grid setting the pooled figures (latency CDF,
            energy, drops, backlog, per MEC) show first, and whose run the map shows
            (default: the first with ``tasks.parquet``).

    Returns:
        The :class:`Report` (its figures, sections and the notes on what was skipped).

    Raises:
        ReportError: If the folder is missing or holds neither a run nor a sweep.
    """
    folder = Path(folder)
    reader = _Reader(folder)
    kind, runs, sweep, grid, rep = discover(folder, reader, cell)
    out = Path(out) if out is not None else folder / "report.html"

    summaries = {r.id: reader.json(r.path / "summary.json") for r in runs}
    scenarios = {r.id: reader.yaml(r.path / "scenario.yaml") for r in runs}
    training_parts, slot_parts = [], []
    raw_slots: dict[str, pd.DataFrame] = {}  # each run's slots, under its own labels
    for r in runs:
        t = reader.table(r.path / "training.parquet")
        if t is not None and len(t):
            t = t.assign(run=r.id, scheduler=t["scheduler"].map(r.series))
            training_parts.append(t)
        s = reader.table(r.path / "slots.parquet", SLOT_COLUMNS)
        if s is not None and len(s):
            raw_slots[r.id] = s
            slot_parts.append(s.assign(run=r.id, scheduler=s["scheduler"].map(r.series)))
    training = P.concat(training_parts)
    slots_all = P.concat(slot_parts)
    per_slot = _per_slot(slots_all, training)

    labels: list[str] = []
    if sweep is not None and "scheduler" in sweep.columns:
        labels += list(dict.fromkeys(sweep["scheduler"].astype(str)))
    for r in runs:  # the run's order: summary.json's keys are sorted, their index is not
        labels += run_schedulers(summaries[r.id])
    base = {r.series(x): x for r in runs for x in run_schedulers(summaries[r.id])}
    for df in (per_slot, training):
        if df is not None:
            labels += [x for x in dict.fromkeys(df["scheduler"]) if x not in base]
    colors = F.palette(labels)
    # a sweep's series ("dirs · iotds.count=4") wear their scheduler's colour
    colors.update({series: colors[x] for series, x in base.items() if x in colors})

    sections: list[tuple[str, list[Item]]] = []
    draw_notes: list[str] = []

    def item(key: str, title: str, caption: str, make: Callable[[], Any], absent: str) -> Item:
        try:
            fig = make()
        except Exception as exc:  # noqa: BLE001 - one bad figure must not stop the report
            draw_notes.append(f"{title}: could not be drawn ({type(exc).__name__}: {exc})")
            return Item(key, title, caption, note=f"could not be drawn ({exc})")
        return Item(key, title, caption, figure=fig) if fig is not None else \
            Item(key, title, caption, note=absent)

    # -- overview / sweep
    overview: list[Item] = []
    if kind == "sweep":
        if sweep is not None:
            ok = sweep[_ok_rows(sweep)]
            axes = [g for g in grid if g != "seed"]
            if F.LOAD in axes:
                others = [a for a in axes if a != F.LOAD]
                overview.append(item(
                    "load_curves", F.TITLES["load_curves"], LOAD_CAPTION,
                    lambda: F.load_curves(sweep, F.LOAD, others, colors),
                    "no complete cell with realized latency or cost"))
            from mecsim.report import sweep_figures as S

            paper_axes = _paper_axes(runs, axes)
            for x in axes:
                others = [a for a in axes if a != x]
                overview.append(item(
                    f"sweep:{x}", F.title_for_axis(x, x in paper_axes), S.COST_CAPTION,
                    lambda x=x, o=others: S.sweep_axis(ok, x, o, colors,
                                                       paper=x in paper_axes),
                    "no complete cell"))
                overview.append(item(
                    f"sweep_perf:{x}", F.performance_title(x), S.PERF_CAPTION,
                    lambda x=x, o=others: S.sweep_performance(ok, x, o, colors),
                    "no complete cell with realized latency, energy or drops (an older "
                    "sweep.parquet)"))
            if not axes:
                overview.append(item(
                    "summary", F.TITLES["summary"],
                    "Mean over the sweep's seeds; error bars one standard deviation.",
                    lambda: F.scheduler_summary(ok, colors), "no complete cell"))
        else:
            overview.append(Item("sweep", "Sweep figures", "", note="no sweep.parquet"))
    else:
        table = summary_frame(summaries[""])
        overview.append(item(
            "summary", F.TITLES["summary"],
            "From summary.json. Realized (simulated): the mean cost phi_T latency + phi_E "
            "energy of completed tasks, and its ratio to optimal's. Per-slot model: the "
            "spec's objective per slot, and the sum of each scheduler's slot costs over "
            "optimal's on the same slots. Hatched: the scheduler's backlog grows (unstable): "
            "its means have not converged.",
            lambda: F.scheduler_summary(table, colors), "no summary.json"))
    sections.append(("Overview" if kind == "run" else "Sweep", overview))

    # -- DIRS training
    windows = {}
    if training is not None and "kind" in training.columns:
        online = training[training["kind"] == "slot"]
        for name, part in online.groupby("scheduler", sort=False):
            windows[name] = (float(part["slot"].min()), float(part["slot"].max()))
    from mecsim.report.sweep_figures import RUN_SLOT_CAPTION, SLOT_CAPTION

    n_runs = training["run"].nunique() if training is not None else 0
    over = f" Mean over {n_runs} runs." if n_runs > 1 else ""
    slot_series, slot_windows, slot_note = per_slot, windows, over + " " + RUN_SLOT_CAPTION
    if kind == "sweep" and per_slot is not None:
        slot_series = _slot_frame(per_slot, runs)
        slot_windows = _label_windows(training, runs)
        slot_note = " " + SLOT_CAPTION
    no_training = ("no training.parquet (no learning scheduler ran)" if training is None else
                   "no per-agent loss rows (kind 'update') in training.parquet; a learner's "
                   "own metrics are drawn under Training metrics")
    from mecsim.report import learner_figures as LF

    metric_rows = _slot_frame(training, runs) if kind == "sweep" and LF.metric_columns(
        training) else training
    no_metrics = ("no training.parquet" if training is None else "no free-form metrics in "
                  "training.parquet (a learner's own drain_log keys: docs/training.md)")
    of_paper = _paper_runs(runs)  # the paper's scenario: Figs. 5-8 are the paper's
    sections.append(("Training and per-slot curves", [
        item("loss", F.titled("loss", of_paper),
             "Each agent's loss per update: L_I (or L_D) during pre-training on the "
             "demonstrations, then L_A online (training.parquet, kind 'update')." + over,
             lambda: F.training_loss(training, paper_scenario=of_paper), no_training),
        item("learner_metrics", "Training metrics",
             LF.CAPTION + (over if kind == "run" else ""),
             lambda: LF.learner_metrics(metric_rows, colors), no_metrics),
        item("latency_energy", F.titled("latency_energy", of_paper),
             "Model latency and energy of each slot's tasks, summed (slots.parquet), "
             "rolling mean; the shaded band is the online training." + slot_note,
             lambda: F.latency_energy(slot_series, slot_windows, colors,
                                      paper_scenario=of_paper),
             "no slots.parquet"),
        item("levy", F.titled("levy", of_paper),
             "Best objective after each Lévy iteration, mean over the logged searches "
             "(every 10th); the paper reports about "
             f"{F.paper.FIG7_FITNESS['proposed']:g} (proposed) against "
             f"{F.paper.FIG7_FITNESS['classic']:g} (classic) on its scenario." + over,
             lambda: F.levy_fitness(training, paper_scenario=of_paper),
             "no Lévy rows in training.parquet"),
        item("reward", F.titled("reward", of_paper),
             "Reward 1/objective per slot, rolling mean, for every scheduler; DIRS "
             "variants (with/without Lévy or imitation) appear under their labels."
             + slot_note,
             lambda: F.reward(slot_series, slot_windows, colors,
                              paper_scenario=of_paper),
             "no slots.parquet"),
    ]))

    # -- tables II and III
    drl_rows = []
    for r in runs:
        names = _label_names(scenarios[r.id])
        trained = set() if training is None else set(
            training.loc[training["run"] == r.id, "scheduler"])
        for label, res in ((summaries[r.id] or {}).get("schedulers") or {}).items():
            name = names.get(label, label)
            if name not in LEARNING and r.series(label) not in trained:
                continue
            drl_rows.append({
                "scheduler": r.series(label), "name": name, "run": r.id,
                "train_s": _float(res.get("wall_s")),
                "inference_s": _float(res.get("median_decision_s")),
                "ratio_to_optimal": _float(res.get("ratio_to_optimal")),
                "reward": _tail_reward(per_slot[per_slot["run"] == r.id]
                                       if per_slot is not None and "run" in per_slot.columns
                                       else per_slot, r.series(label))})
    drl = pd.DataFrame(drl_rows) if drl_rows else None
    sections.append(("Imitation and the DRL comparison", [
        item("imitation", F.TITLES["imitation"],
             "The agents' vote against the demonstrations' labels before and after "
             "pre-training, on the training and held-out demonstrations "
             f"(training.parquet, kind 'imitation'); stars: the paper at "
             f"{F.paper.TABLE2_DEMONSTRATIONS} demonstrations.",
             lambda: F.imitation_accuracy(training), "no imitation rows in training.parquet"),
        item("drl", F.TITLES["drl"],
             "Training time: the scheduler's wall time for the whole run (summary.json "
             "wall_s); inference: median decision time per slot; average reward: mean "
             f"1/objective over the last {REWARD_TAIL} slots. The paper's values are for "
             "its scenario (N = 30, M = 2, 3000 training slots) on its hardware.",
             lambda: F.drl_comparison(drl, colors), "no learning scheduler in the run(s)"),
    ]))

    # -- realized performance: pooled over the seeds of each grid setting
    raw_tasks = {r.id: reader.table(r.path / "tasks.parquet", POOL_COLUMNS) for r in runs}
    pooled = P.pool([(r.config, r.id, raw_tasks[r.id], raw_slots.get(r.id),
                      (summaries.get(r.id) or {}).get("mec_cpu_hz")) for r in runs])
    default = (rep.config or P.ALL_CELLS) if rep is not None else None
    makers = P.figures(pooled, colors, default)
    seeds = max((s.runs for s in pooled), default=0)
    where = "" if kind == "run" else (
        f" Pooled over the seeds of each grid setting (up to {seeds} runs); the menu picks "
        f"the setting (default: {default})." if len(pooled) > 1 else
        f" Pooled over the {seeds} runs of the sweep." if seeds > 1 else "")
    drops_caption, drops_absent, dropped_none = _drops_text(pooled, kind, where)
    realized = [
        item("latency_cdf", F.TITLES["latency_cdf"],
             "Realized latency of completed tasks (tasks.parquet), from arrival to end of "
             "service; a long line is drawn through evenly spaced quantiles." + where,
             makers["latency_cdf"], "no tasks.parquet"),
        item("energy", F.TITLES["energy"],
             "Realized energy per completed task (hover: its standard deviation over "
             "tasks and their count)." + where,
             makers["energy"], "no tasks.parquet"),
        item("drops", F.TITLES["drops"], drops_caption, makers["drops"], drops_absent),
        item("backlog", F.TITLES["backlog"],
             "Tasks uploading to or in service at each MEC when each slot began "
             "(slots.parquet backlog_tasks_j), one panel per MEC up to 4 MECs (else all "
             "MECs together: each MEC's mean is in the next figure), and every task not "
             "ended; with several seeds, the mean over seeds at each slot." + where,
             makers["backlog"], "no slots.parquet"),
        item("per_mec", F.TITLES["per_mec"], PER_MEC_CAPTION + where, makers["per_mec"],
             "no task offloaded, or no tasks.parquet or slots.parquet with per-MEC "
             "columns"),
    ]
    realized[2].skipped = not dropped_none
    sections.append(("Realized performance", realized))

    # -- the map: one run
    tasks = positions = None
    mec_pos = area = None
    if rep is not None:
        tasks = reader.table(rep.path / "tasks.parquet", TASK_COLUMNS) \
            if raw_tasks.get(rep.id) is not None else None  # unreadable: noted once
        positions = reader.table(rep.path / "positions.parquet")
        mec_pos, area = _mec_layout(reader, rep, summaries.get(rep.id))
    where = "" if rep is None or kind == "run" else \
        f" One run: cell {rep.id}" + (f" ({rep.config})" if rep.config else "") + \
        (f", seed {rep.seed}" if rep.seed is not None else "") + " (--cell picks another)."
    map_caption = ("IoTD positions per slot (positions.parquet), MECs as squares, each IoTD "
                   "coloured by where its task of the slot ran; choose the scheduler in the "
                   "menu, step through the slots with the slider." + where)
    if positions is not None and mec_pos is None:
        map_caption += " MEC positions unknown (no summary.json or scenario.yaml)."
    sections.append(("Map", [
        item("map", F.TITLES["map"], map_caption,
             lambda: F.placement_map(positions, tasks, mec_pos, area, colors=colors),
             "no positions.parquet (written with channels.parquet by newer engines)"),
    ]))

    notes = reader.notes + draw_notes
    header = _header(folder, kind, runs, sweep, summaries, scenarios, rep, colors)
    text = render_html(f"mecsim report: {folder.resolve().name}", header, sections, notes)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, text)
    return Report(out, kind, sections, notes)


def run_schedulers(summary: dict | None) -> list[str]:
    """A ``summary.json``'s scheduler labels in the run's order (by their ``index``).

    ``summary.json`` is written with sorted keys; each scheduler's ``index`` is its
    position in the run. Labels without an index keep their order, after the others.
    """
    entries = list(((summary or {}).get("schedulers") or {}).items())

    def rank(k: int) -> tuple[float, int]:
        index = entries[k][1].get("index") if isinstance(entries[k][1], dict) else None
        return (float(index) if isinstance(index, (int, float)) else math.inf, k)

    return [entries[k][0] for k in sorted(range(len(entries)), key=rank)]


def summary_frame(summary: dict | None) -> pd.DataFrame | None:
    """One row per scheduler of a ``summary.json``, with ``sweep.parquet``'s column names.

    The realized ratios (``realized_ratio_to_optimal``) become ``KEY_ratio_to_optimal``
    columns; older summaries without realized figures give the columns they have.
    """
    if not summary or not summary.get("schedulers"):
        return None
    rows = []
    for label in run_schedulers(summary):
        res = summary["schedulers"][label]
        row = {"scheduler": label, **{k: v for k, v in res.items() if not isinstance(v, dict)}}
        for key, ratio in (res.get("realized_ratio_to_optimal") or {}).items():
            row[f"{key}_ratio_to_optimal"] = ratio
        rows.append(row)
    frame = pd.DataFrame(rows)
    numeric = [c for c, _ in F.COST_FIGURES if c in frame.columns]
    frame[numeric] = frame[numeric].apply(pd.to_numeric, errors="coerce")
    return frame


#: The run summary table: (group, header, column, format); realized first, then the model.
RUN_TABLE = (
    ("realized (simulated)", "cost / task", "realized_cost_per_task", ".4g"),
    ("realized (simulated)", "× optimal", "realized_cost_per_task_ratio_to_optimal", ".4f"),
    ("realized (simulated)", "lower bound", "realized_cost_lower_bound", ".4g"),
    ("realized (simulated)", "× optimal", "realized_cost_lower_bound_ratio_to_optimal", ".4f"),
    ("realized (simulated)", "latency p50 s", "latency_p50_s", ".4g"),
    ("realized (simulated)", "p95 s", "latency_p95_s", ".4g"),
    ("realized (simulated)", "p99 s", "latency_p99_s", ".4g"),
    ("realized (simulated)", "drops %", "drop_rate", "%"),
    ("realized (simulated)", "in flight %", "in_flight_share", "%"),
    ("realized (simulated)", "in-flight age s", "in_flight_mean_age_s", ".4g"),
    ("per-slot model", "cost / slot", "mean_cost_per_slot", ".4g"),
    ("per-slot model", "× optimal", "ratio_to_optimal", ".4f"),
)
RUN_TABLE_NOTE = (
    "Realized: from the simulation, cost = phi_T latency + phi_E energy per completed task; "
    "latency quantiles of completed tasks. Lower bound: the mean cost of completed and "
    "in-flight tasks, these counted at their age and energy at the end of the run (their "
    "final cost can only be higher). Per-slot model: the spec's objective of each epoch's "
    "decisions, computed from the model, not simulated. × optimal: ratio to optimal's "
    "figure (- where optimal's is 0 or undefined). Stable no: the total backlog grows over "
    "the second half of the run, so its means depend on the run's length; ?: too short to "
    "tell.")


def _run_table(summary: dict, colors: dict[str, str] | None = None) -> str:
    """The run summary table: realized figures and per-slot model side by side.

    Rows in the run's order, each scheduler's name after a swatch of its figures' colour.
    """
    esc = html.escape
    frame = summary_frame(summary)
    groups = list(dict.fromkeys(g for g, *_ in RUN_TABLE))
    head = ("<tr><th rowspan='2'>scheduler</th>" + "".join(
        f"<th colspan='{sum(1 for g, *_ in RUN_TABLE if g == group)}'>{esc(group)}</th>"
        for group in groups) + "<th rowspan='2'>stable</th><th rowspan='2'>decide ms</th>"
        "<th rowspan='2'>wall s</th><th rowspan='2'>complete</th></tr><tr>"
        + "".join(f"<th>{esc(h)}</th>" for _, h, *_ in RUN_TABLE) + "</tr>")
    rows = []
    for r in frame.to_dict("records") if frame is not None else []:
        cells = "".join(f"<td>{_cell(r.get(col), fmt)}</td>" for *_, col, fmt in RUN_TABLE)
        stable = r.get("stable")
        flag = "?" if stable is None or stable != stable else (
            "yes" if stable else "<b class='bad'>no</b>")
        error = f" — {esc(str(r['error']))}" if isinstance(r.get("error"), str) else ""
        color = (colors or {}).get(str(r["scheduler"]))
        swatch = f"<span class='swatch' style='background:{esc(color)}'></span>" \
            if color else ""
        rows.append(f"<tr><td>{swatch}{esc(str(r['scheduler']))}</td>{cells}<td>{flag}</td>"
                    f"<td>{_fmt(_float(r.get('median_decision_s')) * 1e3)}</td>"
                    f"<td>{_fmt(r.get('wall_s'), '.2f')}</td>"
                    f"<td>{'yes' if r.get('complete') else 'no'}{error}</td></tr>")
    return (f"<table class='summary'>{head}{''.join(rows)}</table>"
            f"<p class='caption'>{esc(RUN_TABLE_NOTE)}</p>")


def _cell(value: Any, fmt: str) -> str:
    if fmt == "%":
        v = _float(value)
        return "-" if not math.isfinite(v) else format(100.0 * v, ".3g")
    return _fmt(value, fmt)


def _load_text(load: dict | None) -> str:
    """The offered load of ``summary.json`` as one sentence (empty if absent)."""
    try:
        return (f"Offered load: local CPU {float(load['local']):.3g}, MEC pool "
                f"{float(load['mec_pool']):.3g}, all CPUs {float(load['all_cpus']):.3g} "
                "(above 1 the work arriving exceeds the capacity; see docs/results.md).")
    except (TypeError, KeyError, ValueError):
        return ""


def _float(value: Any) -> float:
    try:
        return float(value) if value is not None else float("nan")
    except (TypeError, ValueError):
        return float("nan")


def _fmt(value: Any, spec: str = ".4g") -> str:
    v = _float(value)
    return "-" if not math.isfinite(v) else format(v, spec)


def _header(folder: Path, kind: str, runs: list[Run], sweep, summaries, scenarios,
            rep: Run | None, colors: dict[str, str] | None = None) -> str:
    esc = html.escape
    parts = [f"<p class='meta'>Source: <code>{esc(str(folder.resolve()))}</code> ({kind}"]
    if kind == "sweep":
        parts[0] += f", {len(runs)} cell folders"
        if sweep is not None:
            ok = _ok_rows(sweep)
            parts[0] += f", {len(sweep)} cell × scheduler rows, {int((~ok).sum())} failed"
    parts[0] += ")</p>"
    if kind == "run":
        s = summaries.get("") or {}
        if s:
            parts.append(f"<p class='meta'>Scenario <b>{esc(str(s.get('scenario')))}</b>, seed "
                         f"{esc(str(s.get('seed')))}, {esc(str(s.get('slots')))} slots. "
                         f"{esc(_load_text(s.get('load')))}</p>")
            parts.append(_run_table(s, colors))
    elif sweep is not None:
        parts.append(_unstable_rows(sweep))
    if kind == "sweep" and sweep is not None and "error" in sweep.columns:
        failed = sweep[~_ok_rows(sweep)]
        if len(failed):
            rows = "".join(
                f"<tr><td>{esc(str(r.get('cell', '-')))}</td>"
                f"<td>{esc(str(r.get('scheduler', '-')))}</td>"
                f"<td>{esc(str(r.get('error') or 'incomplete'))}</td></tr>"
                for r in failed.head(50).to_dict("records"))
            parts.append("<details><summary>Failed cells</summary><table class='summary'>"
                         "<tr><th>cell</th><th>scheduler</th><th>error</th></tr>"
                         f"{rows}</table></details>")
    return "\n".join(parts)


def _unstable_rows(sweep: pd.DataFrame) -> str:
    """A folded list of the sweep's cell x scheduler rows flagged unstable (or nothing)."""
    if "stable" not in sweep.columns:
        return ""
    flagged = sweep[sweep["stable"].map(lambda v: isinstance(v, (bool, np.bool_)) and not v)
                    .astype(bool)]
    if flagged.empty:
        return ""
    esc = html.escape
    rows = "".join(f"<tr><td>{esc(str(r.get('cell', '-')))}</td>"
                   f"<td>{esc(str(r.get('scheduler', '-')))}</td></tr>"
                   for r in flagged.head(50).to_dict("records"))
    return (f"<details><summary>Unstable runs ({len(flagged)}): the backlog grows, the means "
            "have not converged</summary><table class='summary'><tr><th>cell</th>"
            f"<th>scheduler</th></tr>{rows}</table></details>")


CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0 auto;
       max-width: 1200px; padding: 0 24px 48px; color: #222; }
h1 { margin-top: 24px; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 4px;
margin-top: 40px; } h3 { margin-bottom: 4px; }
p.caption { color: #555; margin: 2px 0 6px; font-size: 0.92em; }
p.finding { color: #2d5f2d; background: #eef6ee; padding: 6px 10px; border-radius: 4px; }
span.swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.4em;
border-radius: 2px; vertical-align: baseline; }
p.note { color: #8a6d3b; background: #fcf8e3; padding: 6px 10px; border-radius: 4px; }
p.meta { color: #444; } table.summary { border-collapse: collapse; font-size: 0.9em; }
table.summary td, table.summary th { border: 1px solid #ddd; padding: 3px 8px;
text-align: right; } table.summary td:first-child { text-align: left; }
nav ul { columns: 2; } ul.notes { color: #8a6d3b; font-size: 0.9em; }
table.summary th { text-align: center; } b.bad { color: #b00020; }
"""


def render_html(title: str, header: str, sections: list[tuple[str, list[Item]]],
                notes: list[str]) -> str:
    """Assemble the page: plotly.js once in the head, then each section's figures."""
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    esc = html.escape
    toc, body = [], []
    for heading, items in sections:
        toc.append(f"<li><a href='#{anchor(heading)}'>{esc(heading)}</a></li>")
        body.append(f"<h2 id='{anchor(heading)}'>{esc(heading)}</h2>")
        for it in items:
            body.append(f"<section id='{anchor(it.key)}'><h3>{esc(it.title)}</h3>")
            if it.figure is not None:
                body.append(f"<p class='caption'>{esc(it.caption)}</p>")
                body.append(pio.to_html(
                    it.figure, include_plotlyjs=False, full_html=False, auto_play=False,
                    div_id=f"fig-{anchor(it.key)}",
                    config={"displaylogo": False, "responsive": True}))
            elif it.skipped:
                body.append(f"<p class='note'>Skipped: {esc(it.note)}.</p>")
            else:
                body.append(f"<p class='finding'>{esc(it.note[:1].upper() + it.note[1:])}.</p>")
            body.append("</section>")
    note_html = ""
    if notes:
        note_html = ("<h2 id='notes'>Notes</h2><ul class='notes'>"
                     + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n"
        f"<script type='text/javascript'>{get_plotlyjs()}</script>\n</head>\n<body>\n"
        f"<h1>{esc(title)}</h1>\n{header}\n<nav><ul>{''.join(toc)}</ul></nav>\n"
        + "\n".join(body) + f"\n{note_html}\n</body>\n</html>\n")


def export_png(report: Report, png_dir: str | Path) -> str:
    """Write each figure as ``KEY.png`` (:func:`mecsim.report.export.export_images`)."""
    from mecsim.report.export import export_images

    return export_images(report, png_dir, "png")


# -- sweeps: the paper's figures, per-slot settings (docs/report.md) -----------------------

#: Scenario keys a sweep sets besides its grid, which do not make it another scenario.
_RUN_KEYS = ("name", "seed", "slots", "schedulers", "output")


def _paper_axes(runs: list[Run], axes: list[str]) -> set[str]:
    """The grid column whose cost figure is the paper's (Fig. 9 or 10), if any.

    It is when that column (``iotds.count`` or ``mecs.count``) is the only one that varies
    besides the seed and every cell's ``scenario.yaml`` is the packaged ``paper`` scenario
    with the cell's value of that column (name, seed, slots, schedulers and output aside).
    A sweep without any cell ``scenario.yaml`` is not taken for the paper's.
    """
    if len(axes) != 1 or axes[0] not in F.PAPER_FIGURES:
        return set()
    x = axes[0]
    files = [r.path / "scenario.yaml" for r in runs if (r.path / "scenario.yaml").is_file()]
    if not files:
        return set()
    try:
        papers: dict[str, dict | None] = {}
        for path in files:
            cell = _file_core(path)
            head, _, tail = x.partition(".")
            value = str(cell[head][tail])
            if value not in papers:
                papers[value] = _paper_core((f"{x}={value}",))
            if papers[value] is None or cell != papers[value]:
                return set()
    except Exception:  # noqa: BLE001 - an unreadable or stale scenario: not the paper's
        return set()
    return {x}


def _paper_runs(runs: list[Run]) -> bool:
    """Whether every run is of the packaged ``paper`` scenario.

    Its seed, slots, schedulers and output aside: then Figs. 5-8 are the paper's, and their
    titles say so.
    """
    files = [r.path / "scenario.yaml" for r in runs]
    if not files or not all(f.is_file() for f in files):
        return False
    try:
        core = _paper_core()
        return core is not None and all(_file_core(f) == core for f in files)
    except Exception:  # noqa: BLE001 - an unreadable or stale scenario: not the paper's
        return False


def _paper_core(overrides: tuple[str, ...] = ()) -> dict | None:
    """The packaged ``paper`` scenario with ``overrides``, less :data:`_RUN_KEYS`."""
    from mecsim.scenario_files import builtin_scenarios

    base = builtin_scenarios().get("paper")
    return None if base is None else _file_core(base, overrides)


def _file_core(path: Path, overrides: tuple[str, ...] = ()) -> dict:
    """A scenario file's settings (with ``overrides``), less :data:`_RUN_KEYS`."""
    from mecsim.config import load_scenario, scenario_to_dict

    return _scenario_core(scenario_to_dict(load_scenario(path, list(overrides))))


def _scenario_core(data: dict) -> dict:
    return {k: v for k, v in data.items() if k not in _RUN_KEYS}


def _slot_frame(per_slot: pd.DataFrame, runs: list[Run]) -> pd.DataFrame:
    """A sweep's per-slot rows with ``setting`` (grid values without the seed) and labels.

    ``scheduler`` becomes the scheduler's own label (without `` · setting``), so that
    :func:`figures.latency_energy` can draw one setting at a time, averaging over seeds.
    """
    config = {r.id: r.config for r in runs}
    df = per_slot.copy()
    if "run" not in df.columns:
        df["run"] = ""
    setting = df["run"].map(config).fillna("")
    pairs = {(s, c): str(s).removesuffix(f" · {c}") if c else str(s)
             for s, c in zip(df["scheduler"], setting, strict=True)}
    df["scheduler"] = [pairs[(s, c)] for s, c in zip(df["scheduler"], setting, strict=True)]
    df["setting"] = setting.where(setting != "", "every cell")
    return df


def _label_windows(training: pd.DataFrame | None,
                   runs: list[Run]) -> dict[str, tuple[float, float]]:
    """Online-training slots per scheduler label over a sweep's cells (first to last)."""
    if training is None or "kind" not in training.columns:
        return {}
    online = _slot_frame(training[training["kind"] == "slot"], runs)
    return {name: (float(part["slot"].min()), float(part["slot"].max()))
            for name, part in online.groupby("scheduler", sort=False)}
