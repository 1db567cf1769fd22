"""The report's latency-versus-load figure: a sweep along ``load``, drawn and opened in Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mecsim.report import figures as F
from mecsim.report.build import LOAD_CAPTION, build_report

pytest.importorskip("plotly")

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "scenarios" / "tiny.yaml"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

LOADS = (0.2, 0.5, 1.0, 1.5)
SEEDS = (0, 1, 2)
BASE = {"local": 4.0, "greedy": 2.0, "lyapunov": 1.0, "optimal": 3.0}
#: stable per (scheduler, load): one flag per seed; "fail": that seed's run failed.
STABLE = {
    "local": {0.2: [True] * 3, 0.5: [True] * 3, 1.0: [True, False, True], 1.5: [False] * 3},
    # 0.5 has an undecided seed (null): 1.0, all stable, is still the largest
    "lyapunov": {0.2: [True] * 3, 0.5: [True, None, True], 1.0: [True] * 3,
                 1.5: [False] * 3},
    # a failed run at 1.0 disqualifies 1.0
    "greedy": {0.2: [True] * 3, 0.5: [True] * 3, 1.0: [True, True, "fail"],
               1.5: [False] * 3},
    "optimal": {x: [False] * 3 for x in LOADS},  # never stable
}
EXPECTED = {"local": 0.5, "lyapunov": 1.0, "greedy": 0.5, "optimal": None}


def _latency(name: str, load: float, seed: int) -> float:
    return BASE[name] * (1.0 + load) * (1.0 + 0.1 * seed)


def _rows(extra: dict | None = None) -> list[dict]:
    rows = []
    for load in LOADS:
        for seed in SEEDS:
            cell = f"load={load}__seed={seed}"
            for name in BASE:
                flag = STABLE[name][load][seed]
                failed = flag == "fail"
                lat = np.nan if failed else _latency(name, load, seed)
                rows.append({
                    "cell": cell, **(extra or {}), "load": load, "seed": seed,
                    "scheduler": name, "complete": not failed,
                    "error": "boom" if failed else None,
                    "mean_cost_per_slot": np.nan if failed else 10.0 * load,
                    "ratio_to_optimal": np.nan if failed else 1.0,
                    "realized_cost_per_task": lat + 0.5, "mean_realized_latency_s": lat,
                    "latency_p95_s": 2.0 * lat, "mean_realized_energy_j": 0.5,
                    "stable": None if failed else flag})
    return rows


def _folder(root: Path, rows: list[dict]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows)
    frame["stable"] = frame["stable"].astype("boolean")
    frame.to_parquet(root / "sweep.parquet")
    (root / "cells").mkdir(exist_ok=True)
    return root


@pytest.fixture(scope="module")
def load_dir(tmp_path_factory):
    return _folder(tmp_path_factory.mktemp("load") / "sweep", _rows())


def _traces(fig, kind: str, name: str | None = None) -> list:
    return [t for t in fig.data if t.meta and t.meta["kind"] == kind
            and (name is None or t.meta["scheduler"] == name)]


# --------------------------------------------------------------------------- the figure


def test_largest_stable_load():
    frame = pd.DataFrame(_rows())
    assert F.largest_stable_load(frame) == EXPECTED
    assert F.largest_stable_load(frame.drop(columns="stable")) == dict.fromkeys(BASE)


def test_load_figure_traces_per_scheduler(load_dir):
    frame = pd.read_parquet(load_dir / "sweep.parquet")
    fig = F.load_curves(frame)
    assert fig.layout.title.text == f"{F.TITLES['load_curves']}<br><sup>{F.LOAD_KEY}</sup>"
    assert "★ largest load at which every seed's run was stable" in F.LOAD_KEY
    assert {t.legendgroup for t in fig.data} == set(BASE)
    panels = [c for c, _ in F.LOAD_FIGURES]
    for name in BASE:
        means = _traces(fig, "mean", name)
        spreads = _traces(fig, "spread", name)
        assert len(means) == len(spreads) == len(panels)  # one per panel
        assert all(t.legendgroup == name for t in means + spreads)
        assert sum(bool(t.showlegend) for t in means) == 1
        for t in means:
            assert list(t.x) == list(LOADS)
        # the first panel: mean realized latency, the mean over the complete seeds
        want = []
        for load in LOADS:
            seeds = [s for s in SEEDS if STABLE[name][load][s] != "fail"]
            want.append(np.mean([_latency(name, load, s) for s in seeds]))
        assert list(means[0].y) == pytest.approx(want)
        assert list(means[1].y) == pytest.approx([2 * w for w in want])  # p95
        assert list(means[2].y) == pytest.approx([w + 0.5 for w in want])  # cost per task
        # the band: min..max over seeds, x out and back
        band = spreads[0]
        assert list(band.x) == list(LOADS) + list(LOADS[::-1]) and band.fill == "toself"
        assert band.y[0] == pytest.approx(_latency(name, LOADS[0], 2))  # max, first load
        assert band.y[len(LOADS) - 1] == pytest.approx(_latency(name, LOADS[-1], 2))
        assert band.y[-1] == pytest.approx(_latency(name, LOADS[0], 0))  # min, first load
        # open circles where some seed was unstable
        unstable = [any(f is False for f in STABLE[name][x]) for x in LOADS]
        assert list(means[0].marker.symbol) == ["circle-open" if u else "circle"
                                                for u in unstable]
        # the star: at the largest load where every seed was stable, on the mean line
        stars = _traces(fig, "stable", name)
        mark = EXPECTED[name]
        if mark is None:
            assert stars == [] and "never stable" in means[0].name
        else:
            assert len(stars) == len(panels)
            for star, mean in zip(stars, means, strict=True):
                assert list(star.x) == [mark] and star.marker.symbol == "star"
                assert star.y[0] == pytest.approx(mean.y[LOADS.index(mark)])
            assert means[0].name == f"{name} (stable up to load {mark:g})"
    for row in range(1, len(panels) + 1):
        axis = fig.layout["yaxis" if row == 1 else f"yaxis{row}"]
        assert axis.type == "log"
    assert any(s.type == "line" and s.x0 == 1.0 == s.x1 for s in fig.layout.shapes)


def test_load_figure_facets_find_the_stable_load_per_facet(tmp_path):
    rows = _rows({"iotds.count": 10})
    other = _rows({"iotds.count": 20})
    for r in other:  # at N = 20, local is stable everywhere
        if r["scheduler"] == "local":
            r["stable"] = True
    frame = pd.DataFrame(rows + other)
    fig = F.load_curves(frame, "load", ["iotds.count"])
    stars = _traces(fig, "stable", "local")
    by_col: dict[int, list] = {}
    for star in stars:  # subplots are numbered row by row: x, x2 (row 1), x3, x4 (row 2), ...
        col = (int(star.xaxis[1:] or 1) - 1) % 2
        by_col.setdefault(col, []).append(star.x[0])
    assert by_col == {0: [0.5] * 3, 1: [1.5] * 3}
    assert [a.text for a in fig.layout.annotations[:2]] == ["iotds.count=10",
                                                            "iotds.count=20"]
    assert [t.name for t in _traces(fig, "mean") if t.showlegend] == list(BASE)


def test_report_has_the_load_figure_only_with_a_load_axis(load_dir, tmp_path):
    report = build_report(load_dir, tmp_path / "load.html")
    assert "load_curves" in report.figures and "sweep:load" in report.figures
    keys = [i.key for i in dict(report.sections)["Sweep"]]
    assert keys[0] == "load_curves"
    text = report.path.read_text()
    assert F.TITLES["load_curves"] in text
    assert "the largest load at which every seed&#x27;s run was stable: true" in text
    assert "stable: true" in LOAD_CAPTION
    # the same sweep along iotds.count: no load figure, no load caption
    plain = pd.DataFrame(_rows()).rename(columns={"load": "iotds.count"})
    plain["iotds.count"] = (plain["iotds.count"] * 10).astype(int)
    other = _folder(tmp_path / "plain", plain.to_dict("records"))
    report = build_report(other, tmp_path / "plain.html")
    assert "load_curves" not in report.figures and "sweep:iotds.count" in report.figures
    assert F.TITLES["load_curves"] not in report.path.read_text()


def test_report_of_a_real_load_sweep(tmp_path):
    from mecsim.sweep.run import run_sweep

    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(f"""
        base: {TINY}
        set: {{tasks.arrival: {{process: poisson}}}}
        grid: {{load: [0.3, 3.0]}}
        schedulers: [local, greedy]
        seeds: [0, 1]
        slots: 30
    """))
    out = tmp_path / "out"
    assert not run_sweep(path, out, workers=1).failed
    report = build_report(out)
    fig = report.figures["load_curves"]
    table = pd.read_parquet(out / "sweep.parquet")
    expected = F.largest_stable_load(table)
    assert set(expected) == {"local", "greedy"}
    assert expected["local"] is None  # local CPUs at 6 x load: overloaded at both loads
    for name in ("local", "greedy"):
        assert [list(t.x) for t in _traces(fig, "mean", name)] == [[0.3, 3.0]] * 3
        stars = _traces(fig, "stable", name)
        assert [s.x[0] for s in stars] == ([expected[name]] * 3 if expected[name] else [])


# --------------------------------------------------------------------------- Chromium

CHECK = r"""<script>
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push('error: ' + e.message); });
(function () { var ce = console.error; console.error = function () {
  window.__errors.push('console: ' + Array.prototype.join.call(arguments, ' '));
  ce.apply(console, arguments); }; })();
window.addEventListener('load', function () { setTimeout(function () {
  var gd = document.getElementById('fig-load-curves');
  var out = {errors: window.__errors, found: !!gd};
  if (gd) {
    out.traces = gd.querySelectorAll('.scatterlayer .trace').length;
    out.data = gd.data.length;
    out.points = gd.querySelectorAll('.scatterlayer .trace .point').length;
    out.fills = gd.querySelectorAll('.scatterlayer .trace path.js-fill').length;
    out.stars = gd.data.filter(function (t) { return t.meta && t.meta.kind === 'stable'; })
      .map(function (t) { return [t.meta.scheduler, t.x[0]]; });
    out.legend = Array.prototype.map.call(gd.querySelectorAll('.legendtext'),
      function (n) { return n.textContent; });
    out.ticks = Array.prototype.map.call(gd.querySelectorAll('[class*="tick"] text'),
      function (n) { return n.textContent; });
  }
  var pre = document.createElement('pre'); pre.id = 'load-check';
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
}, 4000); });
</script>"""


def test_load_figure_renders_in_chromium(load_dir, tmp_path):
    if CHROMIUM is None:
        pytest.skip("headless render check skipped: no chromium on PATH "
                    "(Debian: apt-get install -y chromium)")
    report = build_report(load_dir, tmp_path / "load.html")
    page = tmp_path / "check.html"
    page.write_text(report.path.read_text().replace("<head>", "<head>" + CHECK, 1))
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chr'}",
           "--virtual-time-budget=10000", "--dump-dom", page.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="load-check">(.*?)</pre>', done.stdout, re.S)
    assert found, f"no check result in the DOM (exit {done.returncode}): {done.stderr[-2000:]}"
    result = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&")
                        .replace("&lt;", "<").replace("&gt;", ">"))
    assert result["errors"] == [] and result["found"]
    panels = len(F.LOAD_FIGURES)
    n_stars = sum(m is not None for m in EXPECTED.values())
    assert result["data"] == len(BASE) * 2 * panels + n_stars * panels
    assert result["traces"] == result["data"]  # every trace drawn
    # markers: 4 loads per mean line, one star per panel and stable scheduler
    assert result["points"] == len(BASE) * len(LOADS) * panels + n_stars * panels
    assert result["fills"] == len(BASE) * panels  # the seed bands
    stars = sorted(map(tuple, result["stars"]))
    assert stars == sorted([(n, m) for n, m in EXPECTED.items() if m is not None] * panels)
    assert "local (stable up to load 0.5)" in result["legend"]
    assert "optimal (never stable)" in result["legend"]
    assert {"20%", "50%", "100%", "150%"} <= set(result["ticks"])
