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


def test_the_command_list_names_every_command_and_each_has_help():
    from mecsim.cli import _parser

    parser = _parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    section = README.split("## Commands", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"python -m mecsim (\w+)", section))
    assert set(sub.choices) <= listed
    for name, command in sub.choices.items():
        assert command.description and "``" not in command.description, name
    assert "``" not in (parser.description or "")
    proc = subprocess.run([sys.executable, "-m", "mecsim", "--version"], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 0 and re.fullmatch(r"mecsim \d+\.\d+\.\d+\n", proc.stdout)


def test_the_readmes_claims_about_dense_100_match_the_scenario():
    from mecsim.config import load_scenario

    scenario = load_scenario(ROOT / "scenarios" / "dense_100.yaml")
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    iotds = re.search(r"\((\d+) moving IoTDs, (\d+) MECs", quick)
    assert iotds and (int(iotds[1]), int(iotds[2])) == (scenario.iotds.count,
                                                        scenario.mecs.count)
    assert f"{scenario.slots} slots" in quick
    step = re.search(r"fading updated every (\d+) ms", quick)
    assert step and float(step[1]) / 1000 == scenario.channel.fading.step_s
    ran = re.search(r"with `(\w+)`, `(\w+)`, `(\w+)` and `(\w+)`", " ".join(quick.split()))
    assert ran and list(ran.groups()) == [s.name for s in scenario.schedulers]
    assert f"results/dense_100-seed{scenario.seed}-TIME" in quick
    report = (ROOT / "docs" / "report.md").read_text()
    for n, m in re.findall(r"`dense_100\.yaml` \((\d+) IoTDs, (\d+) MECs\)", report):
        assert (int(n), int(m)) == (scenario.iotds.count, scenario.mecs.count)
