import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mecsim.registry as reg
from mecsim.registry import Registration, Registry, load_class, make, register, registered, spec
from mecsim.scheduler import Decision, Scheduler
from schedulers.greedy import Greedy
from schedulers.local import Local
from schedulers.optimal import Optimal
from schedulers.random_offload import RandomOffload

BUILTINS = {"local": Local, "random": RandomOffload, "greedy": Greedy, "optimal": Optimal}


class Tiny(Scheduler):
    def __init__(self, alpha: float = 1.0, beta: int = 2) -> None:
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        super().__init__(alpha=alpha, beta=beta)

    def decide(self, observation):
        return Decision(observation.iotd * 0)


class NotAScheduler:
    pass


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    """A third-party module `thirdparty_sched` on sys.path."""
    (tmp_path / "thirdparty_sched.py").write_text(textwrap.dedent("""
        import numpy as np
        from mecsim.scheduler import Decision, Scheduler

        class AllLocal(Scheduler):
            def __init__(self, gamma: float = 0.5):
                super().__init__(gamma=gamma)

            def decide(self, observation):
                return Decision(np.zeros(observation.n_tasks, dtype=np.int64))

        class Broken(Scheduler):
            pass

        NOT_A_CLASS = 3
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "thirdparty_sched"
    sys.modules.pop("thirdparty_sched", None)


def _fake_entry_points(monkeypatch, *pairs):
    eps = [importlib.metadata.EntryPoint(name=n, value=v, group=reg.ENTRY_POINT_GROUP)
           for n, v in pairs]

    def fake(**kwargs):
        assert kwargs == {"group": reg.ENTRY_POINT_GROUP}
        return eps

    monkeypatch.setattr(reg.importlib.metadata, "entry_points", fake)


def test_builtins_are_registered_sorted_and_make_the_right_class():
    ids = registered()
    assert ids == sorted(ids)
    assert set(BUILTINS) <= set(ids)
    for name, cls in BUILTINS.items():
        s = make(name)
        assert type(s) is cls
        assert spec(name).source == "builtin"
        assert spec(name).entry_point == f"{cls.__module__}:{cls.__qualname__}"


def test_builtin_entry_points_are_lazy_strings_and_importing_the_registry_imports_nothing():
    code = textwrap.dedent("""
        import sys
        import mecsim.registry as r
        assert "schedulers" not in sys.modules, "import of the registry imported schedulers"
        ids = r.registered()
        assert "schedulers" in sys.modules
        loaded = [m for m in ("schedulers.greedy", "schedulers.optimal", "schedulers.local",
                              "schedulers.dirs",
                              "schedulers.random_offload") if m in sys.modules]
        assert not loaded, loaded
        r.make("greedy")
        assert "schedulers.greedy" in sys.modules and "schedulers.optimal" not in sys.modules
        print(",".join(ids))
        """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=str(__import__("pathlib").Path(__file__).parents[1]))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().split(",") == ["actor_critic", "ddpg", "dirs", "dirs_shared",
                                              "droo", "greedy", "local", "lyapunov",
                                              "lydroo", "optimal", "optimal_backlog",
                                              "random"]


def test_make_passes_params_over_registered_defaults():
    r = Registry(group=None)
    r.register("tiny_defaults", Tiny, alpha=3.0)
    assert r.make("tiny_defaults").params == {"alpha": 3.0, "beta": 2}
    assert r.make("tiny_defaults", beta=7).params == {"alpha": 3.0, "beta": 7}
    assert r.make("tiny_defaults", alpha=0.5).params == {"alpha": 0.5, "beta": 2}
    assert make("greedy", max_tasks_per_mec=4).max_tasks_per_mec == 4
    assert make("optimal", starts=2, exhaustive_limit=10).params == {
        "starts": 2, "exhaustive_limit": 10, "backlog": False,
        "time_budget_s": 9.0}


def test_spec_returns_the_registration_with_read_only_defaults():
    r = Registry(group=None)
    r.register("tiny_spec", "tests.nowhere:Tiny", alpha=2.0)
    s = r.spec("tiny_spec")
    assert isinstance(s, Registration)
    assert (s.id, s.entry_point, dict(s.default_params), s.source) == (
        "tiny_spec", "tests.nowhere:Tiny", {"alpha": 2.0}, "user")
    with pytest.raises(TypeError):
        s.default_params["alpha"] = 5.0


def test_duplicate_id_raises_unless_override():
    r = Registry(group=None)
    r.register("dup", Tiny)
    with pytest.raises(ValueError, match="'dup' is already registered"):
        r.register("dup", Local)
    with pytest.raises(ValueError, match="'greedy' is already registered"):
        r.register("greedy", Tiny)
    r.register("dup", Local, override=True)
    assert type(r.make("dup")) is Local


def test_module_level_register_and_unregister():
    register("tiny_global", Tiny, beta=5)
    try:
        assert "tiny_global" in registered()
        assert make("tiny_global").params == {"alpha": 1.0, "beta": 5}
        with pytest.raises(ValueError, match="already registered"):
            register("tiny_global", Tiny)
    finally:
        reg.unregister("tiny_global")
    assert "tiny_global" not in registered()


@pytest.mark.parametrize("bad_id", ["", " x", "a:b", 3])
def test_malformed_id_is_rejected(bad_id):
    with pytest.raises(ValueError, match="scheduler id"):
        Registry(group=None).register(bad_id, Tiny)


@pytest.mark.parametrize("entry", [NotAScheduler, "no_colon_here", "a b:C", 42])
def test_malformed_entry_point_is_rejected_at_registration(entry):
    with pytest.raises(ValueError, match="entry point"):
        Registry(group=None).register("x", entry)


def test_unknown_id_lists_the_registered_ids():
    with pytest.raises(ValueError) as err:
        make("greedyy")
    msg = str(err.value)
    assert "'greedyy'" in msg
    for name in BUILTINS:
        assert name in msg


def test_module_class_string_is_imported(plugin_module):
    s = make(f"{plugin_module}:AllLocal", gamma=0.1)
    assert type(s).__name__ == "AllLocal" and s.params == {"gamma": 0.1}
    assert type(make("schedulers.greedy:Greedy")) is Greedy
    assert reg.scheduler_class("schedulers.local:Local") is Local


@pytest.mark.parametrize("entry, fragment", [
    ("no_such_module_xyz:Foo", "no_such_module_xyz"),
    ("thirdparty_sched:Missing", "Missing"),
    ("thirdparty_sched:NOT_A_CLASS", "not a Scheduler subclass"),
    ("collections:OrderedDict", "not a Scheduler subclass"),
    ("thirdparty_sched:Broken", "abstract"),
])
def test_bad_module_class_raises_value_error_naming_it(plugin_module, entry, fragment):
    with pytest.raises(ValueError) as err:
        make(entry)
    assert entry in str(err.value)
    assert fragment in str(err.value)


def test_registered_id_with_unimportable_entry_point_names_both():
    r = Registry(group=None)
    r.register("ghost", "no_such_module_xyz:Ghost")
    with pytest.raises(ValueError, match=r"'ghost'.*no_such_module_xyz:Ghost"):
        r.make("ghost")


def test_unknown_param_names_the_scheduler_and_the_param():
    with pytest.raises(ValueError) as err:
        make("greedy", max_task_per_mec=3)
    msg = str(err.value)
    assert "'greedy'" in msg and "'max_task_per_mec'" in msg and "max_tasks_per_mec" in msg


def test_bad_param_value_names_the_scheduler_and_the_param():
    with pytest.raises(ValueError, match=r"'greedy'.*max_tasks_per_mec"):
        make("greedy", max_tasks_per_mec=-1)
    with pytest.raises(ValueError, match=r"'optimal'.*starts"):
        make("optimal", starts="many")
    r = Registry(group=None)
    r.register("tiny", Tiny)
    with pytest.raises(ValueError, match=r"'tiny'.*alpha"):
        r.make("tiny", alpha=-1.0)


def test_type_error_from_a_kwargs_constructor_becomes_value_error(plugin_module):
    class Picky(Scheduler):
        def __init__(self, **params):
            if "rate" in params and not isinstance(params["rate"], float):
                raise TypeError("rate must be a float")
            super().__init__(**params)

        def decide(self, observation):
            return Decision(observation.iotd * 0)

    r = Registry(group=None)
    r.register("picky", Picky)
    with pytest.raises(ValueError, match=r"'picky'.*rate"):
        r.make("picky", rate="fast")
    assert r.make("picky", rate=0.5).params == {"rate": 0.5}


def test_entry_points_are_registered_by_name(plugin_module, monkeypatch):
    _fake_entry_points(monkeypatch, ("allocal", f"{plugin_module}:AllLocal"))
    r = Registry()
    assert "allocal" in r.registered() and "greedy" in r.registered()
    assert r.spec("allocal").source == "entry_point"
    assert r.spec("allocal").entry_point == f"{plugin_module}:AllLocal"
    assert r.make("allocal", gamma=2.0).params == {"gamma": 2.0}


def test_entry_point_clashing_with_a_builtin_is_ignored_with_a_warning(plugin_module, monkeypatch):
    _fake_entry_points(monkeypatch, ("greedy", f"{plugin_module}:AllLocal"),
                       ("weird", "not an entry point"))
    r = Registry()
    with pytest.warns(RuntimeWarning, match="'weird'"), \
            pytest.warns(RuntimeWarning, match="'greedy'.*already registered"):
        ids = r.registered()
    assert "weird" not in ids
    assert type(r.make("greedy")) is Greedy


def test_load_class_rejects_malformed_strings():
    with pytest.raises(ValueError, match="module:Class"):
        load_class("schedulers.greedy.Greedy")
    assert load_class("schedulers.optimal:Optimal") is Optimal


def test_make_rejects_non_strings():
    with pytest.raises(ValueError, match="registered id"):
        make(Greedy)


USER_SCHEDULER = '''
import numpy as np
from mecsim.scheduler import Decision, Scheduler

class AllLocal(Scheduler):
    def decide(self, observation):
        return Decision(np.zeros(observation.n_tasks, dtype=np.int64))
'''


def _main_without_cwd(args, cwd):
    """Run mecsim's CLI as the ``mecsim`` console script does: the working folder is not
    on ``sys.path`` (``python -m`` would put it first)."""
    code = ("import os, sys\n"
            "sys.path[:] = [p for p in sys.path if p not in ('', os.getcwd())]\n"
            "from mecsim.cli import main\n"
            f"sys.exit(main({args!r}))\n")
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def test_user_schedulers_from_a_file_or_a_module_of_the_working_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "my_file.py").write_text(USER_SCHEDULER)
    (tmp_path / "my_mod.py").write_text(USER_SCHEDULER)
    tiny = str(Path(__file__).resolve().parents[1] / "scenarios" / "tiny.yaml")
    done = _main_without_cwd(["run", tiny, "--scheduler", "sub/my_file.py:AllLocal",
                              "--scheduler", "my_mod:AllLocal", "--scheduler", "local",
                              "--out", "out", "--quiet"], tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())["schedulers"]
    assert set(summary) == {"my_file.py:AllLocal", "my_mod:AllLocal", "local"}
    costs = {k: v["mean_cost_per_slot"] for k, v in summary.items()}
    assert costs["my_file.py:AllLocal"] == costs["my_mod:AllLocal"] == costs["local"]


def test_a_file_scheduler_is_imported_once_and_a_missing_file_is_named(tmp_path, monkeypatch):
    (tmp_path / "mine.py").write_text(USER_SCHEDULER)
    monkeypatch.chdir(tmp_path)
    first = reg.load_class("mine.py:AllLocal")
    assert reg.load_class(str(tmp_path / "mine.py") + ":AllLocal") is first
    assert type(make("./mine.py:AllLocal")) is first
    with pytest.raises(ValueError, match=r"no such file: .*nothere\.py"):
        make("nothere.py:AllLocal")
    with pytest.raises(ValueError, match="has no attribute 'Nope'"):
        make("mine.py:Nope")


def test_a_bad_scheduler_name_on_the_command_line_is_one_line_and_exit_2(tmp_path):
    tiny = str(Path(__file__).resolve().parents[1] / "scenarios" / "tiny.yaml")
    for name in ("bad/na me", "nothere.py:X"):
        done = _main_without_cwd(["run", tiny, "--scheduler", name, "--out", "o",
                                  "--quiet"], tmp_path)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and name in done.stderr  # ":X:" is no emoji
        assert len(done.stderr.strip().splitlines()) == 1


def test_a_users_schedulers_py_in_the_working_folder_does_not_shadow_mecsims(tmp_path):
    # python -m puts the working folder first on sys.path: a namesake there must not win.
    (tmp_path / "schedulers.py").write_text("raise RuntimeError('the user file was used')\n")
    tiny = str(Path(__file__).resolve().parents[1] / "scenarios" / "tiny.yaml")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    for args in (["run", tiny, "--scheduler", "greedy", "--scheduler", "optimal", "--out",
                  "out", "--quiet"], ["list"]):
        done = subprocess.run([sys.executable, "-m", "mecsim", *args], capture_output=True,
                              text=True, cwd=tmp_path, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())["schedulers"]
    assert set(summary) == {"greedy", "optimal"}
