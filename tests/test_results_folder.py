"""Result tables as folders of parts: whole after any stop (even kill -9), resumable."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from mecsim.config import SchedulerSpec
from mecsim.engine import records, runner
from mecsim.engine.folder import check_run_folder, complete_schedulers
from mecsim.engine.interrupt import Interrupted
from mecsim.engine.records import TableWriter, keep_parts, part_name, read_table
from mecsim.engine.runner import run_scenario
from mecsim.engine.simulation import Simulation
from mecsim.sweep.run import WALL_FIELDS

ROOT = Path(__file__).resolve().parent.parent
TINY = str(ROOT / "scenarios" / "tiny.yaml")
RUN_ARGS = ("--slots", "300", "--channels", "--quiet")  # about 3 s for the 4 schedulers


def specs(*names):
    return [SchedulerSpec(name=n) for n in names]


# --------------------------------------------------------------------------- parts


def test_a_part_is_whole_or_absent(tmp_path):
    folder = tmp_path / "t.parquet"
    schema = pa.schema([("scheduler", pa.string()), ("x", pa.int64())])
    writer = TableWriter(folder, schema, owner=2)
    empty = pd.read_parquet(folder)  # only the schema part: no rows, but the columns
    assert len(empty) == 0 and list(empty.columns) == ["scheduler", "x"]
    writer.append({"scheduler": ["a"] * 3, "x": [1, 2, 3]})
    staged = writer.stage()
    assert staged.tmp.name.startswith(".") and staged.tmp.is_file()
    assert len(pd.read_parquet(folder)) == 0  # written, not yet in place: readers skip it
    writer.commit(staged)
    writer.append({"scheduler": ["a"], "x": [4]})
    writer.commit(writer.stage())
    assert writer.stage() is None  # nothing buffered
    assert sorted(p.name for p in folder.iterdir()) == [
        part_name(2, 0), part_name(2, 1), "part-schema.parquet"]
    assert pd.read_parquet(folder).x.tolist() == [1, 2, 3, 4]
    assert read_table(folder, ["x"]).column("x").to_pylist() == [1, 2, 3, 4]
    assert (writer.parts, writer.rows) == (2, 4)


def test_keep_parts_keeps_the_counted_parts_of_kept_owners(tmp_path):
    folder = tmp_path / "t.parquet"
    folder.mkdir()
    names = [part_name(o, s) for o in (0, 1, 2) for s in (0, 1, 2)]
    for name in names + [".part-001-000003.parquet.tmp", "part-schema.parquet"]:
        (folder / name).write_bytes(b"x")
    keep_parts(folder, {0: 3, 2: 2})  # owner 1 is run again; owner 2's third is not counted
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [part_name(0, s) for s in (0, 1, 2)] + [part_name(2, 0), part_name(2, 1),
                                                 "part-schema.parquet"])


def test_flush_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("MECSIM_FLUSH_S", raising=False)
    assert records.flush_interval_s() == records.FLUSH_S == 2.0
    monkeypatch.setenv("MECSIM_FLUSH_S", "0.25")
    assert records.flush_interval_s() == 0.25
    monkeypatch.setenv("MECSIM_FLUSH_S", "0")
    with pytest.raises(ValueError, match="MECSIM_FLUSH_S"):
        records.flush_interval_s()


# --------------------------------------------------------------------------- commits


def test_the_summary_counts_exactly_the_rows_on_disk_after_every_commit(tiny, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setenv("MECSIM_FLUSH_S", "0.001")  # a commit at every epoch
    out = tmp_path / "run"
    seen = []
    commit = runner.RunFiles.commit

    def commit_and_check(self, result=None, sim=None, complete=False):
        commit(self, result, sim, complete)
        summary = json.loads((out / "summary.json").read_text())["schedulers"]
        seen.append((result.name if result else None, complete, check_run_folder(out),
                     {k: v["complete"] for k, v in summary.items()}))

    monkeypatch.setattr(runner.RunFiles, "commit", commit_and_check)
    scenario = tiny("slots=15", "tasks.arrival={process: poisson, rate_per_s: 1.5}",
                    "tasks.deadline_s=2", "mecs.cpu_hz=[2e9, 2e9]")
    run_scenario(scenario, out, schedulers=specs("local", "greedy", "optimal"), channels=True)
    assert len(seen) > 3 * 15  # one commit per epoch, and one at each scheduler's end
    assert all(problems == [] for _, _, problems, _ in seen)
    # complete only in the commit that puts the scheduler's last part in place
    ends = [(name, flags) for name, complete, _, flags in seen if complete]
    assert [name for name, _ in ends] == ["local", "greedy", "optimal"]
    assert ends[0][1] == {"local": True, "greedy": False, "optimal": False}
    assert seen[0][3] == dict.fromkeys(("local", "greedy", "optimal"), False)
    summary = json.loads((out / "summary.json").read_text())["schedulers"]
    assert {k: v["index"] for k, v in summary.items()} == {"local": 0, "greedy": 1,
                                                            "optimal": 2}
    parts = sorted(p.name for p in (out / "tasks.parquet").iterdir())
    assert sum(n.startswith("part-001-") for n in parts) == summary["greedy"]["parts"]["tasks"]
    assert list(complete_schedulers(out)) == ["local", "greedy", "optimal"]  # run order


def test_the_offload_share_counts_the_slot_rows_on_disk(tiny, tmp_path, monkeypatch):
    """``offload_share``: offloaded over placed tasks of the slot rows the summary counts."""
    monkeypatch.setenv("MECSIM_FLUSH_S", "0.001")  # a commit at every epoch
    out = tmp_path / "run"
    seen = []
    commit = runner.RunFiles.commit

    def commit_and_check(self, result=None, sim=None, complete=False):
        commit(self, result, sim, complete)
        if result is None or not result.slots:
            return
        entry = json.loads((out / "summary.json").read_text())["schedulers"][result.name]
        rows = pd.read_parquet(out / "slots.parquet")
        rows = rows[rows.scheduler == result.name]
        assert len(rows) == entry["slots"]
        expect = rows.offloaded.sum() / rows.tasks.sum()
        assert entry["offload_share"] == pytest.approx(expect, abs=1e-12)
        seen.append((result.name, entry["offload_share"]))

    monkeypatch.setattr(runner.RunFiles, "commit", commit_and_check)
    scenario = tiny("slots=8", "tasks.arrival={process: poisson, rate_per_s: 1.5}")
    run_scenario(scenario, out, schedulers=specs("local", "greedy", "random"), channels=False)
    final = {name: share for name, share in seen}
    assert final["local"] == 0.0 and final["greedy"] == 1.0  # tiny's MECs are never full
    assert 0.0 < final["random"] < 1.0
    assert len(seen) > 3 * 8


@pytest.mark.parametrize("twice", [False, True])
def test_ctrl_c_during_a_commit_waits_for_its_end(tiny, tmp_path, monkeypatch, twice):
    # One or two Ctrl-C arrive while a commit renames its parts: they are held until the
    # summary is in place too, then act (the first at the next epoch, the second at once).
    monkeypatch.setenv("MECSIM_FLUSH_S", "0.001")
    out = tmp_path / "run"
    commit = TableWriter.commit
    calls = []

    def commit_with_signals(self, staged):
        calls.append(staged.path.name)
        if len(calls) == 12:
            os.kill(os.getpid(), signal.SIGINT)
            if twice:
                os.kill(os.getpid(), signal.SIGINT)
        commit(self, staged)

    monkeypatch.setattr(TableWriter, "commit", commit_with_signals)
    with pytest.raises(KeyboardInterrupt):
        run_scenario(tiny("slots=40"), out, schedulers=specs("greedy", "local"))
    assert check_run_folder(out) == []
    summary = json.loads((out / "summary.json").read_text())["schedulers"]
    assert summary["greedy"]["complete"] is False and 3 <= summary["greedy"]["slots"] < 40
    assert summary["local"]["slots"] == 0
    assert not list(out.rglob(".*"))  # no temporary left


# --------------------------------------------------------------------------- resume


def _tables(out: Path) -> dict[str, pd.DataFrame]:
    keys = {"tasks": ["scheduler", "task_id"], "slots": ["scheduler", "slot"],
            "channels": ["slot", "iotd", "mec"], "positions": ["slot", "iotd"]}
    tables = {}
    for name, key in keys.items():
        if (out / f"{name}.parquet").exists():
            frame = pd.read_parquet(out / f"{name}.parquet").drop(columns=["decision_s"],
                                                                 errors="ignore")
            tables[name] = frame.sort_values(key).reset_index(drop=True)
    return tables


def _summary_without_wall_clock(out: Path) -> dict:
    summary = json.loads((out / "summary.json").read_text())
    for entry in summary["schedulers"].values():
        for name in WALL_FIELDS:
            entry.pop(name)
    return summary


def assert_same_run(mine: Path, reference: Path) -> None:
    assert check_run_folder(mine) == []
    a, b = _tables(mine), _tables(reference)
    assert set(a) == set(b)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)
    assert _summary_without_wall_clock(mine) == _summary_without_wall_clock(reference)


def test_resume_after_an_interrupt_gives_the_uninterrupted_run(tiny, tmp_path, monkeypatch):
    scenario = tiny("slots=40", "tasks.arrival={process: poisson, rate_per_s: 1.5}",
                    "tasks.deadline_s=2", "mecs.cpu_hz=[2e9, 2e9]")
    names = specs("local", "greedy", "optimal")
    reference = tmp_path / "reference"
    run_scenario(scenario, reference, schedulers=names, channels=True)

    record = Simulation._slot_record

    def record_then_signal(self, world, *args):
        record(self, world, *args)
        if self.name == "greedy" and world.slot == 25:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(Simulation, "_slot_record", record_then_signal)
    out = tmp_path / "run"
    with pytest.raises(Interrupted):
        run_scenario(scenario, out, schedulers=names, channels=True)
    monkeypatch.setattr(Simulation, "_slot_record", record)
    stopped = json.loads((out / "summary.json").read_text())["schedulers"]
    assert [stopped[n]["complete"] for n in ("local", "greedy", "optimal")] == [
        True, False, False]
    assert stopped["greedy"]["slots"] == 26
    local_parts = sorted((out / "tasks.parquet").glob("part-000-*"))
    mtimes = [p.stat().st_mtime_ns for p in local_parts]

    results = run_scenario(scenario, out, schedulers=names, channels=True, resume=True)
    assert all(r.complete for r in results)
    assert [p.stat().st_mtime_ns for p in local_parts] == mtimes  # kept, not rewritten
    assert_same_run(out, reference)
    # a second resume has nothing to do
    run_scenario(scenario, out, schedulers=names, channels=True, resume=True)
    assert [p.stat().st_mtime_ns for p in local_parts] == mtimes
    assert_same_run(out, reference)


def mecsim_env(flush_s: str | None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    if flush_s is not None:
        env["MECSIM_FLUSH_S"] = flush_s
    return env


def start_run(out: Path, flush_s: str | None = "0.05", slots: int = 300,
              workers: str = "2") -> subprocess.Popen:
    """``mecsim run`` of tiny in a subprocess; ``workers``: ``--workers`` (2: worker processes
    even where ``auto`` would run a run this short in one process)."""
    args = ("--slots", str(slots), *RUN_ARGS[2:], "--workers", workers)
    return subprocess.Popen([sys.executable, "-m", "mecsim", "run", TINY, "--out", str(out),
                             *args], cwd=ROOT, env=mecsim_env(flush_s),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_until(predicate, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _complete(out: Path, label: str) -> bool:
    try:
        summary = json.loads((out / "summary.json").read_text())
    except (OSError, ValueError):
        return False
    return (summary["schedulers"].get(label) or {}).get("complete") is True


def test_resume_after_kill_9_gives_the_uninterrupted_run(tiny, tmp_path):
    reference = tmp_path / "reference"
    run_scenario(tiny("slots=150"), reference, channels=True)
    out = tmp_path / "run"
    proc = start_run(out, slots=150, workers="1")  # one after the other: test_engine_workers
    wait_until(lambda: _complete(out, "local") or proc.poll() is not None)
    time.sleep(0.3)  # into random's or greedy's run (each takes about 0.4 s)
    proc.kill()
    proc.wait()
    assert check_run_folder(out) == []
    before = complete_schedulers(out)
    assert "local" in before and len(before) < 4
    resumed = subprocess.run([sys.executable, "-m", "mecsim", "run", TINY, "--resume", str(out),
                              "--slots", "150", *RUN_ARGS[2:]], cwd=ROOT, env=mecsim_env(None),
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {out}: kept {', '.join(before)} (complete)" in resumed.stderr
    assert_same_run(out, reference)


# --------------------------------------------------------------------------- kill -9


def kill_when_due(runs: list[dict], poll_s: float) -> None:
    """SIGKILL each run ``delay`` seconds after its ``summary.json`` appears, if still running.

    ``runs`` holds dicts with ``out`` (its folder), ``proc`` (a ``Popen``), ``delay`` [s] and
    ``at`` (None); returns once every process has ended. Also used by
    ``benchmarks/bench_kill.py``.
    """
    while any(r["proc"].returncode is None for r in runs):
        now = time.monotonic()
        for r in runs:
            if r["at"] is None and (r["out"] / "summary.json").exists():
                r["at"] = now + r["delay"]
            if r["proc"].poll() is None and r["at"] is not None and now >= r["at"]:
                r["proc"].kill()
                r["proc"].wait()
        time.sleep(poll_s)


def kill_at_random_moments(tmp_path: Path, kills: int, seed: int) -> list[str]:
    """SIGKILL ``kills`` runs at random moments, four at a time; every folder's problems.

    A run is killed a random 0-3.5 s after its ``summary.json`` appears (the run itself
    takes about 3 s, four sharing two cores), its commits every 0.05 s, 0.3 s or 2 s.
    """
    rng = random.Random(seed)
    problems = []
    for first in range(0, kills, 4):
        runs = []
        for k in range(first, min(first + 4, kills)):
            out = tmp_path / f"kill{k}"
            proc = start_run(out, rng.choice(["0.05", "0.3", None]), slots=150)
            runs.append({"out": out, "proc": proc, "delay": rng.uniform(0.0, 3.5), "at": None})
        kill_when_due(runs, poll_s=0.005)
        for r in runs:
            assert (r["out"] / "summary.json").exists()
            problems += [f"{r['out'].name}: {p}" for p in check_run_folder(r["out"])]
    return problems


def test_kill_9_leaves_readable_files_that_the_summary_counts(tmp_path):
    assert kill_at_random_moments(tmp_path, kills=8, seed=1) == []


@pytest.mark.slow
def test_kill_9_many_times(tmp_path):
    assert kill_at_random_moments(tmp_path, kills=40, seed=2) == []


def test_two_ctrl_c_5_ms_apart_leave_consistent_files(tmp_path):
    rng = random.Random(3)
    runs = [{"out": tmp_path / f"run{k}", "delay": rng.uniform(0.0, 2.5), "at": None}
            for k in range(3)]
    for r in runs:
        r["proc"] = start_run(r["out"])
    while any(r["proc"].poll() is None for r in runs):
        now = time.monotonic()
        for r in runs:
            if r["at"] is None and (r["out"] / "summary.json").exists():
                r["at"] = now + r["delay"]
            if r["proc"].poll() is None and r["at"] is not None and now >= r["at"] > 0:
                r["proc"].send_signal(signal.SIGINT)
                time.sleep(0.005)
                r["proc"].send_signal(signal.SIGINT)
                r["at"] = -1.0  # sent
        time.sleep(0.002)
    for r in runs:
        err = r["proc"].stderr.read()
        # 130; -SIGINT when the second signal comes as the process exits
        assert r["proc"].returncode in (0, 130, -signal.SIGINT), err
        assert "Traceback" not in err, err
        assert check_run_folder(r["out"]) == [], r["out"].name
        assert not list(r["out"].rglob(".*"))


def test_a_ctrl_c_during_shutdown_prints_no_traceback():
    """Reproduces CI's flake: the second Ctrl-C landed in the interpreter's exit hooks."""
    script = (
        "import atexit, os, signal, time\n"
        "import mecsim.cli as cli\n"
        "cli.main = lambda argv=None: 0\n"
        "def late_ctrl_c():\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(0.05)\n"
        "atexit.register(late_ctrl_c)\n"
        "raise SystemExit(cli.console_main())\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert "KeyboardInterrupt" not in done.stderr, done.stderr
