"""Fuzzing the front door: mutated scenarios and ``--set`` values through the command line.

Every case is one or two mutations of a shipped scenario (``scenarios/*.yaml``), given as
``--set`` overrides (wrong types, huge, tiny, negative, NaN and infinite numbers, integers
too large for a float, unit-like strings, lists for scalars, unknown keys, markup) or
written into a copy of the file (keys deleted, the top level replaced, the text cut or
corrupted). The oracle, for every case:

- ``validate`` exits 0 or 2, never with a traceback;
- exit 2: every stderr line is an ``error:`` line, one per problem (mostly one), each
  naming a mutated key (its path, its name, or a key path it lies under);
- exit 0: no mutated value is physically impossible or outside its documented range
  (``mecsim.config.RANGES``): such a value must be rejected ("wrongly accepted");
- for a subset of the accepted cases whose estimated time is short, a 2-slot ``run``
  exits 0 within a time limit, with every scheduler complete and a finite model cost.

The CLI is called in-process (``mecsim.cli.main``) for speed; a few checks run it as a
subprocess. The normal suite runs a few hundred cases in a few seconds;
``@pytest.mark.slow`` runs thousands. ``benchmarks/bench_fuzz.py`` runs 3,000 with
timeouts in separate processes and prints the counts.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mecsim import cli
from mecsim.config import RANGES, load_scenario, scenario_to_dict
from mecsim.config import _parse_yaml as parse_yaml

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
SPEED_OF_LIGHT_MPS = 299_792_458.0
RUN_ESTIMATE_MAX_S = 6.0  # a case is run only when the preflight expects it to be this short


# --------------------------------------------------------------------------- mutations


@dataclass
class Case:
    """A mutated scenario: the file to use and the ``--set`` items, with what was mutated."""

    scenario: Path
    sets: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # the mutated key paths
    values: list[Any] = field(default_factory=list)  # the values given (parsed YAML)
    file_text: str | None = None  # a corrupted copy of the scenario, when not None

    def argv(self, command: str, folder: Path) -> list[str]:
        path = self.scenario
        if self.file_text is not None:
            path = folder / "mutated.yaml"
            path.write_text(self.file_text, encoding="utf-8", errors="surrogateescape")
        return [command, str(path), *(f"--set={s}" for s in self.sets)]


def leaf_paths(data: Any, prefix: str = "") -> list[str]:
    """Every key path of a resolved scenario, leaves and mappings alike."""
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            out += leaf_paths(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(data, list):
        for k, value in enumerate(data):
            out += leaf_paths(value, f"{prefix}.{k}")
    return out


RESOLVED = {path: scenario_to_dict(load_scenario(path)) for path in SHIPPED}
PATHS = {path: leaf_paths(data) for path, data in RESOLVED.items()}


def value_at(data: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return None
    return data


NASTY = [
    "true", "false", "null", "~", "abc", "''", "[]", "{}", "[1, 2]", "{a: 1}", "[[1]]",
    ".nan", ".inf", "-.inf", "nan", "inf", "-inf", "1e308", "-1e308", "1e400", "-1e400",
    "1e-300", "5e-324", "-1e-300", "0", "-0.0", "-1", "1" + "0" * 30, "1" + "0" * 400,
    "-" + "9" * 40, "50 GHz", "1e9 Hz", "10 ms", "3 km", "1.5W", "100%", "5 m/s", "2**10",
    "0x10", "1_000", "+5", "1e3.5", "[/]", "[bold]x", "'\\n'", "\"a\\nb\"", "é", "x" * 300,
    "[1e30, 1e30]", "{model: teleport}", "{dist: gamma}", "{process: burst}", "-5e9",
    "[.nan, 1]", "{value: .inf}", "1e30", "1e-30", "3e8", "1e12", "1e7", "1e6", "2",
]


def _yaml_text(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)  # 'nan', 'inf', '1e+300': read back by mecsim's loader
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix(
        "\n...").strip()


#: Valid words of the scenario's choices: a mild mutation swaps one for another.
WORDS = ["rayleigh", "rician", "jakes", "static", "random_waypoint", "gauss_markov", "poisson",
         "bernoulli", "per_slot", "drop", "local", "error", "auto", "ar1", "sum_of_sinusoids",
         "uniform", "constant", "truncnormal", "choice", "greedy", "optimal", "random"]


def mild(current: Any, pick: int) -> str | None:
    """A plausible change of the current value (a nearby number, another word), or None."""
    if isinstance(current, bool):
        return _yaml_text(not current)
    if isinstance(current, int):
        return str(max(1, round(current * (0.5, 2, 1, 3)[pick % 4])))
    if isinstance(current, float):
        return _yaml_text(current * (0.1, 0.5, 0.9, 1.1, 2.0, 10.0)[pick % 6])
    if isinstance(current, str):
        return WORDS[pick % len(WORDS)]
    return None


@st.composite
def set_value(draw, current: Any) -> str:
    """A YAML text for ``--set``: nasty, mild, scaled from the current value, or arbitrary."""
    kind = draw(st.sampled_from(["nasty", "mild", "mild", "scale", "float", "int", "list",
                                 "text"]))
    if kind == "mild" and mild(current, 0) is not None:
        return mild(current, draw(st.integers(0, 100)))
    if kind == "scale" and isinstance(current, (int, float)) and not isinstance(current, bool):
        factor = draw(st.sampled_from([-1.0, 0.0, 1e-30, 1e-9, 1e-3, 0.5, 2.0, 1e3, 1e9, 1e30,
                                       1e300]))
        return _yaml_text(float(current) * factor)
    if kind == "float":
        return _yaml_text(draw(st.floats(allow_nan=True, allow_infinity=True)))
    if kind == "int":
        return str(draw(st.integers(-10**40, 10**40)))
    if kind == "list":
        return f"[{_yaml_text(current)}, {_yaml_text(current)}]"
    if kind == "text":
        return _yaml_text(draw(st.text(max_size=20)))
    return draw(st.sampled_from(NASTY))


@st.composite
def set_cases(draw) -> Case:
    """One or two ``--set`` mutations of a shipped scenario."""
    scenario = draw(st.sampled_from(SHIPPED))
    case = Case(scenario)
    for _ in range(draw(st.integers(1, 2))):
        path = draw(st.sampled_from(PATHS[scenario]))
        if draw(st.integers(0, 9)) == 0:  # an unknown key below a mapping
            path = f"{path}.{draw(st.sampled_from(['zzz', 'cuont', 'value', '0', 'x y']))}"
        text = draw(set_value(value_at(RESOLVED[scenario], path)))
        case.sets.append(f"{path}={text}")
        case.paths.append(path)
        try:
            case.values.append(parse_yaml(text))
        except ValueError:
            case.values.append(text)
    return case


@st.composite
def file_cases(draw) -> Case:
    """A corrupted copy of a shipped scenario: a key deleted or replaced, the text damaged."""
    scenario = draw(st.sampled_from(SHIPPED))
    text = scenario.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    kind = draw(st.sampled_from(["delete", "replace", "top", "cut", "junk"]))
    case = Case(scenario)
    if kind in ("delete", "replace"):
        paths = leaf_paths(data)
        path = draw(st.sampled_from(paths))
        parent = value_at(data, path.rpartition(".")[0]) if "." in path else data
        key: Any = path.rpartition(".")[2]
        if isinstance(parent, list):
            key = int(key)
        if kind == "delete":
            del parent[key]
        else:
            text = draw(set_value(parent[key]))
            try:
                value = parse_yaml(text)
            except ValueError:  # not YAML: the text itself, as a string
                value = text
            parent[key] = value
            case.paths.append(path)
            case.values.append(value)
        case.file_text = yaml.safe_dump(data, sort_keys=False)
    elif kind == "top":
        case.file_text = draw(st.sampled_from(["", "[]", "- a\n- b\n", "42\n", "name\n",
                                               "{1: 2}\n", "~\n", "!!binary aGVsbG8=\n"]))
    elif kind == "cut":
        case.file_text = text[: draw(st.integers(0, len(text)))]
    else:
        junk = draw(st.text(max_size=8))
        at = draw(st.integers(0, len(text)))
        case.file_text = text[:at] + junk + text[at:]
    return case


# --------------------------------------------------------------------------- the oracle


@dataclass
class Result:
    rc: int | None
    out: str
    err: str


class _TooLong(Exception):
    pass


def call(argv: list[str], limit_s: float | None = None) -> Result:
    """Run ``mecsim.cli.main(argv)`` in this process; a raised exception is a traceback."""
    out, err = io.StringIO(), io.StringIO()
    previous = None
    if limit_s is not None:
        def expire(signum, frame):
            raise _TooLong(f"took over {limit_s:.0f} s")
        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = cli.main(argv)
            except SystemExit as exc:  # argparse
                rc = exc.code if isinstance(exc.code, int) else 2
    except _TooLong as exc:
        return Result(None, out.getvalue(), f"{err.getvalue()}\nHANG: {exc}")
    except BaseException as exc:  # noqa: BLE001 - any escape is the failure we look for
        import traceback

        return Result(None, out.getvalue(),
                      err.getvalue() + "\nTraceback (in-process):\n" + traceback.format_exc()
                      + f"{type(exc).__name__}")
    finally:
        if limit_s is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    return Result(rc, out.getvalue(), err.getvalue())


def names_key(line: str, path: str) -> bool:
    """Whether an error line names the mutated key: its path, its name or a parent's."""
    if path in line:
        return True
    parts = path.split(".")
    keys = [p for p in parts if not p.isdigit()]
    if keys and re.search(rf"(?<![\w]){re.escape(keys[-1])}(?![\w])", line):
        return True
    for k in range(2, len(parts)):  # a list item it lies in: "failures.0"
        if parts[k - 1].isdigit() and ".".join(parts[k - 2:k]) in line:
            return True
    found = re.match(r"error: .*?: ([^\s:]+): ", line)
    if found:
        where = found.group(1)
        return path.startswith(where + ".") or where.startswith(path + ".")
    return False


def _range_key(path: str) -> str | None:
    """The ``RANGES`` key that checks the number at ``path``, if any."""
    generic = ".".join("*" if p.isdigit() else p for p in path.split("."))
    if generic in RANGES:
        return generic
    if generic == "mecs.cpu_hz":  # one number for every MEC
        return "mecs.cpu_hz.*"
    for name in ("data_bits", "cycles", "deadline_s"):
        prefix = f"tasks.{name}"
        if generic == prefix or (generic.startswith(prefix + ".")
                                 and generic.split(".")[2] in ("value", "low", "high", "std",
                                                               "mean", "values")):
            return prefix
    return None


def impossible(path: str, value: Any) -> str | None:
    """Why a number given at ``path`` must not be accepted, or None.

    Physically impossible values are checked independently of the code (not finite,
    faster than light, a gain above 1 at 1 m, over 100 dB of shadowing, a CPU slower than
    1 Hz, a probability above 1); then the documented ranges (``RANGES``).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value) if abs(value) < 1e308 or isinstance(value, float) else math.inf
    if not math.isfinite(number):
        return "not a finite number"
    leaf = path.split(".")[-1] if not path.split(".")[-1].isdigit() else path.split(".")[-2]
    if leaf.endswith("_mps") and abs(number) >= SPEED_OF_LIGHT_MPS:
        return "faster than light"
    if leaf == "beta0" and number > 1:
        return "a gain above 1 at 1 m"
    if leaf.endswith("_db") and number > 100:
        return "over 100 dB"
    if leaf == "cpu_hz" and number < 1:
        return "a CPU slower than 1 Hz"
    if leaf == "probability" and number > 1:
        return "a probability above 1"
    key = _range_key(path)
    if key is not None and not RANGES[key].contains(number):
        return f"outside the documented range {RANGES[key].text}"
    return None


def check_validate(case: Case, folder: Path) -> Result:
    """Validate a case and assert the oracle; return the result."""
    result = call(case.argv("validate", folder))
    assert "Traceback" not in result.err and "HANG" not in result.err, (case, result.err)
    assert result.rc in (0, 2), (case, result.rc, result.err)
    if result.rc == 2:
        lines = result.err.strip().splitlines()
        assert lines, case
        assert all(line.startswith(("error: ", "usage: ", "mecsim")) for line in lines), (
            case, result.err)
        problems = [line for line in lines if line.startswith("error: ")
                    and not re.search(r": \.\.\. and \d+ more$", line)]
        assert problems, (case, result.err)
        for line in problems if case.paths else ():  # one line per problem, each named
            assert any(names_key(line, p) for p in case.paths), (case, line)
    else:
        assert ": valid (" in result.out and "estimate: " in result.out, (case, result.out)
        for path, value in effective(case):
            why = impossible(path, value)
            assert why is None, f"wrongly accepted {path}={value!r}: {why} ({case})"
    return result


def effective(case: Case) -> list[tuple[str, Any]]:
    """The mutations still in force: a later one at the same key or above replaces one."""
    pairs = list(zip(case.paths, case.values, strict=True))
    return [(path, value) for k, (path, value) in enumerate(pairs)
            if not any(path == later or path.startswith(later + ".")
                       for later, _ in pairs[k + 1:])]


def check_run(case: Case, folder: Path) -> None:
    """Run an accepted case for 2 slots; assert exit 0, complete and finite model costs."""
    from mecsim.preflight import estimate

    argv = case.argv("run", folder)
    scenario = load_scenario(argv[1], [s.removeprefix("--set=") for s in argv[2:]] + ["slots=2"])
    expected = estimate(scenario).seconds
    if expected > RUN_ESTIMATE_MAX_S:
        return
    out = folder / "run"
    result = call(argv + ["--slots", "2", "--quiet", "--out", str(out)],
                  limit_s=max(60.0, 10.0 * expected))
    assert result.rc == 0, (case, result.rc, result.err[-2000:])
    assert "Traceback" not in result.err, (case, result.err)
    summary = json.loads((out / "summary.json").read_text())
    for name, figures in summary["schedulers"].items():
        assert figures["complete"] is True, (case, name)
        if figures["counts"]["generated"] > figures["counts"]["dropped"]:
            cost = figures["mean_cost_per_slot"]
            assert cost is not None and math.isfinite(cost), (case, name, cost)


def fuzz(examples: int, derandomize: bool = True) -> settings:
    """Hypothesis settings of a fuzz test: no deadline, reproducible in the normal suite."""
    return settings(deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    derandomize=derandomize, print_blob=True, max_examples=examples)


def _check(case: Case, run: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        result = check_validate(case, Path(tmp))
        if result.rc == 0 and run:
            check_run(case, Path(tmp))


# --------------------------------------------------------------------------- fast fuzzing


@fuzz(150)
@given(set_cases(), st.integers(0, 14))
def test_fuzz_set_values(case: Case, dice: int):
    _check(case, run=dice == 0)


@fuzz(40)
@given(file_cases(), st.integers(0, 14))
def test_fuzz_scenario_files(case: Case, dice: int):
    _check(case, run=dice == 0)


@pytest.mark.slow
@fuzz(600, derandomize=False)
@given(set_cases(), st.integers(0, 3))
def test_fuzz_set_values_many(case: Case, dice: int):
    _check(case, run=dice == 0)


@pytest.mark.slow
@fuzz(200, derandomize=False)
@given(file_cases(), st.integers(0, 3))
def test_fuzz_scenario_files_many(case: Case, dice: int):
    _check(case, run=dice == 0)


# --------------------------------------------------------------------------- the issue's cases


ISSUE_CASES = [  # (scenario, --set items, a key the message must name)
    ("paper", ["iotds.nu=1e308"], "iotds.nu"),
    ("paper", ["iotds.cpu_hz=1e308"], "iotds.cpu_hz"),
    ("paper", ["mecs.count=1e30"], "mecs.count"),
    ("paper", ["schedulers=[nosuch]"], "schedulers.0.name"),
    ("paper", ["schedulers=[{name: optimal, params: {starts: -1}}]"], "schedulers.0.params"),
    ("paper", ["schedulers=[{name: greedy, params: {nosuch: 1}}]"], "schedulers.0.params"),
    ("paper", ["slot_s=1e30"], "slot_s"),
    ("paper", ["slot_s=1e308"], "slot_s"),
    ("tiny", ["iotds.mobility.speed_range_mps=[1e30, 1e30]"], "speed_range_mps"),
    ("dense_100", ["iotds.mobility.speed_range_mps=[1, 3.1e8]"], "speed_range_mps"),
    ("failures", ["iotds.mobility.mean_speed_mps=1e30"], "mean_speed_mps"),
    ("paper", ["area_m=[1e12, 1e12]"], "area_m"),
    ("paper", ["iotds.count=1e7"], "iotds.count"),  # refused: optimal's assignment
    ("paper", ["mecs.count=1e6"], "mecs.count"),
    ("paper", ["tasks.arrival={process: poisson, rate_per_s: 1e6}"], "rate_per_s"),
    ("paper", ["channel.beta0=1e30"], "channel.beta0"),
    ("paper", ["channel.fading.shadowing_std_db=300"], "shadowing_std_db"),
    ("paper", ["iotds.cpu_hz=1e-300"], "iotds.cpu_hz"),
    ("paper", ["slots=1e9"], "slots"),  # refused: the per-slot records alone
    ("dense_100", ["channel.fading.step_s=1e-6", "iotds.count=1000"], "step_s"),
    ("paper", ["iotds.count=" + "1" * 5000], "iotds.count"),
    ("paper", ["iotds.kappa=1" + "0" * 400], "iotds.kappa"),
    ("paper", ["name=[/]"], "name"),
    ("paper", ["iotds.count=[bold]x"], "iotds.count"),
]


@pytest.mark.parametrize(("name", "sets", "key"), ISSUE_CASES,
                         ids=[f"{n}:{s[0][:40]}" for n, s, _ in ISSUE_CASES])
def test_the_issues_cases_are_one_line_and_exit_2(name: str, sets: list[str], key: str):
    path = ROOT / "scenarios" / f"{name}.yaml"
    result = call(["validate", str(path), *(f"--set={s}" for s in sets)])
    assert result.rc == 2, result
    lines = result.err.strip().splitlines()
    assert 1 <= len(lines) <= 2, result.err  # [1e30, 1e30]: one line for each item
    for line in lines:
        assert line.startswith(f"error: {path}: ") and key in line, result.err


@pytest.mark.parametrize("name", [p.stem for p in SHIPPED])
def test_shipped_scenarios_validate_with_an_estimate(name: str):
    path = ROOT / "scenarios" / f"{name}.yaml"
    result = call(["validate", str(path)])
    assert result.rc == 0 and result.err == "", result
    assert "estimate: peak memory" in result.out


def test_valid_extremes_run():
    """Values at the ends of their ranges run for 2 slots without failure."""
    tiny = ROOT / "scenarios" / "tiny.yaml"
    for sets in (
        ["channel.beta0=1", "channel.d_min_m=1e-3", "channel.noise_psd_w_per_hz=1e-23",
         "channel.fading.shadowing_std_db=30", "weights.energy_per_j=1e-6",
         "weights.latency_per_s=1e6"],
        ["channel.beta0=1e-15", "channel.noise_psd_w_per_hz=1e-3", "area_m=[1e5, 1e5]",
         "iotds.max_power_w=1e-6", "iotds.kappa=1e-60", "weights.energy_per_j=1e6",
         "weights.latency_per_s=1e-6"],
        ["iotds.cpu_hz=1e3", "mecs.cpu_hz=1e12", "tasks.cycles=1e15", "tasks.data_bits=1",
         "iotds.nu=1", "iotds.kappa=1e-3"],
        ["iotds.mobility={model: gauss_markov, mean_speed_mps: 1000, speed_std_mps: 1000, "
         "direction_std_rad: 6.28}", "channel.fading.rho=jakes", "channel.carrier_hz=1e12",
         "slot_s=1e-6", "tasks.deadline_s=1e-6"],
        ["slot_s=86400", "iotds.mobility={model: random_waypoint, speed_range_mps: [1e-6, 1e-6]}",
         "channel.fading={rho: jakes, generator: ar1, min_speed_mps: 1000, model: rician, "
         "rician_k: 1e4}"],
    ):
        case = Case(tiny, sets=sets)
        with tempfile.TemporaryDirectory() as tmp:
            result = check_validate(case, Path(tmp))
            assert result.rc == 0, (sets, result.err)
            check_run(case, Path(tmp))


def test_optimal_runs_unequal_cycles_beyond_the_exhaustive_limit():
    """(1 + M)^n overflowed a float from about 650 tasks: 'optimal' raised OverflowError."""
    case = Case(ROOT / "scenarios" / "tiny.yaml", sets=[
        "iotds.count=700", "iotds.mobility=static",
        "tasks.cycles={dist: uniform, low: 0.5e9, high: 1.5e9}", "schedulers=[optimal]",
        "schedulers.0={name: optimal, params: {starts: 0}}"])
    with tempfile.TemporaryDirectory() as tmp:
        assert check_validate(case, Path(tmp)).rc == 0
        check_run(case, Path(tmp))


# --------------------------------------------------------------------------- subprocess


def _cli(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mecsim", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


@pytest.mark.parametrize(("command", "item", "key"), [
    ("validate", "iotds.nu=1e308", "iotds.nu"),
    ("run", "slot_s=1e308", "slot_s"),
    ("run", "iotds.count=1e7", "iotds.count"),  # refused by the preflight
])
def test_subprocess_bad_input_is_one_line_exit_2(command: str, item: str, key: str,
                                                 tmp_path: Path):
    extra = ["--out", str(tmp_path / "run"), "--quiet"] if command == "run" else []
    proc = _cli(command, "scenarios/paper.yaml", f"--set={item}", *extra)
    assert proc.returncode == 2, proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and key in lines[0] and "Traceback" not in proc.stderr, proc
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_subprocess_valid_mutation_runs(tmp_path: Path):
    proc = _cli("run", "scenarios/failures.yaml", "--slots", "2", "--quiet", "--out",
                str(tmp_path / "run"), "--set=iotds.mobility.mean_speed_mps=999")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- preflight


def test_estimate_grows_with_the_drivers():
    from mecsim.preflight import estimate

    base = estimate(load_scenario(ROOT / "scenarios" / "paper.yaml"))
    for sets in (["iotds.count=300"], ["mecs.count=20", "mecs.cpu_hz=50e9"], ["slots=30000"],
                 ["channel.fading.step_s=0.01"],
                 ["tasks.arrival={process: poisson, rate_per_s: 10}"]):
        bigger = estimate(load_scenario(ROOT / "scenarios" / "paper.yaml", sets))
        assert bigger.seconds > base.seconds, sets
        assert bigger.memory_bytes >= base.memory_bytes, sets
    assert base.memory_bytes < 1e9 and base.seconds < 120
    assert base.tasks_per_slot == 30 and base.links == 60 and base.fading_steps == 1


def test_preflight_refuses_what_does_not_fit_and_names_the_keys():
    from mecsim.preflight import PreflightError, preflight

    scenario = load_scenario(ROOT / "scenarios" / "dense_100.yaml")
    assert preflight(scenario, available_bytes=64 * 2**30).memory_bytes < 2**30
    with pytest.raises(PreflightError) as info:
        preflight(scenario, available_bytes=50 * 2**20)
    message = str(info.value)
    assert message.startswith("refused: the run needs about ") and "\n" not in message
    assert "50 MiB is available" in message
    big = load_scenario(ROOT / "scenarios" / "paper.yaml", ["iotds.count=200000"])
    with pytest.raises(PreflightError, match=r"scheduler 'optimal'.*\(iotds.count\)"):
        preflight(big, available_bytes=64 * 2**30)


def test_long_runs_get_a_warning_and_still_run(tmp_path: Path):
    result = call(["validate", str(ROOT / "scenarios" / "paper.yaml"), "--set=slots=1e7"])
    assert result.rc == 0
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: ") and "slots" in lines[0]


def test_available_memory_is_known_here():
    from mecsim.preflight import available_memory_bytes

    available = available_memory_bytes()
    assert available is not None and 2**26 < available < 2**50


def test_check_schedulers_names_the_key():
    from mecsim.config import SchedulerSpec
    from mecsim.preflight import PreflightError, check_schedulers

    check_schedulers([SchedulerSpec(name="greedy", params={"max_tasks_per_mec": 3})])
    with pytest.raises(PreflightError, match=r"^schedulers\.1\.name: unknown scheduler 'x'"):
        check_schedulers([SchedulerSpec(name="local"), SchedulerSpec(name="x")])
    with pytest.raises(PreflightError, match=r"^--scheduler mod:Nope: cannot import"):
        check_schedulers([SchedulerSpec(name="mod:Nope")], where=["--scheduler mod:Nope"])


def test_run_with_an_unknown_scheduler_option_is_bad_input(tmp_path: Path):
    result = call(["run", str(ROOT / "scenarios" / "tiny.yaml"), "--scheduler", "nosuch",
                   "--out", str(tmp_path / "r"), "--quiet"])
    assert result.rc == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and ": --scheduler nosuch: unknown scheduler 'nosuch'" in lines[0]
