"""Fast start (issue 14, item 7): heavy modules are imported only where they are used.

Each check runs in a fresh interpreter (a subprocess), since this test session has long
imported everything. No wall-clock assertion here: the start-up time against its target is
``python benchmarks/bench_engine.py --only startup``.

``scipy.optimize`` (``optimal``'s assignment, ``mecsim/model/optimum.py``) imports
``scipy.special`` itself. A run of ``optimal`` uses it; while ``mecsim.model.optimum``
imports it at module level, so does any run. Then the tests only check that
``mecsim/model/optimum.py`` is what imports ``scipy.optimize`` and that no mecsim module
imports ``scipy.special`` itself (its first importer is in scipy). Once optimum.py imports
it where it is used, a tiny run without ``optimal`` must import neither.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from mecsim.engine import records
from mecsim.engine.records import arrow_array, empty_table

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "scenarios" / "tiny.yaml"

# Heavy modules that a tiny run with constant task sizes does not use.
NOT_USED = ("scipy.stats", "scipy.special", "scipy.optimize", "pandas", "pyarrow.dataset",
            "pyarrow.compute", "torch", "plotly", "ray", "mecsim.sweep", "mecsim.report")
OPTIMIZE = ("scipy.optimize", "scipy.special")  # see the module docstring
TRUNCNORMAL = "tasks.cycles={dist: truncnormal, mean: 1.0e9, std: 0.2e9, low: 0.5e9, high: 1.5e9}"

# Runs ``mecsim run`` in-process, then prints which of the named modules were imported and,
# for each, the file that imported it first.
_RUN = """
import importlib.abc, json, sys, traceback
names = set(json.loads(sys.argv[1]))
first = {}

class Spy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name in names and name not in first:
            files = [f.filename for f in traceback.extract_stack()[:-1]
                     if "importlib" not in f.filename]
            first[name] = files[-1] if files else ""

sys.meta_path.insert(0, Spy())
from mecsim.cli import main
rc = main(sys.argv[2:])
print(json.dumps({"rc": rc, "imported": {m: first.get(m, "") for m in sorted(names)
                                         if m in sys.modules}}))
"""


def _python(code: str, *args: str) -> str:
    """Run ``code`` in a fresh interpreter from the checkout; return its last stdout line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def _run_imports(tmp_path: Path, *overrides: str) -> dict[str, str]:
    """The modules of ``NOT_USED`` a 1-slot run of tiny.yaml imported, and their importers."""
    args = ["run", str(TINY), "--slots", "1", "--quiet", "--out", str(tmp_path / "out")]
    for item in overrides:
        args += ["--set", item]
    out = json.loads(_python(_RUN, json.dumps(NOT_USED), *args))
    assert out["rc"] == 0
    return out["imported"]


@cache
def _optimum_imports_scipy_optimize() -> bool:
    """Whether importing ``mecsim.model.optimum`` imports ``scipy.optimize`` (module level)."""
    code = "import sys, mecsim.model.optimum; print('scipy.optimize' in sys.modules)"
    return json.loads(_python(code).lower())


def _unexpected(imported: dict[str, str], optimal: bool) -> dict[str, str]:
    """``imported`` less the scipy.optimize that ``optimal`` (``optimal``: it ran) needs."""
    if not (optimal or _optimum_imports_scipy_optimize()):
        return imported
    scipy_dir = str(Path(__import__("scipy").__file__).parent)
    assert imported.get("scipy.special", scipy_dir).startswith(scipy_dir), (
        f"a mecsim module imports scipy.special: {imported['scipy.special']}")
    optimum = str(ROOT / "mecsim" / "model" / "optimum.py")  # (or scipy.stats, in scipy)
    first = imported.get("scipy.optimize", optimum)
    assert first == optimum or first.startswith(scipy_dir), first
    return {m: f for m, f in imported.items() if m not in OPTIMIZE}


def test_tiny_run_imports_no_heavy_module(tmp_path):
    assert _unexpected(_run_imports(tmp_path), optimal=True) == {}


def test_tiny_run_without_optimal_imports_no_scipy(tmp_path):
    imported = _run_imports(tmp_path, "schedulers=[local, random, greedy]")
    assert _unexpected(imported, optimal=False) == {}


def test_truncnormal_sizes_import_scipy_special_and_a_far_tail_scipy_stats(tmp_path):
    """The laziness is real: a size law that needs scipy gets it (the spy names its
    importer); scipy.stats (0.4 s) only for a far tail, where the plain formulas are not
    exact enough."""
    arrivals = ROOT / "mecsim" / "physics" / "arrivals.py"
    near = _run_imports(tmp_path / "near", TRUNCNORMAL, "schedulers=[local]")
    assert sorted(near) == ["scipy.special"] and Path(near["scipy.special"]) == arrivals
    far = _run_imports(tmp_path / "far", TRUNCNORMAL.replace("std: 0.2e9", "std: 0.08e9"),
                       "schedulers=[local]")  # low 6.25 std below the mean
    assert "scipy.stats" in far and Path(far["scipy.stats"]) == arrivals


@pytest.mark.parametrize(("module", "heavy"), [
    ("mecsim.physics", ("scipy", "pyarrow.dataset", "pandas")),
    ("mecsim.physics.arrivals", ("scipy",)),
    ("mecsim.physics.fading", ("scipy",)),
    # importing mecsim.engine.* imports the engine package, so scipy (mecsim.model's) too
    ("mecsim.engine.records", ("scipy.stats", "pyarrow.dataset", "pandas")),
    ("mecsim.engine.folder", ("scipy.stats", "pyarrow.dataset", "pandas")),
])
def test_module_imports_no_heavy_module(module, heavy):
    code = ("import json, sys, importlib; importlib.import_module(sys.argv[1]); "
            "print(json.dumps([m for m in json.loads(sys.argv[2]) if m in sys.modules]))")
    assert json.loads(_python(code, module, json.dumps(heavy))) == []


def test_lazy_scipy_gives_the_same_draws():
    """TruncNormal and jakes_rho, with scipy imported on first use, match scipy itself."""
    import numpy as np
    from scipy.special import j0, ndtr, ndtri

    from mecsim.physics.arrivals import TruncNormal
    from mecsim.physics.fading import jakes_rho

    law = TruncNormal(mean=1e9, std=0.2e9, low=0.5e9, high=1.5e9)
    got = law.sample(50, np.random.default_rng(3))
    a, b = (0.5e9 - 1e9) / 0.2e9, (1.5e9 - 1e9) / 0.2e9
    u = np.random.default_rng(3).uniform(size=50)
    want = np.clip(1e9 + 0.2e9 * ndtri(ndtr(a) + u * (ndtr(b) - ndtr(a))), 0.5e9, 1.5e9)
    np.testing.assert_array_equal(got, want)
    speed = np.array([0.0, 1.0, 30.0])
    np.testing.assert_array_equal(
        jakes_rho(speed, 2.4e9, 0.01), j0(2.0 * np.pi * (speed * 2.4e9 / 299_792_458.0) * 0.01))


# --------------------------------------------------------------------------- lean records
# The writers build Arrow arrays from numpy buffers (no pandas): the same arrays, and the
# same files, as ``pa.array`` builds.

STRINGS = np.asarray(["completed", "dropped", "in_flight"], dtype=object)
REASONS = np.asarray([None, "deadline", "mec_failure", "invalid_decision"], dtype=object)


@pytest.mark.parametrize(("values", "type_"), [
    (np.array([1.5, np.nan, -0.0, np.inf]), pa.float64()),
    ([0.25, None, float("nan")], pa.float64()),
    ([1, 2, 3], pa.float64()),  # Python ints into a float column
    (np.arange(5, dtype=np.int64), pa.int32()),
    (np.array([-3, 7], dtype=np.int32), pa.int16()),
    ([4, None, -2], pa.int32()),
    (np.array([True, False, True] * 7), pa.bool_()),
    ([None, True, False], pa.bool_()),
    ([], pa.int64()),
    (np.empty(0), pa.float64()),
    (np.arange(12.0).reshape(3, 4)[:, 1], pa.float64()),  # a strided view
    (STRINGS[np.array([0, 2, 1, 0, 0, 2])], pa.string()),
    (REASONS[np.array([0, 1, 0, 3, 2, 0])], pa.string()),
    (np.full(4, "greedy", dtype=object), pa.string()),
    (["gréedy ü", None, "", "x"], pa.string()),  # non-ASCII, empty, null
    ([f"s{i}" for i in range(40)], pa.string()),  # many distinct: the generic path
    # long columns (>= records._FEW_ROWS): coded by object, by value, or item by item
    (STRINGS[np.arange(700) % 3], pa.string()),
    (REASONS[np.arange(500) % 4], pa.string()),
    (np.full(300, "greedy", dtype=object), pa.string()),  # equal strings, distinct objects
    (np.array(["é" * (i % 5) for i in range(300)], dtype=object), pa.string()),
    ([f"s{i % 30}" for i in range(300)], pa.string()),
    ([None] * 250, pa.string()),
    ([None, None], pa.string()),
    ([], pa.string()),
    (np.array(["a", "bc"]), pa.string()),  # a numpy unicode array
])
def test_arrow_array_equals_pa_array(values, type_):
    got, tally = arrow_array(values, type_, tally=True)
    want = pa.array(values, type=type_)
    got.validate(full=True)
    assert got.type == type_ and got.null_count == want.null_count
    # NaN == NaN and -0.0 != 0.0 here (Array.equals has NaN != NaN)
    assert [repr(v) for v in got.to_pylist()] == [repr(v) for v in want.to_pylist()]
    valid = [v for v in want.to_pylist() if v is not None]
    if pa.types.is_string(type_):
        assert tally == Counter(valid)
    elif pa.types.is_integer(type_):
        assert tally == sum(valid)


@pytest.mark.parametrize(("values", "type_"), [
    (np.array([1.5]), pa.int32()),  # truncation
    (np.array([2**40]), pa.int32()),  # out of range
    ([1, "x"], pa.int64()),
    (["a", 3], pa.string()),
])
def test_arrow_array_raises_where_pa_array_raises(values, type_):
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        pa.array(values, type=type_)
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        arrow_array(values, type_)


def test_empty_table_is_the_schemas():
    schema = records.slot_schema(3)
    assert empty_table(schema).equals(schema.empty_table())


def _reference_array(values, type_, tally=False):
    """``arrow_array`` as ``pa.array`` (what the writers used before)."""
    array = pa.array(values, type=type_)
    return array, records._tally_of(array) if tally else None


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.parquet"))
            if p.is_file()}


def test_results_are_byte_for_byte_those_of_pa_array(tiny, tmp_path, monkeypatch):
    """Every part of a run with drops of each reason, nulls and channels is the same file."""
    from mecsim.engine.runner import run_scenario

    scenario = tiny("slots=8", "iotds.count=30", "tasks.deadline_s={dist: constant, value: 1.2}",
                    "mecs.failures=[{mec: 2, start_s: 2.3, duration_s: 3}]",
                    "mecs.on_failure=drop",
                    "output.channels=true")
    lean = run_scenario(scenario, tmp_path / "lean")
    monkeypatch.setattr(records, "arrow_array", _reference_array)
    before = run_scenario(scenario, tmp_path / "before")
    lean_files, before_files = _files(tmp_path / "lean"), _files(tmp_path / "before")
    assert len(lean_files) > 10 and lean_files.keys() == before_files.keys()
    for name, data in lean_files.items():
        if not name.startswith("slots"):  # slots.parquet holds wall times (decision_s)
            assert data == before_files[name], name
    reasons = set()
    for mine, theirs in zip(lean, before, strict=True):
        assert mine.counts == theirs.counts and mine.slots == theirs.slots
        assert mine.dropped_by_reason == theirs.dropped_by_reason
        assert mine.invalid_tasks == theirs.invalid_tasks and mine.parts == theirs.parts
        assert mine.offload_share == pytest.approx(theirs.offload_share, nan_ok=True)
        reasons |= {r for r, n in mine.dropped_by_reason.items() if n}
    assert reasons >= {"deadline", "mec_failure"}
