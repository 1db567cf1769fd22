"""Issue 10, "bad input": thousands of mutated scenarios through ``validate`` and ``run``.

Each case mutates a shipped scenario (``scenarios/*.yaml``) with one or two ``--set``
overrides or corrupts a copy of the file (``tests/test_fuzz.py``'s mutations: wrong types,
huge, tiny, negative, NaN and infinite numbers, integers too large for a float, unit-like
strings, lists for scalars, unknown keys, markup, deleted keys, cut or damaged text). Every
case runs in a forked child process: ``validate`` in-process (``mecsim.cli.main``), then,
when it is accepted, a 2-slot ``run`` with a timeout; the parent kills a child that
overruns. The issue's specific cases run first, by name.

Printed figures (targets in brackets):

- cases, and the exit codes of ``validate`` and of the runs;
- **tracebacks** [0]: an exception escaping ``main`` (or a child that died);
- **hangs** [0]: a ``validate`` over 30 s, or a run killed at its timeout although the
  preflight estimated it within half the timeout (a run the preflight expects to be longer
  is not started, and counted as "not run: estimated too long");
- **wrongly accepted** [0]: an accepted case (``validate`` 0) with a mutated value that is
  physically impossible or outside its documented range (``tests/test_fuzz.impossible``:
  not finite, faster than light, a gain above 1 at 1 m, over 100 dB, a CPU under 1 Hz, a
  probability above 1, or outside ``mecsim.config.RANGES``);
- **unclear messages** [0]: an exit-2 whose stderr has a line that is not an ``error:``
  line naming a mutated key;
- **failed runs** and **blamed on a scheduler** [0]: an accepted case whose run exits 1
  (with ``scheduler`` in its message), or exits 0 with a scheduler incomplete or a
  non-finite model cost ("nonsense results");
- the preflight's accuracy: measured wall time over the estimate, for the runs.

Usage::

    python benchmarks/bench_fuzz.py                    # 3,000 cases, 2 workers
    python benchmarks/bench_fuzz.py --cases 300 --seed 1 --timeout 60 --workers 2
    python benchmarks/bench_fuzz.py --calibrate        # the preflight against measured runs

It exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import multiprocessing as mp
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mecsim.config import load_scenario  # noqa: E402
from mecsim.preflight import estimate  # noqa: E402
from tests.test_fuzz import (  # noqa: E402
    ISSUE_CASES,
    NASTY,
    PATHS,
    RESOLVED,
    SHIPPED,
    Case,
    call,
    effective,
    impossible,
    leaf_paths,
    mild,
    names_key,
    value_at,
)

VALIDATE_LIMIT_S = 30.0


# --------------------------------------------------------------------------- cases


def _text(value: Any) -> str:
    import yaml

    if isinstance(value, float):
        return repr(value)
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix(
        "\n...").strip()


def _value(rng: random.Random, current: Any) -> str:
    kind = rng.choice(["nasty", "nasty", "mild", "mild", "mild", "mild", "mild", "scale",
                       "float", "int", "list", "text"])
    if kind == "mild" and mild(current, 0) is not None:
        return mild(current, rng.randint(0, 100))
    if kind == "scale" and isinstance(current, (int, float)) and not isinstance(current, bool):
        return _text(float(current) * rng.choice([-1.0, 0.0, 1e-30, 1e-9, 1e-3, 0.5, 2.0, 1e3,
                                                  1e9, 1e30, 1e300]))
    if kind == "float":
        return _text(rng.choice([math.nan, math.inf, -math.inf, 0.0])
                     if rng.random() < 0.2 else 10.0 ** rng.uniform(-320, 308)
                     * rng.choice([1, -1]))
    if kind == "int":
        return str(rng.randint(-10**40, 10**40) // 10 ** rng.randint(0, 39))
    if kind == "list":
        return f"[{_text(current)}, {_text(current)}]"
    if kind == "text":
        return _text("".join(rng.choice("ab1 .:-[]{}\n\\é\x00") for _ in range(rng.randint(0, 12))))
    return rng.choice(NASTY)


def set_case(rng: random.Random) -> Case:
    """One or two ``--set`` mutations of a shipped scenario."""
    from mecsim.config import _parse_yaml

    scenario = rng.choice(SHIPPED)
    case = Case(scenario)
    for _ in range(rng.randint(1, 2)):
        path = rng.choice(PATHS[scenario])
        if rng.random() < 0.1:
            path += "." + rng.choice(["zzz", "cuont", "value", "0", "x y"])
        text = _value(rng, value_at(RESOLVED[scenario], path))
        case.sets.append(f"{path}={text}")
        case.paths.append(path)
        try:
            case.values.append(_parse_yaml(text))
        except ValueError:
            case.values.append(text)
    return case


def file_case(rng: random.Random) -> Case:
    """A corrupted copy of a shipped scenario."""
    import yaml

    from mecsim.config import _parse_yaml

    scenario = rng.choice(SHIPPED)
    text = scenario.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    kind = rng.choice(["delete", "replace", "replace", "top", "cut", "junk"])
    case = Case(scenario)
    if kind in ("delete", "replace"):
        path = rng.choice(leaf_paths(data))
        parent = value_at(data, path.rpartition(".")[0]) if "." in path else data
        key: Any = path.rpartition(".")[2]
        if isinstance(parent, list):
            key = int(key)
        if kind == "delete":
            del parent[key]
        else:
            text = _value(rng, parent[key])
            try:
                parent[key] = _parse_yaml(text)
            except ValueError:  # not YAML: the text itself, as a string
                parent[key] = text
            case.paths.append(path)
            case.values.append(parent[key])
        case.file_text = yaml.safe_dump(data, sort_keys=False)
    elif kind == "top":
        case.file_text = rng.choice(["", "[]", "- a\n- b\n", "42\n", "{1: 2}\n", "~\n"])
    elif kind == "cut":
        case.file_text = text[: rng.randint(0, len(text))]
    else:
        at = rng.randint(0, len(text))
        junk = "".join(rng.choice("ab1 :-[]{}\n\t\"'&*!|>%@`\x00é") for _ in range(8))
        case.file_text = text[:at] + junk + text[at:]
    return case


def issue_cases() -> list[tuple[str, Case]]:
    """The issue's specific cases, by name."""
    out = []
    for name, sets, key in ISSUE_CASES:
        path = ROOT / "scenarios" / f"{name}.yaml"
        out.append((f"{name}: {' '.join(sets)[:60]}",
                    Case(path, sets=list(sets), paths=[key], values=[None] * 1)))
    return out


# --------------------------------------------------------------------------- one case


def _child(case: Case, timeout_s: float, conn) -> None:
    """Validate, then run an accepted case for 2 slots; report each phase on ``conn``."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        result = call(case.argv("validate", folder))
        expected = None
        if result.rc == 0:
            argv = case.argv("run", folder)
            sets = [s.removeprefix("--set=") for s in argv[2:]]
            expected = estimate(load_scenario(argv[1], sets + ["slots=2"])).seconds
        conn.send(("validate", result.rc, result.err, expected))
        if result.rc != 0 or expected is None or expected > timeout_s / 2:
            return
        started = time.perf_counter()
        run = call(argv + ["--slots", "2", "--quiet", "--out", str(folder / "run")])
        wall = time.perf_counter() - started
        conn.send(("run", run.rc, run.err, wall, _nonsense(folder / "run")))


def _nonsense(folder: Path) -> str | None:
    try:
        summary = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return "no summary.json"
    for name, figures in summary.get("schedulers", {}).items():
        if figures.get("complete") is not True:
            return f"{name} incomplete"
        counts = figures.get("counts", {})
        cost = figures.get("mean_cost_per_slot")
        if counts.get("generated", 0) > counts.get("dropped", 0) and (
                cost is None or not math.isfinite(cost)):
            return f"{name}: model cost {cost}"
    return None


class Tally:
    """The counts the benchmark prints."""

    def __init__(self) -> None:
        self.cases = 0
        self.validate_rc: collections.Counter = collections.Counter()
        self.run_rc: collections.Counter = collections.Counter()
        self.tracebacks: list[str] = []
        self.hangs: list[str] = []
        self.wrongly_accepted: list[str] = []
        self.unclear: list[str] = []
        self.failed_runs: list[str] = []
        self.blamed: list[str] = []
        self.nonsense: list[str] = []
        self.not_run_long = 0
        self.ratios: list[float] = []

    def validated(self, label: str, case: Case, rc, err: str) -> None:
        self.cases += 1
        self.validate_rc[rc] += 1
        if rc is None or "Traceback" in err:
            self.tracebacks.append(f"{label}: validate: {err.strip()[-300:]}")
            return
        if rc == 2:
            lines = [line for line in err.strip().splitlines()]
            bad = [line for line in lines if not line.startswith("error: ")
                   or (case.paths and not line.rstrip().endswith("more")
                       and not any(names_key(line, p) for p in case.paths))]
            if bad or not lines:
                self.unclear.append(f"{label}: {bad[:1] or 'no message'}")
        elif rc == 0:
            for path, value in effective(case):
                why = impossible(path, value)
                if why:
                    self.wrongly_accepted.append(f"{label}: {path}={value!r}: {why}")
        else:
            self.tracebacks.append(f"{label}: validate exited {rc}: {err.strip()[-300:]}")

    def ran(self, label: str, rc, err: str, wall: float, expected: float,
            nonsense: str | None) -> None:
        self.run_rc[rc] += 1
        self.ratios.append(wall / max(expected, 1e-9))
        if rc is None or "Traceback" in err:
            self.tracebacks.append(f"{label}: run: {err.strip()[-300:]}")
        elif rc != 0:
            self.failed_runs.append(f"{label}: run exited {rc}: {err.strip()[-300:]}")
            if "scheduler" in err:
                self.blamed.append(f"{label}: {err.strip()[-300:]}")
        elif nonsense:
            self.nonsense.append(f"{label}: {nonsense}")


def run_cases(cases: list[tuple[str, Case]], workers: int, timeout_s: float,
              tally: Tally) -> None:
    """Run every case in forked children, ``workers`` at a time, with timeouts."""
    ctx = mp.get_context("fork")
    pending = list(cases)
    active: dict = {}  # conn -> [label, case, process, phase, deadline, expected]
    while pending or active:
        while pending and len(active) < workers:
            label, case = pending.pop(0)
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(case, timeout_s, child), daemon=True)
            proc.start()
            child.close()
            active[parent] = [label, case, proc, "validate",
                              time.monotonic() + VALIDATE_LIMIT_S, None]
        ready = mp.connection.wait(list(active), timeout=0.5)
        now = time.monotonic()
        for conn in list(active):
            label, case, proc, phase, deadline, expected = active[conn]
            if conn in ready:
                try:
                    message = conn.recv()
                except EOFError:  # the child ended
                    proc.join(5)
                    if phase == "validate" or (phase == "run" and proc.exitcode not in (0,)):
                        tally.tracebacks.append(f"{label}: child died in {phase} "
                                                f"(exit {proc.exitcode})")
                        if phase == "validate":
                            tally.cases += 1
                    del active[conn]
                    continue
                if message[0] == "validate":
                    _, rc, err, expected = message
                    tally.validated(label, case, rc, err)
                    if rc == 0 and expected is not None and expected > timeout_s / 2:
                        tally.not_run_long += 1
                    active[conn][3:6] = ["run", time.monotonic() + timeout_s, expected]
                else:
                    _, rc, err, wall, nonsense = message
                    tally.ran(label, rc, err, wall, expected, nonsense)
                    active[conn][3] = "done"
            elif now > deadline and phase in ("validate", "run"):
                proc.kill()
                proc.join(5)
                tally.hangs.append(f"{label}: {phase} over "
                                   f"{VALIDATE_LIMIT_S if phase == 'validate' else timeout_s:.0f}"
                                   f" s (estimated {expected})")
                if phase == "validate":
                    tally.cases += 1
                del active[conn]


# --------------------------------------------------------------------------- report


def report(tally: Tally, wall_s: float, named: dict[str, str]) -> bool:
    ratios = sorted(tally.ratios)
    refused = sum(outcome.startswith("exit 2:") for outcome in named.values())
    rows = [
        ("cases", tally.cases, None),
        ("the issue's cases refused (exit 2)", refused, len(named)),
        ("validate exit codes", dict(sorted(tally.validate_rc.items(), key=str)), None),
        ("runs (2 slots) exit codes", dict(sorted(tally.run_rc.items(), key=str)), None),
        ("not run: estimated over half the timeout", tally.not_run_long, None),
        ("tracebacks", len(tally.tracebacks), 0),
        ("hangs", len(tally.hangs), 0),
        ("wrongly accepted", len(tally.wrongly_accepted), 0),
        ("unclear messages", len(tally.unclear), 0),
        ("failed runs (exit 1)", len(tally.failed_runs), 0),
        ("blamed on a scheduler", len(tally.blamed), 0),
        ("nonsense results", len(tally.nonsense), 0),
    ]
    if ratios:
        rows.append(("run time / estimate: median, max",
                     f"{statistics.median(ratios):.2f}, {ratios[-1]:.2f}", None))
    ok = True
    print(f"\n## bench_fuzz: {tally.cases} cases in {wall_s:.0f} s\n")
    print("| figure | value | target | |\n| --- | --- | --- | --- |")
    for name, value, target in rows:
        verdict = "" if target is None else ("PASS" if value == target else "FAIL")
        ok &= verdict != "FAIL"
        print(f"| {name} | {value} | {'' if target is None else target} | {verdict} |")
    print("\n### The issue's cases\n\n| case | outcome |\n| --- | --- |")
    for label, outcome in named.items():
        print(f"| `{label}` | {outcome} |")
    for title, items in (("tracebacks", tally.tracebacks), ("hangs", tally.hangs),
                         ("wrongly accepted", tally.wrongly_accepted),
                         ("unclear messages", tally.unclear),
                         ("failed runs", tally.failed_runs), ("nonsense", tally.nonsense)):
        if items:
            print(f"\n### {title} (first 10)\n")
            for item in items[:10]:
                print(f"- {' '.join(item.split())[:400]}")
    return ok


def named_outcomes(cases: list[tuple[str, Case]]) -> dict[str, str]:
    """Validate each named case in this process; its exit code and first line."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, case in cases:
            result = call(case.argv("validate", Path(tmp)))
            first = (result.err.strip().splitlines() or [""])[0]
            out[label] = f"exit {result.rc}: {first[:160]}"
    return out


# --------------------------------------------------------------------------- calibration


_PROBE = """
import json, resource, sys, tempfile, time
from mecsim.config import SchedulerSpec, load_scenario
from mecsim.engine.runner import run_scenario
from mecsim.preflight import estimate
from mecsim.registry import make
sets, name = json.loads(sys.argv[1]), sys.argv[2]
s = load_scenario("scenarios/paper.yaml", sets)
make(name)
specs = [SchedulerSpec(name=name)]
e = estimate(s, specs)
t = time.perf_counter()
with tempfile.TemporaryDirectory() as d:
    run_scenario(s, d, schedulers=specs, channels=False)
wall = time.perf_counter() - t + 1.5
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps([wall, peak, e.seconds, e.memory_bytes]))
"""

_QUIET = "tasks.arrival={process: poisson, rate_per_s: 1e-6}"
CALIBRATION = [  # (what it scales, scheduler, --set items)
    ("tasks: 1e5 per slot", "local", ["iotds.count=100000", "mecs.count=1", "slots=3"]),
    ("links: 3e6, AR(1)", "local", ["iotds.count=3000", "mecs.count=1000", _QUIET, "slots=3"]),
    ("links: 1e6, SoS Q=32", "local", ["iotds.count=1000", "mecs.count=1000", _QUIET,
                                       "channel.fading.rho=jakes",
                                       "channel.fading.sinusoids=32", "slots=3"]),
    ("steps: 100, shadowing", "local", ["iotds.count=1000", "mecs.count=100", _QUIET,
                                        "channel.fading.step_s=0.01",
                                        "channel.fading.shadowing_std_db=4", "slots=3"]),
    ("slots: 20,000", "local", ["iotds.count=1", "mecs.count=1", _QUIET, "slots=20000"]),
    ("waypoint legs", "local", ["iotds.count=1000", "mecs.count=1", _QUIET, "area_m=[2, 2]",
                                "iotds.mobility={model: random_waypoint, "
                                "speed_range_mps: [500, 1000]}", "slots=2"]),
    ("optimal: assignment 8000", "optimal", ["iotds.count=8000", "slots=2"]),
    ("optimal: local search 2000", "optimal",
     ["iotds.count=2000", "mecs.count=4", "mecs.cpu_hz=25e9",
      "tasks.cycles={dist: uniform, low: 0.5e9, high: 1.5e9}", "slots=2"]),
    ("dirs: 4000 tasks", "dirs", ["iotds.count=4000", "mecs.count=4", "mecs.cpu_hz=25e9",
                                  "slots=3"]),
]


def calibrate() -> None:
    """Run each calibration case in a fresh interpreter; print measured against estimated."""
    print("| case | wall s | estimated s | peak MiB | estimated MiB |\n| --- | --- | --- | --- "
          "| --- |")
    for label, name, sets in CALIBRATION:
        proc = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(sets), name],
                              capture_output=True, text=True, cwd=ROOT, timeout=1800)
        if proc.returncode != 0:
            print(f"| {label} | failed: {proc.stderr.strip().splitlines()[-1:]} | | | |")
            continue
        wall, peak, est_s, est_b = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"| {label} | {wall:.1f} | {est_s:.1f} | {peak / 2**20:.0f} | "
              f"{est_b / 2**20:.0f} |")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60.0, help="per run [s]")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--files", type=float, default=0.15,
                        help="share of cases that corrupt the file instead of --set")
    parser.add_argument("--calibrate", action="store_true")
    args = parser.parse_args(argv)
    if args.calibrate:
        calibrate()
        return 0
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    rng = random.Random(args.seed)
    named = issue_cases()
    cases = named + [(f"case {k} (seed {args.seed})",
                      file_case(rng) if rng.random() < args.files else set_case(rng))
                     for k in range(args.cases)]
    tally = Tally()
    started = time.perf_counter()
    run_cases(cases, args.workers, args.timeout, tally)
    ok = report(tally, time.perf_counter() - started, named_outcomes(named))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
