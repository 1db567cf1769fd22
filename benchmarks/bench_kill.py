"""Issue 10: a run killed with SIGKILL at random moments leaves whole, consistent files.

Runs ``python -m mecsim run scenarios/dense_100.yaml --slots 400 --scheduler greedy
--scheduler optimal`` to the end (the reference: ``--jobs`` identical runs at a time, which
must agree), then starts it ``--kills`` more times, ``--jobs`` at a time, and SIGKILLs each
one at a random moment (uniform over a whole run's length, counted from the moment its
``summary.json`` appears). For every killed folder it checks:

- every file a reader sees is readable: each part of each table, ``summary.json``,
  ``scenario.yaml``, and each table read whole as ``pandas.read_parquet(FOLDER)`` does;
- for every scheduler in ``summary.json`` (complete or not), the task rows on disk equal
  its counters (``generated``, and ``completed``, ``dropped``, ``in_flight`` by status) and
  its slot rows its ``slots``;

then finishes ``--resumes`` of the killed folders with ``--resume`` and compares them with
the reference: the tables (sorted; ``decision_s`` left out) and ``summary.json`` (wall-clock
fields left out).

This is not a test: it prints the figures and exits 1 if any check fails.

Usage::

    python benchmarks/bench_kill.py                 # 50 kills, 5 resumes: about 12 min on 2 cores
    python benchmarks/bench_kill.py --kills 6 --resumes 2 --slots 100   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mecsim.engine.records import STATUS, TABLES, read_table, table_path  # noqa: E402
from mecsim.sweep.run import WALL_FIELDS  # noqa: E402
from tests.test_results_folder import kill_when_due  # noqa: E402

SCENARIO = ROOT / "scenarios" / "dense_100.yaml"
SORT_KEYS = {"tasks": ["scheduler", "task_id"], "slots": ["scheduler", "slot"],
             "channels": ["slot", "iotd", "mec"], "positions": ["slot", "iotd"]}


def command(out: Path, slots: int, resume: bool = False) -> list[str]:
    return [sys.executable, "-m", "mecsim", "run", str(SCENARIO), "--slots", str(slots),
            "--scheduler", "greedy", "--scheduler", "optimal", "--quiet",
            "--resume" if resume else "--out", str(out)]


def start(out: Path, slots: int) -> subprocess.Popen:
    return subprocess.Popen(command(out, slots), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def reference_runs(folders: list[Path], slots: int) -> float:
    """Run to the end, all at once; the mean seconds from ``summary.json`` to the exit."""
    procs = [start(out, slots) for out in folders]
    began: dict[Path, float] = {}
    ended: dict[Path, float] = {}
    while len(ended) < len(procs):
        for out, proc in zip(folders, procs, strict=True):
            if out not in began and (out / "summary.json").exists():
                began[out] = time.monotonic()
            if out not in ended and proc.poll() is not None:
                if proc.returncode != 0:
                    sys.exit(f"a reference run failed (exit {proc.returncode})")
                ended[out] = time.monotonic()
        time.sleep(0.005)
    return sum(ended[f] - began[f] for f in folders) / len(folders)


def kill_all(folders: list[Path], slots: int, length_s: float, jobs: int,
             rng: random.Random) -> list[float]:
    """Start a run per folder, ``jobs`` at a time, and SIGKILL each at a random moment."""
    delays = []
    for first in range(0, len(folders), jobs):
        runs = []
        for out in folders[first:first + jobs]:
            delay = rng.uniform(0.0, length_s)
            runs.append({"out": out, "proc": start(out, slots), "delay": delay, "at": None})
            delays.append(delay)
        kill_when_due(runs, poll_s=0.002)
    return delays


def audit(out: Path) -> dict:
    """Files and readable files, tables readable whole, schedulers whose rows match."""
    files = readable = tables = whole = 0
    frames = {}
    for table in TABLES:
        folder = table_path(out, table)
        if not folder.is_dir():
            continue
        for part in folder.iterdir():
            if part.name.startswith((".", "_")):  # temporaries: readers skip them
                continue
            files += 1
            try:
                pq.read_metadata(part)
                readable += 1
            except Exception:  # noqa: BLE001
                pass
        tables += 1
        try:
            frames[table] = pd.read_parquet(folder)
            whole += 1
        except Exception:  # noqa: BLE001
            pass
    summary = None
    for name, load in (("summary.json", json.loads), ("scenario.yaml", yaml.safe_load)):
        if (out / name).exists():
            files += 1
            try:
                data = load((out / name).read_text())
                readable += 1
                summary = data if name == "summary.json" else summary
            except Exception:  # noqa: BLE001
                pass
    listed = matched = complete = 0
    for label, entry in ((summary or {}).get("schedulers") or {}).items():
        listed += 1
        complete += entry.get("complete") is True
        matched += _rows_match(label, entry, frames.get("tasks"), frames.get("slots"))
    return {"files": files, "readable": readable, "tables": tables, "whole": whole,
            "listed": listed, "matched": matched, "complete": complete,
            "temporaries": len(list(out.rglob(".*")))}


def _rows_match(label: str, entry: dict, tasks, slots) -> bool:
    counts = entry.get("counts") or {}
    mine = tasks[tasks.scheduler == label] if tasks is not None and len(tasks) else None
    status = mine.status.value_counts().to_dict() if mine is not None else {}
    rows = {"generated": 0 if mine is None else len(mine),
            **{s: int(status.get(s, 0)) for s in STATUS}}
    n_slots = int((slots.scheduler == label).sum()) if slots is not None and len(slots) else 0
    return {k: counts.get(k, 0) for k in rows} == rows and entry.get("slots", 0) == n_slots


def same_run(mine: Path, reference: Path) -> list[str]:
    """Where a resumed folder differs from the reference (empty: identical)."""
    diffs = []
    for table, keys in SORT_KEYS.items():
        a, b = (table_path(f, table) for f in (mine, reference))
        if a.exists() != b.exists():
            diffs.append(f"{table}: present in one folder only")
            continue
        if not a.exists():
            continue
        frames = [read_table(f).to_pandas().drop(columns=["decision_s"], errors="ignore")
                  .sort_values(keys).reset_index(drop=True) for f in (a, b)]
        if not frames[0].equals(frames[1]):
            diffs.append(f"{table}: rows differ")
    summaries = []
    for folder in (mine, reference):
        summary = json.loads((folder / "summary.json").read_text())
        for entry in summary["schedulers"].values():
            for name in WALL_FIELDS:
                entry.pop(name, None)
        summaries.append(summary)
    if summaries[0] != summaries[1]:
        diffs.append("summary.json differs")
    return diffs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--resumes", type=int, default=5, help="killed folders to resume")
    parser.add_argument("--slots", type=int, default=400)
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", help="keep the folders here (default: a temporary folder)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    root = Path(args.keep or tempfile.mkdtemp(prefix="bench_kill-"))
    root.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        references = [root / f"reference{k}" for k in range(args.jobs)]
        length_s = reference_runs(references, args.slots)  # as many at a time as the kills
        reference = references[0]
        twins = [same_run(f, reference) for f in references[1:]]
        if any(twins):
            sys.exit(f"the reference runs differ: {twins}")
        folders = [root / f"kill{k:03d}" for k in range(args.kills)]
        kill_all(folders, args.slots, length_s, args.jobs, rng)
        audits = [audit(f) for f in folders]
        unfinished = [f for f, a in zip(folders, audits, strict=True)
                      if a["complete"] < a["listed"] or not a["listed"]]
        resumed = rng.sample(unfinished, min(args.resumes, len(unfinished)))
        diffs = {}
        for out in resumed:
            proc = subprocess.run(command(out, args.slots, resume=True), cwd=ROOT,
                                  capture_output=True, text=True)
            diffs[out.name] = ([f"exit {proc.returncode}: {proc.stderr.strip()[-200:]}"]
                               if proc.returncode else same_run(out, reference))
        return report(args, length_s, audits, diffs, time.monotonic() - started)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def report(args, length_s: float, audits: list[dict], diffs: dict, seconds: float) -> int:
    total = {k: sum(a[k] for a in audits) for k in audits[0]} if audits else {}
    finished = sum(a["complete"] == a["listed"] == 2 for a in audits)
    equal = sum(not d for d in diffs.values())
    print(f"run: dense_100, {args.slots} slots, greedy and optimal; a whole run "
          f"{length_s:.1f} s from summary.json to exit ({args.jobs} at a time); "
          f"MECSIM_FLUSH_S {os.environ.get('MECSIM_FLUSH_S', 'unset (2 s)')}")
    print(f"kills: {len(audits)} (SIGKILL, {args.jobs} runs at a time, each 0-"
          f"{length_s:.0f} s after its summary.json appeared)")
    print(f"folders: {len(audits)} ({finished} had finished before the kill)")
    print(f"readable files: {total.get('readable', 0)} / {total.get('files', 0)} (parts, "
          f"summary.json, scenario.yaml); tables read whole: {total.get('whole', 0)} / "
          f"{total.get('tables', 0)}; temporaries left: {total.get('temporaries', 0)}")
    print(f"schedulers whose rows equal their counters: {total.get('matched', 0)} / "
          f"{total.get('listed', 0)} ({total.get('complete', 0)} complete)")
    print(f"resume: {equal} / {len(diffs)} resumed folders equal to the uninterrupted run")
    for name, d in diffs.items():
        if d:
            print(f"  {name}: {'; '.join(d)}")
    print(f"time: {seconds:.0f} s")
    ok = (total.get("readable") == total.get("files") and total.get("whole") ==
          total.get("tables") and total.get("matched") == total.get("listed")
          and equal == len(diffs))
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
