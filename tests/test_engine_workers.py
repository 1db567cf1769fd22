"""Issue 14: a run's schedulers in worker processes (``run --workers``), the same run bit for bit.

Each scheduler is simulated in a forked worker (:mod:`mecsim.engine.workers`); the parent
alone writes ``summary.json`` and renames the workers' parts into place. These tests check
that the results and the folder are a serial run's, that the workers really are separate
processes running at once, and what happens when a worker dies, raises, or the run is
stopped (Ctrl-C, SIGTERM, kill -9 of the parent).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_results_folder import ROOT, TINY, assert_same_run, mecsim_env, wait_until

from mecsim.config import SchedulerSpec
from mecsim.engine import records
from mecsim.engine.folder import check_run_folder, complete_schedulers
from mecsim.engine.runner import run_scenario
from mecsim.preflight import can_fork

pytestmark = pytest.mark.skipif(not can_fork(), reason="runs fork workers on Linux only")

PLUGIN = '''
import os
import signal
from pathlib import Path

import numpy as np
from mecsim.scheduler import Decision, Scheduler


class DiesAtSlot5(Scheduler):
    """Kills its own process at slot 5, as the OOM killer would."""

    def decide(self, observation):
        if observation.slot == 5:
            os.kill(os.getpid(), signal.SIGKILL)
        return Decision(np.zeros(observation.n_tasks, dtype=np.int64))


class WritesItsPid(Scheduler):
    """Local placement; writes the process id it decides in to ``folder/label``.

    ``folder`` defaults to the environment's ``PIDS``, ``label`` to the class's name.
    """

    def __init__(self, folder=None, label=None):
        super().__init__(folder=folder, label=label)
        self.file = Path(folder or os.environ["PIDS"]) / (label or type(self).__name__)

    def decide(self, observation):
        if observation.slot == 0:
            self.file.write_text(str(os.getpid()))
        return Decision(np.zeros(observation.n_tasks, dtype=np.int64))


class AlsoWritesItsPid(WritesItsPid):
    """The same, under another name."""


class StartsAProcess(Scheduler):
    """Local placement; starts a child process of its own at reset (as a data loader may)."""

    def reset(self, seed, network):
        import multiprocessing

        super().reset(seed, network)
        child = multiprocessing.get_context("fork").Process(target=int)
        child.start()
        child.join()
        assert child.exitcode == 0

    def decide(self, observation):
        return Decision(np.zeros(observation.n_tasks, dtype=np.int64))
'''


def specs(*names):
    return [SchedulerSpec(name=n) for n in names]


@pytest.fixture
def plugin(tmp_path):
    path = tmp_path / "plugin.py"
    path.write_text(PLUGIN)
    return f"{path}:"


def test_a_parallel_run_is_the_serial_run_bit_for_bit(tiny, tmp_path):
    scenario = tiny("slots=60", "tasks.arrival={process: poisson, rate_per_s: 1.5}",
                    "tasks.deadline_s=2")
    serial = run_scenario(scenario, tmp_path / "serial", channels=True)
    ticks: dict[str, list[int]] = {}
    started = []

    def progress(name, total):
        started.append(name)
        ticks[name] = [0, 0]

        def tick(slot, tasks):
            ticks[name][0] = slot + 1
            ticks[name][1] += tasks
        return tick

    parallel = run_scenario(scenario, tmp_path / "parallel", channels=True, workers=3,
                            progress=progress)
    assert_same_run(tmp_path / "parallel", tmp_path / "serial")
    assert started == ["optimal", "local", "random", "greedy"]  # the longest first
    assert not list((tmp_path / "parallel").rglob(".*"))  # every part renamed into place
    for a, b in zip(parallel, serial, strict=True):
        assert (a.name, a.complete, a.error, a.counts) == (b.name, True, None, b.counts)
        assert a.model_costs == b.model_costs and a.ratio_to_optimal == b.ratio_to_optimal
        assert a.scheduler is None and b.scheduler is not None  # it stays in its worker
        assert ticks[a.name] == [60, a.counts["generated"]]


def test_the_workers_are_separate_processes_running_at_once(tiny, tmp_path, plugin):
    pids = tmp_path / "pids"
    pids.mkdir()
    runs = [SchedulerSpec(name=plugin + "WritesItsPid", label=label,
                          params={"folder": str(pids), "label": label})
            for label in ("a", "b", "c")]
    events = []

    def progress(name, total):
        events.append(("start", name))
        return lambda slot, tasks: events.append(("tick", name)) if slot + 1 == total else None

    results = run_scenario(tiny("slots=30"), tmp_path / "run", schedulers=runs, workers=2,
                           progress=progress)
    assert all(r.complete for r in results)
    seen = {label: int((pids / label).read_text()) for label in ("a", "b", "c")}
    assert len(set(seen.values())) == 3 and os.getpid() not in seen.values()
    # b starts before a ends (two at once); c only once a or b has ended
    assert events.index(("start", "b")) < events.index(("tick", "a"))
    assert events.index(("start", "c")) > min(events.index(("tick", "a")),
                                              events.index(("tick", "b")))


def test_a_worker_that_dies_is_its_schedulers_error_and_the_others_run_on(tiny, tmp_path,
                                                                         plugin):
    out = tmp_path / "run"
    runs = [*specs("local"), SchedulerSpec(name=plugin + "DiesAtSlot5", label="dies"),
            *specs("greedy")]
    results = run_scenario(tiny("slots=40"), out, schedulers=runs, workers=2)
    by_name = {r.name: r for r in results}
    assert by_name["dies"].error == "scheduler 'dies': its worker process died (killed by " \
                                   "SIGKILL)"
    assert not by_name["dies"].complete
    assert by_name["local"].complete and by_name["greedy"].complete
    assert check_run_folder(out) == []
    summary = json.loads((out / "summary.json").read_text())["schedulers"]
    assert summary["dies"]["error"] == by_name["dies"].error
    assert summary["dies"]["complete"] is False
    assert set(complete_schedulers(out)) == {"local", "greedy"}


def test_an_exception_in_a_worker_is_raised_by_the_run(tiny, tmp_path, monkeypatch):
    stage = records.TableWriter.stage

    def disk_full_for_greedy(self):  # inherited by the forked workers
        if self.owner == 1 and self._pending:
            raise OSError(28, "No space left on device")
        return stage(self)

    monkeypatch.setattr(records.TableWriter, "stage", disk_full_for_greedy)
    monkeypatch.setenv("MECSIM_FLUSH_S", "0.01")
    out = tmp_path / "run"
    with pytest.raises(OSError, match="No space left on device") as caught:
        run_scenario(tiny("slots=200"), out, schedulers=specs("local", "greedy", "random"),
                     workers=2)
    if sys.version_info >= (3, 11):  # exception notes
        assert any("in the worker of scheduler 'greedy'" in n for n in caught.value.__notes__)
    assert check_run_folder(out) == []
    summary = json.loads((out / "summary.json").read_text())["schedulers"]
    assert summary["greedy"]["complete"] is False
    assert summary["random"]["slots"] == 0  # not started once greedy failed


def test_jobs_below_1_is_refused_before_anything_is_written(tiny, tmp_path):
    with pytest.raises(ValueError, match="workers must be at least 1, not 0"):
        run_scenario(tiny("slots=2"), tmp_path / "run", workers=0)
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- stops


def _start(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mecsim", "run", TINY, "--out", str(out),
                             "--slots", "400", "--channels", "--quiet", "--workers", "2", *extra],
                            cwd=ROOT, env=mecsim_env("0.05"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _processes_of(out: Path) -> list[int]:
    """Processes whose command line names ``out`` (a forked worker has its parent's)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(out).encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:  # ended meanwhile
            continue
    return found


def _slots_written(out: Path) -> int:
    try:
        summary = json.loads((out / "summary.json").read_text())
    except (OSError, ValueError):
        return 0
    return sum(e.get("slots", 0) for e in summary["schedulers"].values())


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 1)])
def test_a_signal_to_the_parent_stops_the_workers_with_their_slots_kept(tiny, tmp_path,
                                                                       signum, status):
    reference = tmp_path / "reference"
    run_scenario(tiny("slots=400"), reference, channels=True)
    out = tmp_path / "run"
    proc = _start(out)
    wait_until(lambda: _slots_written(out) >= 100 or proc.poll() is not None)
    proc.send_signal(signum)  # to the parent only: it passes the stop on
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert "Traceback" not in err
    assert _processes_of(out) == []
    assert check_run_folder(out) == []
    assert not list(out.rglob(".*"))  # every staged part renamed, or none was staged
    summary = json.loads((out / "summary.json").read_text())["schedulers"]
    assert sum(e["complete"] for e in summary.values()) < 4
    assert sum(e["slots"] > 0 and not e["complete"] for e in summary.values()) >= 1
    resumed = subprocess.run([sys.executable, "-m", "mecsim", "run", TINY, "--resume", str(out),
                              "--slots", "400", "--channels", "--quiet", "--workers", "2"],
                             cwd=ROOT, env=mecsim_env(None), capture_output=True, text=True,
                             timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(out, reference)


def test_kill_9_of_the_parent_ends_its_workers_and_the_run_resumes(tiny, tmp_path):
    reference = tmp_path / "reference"
    run_scenario(tiny("slots=400"), reference, channels=True)
    out = tmp_path / "run"
    proc = _start(out)
    wait_until(lambda: _slots_written(out) >= 100 or proc.poll() is not None)
    workers = [p for p in _processes_of(out) if p != proc.pid]
    assert workers  # forked, with the parent's command line
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while _processes_of(out) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _processes_of(out) == []  # the kernel ended them with their parent
    assert check_run_folder(out) == []
    resumed = subprocess.run([sys.executable, "-m", "mecsim", "run", TINY, "--resume", str(out),
                              "--slots", "400", "--channels", "--quiet"],
                             cwd=ROOT, env=mecsim_env(None), capture_output=True, text=True,
                             timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(out, reference)


# --------------------------------------------------------------------------- choosing workers


def test_auto_jobs_is_one_per_cpu_and_scheduler_within_the_memory(tiny, monkeypatch):
    from mecsim import preflight

    scenario = tiny("slots=2000")  # 4 schedulers
    monkeypatch.setattr(preflight, "usable_cpus", lambda: 8)
    assert preflight.auto_workers(scenario, available_bytes=1e12) == 4
    assert preflight.auto_workers(scenario, specs("local"), available_bytes=1e12) == 1
    monkeypatch.setattr(preflight, "usable_cpus", lambda: 2)
    assert preflight.auto_workers(scenario, available_bytes=1e12) == 2
    one = preflight.estimate(scenario, workers=1).memory_bytes
    two = preflight.estimate(scenario, workers=2).memory_bytes
    assert two > one
    room = (one + two) / 2 / preflight.FIT_SHARE  # one fits, two do not
    assert preflight.auto_workers(scenario, available_bytes=room) == 1
    monkeypatch.setattr(preflight, "can_fork", lambda: False)
    assert preflight.auto_workers(scenario, available_bytes=1e12) == 1


def test_auto_runs_a_short_run_in_one_process(tiny, monkeypatch):
    """Forking workers costs more than it saves on a short run (``tiny``, 1 slot: 0.60 s
    serial against 0.66-0.76 s in 2 workers)."""
    from mecsim import preflight

    monkeypatch.setattr(preflight, "usable_cpus", lambda: 2)
    short = preflight.estimate(tiny("slots=1"), workers=1)
    assert short.seconds - short.seconds_parts["start"] < preflight.AUTO_MIN_WORK_S
    assert preflight.auto_workers(tiny("slots=1"), available_bytes=1e12) == 1
    assert preflight.auto_workers(tiny("slots=2000"), available_bytes=1e12) == 2


def test_the_estimate_of_jobs_at_once_overlaps_their_time(tiny):
    from mecsim.preflight import estimate

    scenario = tiny("slots=1000", "iotds.count=200")
    serial, two = estimate(scenario, workers=1), estimate(scenario, workers=2)
    start = serial.seconds_parts["start"]
    assert serial.seconds == pytest.approx(sum(serial.seconds_parts.values()))
    assert start + (serial.seconds - start) / 2 <= two.seconds < serial.seconds
    assert two.seconds_parts == serial.seconds_parts  # the work is the same
    assert "4 schedulers, 2 at once)" in two.line() and "at once" not in serial.line()


def test_the_cli_runs_jobs_workers_or_one_process(tmp_path, plugin):
    seen = {}
    for workers in ("1", "2"):
        pids = tmp_path / f"pids{workers}"
        pids.mkdir()
        done = subprocess.run([sys.executable, "-m", "mecsim", "run", TINY, "--out",
                               str(tmp_path / f"run{workers}"), "--slots", "5", "--quiet",
                               "--scheduler", plugin + "WritesItsPid",
                               "--scheduler", plugin + "AlsoWritesItsPid", "--workers", workers],
                              cwd=ROOT, env={**mecsim_env(None), "PIDS": str(pids)},
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        seen[workers] = {int(f.read_text()) for f in pids.iterdir()}
        assert len(list(pids.iterdir())) == 2
    assert len(seen["1"]) == 1 and len(seen["2"]) == 2


@pytest.mark.parametrize("value", ["0", "-1", "x"])
def test_a_bad_jobs_value_is_refused_by_name(tmp_path, value):
    done = subprocess.run([sys.executable, "-m", "mecsim", "run", TINY, "--out",
                           str(tmp_path / "run"), "--workers", value], cwd=ROOT,
                          env=mecsim_env(None), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert (f"argument --workers: expected a whole number >= 1 or 'auto', not '{value}'"
            in done.stderr)
    assert "Traceback" not in done.stderr and not (tmp_path / "run").exists()


def test_the_api_runs_jobs_at_once_with_the_same_results():
    from mecsim.api import run

    serial = run("tiny", slots=20)
    parallel = run("tiny", slots=20, workers=2)
    for name in ("tasks", "slots"):
        a, b = getattr(parallel, name), getattr(serial, name)
        key = ["scheduler", "task_id"] if name == "tasks" else ["scheduler", "slot"]
        a = a.drop(columns=["decision_s"], errors="ignore").sort_values(key, ignore_index=True)
        b = b.drop(columns=["decision_s"], errors="ignore").sort_values(key, ignore_index=True)
        assert a.equals(b), name
    with pytest.raises(ValueError, match="workers must be 'auto' or a number of at least 1"):
        run("tiny", slots=2, workers=0)


def test_a_sigterm_as_a_worker_starts_stops_it(tiny, tmp_path, monkeypatch):
    # sent before the worker has its own handlers: blocked until it has, not lost
    from mecsim.engine import workers

    start = workers._start

    def start_and_terminate(*args):
        worker = start(*args)
        os.kill(worker.process.pid, signal.SIGTERM)
        return worker

    monkeypatch.setattr(workers, "_start", start_and_terminate)
    out = tmp_path / "run"
    results = run_scenario(tiny("slots=300"), out, schedulers=specs("local", "greedy"), workers=2)
    for r in results:
        assert not r.complete and r.slots < 300
        assert r.error == f"scheduler {r.name!r}: its worker process was terminated by SIGTERM"
    assert check_run_folder(out) == []


def test_a_scheduler_in_a_worker_may_start_processes_of_its_own(tiny, tmp_path, plugin):
    runs = [SchedulerSpec(name=plugin + "StartsAProcess", label=label) for label in "ab"]
    results = run_scenario(tiny("slots=3"), tmp_path / "run", schedulers=runs, workers=2)
    assert [(r.complete, r.error) for r in results] == [(True, None), (True, None)]


def test_workers_start_the_longest_expected_first(tiny):
    """``optimal`` and the learners before the baselines; ties in run order (on 2 cores,
    ``dense_100`` took 15.7-16.2 s against 18.4-18.6 s with ``optimal`` started last)."""
    from mecsim.preflight import longest_first

    runs = specs("local", "random", "optimal", "greedy", "dirs")
    order = [runs[k].name for k in longest_first(tiny(), runs)]
    assert order[:2] in (["optimal", "dirs"], ["dirs", "optimal"])
    assert order[2:] == ["local", "random", "greedy"]
    assert longest_first(tiny(), specs("greedy", "local")) == [0, 1]
