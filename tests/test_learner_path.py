"""Train, then evaluate, for any learner (issue 15, item 4).

A user's learner from a file (a Scheduler overriding feedback/save/load/drain_log, with
no ``checkpoint`` parameter of its own) is trained with ``mecsim train``, loaded back by
``run --checkpoint`` or a scenario item's ``checkpoint:``, and its free-form training log
lands in ``training.parquet``.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from mecsim.config import SchedulerSpec, load_scenario
from mecsim.engine.records import TrainingWriter, read_table, table_path, training_columns
from mecsim.engine.runner import run_scenario
from mecsim.registry import accepts_param, checkpoint_params
from mecsim.report.build import build_report

ROOT = Path(__file__).resolve().parent.parent
TINY = str(ROOT / "scenarios" / "tiny.yaml")
THRESHOLD = 10  # feedback calls after which the learner offloads everything to MEC 1

LEARNER = f'''
import json
from pathlib import Path

import numpy as np

from mecsim.scheduler import Decision, Scheduler


class Learner(Scheduler):
    """Runs every task locally until it has seen {THRESHOLD} feedbacks, then on MEC 1."""

    def __init__(self, bias: float = 0.0):
        super().__init__(bias=bias)
        self.seen = 0
        self._log = []

    def decide(self, observation):
        target = 1 if self.seen >= {THRESHOLD} else 0
        return Decision(np.full(len(observation.iotd), target, dtype=np.int64))

    def feedback(self, outcome):
        self.seen += 1
        self._log.append({{"slot": outcome.slot, "seen": self.seen,
                          "q_mean": 0.5 * self.seen}})

    def drain_log(self):
        rows, self._log = self._log, []
        return rows

    def save(self, path):
        Path(path).write_text(json.dumps({{"seen": self.seen}}))

    def load(self, path):
        self.seen = json.loads(Path(path).read_text())["seen"]
'''


def mecsim(cwd: Path, *args: str):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "mecsim", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd, env=env)


@pytest.fixture
def user_dir(tmp_path):
    (tmp_path / "mylearner.py").write_text(LEARNER)
    return tmp_path


def first_slot_targets(run_dir: Path) -> list[int]:
    """The learner's targets of the first slot's tasks (other schedulers' rows skipped)."""
    tasks = read_table(table_path(run_dir, "tasks"), ["scheduler", "slot", "target"])
    frame = tasks.to_pandas()
    frame = frame[frame["scheduler"].str.contains("Learner")]
    assert len(frame)
    return frame[frame["slot"] == frame["slot"].min()]["target"].tolist()


def test_train_then_run_checkpoint_loads_user_learner(user_dir):
    proc = mecsim(user_dir, "train", TINY, "--scheduler", "mylearner.py:Learner",
                  "--out", "lp.json", "--slots", "20", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((user_dir / "lp.json").read_text())["seen"] == 20
    log = read_table(user_dir / "lp.json.run" / "training.parquet").to_pandas()
    assert list(log["seen"]) == list(range(1, 21))
    assert list(log["q_mean"]) == [0.5 * k for k in range(1, 21)]
    assert log["slot"].tolist() == list(range(20))
    assert log["loss"].isna().all()  # DIRS's columns are still there, null

    proc = mecsim(user_dir, "run", TINY, "--checkpoint", "lp.json", "--slots", "4",
                  "--out", "loaded", "--quiet")
    assert proc.returncode == 0, proc.stderr
    proc = mecsim(user_dir, "run", TINY, "--scheduler", "mylearner.py:Learner", "--slots",
                  "4", "--out", "fresh", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert set(first_slot_targets(user_dir / "loaded")) == {1}  # the loaded state decides
    assert set(first_slot_targets(user_dir / "fresh")) == {0}

    report = build_report(user_dir / "lp.json.run", user_dir / "r.html")
    text = report.path.read_text()
    assert "no per-agent loss rows" in text  # not "no training.parquet": it is there
    assert not report.notes


def test_scenario_item_checkpoint_loads_any_learner(user_dir, monkeypatch):
    (user_dir / "state.json").write_text(json.dumps({"seen": 99}))
    monkeypatch.chdir(user_dir)
    scenario = load_scenario(TINY).model_copy(update={"slots": 3})
    spec = SchedulerSpec(name="mylearner.py:Learner",
                         params={"bias": 1.0, "checkpoint": "state.json"})
    result, = run_scenario(scenario, user_dir / "out", schedulers=[spec], channels=False)
    assert result.error is None
    assert result.scheduler.seen == 99 + 3  # loaded after reset, then learned 3 slots
    assert set(first_slot_targets(user_dir / "out")) == {1}

    spec = SchedulerSpec(name="mylearner.py:Learner", params={"checkpoint": "nope.json"})
    result, = run_scenario(scenario, user_dir / "bad", schedulers=[spec], channels=False)
    assert "nope.json" in result.error and "FileNotFoundError" in result.error


def test_missing_checkpoint_is_one_line_exit_2(user_dir):
    proc = mecsim(user_dir, "run", TINY, "--scheduler", "mylearner.py:Learner",
                  "--set", "schedulers=[{name: 'mylearner.py:Learner', "
                  "params: {checkpoint: nope.json}}]", "--slots", "2", "--quiet")
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "params.checkpoint" in lines[0], proc.stderr
    assert "nope.json" in lines[0]


def test_train_refuses_a_scheduler_that_does_not_learn(tmp_path):
    proc = mecsim(tmp_path, "train", TINY, "--scheduler", "greedy", "--out", "g.json",
                  "--quiet")
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "does not learn" in lines[0], proc.stderr
    assert not (tmp_path / "g.json").exists()


def test_checkpoint_params_keeps_it_only_where_the_constructor_takes_it(user_dir,
                                                                         monkeypatch):
    monkeypatch.chdir(user_dir)
    params, path = checkpoint_params("mylearner.py:Learner", {"bias": 1, "checkpoint": "a"})
    assert (params, path) == ({"bias": 1}, "a")
    params, path = checkpoint_params("dirs", {"checkpoint": "b", "train": False})
    assert (params, path) == ({"checkpoint": "b", "train": False}, "b")
    assert checkpoint_params("greedy", {}) == ({}, None)
    # run --checkpoint sets train: false only on a learner that takes it
    assert not accepts_param("mylearner.py:Learner", "train")
    assert accepts_param("dirs", "train")


def test_training_writer_unions_free_form_metrics(tmp_path):
    folder = tmp_path / "training.parquet"
    writer = TrainingWriter(folder, 0)
    writer.append(training_columns("a", [{"kind": "update", "agent": 1, "loss": 0.5}]))
    writer.append(training_columns("a", [{"slot": 3, "eps": 0.1}]))
    writer.commit(writer.stage())
    writer.append(training_columns("a", [{"step": 7, "q": 2}]))
    writer.commit(writer.stage())
    table = read_table(folder)
    assert table.schema.field("agent").type == pa.int16()  # DIRS's types are kept
    assert table.schema.field("eps").type == pa.float64()
    frame = table.to_pandas()
    assert frame["eps"].tolist()[:2] == [pytest.approx(float("nan"), nan_ok=True), 0.1]
    assert frame["q"].isna().tolist() == [True, True, False]
    assert frame["step"].tolist()[2] == 7


@pytest.mark.parametrize("row", [{"note": "text"}, {"v": [1, 2]}, {3: 1.0}])
def test_free_form_metric_must_be_a_number(row):
    with pytest.raises(ValueError, match="training log"):
        training_columns("a", [row])
