"""Smoke test of ``analysis/reproduce_paper.py`` on tiny settings (seconds, not minutes)."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rp():
    spec = importlib.util.spec_from_file_location("reproduce_paper",
                                                  ROOT / "analysis" / "reproduce_paper.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["reproduce_paper"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def smoke(rp, tmp_path_factory):
    out = tmp_path_factory.mktemp("paper")
    settings = dataclasses.replace(rp.SMOKE, sweep_files=("tiny_grid",))
    info = rp.reproduce(out, settings, workers=1)
    return out, info


def test_table2_rows(rp, smoke):
    out, info = smoke
    df = info["table2"]
    assert sorted(zip(df["scheduler"], df["loss"], df["demonstrations"], strict=True)) == \
        sorted((name, loss, k) for name in ("dirs", "dirs_shared")
               for loss in ("L_I", "L_D") for k in rp.SMOKE.table2_counts)
    for col in ("train", "test", "train_before", "test_before"):
        assert df[col].between(0, 100).all(), col
    assert (df["steps"] == rp.SMOKE.table2_params["pretrain_steps"]).all()
    csv = pd.read_csv(out / "table2" / "table2.csv")
    assert len(csv) == 4 * len(rp.SMOKE.table2_counts)
    md = (out / "table2" / "table2.md").read_text()
    for name in ("dirs", "dirs_shared"):
        assert md.count(f"| {name} | L_I |") == len(rp.SMOKE.table2_counts)
        assert md.count(f"| {name} | L_D |") == len(rp.SMOKE.table2_counts)
    for k in rp.SMOKE.table2_counts:
        assert (out / "table2" / "cells" / f"demonstrations={k}" / "training.parquet").exists()


def test_table2_paper_column(rp):
    df = pd.DataFrame([{"scheduler": "dirs", "loss": "L_D", "demonstrations": 256, "steps": 1000,
                        "train": 99.0,
                        "test": 60.0, "train_before": 50.0, "test_before": 50.0,
                        "paper_train": rp.PAPER_TABLE2[("L_D", 256)][0],
                        "paper_test": rp.PAPER_TABLE2[("L_D", 256)][1]}])
    assert "| dirs | L_D | 256 | 99.0 | 60.0 | 50.0 / 50.0 | 96.6 | 93.4 |" in \
        rp.table2_markdown(df)


def test_training_run(rp, smoke):
    out, _ = smoke
    slots = pd.read_parquet(out / "training" / "slots.parquet")
    labels = ["dirs", "dirs-no-levy", "dirs-no-imitation", "dirs-classic", "dirs-shared",
              "optimal", "greedy", "random", "local"]
    assert list(dict.fromkeys(slots["scheduler"])) == labels
    assert slots.groupby("scheduler")["slot"].nunique().eq(
        rp._dirs_slots(rp.SMOKE.dirs_params)).all()
    log = pd.read_parquet(out / "training" / "training.parquet")
    levy = log[log["kind"] == "levy"]
    for name in ("dirs", "dirs-shared"):
        assert set(levy[levy["scheduler"] == name]["mode"]) == {"proposed", "classic"}
    assert "dirs-no-levy" not in set(levy["scheduler"])
    imitation = log[log["kind"] == "imitation"]
    assert "dirs-no-imitation" not in set(imitation["scheduler"])
    assert {"dirs", "dirs-no-levy", "dirs-classic"} <= set(imitation["scheduler"])
    summary = rp.training_summary(out / "training", 10)
    assert summary.loc["optimal", "ratio_to_optimal"] == 1.0
    assert (summary["ratio_to_optimal"] >= 1 - 1e-9).all()


def test_table3_and_sweep_and_reports(rp, smoke):
    out, info = smoke
    t3 = pd.read_csv(out / "table3" / "table3.csv")
    registered, missing = rp.table3_schedulers()
    assert set(t3["scheduler"]) == {*registered, "optimal"}
    if missing:
        assert (out / "table3" / "skipped.txt").read_text().split(": ")[1].strip() == \
            ", ".join(missing)
    sweep = rp.sweep_summary(out / "sweeps" / "tiny_grid")
    assert list(sweep.index) == [4, 6]
    assert set(sweep.columns) == {"local", "greedy", "optimal"}
    reports = {p.parent.name for p in info["reports"]}
    assert reports == {"training", "table2", "tiny_grid"}
    for p in info["reports"]:
        assert p.exists() and p.stat().st_size > 100_000
    assert "Table II" in (out / "table2" / "report.html").read_text()
    readme = (out / "README.md").read_text()
    assert "## Table II" in readme and "## Table III" in readme
    assert set(info["timings"]) == {"training", "table2", "table3", "sweeps", "reports"}
