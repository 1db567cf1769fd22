import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
TINY = str(ROOT / "scenarios" / "tiny.yaml")


def mecsim(*args, timeout=120, env=None):
    merged = {**os.environ, "PYTHONPATH": str(ROOT / "tests"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "mecsim", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=merged)


def assert_one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_validate_ok_and_overrides():
    proc = mecsim("validate", TINY, "--set", "iotds.count=9")
    assert proc.returncode == 0, proc.stderr
    assert "9 IoTDs" in proc.stdout


@pytest.mark.parametrize("override,needles", [
    ("iotds.cuont=3", ["tiny.yaml", "iotds.cuont", "unknown key"]),
    ("mecs.cpu_hz=-5e9", ["tiny.yaml", "mecs.cpu_hz"]),
    ("iotds.count=many", ["tiny.yaml", "iotds.count"]),
])
def test_bad_scenario_is_one_line_exit_2(override, needles):
    assert_one_line_error(mecsim("run", TINY, "--set", override, "--quiet"), *needles)
    assert_one_line_error(mecsim("validate", TINY, "--set", override), *needles)


def test_missing_file_and_unknown_scheduler(tmp_path):
    assert_one_line_error(mecsim("validate", str(tmp_path / "nope.yaml")), "nope.yaml")
    proc = mecsim("run", TINY, "--scheduler", "no_such_thing", "--out", str(tmp_path / "o"))
    assert_one_line_error(proc, "no_such_thing", "registered")
    proc = mecsim("run", TINY, "--scheduler", "no_module:Cls", "--out", str(tmp_path / "o"))
    assert_one_line_error(proc, "no_module")


def test_run_writes_results_and_table(tmp_path):
    out = tmp_path / "out"
    proc = mecsim("run", TINY, "--out", str(out), "--slots", "6", "--seed", "3",
                  "--scheduler", "greedy", "--scheduler", "optimal", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^ optimal\s.*\n\s+×1\s+×1\s", proc.stdout, re.M)  # ratios: 2nd line
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 3 and summary["slots"] == 6
    assert set(summary["schedulers"]) == {"greedy", "optimal"}
    assert all(s["complete"] for s in summary["schedulers"].values())
    assert summary["schedulers"]["greedy"]["ratio_to_optimal"] >= 1.0 - 1e-12
    resolved = (out / "scenario.yaml").read_text()
    assert "seed: 3" in resolved and "slots: 6" in resolved
    assert len(pd.read_parquet(out / "slots.parquet")) == 12


def test_list_shows_registered_schedulers_and_scenarios():
    proc = mecsim("list")
    assert proc.returncode == 0
    for name in ("local", "random", "greedy", "optimal", "dense_100.yaml", "paper.yaml"):
        assert name in proc.stdout


def test_failing_scheduler_named_others_kept(tmp_path):
    out = tmp_path / "out"
    proc = mecsim("run", TINY, "--out", str(out), "--quiet", "--scheduler",
                  "engine_schedulers:Raises", "--scheduler", "local")
    assert proc.returncode == 1
    assert "engine_schedulers:Raises" in proc.stderr and "slot 5" in proc.stderr
    summary = json.loads((out / "summary.json").read_text())["schedulers"]
    assert summary["local"]["complete"] and not summary["engine_schedulers:Raises"]["complete"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupt_keeps_finished_slots(tmp_path, sig):
    out = tmp_path / "out"
    merged = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    proc = subprocess.Popen([sys.executable, "-m", "mecsim", "run", TINY, "--out", str(out),
                             "--slots", "2000", "--quiet", "--scheduler",
                             "engine_schedulers:Slow"], cwd=ROOT, env=merged,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (out / "summary.json").exists() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "Traceback" not in err
    summary = json.loads((out / "summary.json").read_text())["schedulers"]
    slow = summary["engine_schedulers:Slow"]
    assert slow["complete"] is False and 5 < slow["slots"] < 2000
    slots = pd.read_parquet(out / "slots.parquet")
    assert len(slots) == slow["slots"]
    tasks = pd.read_parquet(out / "tasks.parquet")
    assert len(tasks) == slow["counts"]["generated"]
    assert not list(out.rglob(".*"))  # no temporary left behind


def _table_rows(stdout: str) -> dict[str, tuple[list[str], list[str]]]:
    """The end table's rows: label -> (cells of its line, cells of its ratio line)."""
    lines = stdout.splitlines()
    rule = next(i for i, line in enumerate(lines) if set(line.strip()) == {"─"})
    rows = {}
    for i in range(rule + 1, len(lines) - 1):
        cells = lines[i].split()
        if cells and not lines[i].startswith("  ") and lines[i + 1].startswith("  "):
            rows[cells[0]] = (cells[1:], lines[i + 1].split())
    return rows


def test_run_prints_load_realized_figures_and_stability(tmp_path):
    """Local CPUs at load 3: ``local`` piles up (unstable), ``optimal`` does not."""
    out = tmp_path / "out"
    proc = mecsim("run", TINY, "--out", str(out), "--slots", "40", "--set", "tasks.cycles=3e9",
                  "--scheduler", "local", "--scheduler", "optimal")
    assert proc.returncode == 0, proc.stderr
    # the offered load comes first, before the progress bars
    first = proc.stderr.splitlines()[0]
    assert first.startswith("offered load: local CPU 3 ") and "MEC pool 0.6 " in first
    assert proc.stderr.index("offered load") < proc.stderr.index("slots")
    assert "warning:" in proc.stderr and "local: its backlog grows" in proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["load"]["local"] == pytest.approx(3.0)
    local, optimal = summary["schedulers"]["local"], summary["schedulers"]["optimal"]
    assert local["stable"] is False and optimal["stable"] is True
    # the table: labelled columns, realized first, then the per-slot model
    header = proc.stdout[:proc.stdout.index("─")]
    for words in (["realized", "cost/task"], ["lower", "bound"], ["p50", "p95", "p99"],
                  ["per-slot", "model"], ["stable"]):
        assert all(w in header for w in words), words
    assert header.index("realized") < header.index("per-slot")
    assert "lower bound: the mean cost of completed and in-flight tasks" in " ".join(
        proc.stdout.split())
    assert all(len(line) <= 110 for line in proc.stdout.splitlines()[:-1])
    rows = _table_rows(proc.stdout)
    (cells, ratios) = rows["local"]
    assert cells[0] == f"{local['realized_cost_per_task']:.3g}"
    assert cells[1] == f"{local['realized_cost_lower_bound']:.3g}"
    assert cells[2:5] == [f"{local[f'latency_p{q}_s']:.3g}" for q in (50, 95, 99)]
    assert cells[6] == f"{100 * local['in_flight_share']:.3g}"
    assert cells[8] == f"{local['mean_cost_per_slot']:.3g}"
    assert cells[-2:] == ["NO", "yes"] and rows["optimal"][0][-2:] == ["yes", "yes"]
    # ratios to optimal: the scheduler's figure over optimal's, as in summary.json
    expect = local["realized_cost_per_task"] / optimal["realized_cost_per_task"]
    assert local["realized_ratio_to_optimal"]["realized_cost_per_task"] == pytest.approx(expect)
    assert ratios[0] == f"×{expect:.3g}"
    assert ratios[-1] == f"×{local['ratio_to_optimal']:.3g}"


# --------------------------------------------------------------------------- --out


def test_out_must_be_new_or_empty_unless_force(tmp_path):
    out = tmp_path / "out"
    first = mecsim("run", TINY, "--out", str(out), "--slots", "4", "--channels", "--quiet")
    assert first.returncode == 0, first.stderr
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    proc = mecsim("run", TINY, "--out", str(out), "--slots", "3", "--quiet")
    assert_one_line_error(proc, str(out), "not empty", "--force", "--resume")
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before  # untouched
    proc = mecsim("run", TINY, "--out", str(out), "--slots", "3", "--no-channels", "--force",
                  "--quiet", "--scheduler", "local")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["scenario.yaml", "slots.parquet",
                                                     "summary.json", "tasks.parquet"]
    assert pd.read_parquet(out / "slots.parquet").scheduler.tolist() == ["local"] * 3
    # --force empties only a run's folder
    (out / "notes.txt").write_text("mine")
    proc = mecsim("run", TINY, "--out", str(out), "--force", "--quiet")
    assert_one_line_error(proc, "--force", "notes.txt", "not emptying")
    assert (out / "notes.txt").exists() and (out / "summary.json").exists()


def test_out_naming_a_file_or_an_unwritable_path_exits_2_before_running(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    proc = mecsim("run", TINY, "--out", str(a_file), "--quiet")
    assert_one_line_error(proc, str(a_file), "is a file")
    proc = mecsim("run", TINY, "--out", str(a_file / "sub"), "--quiet")
    assert_one_line_error(proc, str(a_file / "sub"), "cannot write there")
    assert "kept" not in proc.stderr and a_file.read_text() == "x"
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        proc = mecsim("run", TINY, "--out", str(locked / "out"), "--quiet")
        assert_one_line_error(proc, "cannot write there")


def test_default_out_is_unique_within_a_second(tmp_path, monkeypatch, tiny):
    from mecsim import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli.time, "strftime", lambda fmt: "20250101-120000")
    folders = [cli._default_folder(tiny()) for _ in range(3)]
    assert [str(out) for out, problem in folders] == [
        "results/tiny-seed0-20250101-120000", "results/tiny-seed0-20250101-120000-2",
        "results/tiny-seed0-20250101-120000-3"]
    assert all(problem is None and out.is_dir() for out, problem in folders)


def test_resume_refuses_other_options_and_folders_without_a_run(tmp_path):
    out = tmp_path / "out"
    proc = mecsim("run", TINY, "--out", str(out), "--slots", "4", "--quiet", "--scheduler",
                  "local", "--scheduler", "greedy")
    assert proc.returncode == 0, proc.stderr
    base = ("run", TINY, "--resume", str(out), "--quiet", "--scheduler", "local",
            "--scheduler", "greedy")
    assert_one_line_error(mecsim(*base, "--slots", "5"), "differs", "slots")
    assert_one_line_error(mecsim(*base, "--slots", "4", "--set", "iotds.count=3"),
                          "differs", "iotds.count")
    assert_one_line_error(mecsim("run", TINY, "--resume", str(out), "--slots", "4",
                                 "--scheduler", "local"), "ran the schedulers local, greedy")
    assert_one_line_error(mecsim(*base, "--slots", "4", "--no-channels"), "with channels")
    assert_one_line_error(mecsim(*base, "--slots", "4", "--force"), "--force", "--resume")
    assert_one_line_error(mecsim(*base, "--slots", "4", "--out", str(tmp_path / "other")),
                          "different folders")
    assert_one_line_error(mecsim("run", TINY, "--resume", str(tmp_path / "none")),
                          "no run to finish")
    done = mecsim(*base, "--slots", "4")  # nothing left to run
    assert done.returncode == 0, done.stderr
    assert "kept local, greedy (complete); running nothing" in done.stderr


@pytest.mark.parametrize("name", ["greedy", "optimal", "lyapunov"])
def test_train_refuses_a_scheduler_that_does_not_learn(tmp_path, name):
    out = tmp_path / "ckpt.json"
    proc = mecsim("train", TINY, "--scheduler", name, "--out", str(out), "--quiet")
    assert_one_line_error(proc, "does not learn", name)
    assert not out.exists() and not out.with_name(out.name + ".run").exists()


def test_end_table_caption_gives_each_schedulers_offload_share():
    from rich.console import Console

    from mecsim.cli import summary_table
    from mecsim.config import load_scenario
    from mecsim.engine.runner import SchedulerResult

    results = [SchedulerResult("local", offload_share=0.0),
               SchedulerResult("greedy", offload_share=0.017),
               SchedulerResult("idle")]  # placed no task: no share
    console = Console(width=110, record=True)
    console.print(summary_table(results, load_scenario(TINY)))
    text = " ".join(console.export_text().split())
    assert "offloaded (% of the tasks placed that went to a MEC): local 0, greedy 1.7, " \
           "idle -" in text
