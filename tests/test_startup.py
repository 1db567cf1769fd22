"""Fast start (issue 14, item 7): heavy modules are imported only where they are used.

Each check runs in a fresh interpreter (a subprocess), since this test session has long
imported everything. No wall-clock assertion here: the start-up time against its target is
``python benchmarks/bench_engine.py --only startup``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "scenarios" / "tiny.yaml"

# Heavy modules that a tiny run with constant task sizes does not use.
NOT_USED = ("scipy.stats", "pyarrow.dataset", "torch", "plotly", "ray")
TRUNCNORMAL = "tasks.cycles={dist: truncnormal, mean: 1.0e9, std: 0.2e9, low: 0.5e9, high: 1.5e9}"

# Runs ``mecsim run`` in-process, then prints which of the named modules were imported.
_RUN = """
import json, sys
from mecsim.cli import main
rc = main(sys.argv[2:])
names = json.loads(sys.argv[1])
print(json.dumps({"rc": rc, "imported": [m for m in names if m in sys.modules]}))
"""


def _python(code: str, *args: str) -> str:
    """Run ``code`` in a fresh interpreter from the checkout; return its last stdout line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def _run_imports(tmp_path: Path, *overrides: str) -> list[str]:
    """The modules of ``NOT_USED`` imported by a 1-slot run of tiny.yaml."""
    args = ["run", str(TINY), "--slots", "1", "--quiet", "--out", str(tmp_path / "out")]
    for item in overrides:
        args += ["--set", item]
    out = json.loads(_python(_RUN, json.dumps(NOT_USED), *args))
    assert out["rc"] == 0
    return out["imported"]


def test_tiny_run_imports_no_heavy_module(tmp_path):
    assert _run_imports(tmp_path) == []


def test_truncnormal_sizes_import_scipy_stats(tmp_path):
    """The laziness is real: a size law that needs scipy.stats still gets it."""
    assert _run_imports(tmp_path, TRUNCNORMAL) == ["scipy.stats"]


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
