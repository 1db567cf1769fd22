"""The report's realized figures: pooled over seeds with a setting menu, per-MEC figures,
one colour per scheduler in the run's order, integer ticks, no empty panels."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from mecsim.report import figures as F
from mecsim.report.build import build_report

pytest.importorskip("plotly")

#: Run order, not alphabetical.
ORDER = ("zeta", "alpha", "mid")
SEEDS = (0, 1)
SETTINGS = (2, 3)  # mecs.count


def _tasks(m: int, seed: int) -> pd.DataFrame:
    rows = []
    for k, name in enumerate(ORDER):
        for i in range(8):
            target = (i + k + seed) % (m + 1)
            dropped = name == "mid" and m == 3 and i == 0
            rows.append({
                "scheduler": name, "task_id": i, "iotd": i % 4, "slot": i // 2,
                "target": target, "status": "dropped" if dropped else "completed",
                "drop_reason": "deadline" if dropped else None,
                "cycles": 1e9 * (1 + i % 3), "rerun_local": False,
                "realized_latency_s": 0.1 * (k + 1) + 0.01 * i + 0.001 * seed + 0.05 * m,
                "realized_energy_j": 0.2 * (k + 1) + 0.02 * i + 0.003 * seed})
    return pd.DataFrame(rows)


def _slots(m: int, seed: int) -> pd.DataFrame:
    rows = []
    for k, name in enumerate(ORDER):
        for slot in range(4):
            row = {"scheduler": name, "slot": slot, "time_s": float(slot), "tasks": 2,
                   "model_cost": 1.0 + k, "model_latency_s": 0.5, "model_energy_j": 0.5,
                   "backlog_tasks_total": slot + k + seed + 2}
            for j in range(1, m + 1):
                row[f"backlog_tasks_{j}"] = (slot + j + k + seed) % 3
            rows.append(row)
    return pd.DataFrame(rows)


def _summary(m: int, seed: int) -> dict:
    # summary.json sorts its keys; "index" is the run's order
    return {"scenario": "fab", "seed": seed, "slots": 4, "mec_cpu_hz": [2e9] * m,
            "schedulers": {name: {"index": ORDER.index(name), "complete": True,
                                  "mean_cost_per_slot": 1.0 + ORDER.index(name)}
                           for name in sorted(ORDER)}}


def _cell(root, cell: str, m: int, seed: int) -> None:
    folder = root / "cells" / cell
    folder.mkdir(parents=True)
    tasks = _tasks(m, seed)
    if seed == 0:  # rows need not come in the run's order (e.g. a scheduler resumed)
        tasks = tasks.iloc[::-1].reset_index(drop=True)
    tasks.to_parquet(folder / "tasks.parquet")
    pd.DataFrame({"slot": np.repeat(np.arange(4), 4), "iotd": np.tile(np.arange(4), 4),
                  "x_m": np.tile([5.0, 15.0, 25.0, 35.0], 4),
                  "y_m": np.repeat([10.0, 20.0, 30.0, 40.0], 4)}).to_parquet(
        folder / "positions.parquet")
    _slots(m, seed).to_parquet(folder / "slots.parquet")
    (folder / "summary.json").write_text(json.dumps(_summary(m, seed), sort_keys=True))


@pytest.fixture(scope="module")
def pooled_sweep(tmp_path_factory):
    """Two settings (M = 2, 3) x two seeds x three schedulers, fabricated by hand."""
    root = tmp_path_factory.mktemp("pooled")
    rows, k = [], 0
    for m in SETTINGS:
        for seed in SEEDS:
            cell = f"c{k:03d}"
            _cell(root, cell, m, seed)
            rows += [{"cell": cell, "mecs.count": m, "seed": seed, "scheduler": name,
                      "complete": True, "error": None, "mean_cost_per_slot": 1.0 + j}
                     for j, name in enumerate(ORDER)]
            k += 1
    pd.DataFrame(rows).to_parquet(root / "sweep.parquet")
    return root


def _pooled_tasks(m: int) -> pd.DataFrame:
    return pd.concat([_tasks(m, s) for s in SEEDS], ignore_index=True)


def _visible(fig, setting: str) -> list:
    return [t for t in fig.data if (t.meta or {}).get("setting") == setting]


def test_cdf_energy_backlog_pool_every_seed_of_a_setting(pooled_sweep, tmp_path):
    report = build_report(pooled_sweep, tmp_path / "r.html")
    figs = report.figures
    for key in ("latency_cdf", "energy", "backlog", "per_mec", "drops"):
        fig = figs[key]
        menu = fig.layout.updatemenus[-1]
        assert [b.label for b in menu.buttons] == (
            ["mecs.count=3"] if key == "drops" else ["mecs.count=2", "mecs.count=3"]), key
        for button in menu.buttons:  # each button shows its setting's traces only
            shown = [k for k, v in enumerate(button.args[0]["visible"]) if v]
            assert shown and all(fig.data[k].meta["setting"] == button.label
                                 for k in shown), key
    cdf = figs["latency_cdf"]
    for m in SETTINGS:
        tasks = _pooled_tasks(m)
        for name in ORDER:
            line = next(t for t in _visible(cdf, f"mecs.count={m}")
                        if t.meta["scheduler"] == name)
            done = tasks[(tasks["scheduler"] == name) & (tasks["status"] == "completed")]
            assert line.name == f"{name} ({len(done)} tasks)"
            np.testing.assert_allclose(line.x, np.sort(done["realized_latency_s"]))
            assert line.y[-1] == 1.0
    energy = _visible(figs["energy"], "mecs.count=2")[0]
    tasks = _pooled_tasks(2)
    assert list(energy.x) == list(ORDER)
    np.testing.assert_allclose(energy.y, [tasks.loc[tasks["scheduler"] == n,
                                                    "realized_energy_j"].mean() for n in ORDER])
    # the backlog: a panel per MEC (both settings' MECs differ: the total), mean over seeds
    backlog = figs["backlog"]
    assert [a.text for a in backlog.layout.annotations if a.text in (
        "all MECs together", "every task not ended (IoTDs and MECs)")] == [
        "all MECs together", "every task not ended (IoTDs and MECs)"]
    line = next(t for t in _visible(backlog, "mecs.count=3")
                if t.meta["scheduler"] == "alpha" and t.yaxis == "y")
    slots = pd.concat([_slots(3, s) for s in SEEDS])
    alpha = slots[slots["scheduler"] == "alpha"]
    expect = alpha[[f"backlog_tasks_{j}" for j in (1, 2, 3)]].sum(axis=1).groupby(
        alpha["slot"]).mean()
    np.testing.assert_allclose(line.y, expect.to_numpy())
    # only the setting with drops is in the drops menu; the caption names the other
    drops = figs["drops"]
    assert {t.meta["setting"] for t in drops.data} == {"mecs.count=3"}
    assert "No task dropped in: mecs.count=2" in report.path.read_text()


def test_cell_picks_the_default_setting_and_the_map_run(pooled_sweep, tmp_path):
    report = build_report(pooled_sweep, tmp_path / "r.html", cell="c003")
    cdf = report.figures["latency_cdf"]
    shown = {t.meta["setting"] for t in cdf.data if t.visible is not False}
    assert shown == {"mecs.count=3"}
    assert cdf.layout.updatemenus[-1].active == 1
    first = build_report(pooled_sweep, tmp_path / "s.html").figures["latency_cdf"]
    assert {t.meta["setting"] for t in first.data if t.visible is not False} == {
        "mecs.count=2"}


def test_per_mec_table_by_hand():
    from mecsim.report.per_mec import PER_MEC_VALUES, RunLoad, per_mec_table

    # run A: Fmax 10 and 20 cycle/s, 4 epochs 1 s apart (T = 4 s)
    tasks_a = pd.DataFrame({
        "scheduler": ["s"] * 5, "target": [1, 1, 2, 2, 0],
        "status": ["completed", "completed", "completed", "dropped", "completed"],
        "cycles": [8.0, 12.0, 40.0, 100.0, 5.0],
        "rerun_local": [False, True, False, False, False]})
    slots_a = pd.DataFrame({"scheduler": ["s"] * 4, "slot": [0, 1, 2, 3],
                            "time_s": [0.0, 1.0, 2.0, 3.0], "backlog_tasks_1": [0, 1, 2, 1],
                            "backlog_tasks_2": [2, 2, 0, 0]})
    # run B (another seed): 2 epochs 0.5 s apart (T = 1 s)
    tasks_b = pd.DataFrame({"scheduler": ["s"], "target": [1], "status": ["completed"],
                            "cycles": [10.0], "rerun_local": [False]})
    slots_b = pd.DataFrame({"scheduler": ["s"] * 2, "slot": [0, 1], "time_s": [0.0, 0.5],
                            "backlog_tasks_1": [3, 3], "backlog_tasks_2": [0, 0]})
    one = per_mec_table([RunLoad(tasks_a, slots_a, [10.0, 20.0])]).set_index("mec")
    assert one["utilisation"].tolist() == pytest.approx([8 / 40, 40 / 80])
    assert one["load_share"].tolist() == pytest.approx([0.5, 0.5])
    assert one["mean_backlog"].tolist() == pytest.approx([1.0, 1.0])
    both = per_mec_table([RunLoad(tasks_a, slots_a, [10.0, 20.0]),
                          RunLoad(tasks_b, slots_b, [10.0, 20.0])]).set_index("mec")
    assert both["utilisation"].tolist() == pytest.approx([18 / 50, 40 / 100])
    assert both["load_share"].tolist() == pytest.approx([3 / 5, 2 / 5])
    assert both["mean_backlog"].tolist() == pytest.approx([10 / 6, 4 / 6])
    assert both["runs"].tolist() == [2, 2]
    fig = F.per_mec(both.reset_index())
    bars = {t.yaxis: list(t.y) for t in fig.data}
    assert bars["y"] == pytest.approx([36.0, 40.0]) and bars["y2"] == pytest.approx([60, 40])
    # without capacities: no utilisation panel, the others stay
    fig = F.per_mec(per_mec_table([RunLoad(tasks_a, slots_a, None)]))
    assert [a.text for a in fig.layout.annotations] == [t for _, t in PER_MEC_VALUES[1:]]


def test_per_mec_figure_shows_every_one_of_many_mecs():
    from mecsim.report.per_mec import RunLoad, per_mec_table

    tasks = pd.DataFrame({"scheduler": ["a"] * 7 + ["b"] * 7, "target": list(range(1, 8)) * 2,
                          "status": ["completed"] * 14, "cycles": [1e9] * 14})
    slots = pd.DataFrame({"scheduler": ["a", "a", "b", "b"], "slot": [0, 1, 0, 1],
                          "time_s": [0.0, 1.0, 0.0, 1.0],
                          **{f"backlog_tasks_{j}": [j, 0, 0, j] for j in range(1, 8)}})
    fig = F.per_mec(per_mec_table([RunLoad(tasks, slots, [1e9] * 7)]))
    for trace in fig.data:
        assert list(trace.x) == list(range(1, 8))
    assert list(fig.layout.xaxis3.tickvals) == [float(j) for j in range(1, 8)]
    assert list(fig.layout.xaxis3.ticktext) == [str(j) for j in range(1, 8)]
    assert F.backlog(slots).layout.annotations[0].text == "all MECs together"


def test_a_scheduler_that_offloads_nothing_gets_no_per_mec_bars():
    from mecsim.report.per_mec import RunLoad, per_mec_table

    tasks = pd.DataFrame({"scheduler": ["local"] * 3 + ["b"] * 3, "target": [0, 0, 0, 1, 2, 0],
                          "status": ["completed"] * 6, "cycles": [1e9] * 6})
    slots = pd.DataFrame({"scheduler": ["local", "local", "b", "b"], "slot": [0, 1, 0, 1],
                          "time_s": [0.0, 1.0, 0.0, 1.0], "backlog_tasks_1": [0, 0, 1, 0],
                          "backlog_tasks_2": [0, 0, 0, 1]})
    fig = F.per_mec(per_mec_table([RunLoad(tasks, slots, [1e9, 1e9])]))
    assert {t.name for t in fig.data} == {"b"}
    assert "not drawn (no task offloaded): local" in fig.layout.title.text
    only_local = tasks[tasks["scheduler"] == "local"]
    assert F.per_mec(per_mec_table([RunLoad(only_local, slots[slots.scheduler == "local"],
                                            [1e9, 1e9])])) is None


def _trace_colors(trace) -> dict[str, str]:
    """Scheduler -> colour of one trace (by meta, legend group, or bar x)."""
    name = (trace.meta or {}).get("scheduler") if isinstance(trace.meta, dict) else None
    name = name or trace.legendgroup
    if trace.type == "bar" and not isinstance(trace.marker.color, str) \
            and trace.marker.color is not None:
        return dict(zip(trace.x, trace.marker.color, strict=True))
    color = trace.line.color if trace.type == "scatter" and trace.mode and "lines" in \
        trace.mode else trace.marker.color
    return {name: color} if name else {}


def test_one_colour_per_scheduler_and_the_run_order_everywhere(pooled_sweep, tmp_path):
    report = build_report(pooled_sweep, tmp_path / "r.html")
    seen: dict[str, set] = {}
    for key, fig in report.figures.items():
        if key == "map":
            continue
        for trace in fig.data:
            for name, color in _trace_colors(trace).items():
                if name in ORDER:
                    seen.setdefault(name, set()).add(color)
        for trace in fig.data:  # bars and legends in the run's order
            if trace.type == "bar" and set(trace.x) <= set(ORDER):
                assert list(trace.x) == [n for n in ORDER if n in set(trace.x)], key
        names = [t.meta["scheduler"] for t in fig.data if isinstance(t.meta, dict)
                 and "scheduler" in t.meta and t.meta.get("setting") == "mecs.count=2"
                 and t.showlegend is not False]
        if names:
            assert names == list(ORDER), key
    assert set(seen) == set(ORDER)
    palette = F.palette(ORDER)
    assert {n: c for n, cs in seen.items() for c in cs} == palette
    assert all(len(c) == 1 for c in seen.values()), seen
    # the map: schedulers in the run's order, the title in the scheduler's colour, and
    # MEC colours that are no scheduler's
    fig = report.figures["map"]
    menu = next(m for m in fig.layout.updatemenus if m.type == "dropdown")
    assert [b.label for b in menu.buttons] == list(ORDER)
    assert palette["zeta"] in fig.layout.title.text
    assert palette["alpha"] in menu.buttons[1].args[1]["title.text"]
    mec_colors = {t.marker.color for t in fig.data if (t.name or "").startswith("MEC ")}
    assert mec_colors and not mec_colors & set(palette.values())


def test_run_report_tables_follow_the_run_order_in_colour(pooled_sweep, tmp_path):
    run = pooled_sweep / "cells" / "c000"
    report = build_report(run, tmp_path / "r.html")
    text = report.path.read_text()
    rows = re.findall(r"<tr><td><span class='swatch' style='background:([^']+)'></span>"
                      r"([a-z]+)</td>", text)
    palette = F.palette(ORDER)
    assert rows == [(palette[n], n) for n in ORDER]
    bars = next(t for t in report.figures["summary"].data if t.type == "bar")
    assert list(bars.x) == list(ORDER)
    assert list(bars.marker.color) == [palette[n] for n in ORDER]
    drl = F.drl_comparison(pd.DataFrame({"scheduler": ["zeta", "alpha"], "train_s": [1.0, 2.0],
                                         "inference_s": [0.1, 0.2], "reward": [3.0, 4.0]}),
                           palette)
    table = next(t for t in drl.data if t.type == "table")
    assert list(table.cells.values[0][:2]) == ["zeta", "alpha"]
    assert list(table.cells.font.color[0][:2]) == [palette["zeta"], palette["alpha"]]


def _xy_axes_without_traces(fig) -> list[str]:
    layout = fig.layout.to_plotly_json()
    axes = {k.replace("axis", "") for k in layout if re.fullmatch(r"[xy]axis\d*", k)}
    used = {a for t in fig.data for a in (getattr(t, "xaxis", None) or "x",
                                          getattr(t, "yaxis", None) or "y")
            if t.type not in ("table",)}
    if any(t.type == "table" for t in fig.data) and not any(t.type != "table"
                                                           for t in fig.data):
        return []
    return sorted(a for a in axes if a not in used and a not in ("x", "y"))


def test_integer_ticks_and_no_empty_panels(pooled_sweep, tmp_path):
    report = build_report(pooled_sweep, tmp_path / "r.html")
    for key, fig in report.figures.items():
        assert _xy_axes_without_traces(fig) == [], key
    backlog = report.figures["backlog"]
    assert list(backlog.layout.xaxis2.tickvals) == [0.0, 1.0, 2.0, 3.0]
    assert list(backlog.layout.xaxis2.ticktext) == ["0", "1", "2", "3"]
    long = pd.DataFrame({"scheduler": ["a"] * 400, "slot": range(400),
                         "backlog_tasks_1": [1] * 400})
    axis = F.backlog(long).layout.xaxis
    assert axis.tickformat == "d" and axis.tickvals is None
    short = pd.DataFrame({"scheduler": ["a"] * 20, "slot": range(20),
                          "backlog_tasks_1": [1] * 20})
    assert F.backlog(short).layout.xaxis.dtick == 2
    # nothing dropped: no figure (the report says so instead)
    none = _tasks(2, 0)
    assert F.drops(none) is None and F.drops(_tasks(3, 0)) is not None


def test_pooled_sweep_renders_in_chromium_with_every_setting(pooled_sweep, tmp_path):
    from test_report import _render  # the headless check of tests/test_report.py

    report = build_report(pooled_sweep, tmp_path / "pooled.html")
    result = _render(report.path, tmp_path)  # picks each figure's last menu entry
    assert result["errors"] == []
    assert result["plots"] == len(report.figures)
    assert result["empty"] == [], result["marks"]
    for key in ("latency-cdf", "energy", "drops", "backlog", "per-mec"):  # the last setting
        assert result["marks"].get(f"fig-{key}", 0) > 0, (key, result["marks"])


def test_cdf_lines_are_thinned_to_quantiles_within_the_page_budget():
    tasks = pd.DataFrame({"scheduler": ["a"] * 5000, "status": ["completed"] * 5000,
                          "realized_latency_s": np.linspace(0.0, 1.0, 5000)})
    line = F.latency_cdf(tasks, points=F.cdf_points(1000)).data[0]
    assert len(line.x) == F.MIN_CDF_POINTS and line.name == "a (5000 tasks)"
    assert F.cdf_points(10) == F.MAX_CDF_POINTS
    assert F.cdf_points(120) == F.CDF_POINT_BUDGET // 120


def test_training_figures_keep_the_run_order():
    rows = [{"kind": "imitation", "scheduler": f"{name}_L_I", "loss_name": "L_I",
             "demonstrations": 16, "step": step, "split": "test", "accuracy": 0.5 + step}
            for name in ("zeta", "alpha") for step in (0, 0.25)]
    fig = F.imitation_accuracy(pd.DataFrame(rows))
    table = next(t for t in fig.data if t.type == "table")
    assert list(table.cells.values[0][:2]) == ["zeta", "alpha"]
    assert list(fig.layout.xaxis.ticktext) == ["16", "256"]
    assert fig.layout.xaxis.type == "log"  # 16 to the paper's 256
    updates = pd.DataFrame({"kind": "update", "scheduler": ["zeta", "zeta", "alpha", "alpha"],
                            "agent": [1, 1, 1, 1], "loss": [0.5, 0.4, 0.6, 0.3]})
    fig = F.training_loss(updates)
    assert [t.name for t in fig.data] == ["zeta · agent 1", "alpha · agent 1"]
    assert list(fig.layout.xaxis.tickvals) == [0.0, 1.0]


def test_the_title_names_the_setting_shown(pooled_sweep, tmp_path):
    fig = build_report(pooled_sweep, tmp_path / "r.html", cell="c002").figures["energy"]
    assert fig.layout.title.text.endswith("<sup>mecs.count=3</sup>")
    titles = [b.args[1]["title.text"] for b in fig.layout.updatemenus[-1].buttons]
    assert [t.rsplit("<sup>", 1)[1] for t in titles] == ["mecs.count=2</sup>",
                                                         "mecs.count=3</sup>"]


def test_a_sweeps_series_wear_their_schedulers_colour(pooled_sweep, tmp_path):
    """``zeta · mecs.count=2`` (a learner's series in Table III) is drawn in zeta's colour."""
    import shutil

    root = tmp_path / "sweep"
    shutil.copytree(pooled_sweep, root)
    for cell in (root / "cells").iterdir():
        pd.DataFrame({"scheduler": ["zeta"] * 3, "kind": ["update"] * 3, "update": [0, 1, 2],
                      "agent": [0, 0, 0], "loss": [1.0, 0.5, 0.25]}).to_parquet(
            cell / "training.parquet")
    report = build_report(root, tmp_path / "r.html")
    colors = {}
    for trace in report.figures["drl"].data:
        if trace.type == "bar":
            colors.update(_trace_colors(trace))
    series = {name: c for name, c in colors.items() if name.startswith("zeta · ")}
    assert set(series) == {"zeta · mecs.count=2", "zeta · mecs.count=3"}
    assert set(series.values()) == {F.palette(ORDER)["zeta"]}
