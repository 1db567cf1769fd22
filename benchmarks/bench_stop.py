"""How fast a first Ctrl-C or SIGTERM stops a run, wherever it is (issue 10, item 5).

Starts ``python -m mecsim run`` on cases where the run spends long stretches inside one
scheduler call, sends one SIGTERM (or SIGINT) at given moments, and prints how long the
process took to exit, its exit code, and whether its files kept the slot invariants
(``summary.json``'s slots equal the rows of ``slots.parquet``, its task counters equal the
rows of ``tasks.parquet``). The issue's case: ``dirs`` at N = 300, M = 20, whose
demonstration phase and pre-training ignored SIGTERM for about 130 s.

Run: ``python benchmarks/bench_stop.py`` (about 3 min on 2 cores) or ``--quick``.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
LIMIT_S = 5.0  # [s] target: a first signal stops the run within this

# (label, scenario, overrides, scheduler, seconds after start at which to signal)
CASES = [
    ("dirs N=300 M=20, demonstration phase", "paper.yaml",
     ["iotds.count=300", "mecs.count=20"], "dirs", (8.0, 20.0)),
    ("dirs N=300 M=20, pre-training", "paper.yaml",
     ["iotds.count=300", "mecs.count=20"], "dirs", (33.0,)),
    ("optimal, dense_100 (local search)", "dense_100.yaml", [], "optimal", (6.0,)),
]


def read_table(path: Path) -> pd.DataFrame | None:
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError):
        return None


def invariants(out: Path, label: str) -> str:
    """Whether the folder's files agree with its summary, as one word."""
    try:
        summary = json.loads((out / "summary.json").read_text())["schedulers"][label]
    except (OSError, ValueError, KeyError):
        return "no summary"
    slots = read_table(out / "slots.parquet")
    tasks = read_table(out / "tasks.parquet")
    if slots is None or tasks is None:
        return "unreadable"
    ok = (len(slots) == summary["slots"]
          and len(tasks) == summary["counts"]["generated"]
          and (tasks.status == "in_flight").sum() == summary["counts"]["in_flight"])
    return "kept" if ok else "BROKEN"


def one(case, at_s: float, signum: int, tmp: Path) -> dict:
    label, scenario, overrides, scheduler, _ = case
    out = tmp / f"{scheduler}-{at_s:g}-{signum}"
    cmd = [sys.executable, "-m", "mecsim", "run", str(ROOT / "scenarios" / scenario),
           "--scheduler", scheduler, "--slots", "3000", "--out", str(out), "--quiet"]
    for item in overrides:
        cmd += ["--set", item]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(at_s)
    sent = time.monotonic()
    proc.send_signal(signum)
    try:
        proc.wait(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    took = time.monotonic() - sent
    slots = json.loads((out / "summary.json").read_text())["schedulers"][scheduler]["slots"] \
        if (out / "summary.json").exists() else None
    return {"case": label, "signal": signal.Signals(signum).name, "at_s": at_s,
            "stop_s": round(took, 2), "exit": proc.returncode, "slots": slots,
            "files": invariants(out, scheduler), "met": took < LIMIT_S}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one signal per case")
    parser.add_argument("--json", help="write the rows to this file")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            moments = case[4][:1] if args.quick else case[4]
            for at_s in moments:
                signums = (signal.SIGTERM,) if args.quick else (signal.SIGTERM, signal.SIGINT)
                for signum in signums:
                    rows.append(one(case, at_s, signum, Path(tmp)))
                    print(rows[-1], flush=True)
    print(f"\n| case | signal | sent at [s] | stopped after [s] | exit | slots kept | files "
          f"| < {LIMIT_S:g} s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['signal']} | {r['at_s']:g} | {r['stop_s']:.2f} | "
              f"{r['exit']} | {r['slots']} | {r['files']} | {'yes' if r['met'] else 'NO'} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
