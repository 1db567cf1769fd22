"""The sweep figures: intervals over seeds, median/IQR and log switches, per-slot settings."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from mecsim.config import load_scenario, scenario_to_dict
from mecsim.report import figures as F
from mecsim.report import sweep_figures as S
from mecsim.report.build import Run, _paper_axes, build_report

pytest.importorskip("plotly")

ROOT = Path(__file__).resolve().parent.parent
PAPER = ROOT / "scenarios" / "paper.yaml"
TINY = ROOT / "scenarios" / "tiny.yaml"
SEEDS = (0, 1, 2, 3)
#: realized cost per task of random at M = 10: one outlier seed (the report a user saw)
OUTLIER = (105.0, 113.0, 122.0, 2144.8)


def _cost(name: str, m: int, seed: int) -> float:
    if name == "random" and m == 10:
        return OUTLIER[seed]
    return {"local": 200.0, "random": 110.0, "greedy": 60.0}[name] * (1 + 0.05 * seed) / m ** .5


def _sweep(columns=None) -> pd.DataFrame:
    """mecs.count in 2, 6, 10 x four seeds x three schedulers; local unstable at M = 2."""
    rows = []
    for m in (2, 6, 10):
        for seed in SEEDS:
            for name in ("local", "random", "greedy"):
                cost = _cost(name, m, seed)
                rows.append({
                    "cell": f"mecs.count={m}__seed={seed}", "mecs.count": m, "seed": seed,
                    "scheduler": name, "complete": True, "error": None,
                    "mean_cost_per_slot": 2 * cost, "ratio_to_optimal": cost / 50.0,
                    "realized_cost_per_task": cost,
                    "realized_cost_per_task_ratio_to_optimal": cost / 40.0,
                    "mean_realized_latency_s": cost / 100, "latency_p95_s": cost / 50,
                    "mean_realized_energy_j": 0.5 + 0.01 * seed,
                    "drop_rate": 0.1 * seed if name == "random" else 0.0,
                    "stable": not (name == "local" and m == 2 and seed == 1)})
    df = pd.DataFrame(rows)
    return df if columns is None else df[[c for c in df.columns if c in columns]]


def _trace(fig, name, stat, metric):
    found = [t for t in fig.data if t.meta == {"scheduler": name, "stat": stat,
                                                "metric": metric}]
    assert len(found) == 1, (name, stat, metric)
    return found[0]


def test_mean_has_the_student_t_interval_over_seeds():
    fig = S.sweep_axis(_sweep(), "mecs.count")
    random = _trace(fig, "random", "mean", "realized_cost_per_task")
    assert list(random.x) == [2, 6, 10] and random.visible is not False
    values = np.array(OUTLIER)
    half = stats.t.ppf(0.975, 3) * values.std(ddof=1) / np.sqrt(4)
    assert random.y[-1] == pytest.approx(values.mean())
    assert random.error_y.array[-1] == pytest.approx(half)
    # the interval reaches below 0 (mean 621, half-width 1616): cut at 0, cost >= 0
    assert half > values.mean()
    assert random.error_y.arrayminus[-1] == pytest.approx(values.mean())
    greedy = _trace(fig, "greedy", "mean", "realized_cost_per_task")
    g = np.array([_cost("greedy", 6, s) for s in SEEDS])
    assert greedy.error_y.array[1] == pytest.approx(
        stats.t.ppf(0.975, 3) * g.std(ddof=1) / 2)
    assert greedy.error_y.arrayminus[1] == pytest.approx(greedy.error_y.array[1])
    assert random.text[-1] == ("random<br>mecs.count=10<br>mean 621.2 ± 1.62e+03 "
                               "(95% CI, 4 seeds)")


def test_median_and_interquartile_range_are_offered():
    fig = S.sweep_axis(_sweep(), "mecs.count")
    median = _trace(fig, "random", "median", "realized_cost_per_task")
    assert median.visible is False  # the mean shows first
    q25, q50, q75 = np.percentile(OUTLIER, [25, 50, 75])
    assert median.y[-1] == pytest.approx(q50)
    assert median.error_y.array[-1] == pytest.approx(q75 - q50)
    assert median.error_y.arrayminus[-1] == pytest.approx(q50 - q25)
    # the outlier moves the median's whiskers by less than the other seeds' spread x 6
    assert q75 < 700 and "median 117.5" in median.text[-1]


def test_statistic_and_log_switches():
    fig = S.sweep_axis(_sweep(), "mecs.count")
    stat_menu, axis_menu = fig.layout.updatemenus
    labels = [b.label for b in stat_menu.buttons]
    assert labels == ["mean ± 95% CI", "median + IQR"]
    kinds = [t.meta.get("stat") for t in fig.data]
    for button, stat in zip(stat_menu.buttons, ("mean", "median"), strict=True):
        assert button.method == "restyle"  # the legend's entries (no stat) stay
        assert button.args[0]["visible"] == [k is None or k == stat for k in kinds]
    assert [b.label for b in axis_menu.buttons] == ["linear y", "log y"]
    yaxes = {k for k in fig.layout.to_plotly_json() if k.startswith("yaxis")}
    assert len(yaxes) == 4
    assert axis_menu.buttons[1].args[0] == {f"{y}.type": "log" for y in yaxes}
    assert axis_menu.buttons[0].args[0] == {f"{y}.type": "linear" for y in yaxes}


def test_a_panel_per_metric_and_none_for_a_missing_column():
    df = _sweep()
    fig = S.sweep_performance(df, "mecs.count")
    titles = [fig.layout[f"yaxis{k}"].title.text for k in ("", "2", "3", "4")]
    assert titles == [t for _, t in S.PERF_PANELS]
    assert {t.meta.get("metric") for t in fig.data} == {c for c, _ in S.PERF_PANELS} | {None}
    drops = _trace(fig, "random", "mean", "drop_rate")
    assert drops.y[0] == pytest.approx(np.mean([0.1 * s for s in SEEDS]))
    older = S.sweep_performance(df.drop(columns=["latency_p95_s"]), "mecs.count")
    assert "p95" not in str([a.title.text for a in older.select_yaxes()])
    assert "latency_p95_s" not in {t.meta.get("metric") for t in older.data}
    assert len(list(older.select_yaxes())) == 3
    bare = df.drop(columns=[c for c, _ in S.PERF_PANELS])
    assert S.sweep_performance(bare, "mecs.count") is None
    # the cost figure of an old sweep: the per-slot model's two rows only
    old = S.sweep_axis(df.drop(columns=["realized_cost_per_task",
                                        "realized_cost_per_task_ratio_to_optimal"]),
                       "mecs.count")
    assert {t.meta.get("metric") for t in old.data} == {"mean_cost_per_slot",
                                                         "ratio_to_optimal", None}


def test_one_seed_has_no_interval_and_unstable_points_stay_open():
    df = _sweep()
    one = df[(df["seed"] == 0) | (df["mecs.count"] != 6)]
    fig = S.sweep_axis(one, "mecs.count")
    local = _trace(fig, "local", "mean", "realized_cost_per_task")
    assert local.error_y.array[1] == 0.0 and "1 seed: no interval" in local.text[1]
    assert list(local.marker.symbol) == ["circle-open", "circle", "circle"]
    assert list(_trace(fig, "local", "median", "realized_cost_per_task").marker.symbol) == [
        "circle-open", "circle", "circle"]
    # the legend: a filled circle per scheduler (local's first point is open) and the key
    legend = [t for t in fig.data if t.showlegend is not False]
    assert [(t.name, t.marker.symbol) for t in legend] == [
        ("local", "circle"), ("random", "circle"), ("greedy", "circle"),
        ("some seed unstable", "circle-open")]
    assert all(t.meta["kind"] == "legend" and t.x == (None,) for t in legend)
    assert S.sweep_axis(df.assign(stable=True), "mecs.count").data[-1].name == "greedy"


def test_integer_axes_get_integer_ticks():
    fig = S.sweep_performance(_sweep(), "mecs.count")
    for axis in fig.select_xaxes():
        assert axis.tickformat == "d" and list(axis.tickvals) == [2, 6, 10]
    many = S.integer_ticks(range(1, 31))
    assert many["tickformat"] == "d" and many["dtick"] == 5 and many["tickmode"] == "linear"
    assert S.integer_ticks(range(0, 3001))["dtick"] == 500
    assert S.integer_ticks(np.arange(0.0, 14.0))["dtick"] == 2


def _slots(transient: bool = True, settings=("", )) -> pd.DataFrame:
    """Per-slot rewards of three schedulers over 200 slots; random starts at 6000."""
    rng = np.random.default_rng(0)
    rows = []
    for setting in settings:
        for seed in (0, 1, 2):
            for name, level in (("local", 1.0), ("random", 2.0), ("greedy", 3.0)):
                for slot in range(200):
                    value = level + 0.2 * rng.standard_normal() + (len(setting) % 3)
                    if transient and name == "random" and slot < 15:
                        value = 6000.0
                    rows.append({"run": f"{setting}-{seed}" if setting else "",
                                 "setting": setting, "scheduler": name, "slot": slot,
                                 "reward": value, "latency_s": value, "energy_j": 1 + value})
    df = pd.DataFrame(rows)
    return df if settings != ("",) else df.drop(columns=["setting"])


def test_run_curves_one_line_per_scheduler_and_a_range_without_the_transient():
    df = _slots()
    fig = F.reward(df)
    assert [t.name for t in fig.data] == ["local", "random", "greedy"]
    lo, hi = fig.layout.yaxis.range
    assert 0 < lo < 1.0 and 3.0 < hi < 10, (lo, hi)
    assert max(fig.data[1].y) > 1000  # the transient is still in the figure
    assert fig.layout.xaxis.tickformat == "d"
    assert "10 % of slots" in fig.layout.title.text
    both = F.latency_energy(df)
    assert both.layout.yaxis.range[1] < 10 and both.layout.yaxis2.range[1] < 11
    calm = F.reward(_slots(transient=False))
    assert calm.layout.yaxis.range is None  # nothing to leave out: autorange


def test_sweep_curves_mean_over_seeds_with_a_band_and_a_setting_menu():
    df = _slots(settings=("mecs.count=2", "mecs.count=10"))
    fig = F.reward(df, window=5)
    menu = fig.layout.updatemenus[0]
    assert [b.label for b in menu.buttons] == ["mecs.count=2", "mecs.count=10"]
    for button in menu.buttons:
        shown = button.args[0]["visible"]
        assert shown == [t.meta["setting"] == button.label for t in fig.data]
        lo, hi = button.args[1]["yaxis.range"]
        assert hi < 20 and button.args[1]["yaxis.autorange"] is False
    assert [t.visible for t in fig.data] == [None if t.meta["setting"] == "mecs.count=2"
                                             else False for t in fig.data]
    lines = [t for t in fig.data if t.meta["kind"] == "mean"]
    assert len(lines) == 6 and len({t.name for t in lines}) == 3
    # greedy at M = 10: the mean over seeds of each seed's rolling mean, and its 95 % CI
    part = df[(df["setting"] == "mecs.count=10") & (df["scheduler"] == "greedy")]
    wide = part.pivot(index="slot", columns="run", values="reward").rolling(5,
                                                                            min_periods=1).mean()
    mean = next(t for t in lines if t.meta == {"scheduler": "greedy",
                                               "setting": "mecs.count=10", "kind": "mean"})
    np.testing.assert_allclose(mean.y, wide.mean(axis=1).to_numpy())
    band = next(t for t in fig.data if t.meta == {"scheduler": "greedy",
                                                  "setting": "mecs.count=10", "kind": "band"})
    half = stats.t.ppf(0.975, 2) * wide.std(axis=1).to_numpy() / np.sqrt(3)
    np.testing.assert_allclose(band.y[:200], wide.mean(axis=1).to_numpy() + half)
    assert band.fill == "toself"


def _write_cells(root: Path, base: Path, key: str, values, extra=()) -> list[Run]:
    runs = []
    for v in values:
        cell = root / f"{key}={v}"
        cell.mkdir(parents=True)
        scenario = load_scenario(base, [f"{key}={v}", "slots=5", "seed=1", *extra])
        (cell / "scenario.yaml").write_text(yaml.safe_dump(scenario_to_dict(scenario)))
        runs.append(Run(cell, id=cell.name))
    return runs


def test_paper_titles_only_for_the_papers_scenario(tmp_path):
    assert _paper_axes(_write_cells(tmp_path / "a", PAPER, "mecs.count", (2, 4)),
                       ["mecs.count"]) == {"mecs.count"}
    assert F.title_for_axis("mecs.count", True) == "Cost vs number of MECs (paper Fig. 10)"
    assert F.title_for_axis("iotds.count", False) == "Cost vs number of IoTDs"
    # a user's own scenario, the paper's with one key changed, or two swept keys: not it
    assert _paper_axes(_write_cells(tmp_path / "b", TINY, "iotds.count", (5, 9)),
                       ["iotds.count"]) == set()
    assert _paper_axes(_write_cells(tmp_path / "c", PAPER, "iotds.count", (5, 9),
                                    ["tasks.deadline_s=2.0"]), ["iotds.count"]) == set()
    assert _paper_axes(_write_cells(tmp_path / "d", PAPER, "iotds.count", (5, 9)),
                       ["iotds.count", "mecs.count"]) == set()
    assert _paper_axes([Run(tmp_path / "none")], ["iotds.count"]) == set()


@pytest.mark.parametrize(("base", "extra", "paper"), [
    ("paper", (), True), ("paper", ("tasks.deadline_s=2.0",), False), ("tiny", (), False)])
def test_a_runs_per_slot_figures_name_the_paper_only_on_its_scenario(tmp_path, base, extra,
                                                                     paper):
    from mecsim.engine.runner import run_scenario
    from mecsim.scenario_files import builtin_scenarios

    scenario = load_scenario(builtin_scenarios()[base],
                             ["slots=6", "seed=3", "schedulers=[local, greedy]", *extra])
    run_scenario(scenario, tmp_path / "run")
    report = build_report(tmp_path / "run", tmp_path / "r.html")
    for key, ref in (("latency_energy", "Fig. 6"), ("reward", "Fig. 8")):
        title = report.figures[key].layout.title.text
        assert (f"(paper {ref})" in title) is paper, title
        heading = next(i.title for _, items in report.sections for i in items if i.key == key)
        assert (f"(paper {ref})" in heading) is paper, heading


def _real_sweep(root: Path, base: str) -> Path:
    from mecsim.sweep.run import run_sweep

    path = root / "sweep.yaml"
    path.write_text(textwrap.dedent(f"""\
        base: {base}
        grid:
          iotds.count: [3, 4]
        schedulers: [local, random, greedy]
        seeds: [0, 1]
        slots: 12
        """))
    result = run_sweep(path, root / "out", workers=1)
    assert not result.failed
    return root / "out"


@pytest.mark.parametrize("base", ["paper", str(TINY)])
def test_report_of_a_real_sweep(base, tmp_path):
    out = _real_sweep(tmp_path, base)
    report = build_report(out, tmp_path / "r.html")
    figs = report.figures
    assert {"sweep:iotds.count", "sweep_perf:iotds.count", "latency_energy",
            "reward"} <= set(figs)
    text = report.path.read_text()
    paper = base == "paper"
    assert ("Cost vs number of IoTDs (paper Fig. 9)" in text) is paper
    assert F.TITLES["iotds.count"] in text and F.performance_title("iotds.count") in text
    assert "(paper Fig. 9)" in figs["sweep:iotds.count"].layout.title.text or not paper
    menu = figs["reward"].layout.updatemenus[0]
    assert [b.label for b in menu.buttons] == ["iotds.count=3", "iotds.count=4"]
    assert {t.name for t in figs["reward"].data if t.meta["kind"] == "mean"} == {
        "local", "random", "greedy"}
    assert "lines are drawn" not in text  # no more "Only 12 of 40 lines are drawn"
    from test_report import _render

    result = _render(report.path, tmp_path)
    assert result["errors"] == [] and result["empty"] == [], result
    assert result["plots"] == len(figs)
