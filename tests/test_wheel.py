"""Issue 15, items 1, 3 and 7: an installed wheel runs the built-in scenarios by name and a
user's schedulers from the working folder, through the ``mecsim`` script and ``python -m``,
without torch (the ``learn`` extra).

The first tests resolve scenario names in the checkout (fast); the last builds the wheel,
installs it in a fresh virtual environment outside the checkout (with this interpreter's
packages but torch made unimportable there) and runs it there.
"""

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from setuptools import find_packages

from mecsim import scenario_files
from mecsim.cli import main
from mecsim.config import ScenarioError, load_scenario
from mecsim.scenario_files import builtin_scenarios, resolve_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))

USER_SCHEDULER = '''
import numpy as np
from mecsim.scheduler import Decision, Scheduler

class AllLocal(Scheduler):
    def decide(self, observation):
        return Decision(np.zeros(observation.n_tasks, dtype=np.int64))
'''
# A scheduler in a sub-folder that imports a module beside it, as a script would.
SIBLING_USER = "from helper import AllLocal\n"


# ------------------------------------------------------------------ names, in the checkout


def test_a_built_in_name_resolves_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert set(builtin_scenarios()) == set(SCENARIOS) and "dense_100" in SCENARIOS
    for name in SCENARIOS:
        assert resolve_scenario(name) == ROOT / "scenarios" / f"{name}.yaml"
        assert resolve_scenario(f"{name}.yaml") == ROOT / "scenarios" / f"{name}.yaml"
    assert load_scenario(resolve_scenario("dense_100")).mecs.count == 6


def test_an_existing_file_wins_over_a_name_and_a_folder_does_not(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text("name: mine\nslots: 3\n")
    assert resolve_scenario("tiny.yaml") == Path("tiny.yaml")
    assert load_scenario(resolve_scenario("tiny.yaml")).name == "mine"
    (tmp_path / "tiny").write_text("name: bare\n")  # a file without a suffix is a path too
    assert resolve_scenario("tiny") == Path("tiny")
    (tmp_path / "paper").mkdir()  # a folder named like a built-in (a paper's drafts)
    assert resolve_scenario("paper") == ROOT / "scenarios" / "paper.yaml"


@pytest.mark.parametrize("text, why", [
    ("nope", "no built-in scenario of that name"),
    ("nope.yaml", "no built-in scenario of that name"),
    ("scenarios/tiny.yaml", "no such file"),  # a path is never read as a name
])
def test_an_unknown_name_lists_the_built_in_ones(tmp_path, monkeypatch, text, why):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError) as caught:
        resolve_scenario(text)
    message = str(caught.value)
    assert message.startswith(f"{text}: ") and why in message
    assert ", ".join(SCENARIOS) in message


def test_the_cli_takes_names_and_lists_them(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "tiny", "--set", "slots=2"]) == 0
    assert capsys.readouterr().out.startswith("tiny: valid (6 IoTDs, 2 MECs, 2 slots")
    assert main(["validate", "nope"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    names = [line.split()[1] for line in out.splitlines()
             if line.startswith("│") and line.split()[1] in SCENARIOS]
    assert names == SCENARIOS  # one row each, sorted, after the schedulers' table
    assert "A tiny scenario for tests" in out and "greedy" in out


def test_the_built_in_folder_is_the_packaged_one_else_a_checkouts_only(tmp_path, monkeypatch):
    site = tmp_path / "site-packages"
    (site / "mecsim").mkdir(parents=True)
    (site / "scenarios").mkdir()  # another distribution's folder: never mecsim's
    (site / "scenarios" / "other.yaml").write_text("{}\n")
    monkeypatch.setattr(scenario_files, "_PACKAGE", site / "mecsim")
    assert scenario_files.builtin_dir() is None and builtin_scenarios() == {}
    (site / "mecsim" / "scenarios").mkdir()
    (site / "mecsim" / "scenarios" / "tiny.yaml").write_text("# Shipped.\nslots: 2\n")
    assert builtin_scenarios() == {"tiny": site / "mecsim" / "scenarios" / "tiny.yaml"}
    assert scenario_files.describe(site / "mecsim" / "scenarios" / "tiny.yaml") == "Shipped."


def test_setup_cfg_lists_every_package_and_ships_the_scenarios():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = cfg["options"]["packages"].split()
    found = find_packages(where=str(ROOT), include=["mecsim", "mecsim.*", "schedulers",
                                                     "schedulers.*"])
    assert sorted(listed) == sorted([*found, "mecsim.scenarios"])  # a new package: list it
    assert cfg["options"]["package_dir"].split() == ["mecsim.scenarios", "=", "scenarios"]
    assert cfg["options.package_data"]["mecsim.scenarios"].strip() == "*.yaml"


# ------------------------------------------------------------ the wheel, in a fresh venv


def _copy_sources(dest: Path) -> Path:
    """The files a wheel is built from, copied so that the checkout gets no build/ folder."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("mecsim", "schedulers", "scenarios"):
        shutil.copytree(ROOT / folder, dest / folder, ignore=skip)
    for name in ("setup.cfg", "pyproject.toml", "README.md", "MANIFEST.in"):
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, dest / name)
    return dest


def _run(args, cwd, env):
    done = subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, timeout=180)
    assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr
    return done


def _can_build_offline() -> bool:
    """Whether ``pip wheel --no-build-isolation`` can run here (setuptools' own bdist_wheel,
    70.1+, or the ``wheel`` package) and ``pip --python`` exists (pip 22.3+)."""
    import importlib.metadata as meta
    import importlib.util

    def version(name: str) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", meta.version(name))[:2])

    return (version("setuptools") >= (70, 1) or importlib.util.find_spec("wheel") is not None
            ) and version("pip") >= (22, 3)


def _build_and_install(tmp_path: Path) -> tuple[Path, Path, dict]:
    """Build the wheel, install it (no dependencies) in a venv; return wheel, python, env."""
    src = _copy_sources(tmp_path / "src")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "VIRTUAL_ENV")}
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "-q", "-w", str(tmp_path / "dist"), str(src)], tmp_path, env)
    wheel = next((tmp_path / "dist").glob("mecsim-*.whl"))
    venv = tmp_path / "venv"  # this interpreter's packages, but not the checkout
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
         tmp_path, env)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
          "--no-index", str(wheel)], tmp_path, env)
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                tmp_path, env).stdout.strip()
    (Path(site) / "no_torch.pth").write_text(NO_TORCH)  # as if torch were not installed
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return wheel, python, env


#: A ``.pth`` line run at every start of the venv's Python (its workers too): torch cannot
#: be imported, as where the ``learn`` extra is not installed.
NO_TORCH = "import sys; sys.modules['torch'] = None\n"


def _requires(wheel: Path) -> list[str]:
    """The wheel's ``Requires-Dist`` lines."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(name).decode()
    return [line.split(":", 1)[1].strip() for line in text.splitlines()
            if line.startswith("Requires-Dist:")]


def _ran(out: Path) -> dict:
    ran = json.loads((out / "summary.json").read_text())["schedulers"]
    return dict(sorted(ran.items(), key=lambda kv: kv[1]["index"]))  # in run order


@pytest.mark.skipif(not _can_build_offline(), reason="needs setuptools>=70.1 (or wheel) and "
                    "pip>=22.3 to build and install a wheel offline")
def test_the_wheel_runs_built_in_scenarios_and_user_schedulers_from_anywhere(tmp_path):
    wheel, python, env = _build_and_install(tmp_path)
    shipped = {Path(n).stem for n in zipfile.ZipFile(wheel).namelist()
               if n.startswith("mecsim/scenarios/") and n.endswith(".yaml")}
    assert shipped == set(SCENARIOS)
    torch = [r for r in _requires(wheel) if re.match(r"torch\b", r)]
    assert torch and all("extra ==" in r for r in torch), torch  # only through extras
    assert any("extra == \"learn\"" in r for r in torch), torch
    work = tmp_path / "work"  # the user's folder, outside the checkout
    (work / "sub").mkdir(parents=True)
    (work / "mine.py").write_text(USER_SCHEDULER)
    (work / "sub" / "helper.py").write_text(USER_SCHEDULER)
    (work / "sub" / "other.py").write_text(SIBLING_USER)
    where = _run([str(python), "-c", "import mecsim.scenario_files as f, schedulers as s; "
                  "print(f.__file__); print(s.__file__); print(f.builtin_dir())"], work, env)
    venv = str(tmp_path / "venv")  # the wheel's files, not the checkout's (nor an editable's)
    assert all(line.startswith(venv) for line in where.stdout.split()), where.stdout
    (work / "schedulers.py").write_text("raise RuntimeError('the user file was imported')\n")

    script = [str(Path(python).with_name("mecsim"))]
    for how, command in (("script", script), ("module", [str(python), "-m", "mecsim"])):
        listed = _run([*command, "list"], work, env).stdout
        assert all(name in listed for name in SCENARIOS) and "optimal" in listed, how
        out = work / f"out-{how}"
        _run([*command, "run", "tiny", "--slots", "2", "--quiet", "--out", str(out),
              "--scheduler", "schedulers.local:Local", "--scheduler", "greedy",
              "--scheduler", "mine:AllLocal", "--scheduler", "sub/other.py:AllLocal"],
             work, env)
        ran = _ran(out)
        assert list(ran) == ["schedulers.local:Local", "greedy", "mine:AllLocal",
                             "other.py:AllLocal"], how
        costs = {ran[k]["mean_cost_per_slot"] for k in ran if k != "greedy"}
        assert len(costs) == 1 and all(ran[k]["complete"] for k in ran), how
    refused = subprocess.run([*script, "run", "tiny", "--slots", "2", "--scheduler", "dirs",
                              "--out", str(work / "out-dirs")], capture_output=True,
                             text=True, cwd=work, env=env, timeout=180)
    assert refused.returncode == 2 and refused.stderr.strip().endswith(
        "scheduler 'dirs' needs torch: pip install 'mecsim[learn]'"), refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_the_docs_name_every_built_in_scenario_and_quote_the_error(tmp_path, monkeypatch):
    readme = " ".join((ROOT / "README.md").read_text().split())
    listed = re.search(r"SCENARIO is a scenario file or a built-in scenario's name: (.*?) \(",
                       readme)
    assert listed and sorted(re.findall(r"`(\w+)`", listed[1])) == SCENARIOS
    doc = " ".join((ROOT / "docs" / "scenarios.md").read_text().split())
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError) as caught:
        resolve_scenario("nope")
    assert f"(`error: {caught.value}`)" in doc
