"""A third-party package registers a scheduler through the `mecsim.schedulers` entry points."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PLUGIN = '''
import numpy as np
from mecsim.scheduler import Decision, Scheduler


class EverythingToMec2(Scheduler):
    def decide(self, observation):
        return Decision(np.full(observation.n_tasks, 2, dtype=np.int64))
'''


def test_installed_entry_point_is_listed_made_and_run(tmp_path):
    site = tmp_path / "site"
    (site / "myplug").mkdir(parents=True)
    (site / "myplug" / "__init__.py").write_text(PLUGIN)
    info = site / "myplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: myplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[mecsim.schedulers]\nto_mec2 = myplug:EverythingToMec2\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    listed = subprocess.run([sys.executable, "-m", "mecsim", "list"], capture_output=True,
                            text=True, env=env, cwd=ROOT)
    assert "to_mec2" in listed.stdout and "myplug:EverythingToMec2" in listed.stdout
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "mecsim", "run", "scenarios/tiny.yaml",
                           "--scheduler", "to_mec2", "--slots", "3", "--out", str(out),
                           "--quiet"], capture_output=True, text=True, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())["schedulers"]["to_mec2"]
    assert summary["complete"] and summary["counts"]["generated"] == 18
    import pandas as pd
    assert (pd.read_parquet(out / "tasks.parquet").target == 2).all()
