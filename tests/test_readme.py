"""The README's quick start and its "write your own scheduler" example run as shown."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_quick_start_has_two_commands_and_ci_runs_the_test_one():
    section = README.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = [line for b in re.findall(r"```bash\n(.*?)```", section, flags=re.S)
                for line in b.strip().splitlines()]
    assert len(commands) == 2
    assert "scenarios/dense_100.yaml" in commands[0]
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci


def test_write_your_own_scheduler_example(tmp_path):
    code = next(b for b in blocks("python") if "class StrongestChannel" in b)
    (tmp_path / "my_module.py").write_text(code)
    check = next(b for b in blocks("python") if "check_scheduler(" in b)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", "from my_module import *\n" + check],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    command = next(line for b in blocks("bash") for line in b.splitlines()
                   if "my_module:StrongestChannel" in line)
    args = command.split()[3:] + ["--out", str(tmp_path / "out"), "--quiet"]
    proc = subprocess.run([sys.executable, "-m", "mecsim", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())["schedulers"]
    mine = summary["my_module:StrongestChannel"]
    assert mine["complete"] and mine["ratio_to_optimal"] >= 1.0 - 1e-12
