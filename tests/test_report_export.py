"""Static images of the report: --images DIR --format png|svg|pdf, and --png as an alias."""

from __future__ import annotations

import shutil
import types
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest

from mecsim.report import export
from mecsim.report.cli import main

pytest.importorskip("plotly")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SIGNATURES = {"png": b"\x89PNG\r\n\x1a\n", "svg": b"<svg", "pdf": b"%PDF"}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A run folder with a tasks table only: three small figures."""
    folder = tmp_path_factory.mktemp("small") / "run"
    folder.mkdir()
    pd.DataFrame({"scheduler": ["b", "b", "a", "a"], "task_id": [0, 1, 0, 1],
                  "target": [1, 0, 2, 1], "status": ["completed", "dropped"] + ["completed"] * 2,
                  "drop_reason": [None, "deadline", None, None], "cycles": [1e9] * 4,
                  "realized_latency_s": [0.2, 0.5, 0.3, 0.4],
                  "realized_energy_j": [0.1, 0.2, 0.3, 0.4]}).to_parquet(folder / "tasks.parquet")
    return folder


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_each_format_writes_valid_files(small_run, tmp_path, fmt, capsys):
    if CHROMIUM is None:
        pytest.skip("image export check skipped: no chromium on PATH "
                    "(Debian: apt-get install -y chromium)")
    out = tmp_path / "images"
    assert main([str(small_run), "--out", str(tmp_path / "r.html"), "--images", str(out),
                 "--format", fmt]) == 0
    printed = capsys.readouterr().out
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(f"{k}.{fmt}" for k in ("latency-cdf", "energy", "drops",
                                                  "per-mec")), printed
    assert f"{fmt.upper()}: 4 images in {out}" in printed
    for path in out.iterdir():
        head = path.read_bytes()[:400]
        assert SIGNATURES[fmt] in head, (path, head[:40])


def test_png_is_an_alias_and_conflicts_exit_2(small_run, tmp_path, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(export, "export_images",
                        lambda report, folder, fmt: calls.append((Path(folder), fmt)) or "ok")
    html = str(tmp_path / "r.html")
    assert main([str(small_run), "--out", html, "--png", str(tmp_path / "p")]) == 0
    assert main([str(small_run), "--out", html, "--images", str(tmp_path / "i")]) == 0
    assert main([str(small_run), "--out", html, "--images", str(tmp_path / "s"),
                 "--format", "svg"]) == 0
    assert main([str(small_run), "--out", html, "--format", "pdf"]) == 0  # beside the run
    assert calls == [(tmp_path / "p", "png"), (tmp_path / "i", "png"), (tmp_path / "s", "svg"),
                     (small_run / "images", "pdf")]
    capsys.readouterr()
    for argv, message in (
            (["--png", "p", "--images", "i"], "not both"),
            (["--png", "p", "--format", "pdf"], "--png writes PNG")):
        assert main([str(small_run), "--out", html, *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1
    with pytest.raises(SystemExit) as exit_:
        main([str(small_run), "--images", "i", "--format", "gif"])
    assert exit_.value.code == 2


def test_a_failing_figure_is_named_in_one_line(tmp_path, monkeypatch):
    import plotly.io as pio

    good, bad = go.Figure(go.Scatter(x=[1], y=[2])), go.Figure(go.Scatter(x=[1], y=[2]))
    report = types.SimpleNamespace(figures={"good": good, "bad map": bad})
    monkeypatch.setattr(export, "_unavailable", lambda fmt: None)

    def batch(*args, **kwargs):
        raise RuntimeError("the batch failed")

    def one(fig, path, fmt, height):
        if fig is bad:
            raise ValueError("Transform failed\nwith a long second line")
        Path(path).write_bytes(b"%PDF-1.4")

    monkeypatch.setattr(pio, "write_images", batch)
    monkeypatch.setattr(export, "_write_one", one)
    line = export.export_images(report, tmp_path / "img", "pdf")
    assert line == ("PDF export failed at figure 'bad map': ValueError: Transform failed "
                    "(1 of 2 written)")
    assert "\n" not in line
    assert export.export_images(report, tmp_path, "gif").startswith(
        "image export skipped: unknown format 'gif'")
