"""The Plotly report: built from real small runs and a fabricated sweep, opened in Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mecsim.config import load_scenario
from mecsim.engine.runner import run_scenario
from mecsim.report import figures as F
from mecsim.report.build import ReportError, build_report, export_png
from mecsim.report.cli import main

pytest.importorskip("plotly")

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"

DIRS_SCHEDULERS = (
    "schedulers=[{name: dirs, params: {demonstrations: 16, demo_holdout: 16, "
    "pretrain_steps: 60, levy_compare: true, levy_log_every: 5, train_slots: 30}}, "
    "{name: dirs, label: dirs-LD-nolevy, params: {demonstrations: 24, demo_holdout: 8, "
    "pretrain_steps: 60, imitation_loss: L_D, levy: 'off', train_slots: 30}}, optimal, greedy]")
PLOTLY_JS = re.compile(r"\* plotly\.js v\d")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "run"
    run_scenario(load_scenario(SCENARIOS / "tiny.yaml", ["slots=12"]), out)
    return out


@pytest.fixture(scope="module")
def dirs_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("dirs") / "run"
    results = run_scenario(load_scenario(SCENARIOS / "tiny.yaml", ["slots=70",
                                                                   DIRS_SCHEDULERS]), out)
    assert all(r.error is None for r in results)
    return out


def _positions(slots: int, n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    xy = np.cumsum(rng.normal(0, 1.0, (slots, n, 2)), axis=0) + 25.0
    xy = np.clip(xy, 0, 50)
    return pd.DataFrame({"slot": np.repeat(np.arange(slots), n).astype("int32"),
                         "iotd": np.tile(np.arange(n), slots).astype("int32"),
                         "x_m": xy[..., 0].ravel(), "y_m": xy[..., 1].ravel()})


SCHEDS = ("local", "greedy", "optimal")
COST = {"local": 12.0, "greedy": 8.0, "optimal": 6.0}


def _fabricated_sweep(root, tiny_run):
    """Eight cells (N in 4, 6; M in 2, 3; seeds 0, 1) x three schedulers, one failed."""
    rows = []
    cells = []
    k = 0
    for n in (4, 6):
        for m in (2, 3):
            for seed in (0, 1):
                cell = f"c{k:03d}"
                cells.append(cell)
                for s in SCHEDS:
                    cost = COST[s] * n / 4 * (1 + 0.1 * seed) / (m / 2)
                    failed = cell == "c007" and s == "greedy"
                    rows.append({
                        "iotds.count": n, "mecs.count": m, "seed": seed, "scheduler": s,
                        "complete": not failed, "error": "boom" if failed else None,
                        "mean_cost_per_slot": np.nan if failed else cost,
                        "ratio_to_optimal": np.nan if failed else cost / (
                            COST["optimal"] * n / 4 * (1 + 0.1 * seed) / (m / 2)),
                        "mean_realized_latency_s": 0.5, "mean_realized_energy_j": 0.4,
                        "dropped": 0, "median_decision_s": 1e-4, "wall_s": 0.1, "cell": cell})
                k += 1
    pd.DataFrame(rows).to_parquet(root / "sweep.parquet")
    (root / "cells").mkdir()
    first = root / "cells" / cells[0]
    shutil.copytree(tiny_run, first)
    if not (first / "positions.parquet").exists():  # engines before positions.parquet
        _positions(12, 6).to_parquet(first / "positions.parquet")
    (first / "report.html").unlink(missing_ok=True)
    # a cell with a summary only, one with a corrupt slots file, one still running
    (root / "cells" / cells[1]).mkdir()
    shutil.copy(tiny_run / "summary.json", root / "cells" / cells[1] / "summary.json")
    (root / "cells" / cells[2] / "slots.parquet").mkdir(parents=True)
    (root / "cells" / cells[2] / "slots.parquet" / "part-000-000000.parquet").write_bytes(
        b"not a parquet file")
    (root / "cells" / cells[3]).mkdir()
    (root / "cells" / cells[3] / "training.parquet.partial").write_bytes(b"PAR1")
    return root


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory, tiny_run):
    return _fabricated_sweep(tmp_path_factory.mktemp("sweep"), tiny_run)


def _check_html(path, titles):
    files = [p.name for p in path.parent.iterdir()]
    assert path.name in files and not [f for f in files if f.endswith(".tmp")]
    text = path.read_text()
    assert len(PLOTLY_JS.findall(text)) == 1, "plotly.js must be embedded exactly once"
    assert re.search(r"<script[^>]*\ssrc=", text) is None  # nothing to fetch: opens offline
    for title in titles:
        assert title in text, title
    return text


def test_run_report(tiny_run, tmp_path):
    report = build_report(tiny_run, tmp_path / "r.html")
    assert report.kind == "run"
    assert set(report.figures) == {"summary", "latency_energy", "reward", "latency_cdf",
                                   "energy", "backlog", "per_mec"} | (
        {"map"} if (tiny_run / "positions.parquet").exists() else set())
    text = _check_html(report.path, [F.TITLES[k] for k in report.figures])
    assert "Skipped: no training.parquet" in text
    # nothing dropped in this run: a finding, not an empty figure
    assert "<p class='finding'>No task dropped.</p>" in text
    assert not report.notes


def test_dirs_report(dirs_run, tmp_path):
    report = build_report(dirs_run, tmp_path / "r.html")
    figs = report.figures
    for key in ("loss", "latency_energy", "levy", "reward", "imitation", "drl"):
        assert key in figs, key
    _check_html(report.path, [F.TITLES[k] for k in ("loss", "latency_energy", "levy",
                                                    "reward", "imitation", "drl")])
    assert {t.name for t in figs["reward"].data} >= {"dirs", "dirs-LD-nolevy", "optimal"}
    assert {t.name for t in figs["levy"].data} == {"proposed (6 searches)",
                                                   "classic (6 searches)"}
    accuracy = {t.name for t in figs["imitation"].data if t.type == "scatter"}
    assert {"L_I train", "L_I test", "L_D train", "L_D test",
                         "paper L_I test (its scenario)"} <= accuracy
    table = next(t for t in figs["drl"].data if t.type == "table")
    assert list(table.cells.values[0]) == ["dirs", "dirs-LD-nolevy", "DIRS", "AC", "DDPG"]
    assert list(table.cells.values[1])[2:] == ["paper (its scenario: N = 30, M = 2)"] * 3
    # the chart shows ours only: the paper's rewards are not on our axis
    bars = [t for t in figs["drl"].data if t.type == "bar"]
    assert [list(t.x) for t in bars] == [["dirs", "dirs-LD-nolevy"]]
    assert not report.notes


def test_sweep_report(sweep_dir, tmp_path):
    report = build_report(sweep_dir, tmp_path / "r.html")
    assert report.kind == "sweep"
    figs = report.figures
    assert {"sweep:iotds.count", "sweep:mecs.count", "latency_cdf", "map"} <= set(figs)
    text = _check_html(report.path, [F.TITLES["iotds.count"], F.TITLES["mecs.count"]])
    assert "Failed cells" in text and "boom" in text
    notes = " ".join(report.notes)
    assert "slots.parquet: unreadable" in notes and ".partial" in notes
    # objective against N at M = 2: mean and 95 % CI (Student t, 1 dof) over the two seeds
    fig = figs["sweep:iotds.count"]
    line = next(t for t in fig.data if t.name == "optimal" and t.xaxis == "x"
                and t.yaxis == "y")
    expect = [np.mean([6.0 * n / 4 * (1 + 0.1 * s) for s in (0, 1)]) for n in (4, 6)]
    spread = [np.std([6.0 * n / 4 * (1 + 0.1 * s) for s in (0, 1)], ddof=1) * 12.7062047
              / np.sqrt(2) for n in (4, 6)]
    assert list(line.x) == [4, 6]
    np.testing.assert_allclose(line.y, expect)
    np.testing.assert_allclose(line.error_y.array, spread)
    ratio = next(t for t in fig.data if t.name == "greedy" and t.yaxis == "y3")
    np.testing.assert_allclose(ratio.y, [8 / 6, 8 / 6])
    # the failed greedy cell (N = 6, M = 3, seed 1) is left out: one seed, no spread
    last = [t for t in fig.data if t.name == "greedy" and t.yaxis == "y2"][0]
    assert last.error_y.array[-1] == 0.0


@pytest.fixture(scope="module")
def heavy_run(tmp_path_factory):
    """Local CPUs at load 3: ``local`` piles up (unstable), ``greedy`` and ``optimal`` not."""
    out = tmp_path_factory.mktemp("heavy") / "run"
    run_scenario(load_scenario(SCENARIOS / "tiny.yaml", [
        "slots=100", "tasks.cycles=3e9", "schedulers=[local, greedy, optimal]"]), out)
    return out


def _summary_rows(text: str) -> dict[str, list[str]]:
    """The run summary table's cells, by scheduler."""
    table = re.search(r"<table class='summary'>(.*?)</table>", text, re.S).group(1)
    rows = {}
    for row in re.findall(r"<tr><td>(.*?)</tr>", table, re.S):
        cells = [re.sub(r"<[^>]+>", "", c) for c in re.split(r"</td><td>|</td>", row)]
        rows[cells[0]] = cells[1:]
    return rows


def test_run_report_shows_realized_and_model_side_by_side(heavy_run, tmp_path):
    report = build_report(heavy_run, tmp_path / "r.html")
    text = report.path.read_text()
    summary = json.loads((heavy_run / "summary.json").read_text())["schedulers"]
    for words in ("realized (simulated)", "per-slot model", "lower bound", "cost / slot",
                  "latency p50 s", "p99 s", "in flight %", ">stable<",
                  "Offered load: local CPU 3, MEC pool 0.6"):
        assert words in text, words
    assert text.index("realized (simulated)") < text.index("per-slot model")
    rows = _summary_rows(text)
    assert set(rows) == set(summary)
    for label, s in summary.items():
        cells = rows[label]
        ratios = s["realized_ratio_to_optimal"]
        assert cells[0] == f"{s['realized_cost_per_task']:.4g}"
        assert cells[1] == f"{ratios['realized_cost_per_task']:.4f}"
        assert cells[2] == f"{s['realized_cost_lower_bound']:.4g}"
        assert cells[3] == f"{ratios['realized_cost_lower_bound']:.4f}"
        assert cells[10] == f"{s['mean_cost_per_slot']:.4g}"
        assert cells[11] == f"{s['ratio_to_optimal']:.4f}"
        assert cells[12] == ("yes" if s["stable"] else "no")
    assert rows["local"][12] == "no" and rows["optimal"][12] == "yes"
    # the overview figure: realized cost and its ratio on top, the per-slot model below
    bars = {(t.xaxis, t.yaxis): t for t in report.figures["summary"].data if t.type == "bar"}
    assert set(bars) == {("x", "y"), ("x2", "y2"), ("x3", "y3"), ("x4", "y4")}
    for axes, key in ((("x", "y"), "realized_cost_per_task"), (("x3", "y3"),
                                                               "mean_cost_per_slot")):
        got = dict(zip(bars[axes].x, bars[axes].y, strict=True))
        assert got == pytest.approx({k: v[key] for k, v in summary.items()}), key
    got = dict(zip(bars[("x2", "y2")].x, bars[("x2", "y2")].y, strict=True))
    assert got == pytest.approx({k: v["realized_ratio_to_optimal"]["realized_cost_per_task"]
                                 for k, v in summary.items()})
    hatched = dict(zip(bars[("x", "y")].x, bars[("x", "y")].marker.pattern.shape, strict=True))
    assert hatched == {"local": "x", "greedy": "", "optimal": ""}


@pytest.fixture(scope="module")
def realized_sweep_dir(tmp_path_factory, sweep_dir):
    """The fabricated sweep with realized costs (3, 1.5, 1 x the model's) and one unstable row."""
    root = tmp_path_factory.mktemp("realized") / "sweep"
    shutil.copytree(sweep_dir, root)
    (root / "report.html").unlink(missing_ok=True)
    table = pd.read_parquet(root / "sweep.parquet")
    realized = {"local": 3.0, "greedy": 1.5, "optimal": 1.0}
    table["realized_cost_per_task"] = [
        np.nan if np.isnan(c) else realized[s] * c
        for s, c in zip(table["scheduler"], table["mean_cost_per_slot"], strict=True)]
    base = table[table["scheduler"] == "optimal"].set_index("cell")["realized_cost_per_task"]
    table["realized_cost_per_task_ratio_to_optimal"] = (
        table["realized_cost_per_task"] / table["cell"].map(base))
    table["stable"] = [not (s == "local" and c == "c000")
                       for s, c in zip(table["scheduler"], table["cell"], strict=True)]
    table.to_parquet(root / "sweep.parquet")
    return root


def test_sweep_figures_carry_the_realized_cost(realized_sweep_dir, tmp_path):
    report = build_report(realized_sweep_dir, tmp_path / "r.html")
    fig = report.figures["sweep:iotds.count"]
    # rows: realized cost, its ratio, per-slot model, its ratio; columns: M = 2, M = 3
    ratio = next(t for t in fig.data if t.name == "local" and t.yaxis == "y3")
    np.testing.assert_allclose(ratio.y, [3.0 * 12 / 6, 3.0 * 12 / 6])
    model_ratio = next(t for t in fig.data if t.name == "greedy" and t.yaxis == "y7")
    np.testing.assert_allclose(model_ratio.y, [8 / 6, 8 / 6])
    cost = next(t for t in fig.data if t.name == "optimal" and t.yaxis == "y")
    expect = [np.mean([6.0 * n / 4 * (1 + 0.1 * s) for s in (0, 1)]) for n in (4, 6)]
    np.testing.assert_allclose(cost.y, expect)
    titles = [fig.layout[f"yaxis{k}"].title.text for k in ("", "3", "5", "7")]
    assert titles == ["realized cost per task", "realized: ratio to optimal",
                      "per-slot model cost", "per-slot model: ratio to optimal"]
    # c000 is N = 4, M = 2, seed 0: local's first point there is open (unstable)
    local = next(t for t in fig.data if t.name == "local" and t.yaxis == "y")
    assert list(local.marker.symbol) == ["circle-open", "circle"]
    text = report.path.read_text()
    assert "Unstable runs (1)" in text


def test_map_frames_dropdown_and_stride():
    positions = _positions(40, 5)
    tasks = pd.DataFrame([
        {"scheduler": s, "slot": t, "iotd": i, "target": (i + t + k) % 3, "task_id": t * 5 + i}
        for k, s in enumerate(("greedy", "optimal")) for t in range(40) for i in range(5)
        if (i + t) % 4])
    fig = F.placement_map(positions, tasks, [[12.5, 25.0], [37.5, 25.0]], [50.0, 50.0])
    assert len(fig.frames) == 40 and len(fig.layout.sliders[0].steps) == 40
    menu = fig.layout.updatemenus[1]
    assert [b.label for b in menu.buttons] == ["greedy", "optimal"]
    visible = [t.visible for t in fig.data]
    assert visible[:5] == [True] * 5 and visible[5:10] == [False] * 5 and visible[-1] is None
    # slot 0, greedy: IoTD 0 has no task, IoTD 1 -> MEC 1, IoTD 2 -> MEC 2, IoTD 3 local
    names = [t.name for t in fig.data]
    first = {names[k]: list(fig.data[k].text or []) for k in range(1, 5)}
    assert first == {"no task": ["IoTD 0", "IoTD 4"], "local": ["IoTD 3"],
                     "MEC 1": ["IoTD 1"], "MEC 2": ["IoTD 2"]}
    thin = F.placement_map(positions, tasks, None, None, point_budget=100)
    assert len(thin.frames) == 10 and "every 4 slots" in thin.layout.sliders[0].currentvalue.prefix
    assert F.placement_map(None, tasks) is None


def test_figures_return_none_without_data():
    empty = pd.DataFrame()
    for fn in (F.scheduler_summary, F.training_loss, F.levy_fitness, F.imitation_accuracy,
               F.drl_comparison, F.latency_cdf, F.energy, F.drops, F.backlog,
               F.latency_energy, F.reward):
        assert fn(None) is None and fn(empty) is None, fn.__name__
    assert F.sweep_axis(None, "iotds.count") is None


def test_partial_folders_do_not_crash(tiny_run, tmp_path):
    only_summary = tmp_path / "summary_only"
    only_summary.mkdir()
    shutil.copy(tiny_run / "summary.json", only_summary)
    report = build_report(only_summary)
    assert set(report.figures) == {"summary"}
    assert (only_summary / "report.html").exists()
    only_tasks = tmp_path / "tasks_only"
    only_tasks.mkdir()
    shutil.copytree(tiny_run / "tasks.parquet", only_tasks / "tasks.parquet")
    report = build_report(only_tasks)
    assert {"latency_cdf", "energy", "per_mec"} == set(report.figures)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReportError, match="neither a run"):
        build_report(tmp_path / "empty")
    with pytest.raises(ReportError, match="no such folder"):
        build_report(tmp_path / "missing")


def test_cli(tiny_run, tmp_path, capsys, monkeypatch):
    assert main([str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "kaleido", None)  # import kaleido -> ImportError
    out = tmp_path / "r.html"
    assert main([str(tiny_run), "--out", str(out), "--png", str(tmp_path / "png")]) == 0
    printed = capsys.readouterr().out
    assert f"report: {out}" in printed
    assert "PNG export skipped: kaleido is not installed" in printed
    assert out.exists()


def test_png_without_browser(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "kaleido", types.SimpleNamespace(__version__="1.0.0"))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    report = build_report(tiny_run, tmp_path / "r.html")
    line = export_png(report, tmp_path / "png")
    assert line.startswith("PNG export skipped: kaleido needs Chrome or Chromium")


def test_wiring_into_mecsim_cli():
    import argparse

    from mecsim.report.cli import add_parser

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", "DIR", "--out", "x.html", "--png", "p"])
    assert (args.dir, args.out, args.png, args.cell) == ("DIR", "x.html", "p", None)
    assert callable(args.handler)


# -- headless Chromium ---------------------------------------------------------------------

CHECK_SCRIPT = r"""<script>
window.__mecsimErrors = [];
window.addEventListener('error', function (e) {
  window.__mecsimErrors.push('error: ' + (e.message || e)); });
window.addEventListener('unhandledrejection', function (e) {
  window.__mecsimErrors.push('unhandled: ' + e.reason); });
(function () { var ce = console.error; console.error = function () {
  window.__mecsimErrors.push('console: ' + Array.prototype.join.call(arguments, ' '));
  ce.apply(console, arguments); }; })();
function mecsimInteract() {  // the map: pick the last scheduler, jump to the last slot
  Array.prototype.slice.call(document.querySelectorAll('.js-plotly-plot')).forEach(function (p) {
    var frames = (p._transitionData || {})._frames || [];
    (p.layout.updatemenus || []).forEach(function (m) {
      if (m.type === 'dropdown') { Plotly.restyle(p, m.buttons[m.buttons.length - 1].args[0]); }
    });
    if (frames.length) { Plotly.animate(p, [frames[frames.length - 1].name], {mode: 'immediate',
      frame: {duration: 0, redraw: true}, transition: {duration: 0}}); } });
}
window.addEventListener('load', function () { setTimeout(mecsimInteract, 2000);
  setTimeout(function () {
  var plots = Array.prototype.slice.call(document.querySelectorAll('.js-plotly-plot'));
  var out = {errors: window.__mecsimErrors, plots: plots.length, empty: [], marks: {}};
  plots.forEach(function (p) {
    var n = p.querySelectorAll('.main-svg .trace path, .main-svg .trace .point, '
                               + '.main-svg .table .cell-text').length;
    out.marks[p.id] = n; if (!n) { out.empty.push(p.id); } });
  var pre = document.createElement('pre'); pre.id = 'mecsim-check';
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
}, 4000); });
</script>"""


def _render(page, tmp_path) -> dict:
    """Open ``page`` (a report) with the check script in headless Chromium; return its result."""
    if CHROMIUM is None:
        pytest.skip("headless render check skipped: no chromium on PATH "
                    "(Debian: apt-get install -y chromium)")
    wrapper = tmp_path / f"check-{page.stem}.html"
    wrapper.write_text(page.read_text().replace("<head>", "<head>" + CHECK_SCRIPT, 1))
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chr'}",
           "--virtual-time-budget=10000", "--dump-dom", wrapper.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="mecsim-check">(.*?)</pre>', done.stdout, re.S)
    assert found, f"no check result in the DOM (exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&")
                      .replace("&lt;", "<").replace("&gt;", ">"))


@pytest.mark.parametrize("which", ["tiny_run", "dirs_run", "sweep_dir", "heavy_run",
                                   "realized_sweep_dir"])
def test_renders_in_chromium(which, request, tmp_path):
    report = build_report(request.getfixturevalue(which), tmp_path / f"{which}.html")
    result = _render(report.path, tmp_path)
    assert result["errors"] == []
    assert result["plots"] == len(report.figures)
    assert result["empty"] == [], result["marks"]


def test_render_check_sees_errors(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><head></head><body>"
                    "<div class='js-plotly-plot' id='fig-x'></div>"
                    "<script>undefinedFunction();</script></body></html>")
    result = _render(page, tmp_path)
    assert result["errors"] and "undefinedFunction" in result["errors"][0]
    assert result["empty"] == ["fig-x"]


def test_imitation_figure_keeps_dirs_variants_apart():
    # Table II's cells hold dirs_L_I, dirs_L_D, dirs-paper_L_I, dirs-paper_L_D: the default
    # agents and the paper's must be two series each, not averaged together.
    rows = []
    for label, loss, acc in (("dirs_L_I", "L_I", 0.98), ("dirs_L_D", "L_D", 0.97),
                             ("dirs-paper_L_I", "L_I", 0.74), ("dirs-paper_L_D", "L_D", 0.70)):
        for step, value in ((0, 0.3), (1000, acc)):
            for split in ("train", "test"):
                rows.append({"kind": "imitation", "scheduler": label, "loss_name": loss,
                             "demonstrations": 256, "step": step, "split": split,
                             "accuracy": value})
    fig = F.imitation_accuracy(pd.DataFrame(rows))
    lines = {t.name: list(t.y) for t in fig.data if t.type == "scatter"
             and not t.name.startswith("paper")}
    assert lines["dirs L_I test"] == [pytest.approx(98.0)]
    assert lines["dirs-paper L_I test"] == [pytest.approx(74.0)]
    assert len(lines) == 8


def test_backlog_figure_has_a_panel_per_mec_and_the_total():
    from mecsim.report import figures

    slots = pd.DataFrame({"scheduler": ["a"] * 3, "slot": [0, 1, 2],
                          "backlog_tasks_1": [0, 1, 2], "backlog_tasks_2": [0, 0, 1],
                          "backlog_tasks_total": [3, 5, 9]})
    fig = figures.backlog(slots)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["MEC 1", "MEC 2", "every task not ended (IoTDs and MECs)"]
    assert list(fig.data[-1].y)[-1] == 9
