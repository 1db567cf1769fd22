"""Issue 15, item 2: a user's ``schedulers.py`` or ``mecsim.py`` in the working folder does
not break mecsim.

``python -m mecsim`` puts the working folder first on ``sys.path``; the ``mecsim`` script
puts its own folder there instead. Both must run the built-in schedulers, by id and by class
path (``schedulers.greedy:Greedy``, as a scenario or a checkpoint's sidecar may name them),
and a user's ``module:Class`` from that folder. A ``mecsim.py`` there is run by
``python -m mecsim`` itself (Python finds it before any of mecsim's code runs): the ``mecsim``
script and ``python -P -m mecsim`` (Python 3.11+) are not affected.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHADOW = "raise RuntimeError('the user file was imported')\n"
USER_SCHEDULER = '''
import numpy as np
from mecsim.scheduler import Decision, Scheduler

class AllLocal(Scheduler):
    def decide(self, observation):
        return Decision(np.zeros(observation.n_tasks, dtype=np.int64))
'''
# What pip writes as the ``mecsim`` console script (sys.path[0] is the script's folder).
CONSOLE_SCRIPT = "import sys\nfrom mecsim.cli import console_main\nsys.exit(console_main())\n"
# The class path first: it is imported before anything loads the registry's built-ins.
RUN = ["run", "tiny", "--slots", "2", "--quiet", "--scheduler", "schedulers.greedy:Greedy",
       "--scheduler", "greedy", "--scheduler", "mine:AllLocal"]


def _mecsim(prefix, args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([*prefix, *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    return done.stdout


def _check_run(prefix, work: Path, out: str) -> None:
    _mecsim(prefix, [*RUN, "--out", out], work)
    ran = json.loads((work / out / "summary.json").read_text())["schedulers"]
    assert set(ran) == {"greedy", "schedulers.greedy:Greedy", "mine:AllLocal"}
    assert ran["greedy"]["mean_cost_per_slot"] == ran["schedulers.greedy:Greedy"][
        "mean_cost_per_slot"]
    assert "greedy" in _mecsim(prefix, ["list"], work)


@pytest.mark.parametrize("shadow", ["schedulers.py", "schedulers/__init__.py"])
def test_a_schedulers_module_in_the_working_folder_does_not_shadow_mecsims(tmp_path, shadow):
    (tmp_path / shadow).parent.mkdir(exist_ok=True)
    (tmp_path / shadow).write_text(SHADOW)
    if shadow.startswith("schedulers/"):
        (tmp_path / "schedulers" / "greedy.py").write_text(SHADOW)
    (tmp_path / "mine.py").write_text(USER_SCHEDULER)
    _check_run([sys.executable, "-m", "mecsim"], tmp_path, "out")


def test_the_mecsim_script_ignores_a_mecsim_py_and_a_schedulers_py(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    for name in ("mecsim.py", "schedulers.py"):
        (work / name).write_text(SHADOW)
    (work / "mine.py").write_text(USER_SCHEDULER)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "mecsim").write_text(CONSOLE_SCRIPT)
    _check_run([sys.executable, str(tmp_path / "bin" / "mecsim")], work, "out-script")
    if sys.version_info >= (3, 11):  # -P: the working folder is not put first on sys.path
        _check_run([sys.executable, "-P", "-m", "mecsim"], work, "out-safe-path")
