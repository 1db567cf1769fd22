"""torch only where it is needed (issue 15, item 7): the ``learn`` extra.

The baselines, ``optimal``, ``lyapunov``, the engine, sweeps and reports never import
torch; a learner asked for without torch is one line naming the extra, exit status 2,
before any slot runs. Each check runs in a fresh interpreter (this session has long
imported torch); "without torch" is ``sys.modules['torch'] = None``, which makes every
``import torch`` fail as it does where torch is not installed.
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "scenarios" / "tiny.yaml"
NEEDS = "scheduler 'dirs' needs torch: pip install 'mecsim[learn]'"

# Runs each command line of argv[2] (a JSON list) through mecsim.cli.main in this one
# process, capturing its output; argv[1] "block" makes torch unimportable first. Prints
# one JSON line: each command's status and output, and whether torch got imported.
_DRIVER = """
import contextlib, io, json, sys
if sys.argv[1] == "block":
    sys.modules["torch"] = None
from mecsim.cli import main
done = []
for argv in json.loads(sys.argv[2]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code
    done.append({"argv": argv, "rc": rc, "out": out.getvalue(), "err": err.getvalue()})
print(json.dumps({"done": done, "torch": sys.modules.get("torch") is not None}))
"""


def _drive(mode: str, commands: list[list[str]], cwd: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-c", _DRIVER, mode, json.dumps(commands)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _tiny_sweep(folder: Path, schedulers: str) -> Path:
    path = folder / "sweep.yaml"
    path.write_text(textwrap.dedent(f"""
        base: {TINY}
        grid: {{iotds.count: [3]}}
        schedulers: {schedulers}
        slots: 2
    """))
    return path


def test_without_torch_the_baselines_run_and_a_learner_is_one_line_exit_2(tmp_path):
    sweep = _tiny_sweep(tmp_path, "[local, dirs]")
    learners = ["--set", "schedulers=[local, dirs]"]
    trained = tmp_path / "trained.pt"  # a checkpoint whose sidecar says it is DIRS's
    trained.write_bytes(b"not read")
    (tmp_path / "trained.pt.meta.json").write_text('{"scheduler": {"name": "dirs"}}')
    runs = [["run", str(TINY), "--slots", "2", "--quiet", "--out", str(tmp_path / "ok")],
            ["run", str(TINY), "--slots", "2", "--quiet", "--scheduler", "dirs",
             "--out", str(tmp_path / "dirs")],
            ["validate", str(TINY), *learners],
            ["train", str(TINY), "--out", str(tmp_path / "ck.pt")],
            ["sweep", str(sweep), "--out", str(tmp_path / "sweep"), "--quiet"],
            ["run", str(TINY), "--checkpoint", str(trained), "--out", str(tmp_path / "ck")],
            ["run", str(TINY), *learners, "--checkpoint", f"dirs={trained}",
             "--out", str(tmp_path / "ck")]]
    done = _drive("block", runs, tmp_path)
    assert not done["torch"]
    ok, *refused = done["done"]
    assert ok["rc"] == 0, ok["err"]
    ran = json.loads((tmp_path / "ok" / "summary.json").read_text())["schedulers"]
    assert sorted(ran) == ["greedy", "local", "optimal", "random"]
    assert all(s["complete"] for s in ran.values())
    for item in refused:
        lines = item["err"].strip().splitlines()
        assert item["rc"] == 2 and len(lines) == 1, item
        assert lines[0].startswith("error: ") and lines[0].endswith(NEEDS), item
        assert "Traceback" not in item["err"]
    # refused before anything ran: no run folder, checkpoint or sweep folder
    assert not any((tmp_path / name).exists() for name in ("dirs", "ck.pt", "ck.pt.run",
                                                          "sweep", "ck"))


def test_the_learners_are_exactly_the_built_ins_that_need_the_learn_extra(tmp_path):
    code = """
import json, sys
sys.modules["torch"] = None
from mecsim.registry import MissingExtraError, extra, registered, scheduler_class
needs = {}
for name in registered():
    try:
        scheduler_class(name)
        needs[name] = [None, extra(name)]
    except MissingExtraError as exc:
        needs[name] = [exc.extra, extra(name)]
print(json.dumps(needs))
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    needs = json.loads(proc.stdout.strip().splitlines()[-1])
    for name, (found, listed) in needs.items():
        assert found == listed, name  # EXTRAS says what the import really needs
    learners = {n for n, (found, _) in needs.items() if found == "learn"}
    assert learners == {"dirs", "dirs_shared", "droo", "lydroo", "actor_critic", "ddpg"}


def test_list_marks_the_learners_and_says_when_torch_is_missing(tmp_path):
    block = _drive("block", [["list"]], tmp_path)["done"][0]
    have = _drive("plain", [["list"]], tmp_path)["done"][0]
    for item, mark in ((block, "learn extra, not installed"), (have, "learn extra")):
        assert item["rc"] == 0
        rows = {line.split()[1]: line for line in item["out"].splitlines()
                if line.startswith("│")}
        assert rows["dirs"].split("│")[3].strip() == mark
        assert rows["optimal"].split("│")[3].strip() == ""


def test_no_command_imports_torch_without_a_learner(tmp_path):
    run_dir = tmp_path / "run"
    sweep = _tiny_sweep(tmp_path, "[local, greedy, optimal, lyapunov]")
    commands = [["list"], ["validate", str(TINY)],
                ["run", str(TINY), "--slots", "2", "--quiet", "--out", str(run_dir),
                 "--scheduler", "local", "--scheduler", "random", "--scheduler", "greedy",
                 "--scheduler", "optimal", "--scheduler", "optimal_backlog",
                 "--scheduler", "lyapunov"],
                ["report", str(run_dir)],
                ["sweep", str(sweep), "--out", str(tmp_path / "sweep"), "--quiet",
                 "--workers", "1"]]
    done = _drive("plain", commands, tmp_path)
    assert [d["rc"] for d in done["done"]] == [0] * len(commands), done["done"]
    assert not done["torch"]


def test_torch_is_an_extra_not_a_requirement():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    required = cfg["options"]["install_requires"].split()
    assert not any(r.startswith("torch") for r in required)
    extras = cfg["options.extras_require"]
    for name in ("learn", "test", "rl", "dev"):
        assert "torch<=2.13.0" in extras[name].split(), name


def test_a_plug_in_that_needs_a_missing_extra_is_named_with_it(tmp_path, monkeypatch):
    from mecsim.registry import MissingExtraError, load_class

    monkeypatch.setitem(sys.modules, "stable_baselines3", None)  # as if not installed
    plugin = tmp_path / "needs_rl.py"
    plugin.write_text("import stable_baselines3.common\n")
    with pytest.raises(MissingExtraError) as caught:
        load_class(f"{plugin}:Agent")
    assert (caught.value.module, caught.value.extra) == ("stable_baselines3", "rl")
    assert str(caught.value) == (f"scheduler '{plugin}:Agent' needs stable_baselines3: "
                                 "pip install 'mecsim[rl]'")
    other = tmp_path / "broken.py"
    other.write_text("import no_such_module_here\n")  # not an extra: the usual message
    with pytest.raises(ValueError, match="failed to import") as caught:
        load_class(f"{other}:Agent")
    assert not isinstance(caught.value, MissingExtraError)
