"""The README's "Train your own agent" snippet runs as shown (on scenarios/tiny.yaml)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("gymnasium", reason="the rl extra is not installed")
pytest.importorskip("stable_baselines3", reason="the rl extra is not installed")

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
SECTION = README.split("## Train your own agent", 1)[1].split("\n## ", 1)[0]


def blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", SECTION, flags=re.S)


def test_section_installs_the_rl_extra():
    assert "pip install -e '.[rl]'" in blocks("bash")[0]


@pytest.mark.slow
def test_train_your_own_agent_snippet(tmp_path):
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")  # the snippet's relative paths
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's mecsim
    code, = blocks("python")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "agent.zip").is_file()
    command = next(line for b in blocks("bash") for line in b.splitlines()
                   if "sb3:agent.zip" in line)
    args = command.split()[3:] + ["--out", str(tmp_path / "out"), "--quiet"]
    proc = subprocess.run([sys.executable, "-m", "mecsim", *args], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())["schedulers"]
    assert summary["sb3:agent.zip"]["complete"] and summary["optimal"]["complete"]
