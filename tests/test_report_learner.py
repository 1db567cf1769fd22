"""The report draws a learner's own training metrics (issue 15, items 4 and 6)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mecsim.config import SchedulerSpec, load_scenario
from mecsim.engine.runner import run_scenario
from mecsim.report.build import build_report
from mecsim.report.learner_figures import learner_metrics

ROOT = Path(__file__).resolve().parent.parent
TINY = str(ROOT / "scenarios" / "tiny.yaml")
COLORS = {"a": "#111111", "b": "#222222"}


def fabricated() -> pd.DataFrame:
    """Two schedulers; ``eps`` logged with a slot, ``q`` with a step, ``dead`` never."""
    rows = []
    for k in range(5):
        rows.append({"scheduler": "a", "slot": k, "eps": 0.1 * k, "dead": None})
        rows.append({"scheduler": "b", "slot": k, "eps": 1.0 - 0.1 * k, "dead": None})
    rows += [{"scheduler": "a", "step": s, "q": 2.0 * s} for s in (1, 2, 3)]
    rows += [{"scheduler": "b", "step": s, "q": -1.0 * s} for s in (10, 20)]
    # DIRS's rows: a loss update, and a slot row carrying an eps value that must not show
    rows.append({"scheduler": "a", "kind": "update", "slot": 1, "step": 1, "agent": 1,
                 "loss": 0.3})
    rows.append({"scheduler": "a", "kind": "slot", "slot": 2, "eps": 999.0, "reward": 1.0})
    frame = pd.DataFrame(rows)
    for c in ("slot", "step", "agent"):
        frame[c] = frame[c].astype("Int32")
    frame["dead"] = frame["dead"].astype(float)
    return frame.assign(run="")


def lines(fig, metric: str) -> dict[str, object]:
    return {t.meta["scheduler"]: t for t in fig.data if t.meta["metric"] == metric}


def test_one_panel_per_metric_with_its_x_and_colours():
    fig = learner_metrics(fabricated(), COLORS)
    assert [a.text for a in fig.layout.annotations] == ["eps", "q"]  # no panel for dead
    eps, q = lines(fig, "eps"), lines(fig, "q")
    assert set(eps) == set(q) == {"a", "b"}
    assert list(eps["a"].x) == list(range(5)) and list(eps["b"].x) == list(range(5))
    assert np.allclose(eps["a"].y, [0.0, 0.1, 0.2, 0.3, 0.4])  # DIRS's 999 left out
    assert np.allclose(eps["b"].y, [1.0, 0.9, 0.8, 0.7, 0.6])
    assert list(q["a"].x) == [1, 2, 3] and list(q["b"].x) == [10, 20]
    assert np.allclose(q["b"].y, [-10.0, -20.0])
    assert all(eps[n].line.color == COLORS[n] and q[n].line.color == COLORS[n] for n in "ab")
    assert eps["a"].xaxis == "x" and q["a"].xaxis == "x2"
    assert fig.layout.xaxis.title.text == "slot" and fig.layout.xaxis2.title.text == "step"
    assert fig.layout.xaxis2.tickformat == "d" and list(fig.layout.xaxis2.tickvals) == [
        1, 2, 3, 10, 20]
    assert "step %{x}" in q["a"].hovertemplate
    assert fig.layout.yaxis.range is None  # the whole learning curve, its start included
    assert [t.showlegend for t in fig.data] == [True, True, False, False]


def test_without_slot_or_step_x_is_the_order_and_long_series_are_smoothed():
    n = 200
    frame = pd.DataFrame({"scheduler": ["a"] * n + ["b"] * 3,
                          "score": np.r_[np.arange(n, dtype=float), [5.0, 6.0, 7.0]]})
    fig = learner_metrics(frame, COLORS)
    score = lines(fig, "score")
    assert list(score["b"].x) == [1, 2, 3]
    assert score["a"].x[0] == 1 and score["a"].x[-1] == n
    assert np.isclose(score["a"].y[-1], np.arange(n - 10, n).mean())  # window n/20 = 10
    assert fig.layout.xaxis.title.text == (
        "logged value number, no slot or step logged (rolling mean over 10)")


def test_no_metric_no_figure_and_a_cap_naming_the_rest():
    dirs_only = fabricated().drop(columns=["q", "dead"])
    dirs_only = dirs_only[dirs_only["kind"].notna()]  # eps only in DIRS's slot row
    assert learner_metrics(dirs_only) is None
    assert learner_metrics(pd.DataFrame({"scheduler": ["a"], "slot": [1]})) is None
    wide = pd.DataFrame({"scheduler": ["a"] * 3, "slot": [0, 1, 2],
                         **{f"m{k:02d}": [1.0, 2.0, float(k)] for k in range(14)}})
    fig = learner_metrics(wide, COLORS, max_metrics=12)
    assert len(fig.layout.annotations) == 12
    assert "2 more metrics not drawn: m12, m13" in fig.layout.title.text


def test_sweep_means_over_seeds_one_setting_at_a_time():
    rows = []
    for setting, base in (("x=1", 0.0), ("x=2", 100.0)):
        for seed in (0, 1):
            rows += [{"scheduler": "a", "slot": s, "eps": base + seed + s,
                      "run": f"{setting}/{seed}", "setting": setting} for s in range(3)]
    fig = learner_metrics(pd.DataFrame(rows), COLORS)
    means = [t for t in fig.data if t.meta.get("kind") == "mean"]
    assert [t.meta["setting"] for t in means] == ["x=1", "x=2"]
    assert np.allclose(means[0].y, [0.5, 1.5, 2.5]) and np.allclose(means[1].y, [100.5, 101.5,
                                                                                  102.5])
    assert means[0].visible is not False and means[1].visible is False
    menu, = fig.layout.updatemenus
    assert [b.label for b in menu.buttons] == ["x=1", "x=2"]
    one = learner_metrics(pd.DataFrame([r for r in rows if r["setting"] == "x=1"]), COLORS)
    assert not one.layout.updatemenus  # one setting: no menu


LEARNER = '''
import numpy as np

from mecsim.scheduler import Decision, Scheduler


class Learner(Scheduler):
    """Runs every task locally; logs its own metrics (by slot, by step) or only a slot."""

    def __init__(self, metrics: bool = True):
        super().__init__(metrics=metrics)
        self.seen, self._log = 0, []

    def decide(self, observation):
        return Decision(np.zeros(len(observation.iotd), dtype=np.int64))

    def feedback(self, outcome):
        self.seen += 1
        row = {"slot": outcome.slot}
        if self.params["metrics"]:
            row["q_mean"] = 0.5 * self.seen
        self._log.append(row)
        if self.params["metrics"]:
            self._log.append({"step": 10 * self.seen, "td_error": 1.0 / self.seen})

    def drain_log(self):
        rows, self._log = self._log, []
        return rows
'''


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    (tmp_path / "mylearner.py").write_text(LEARNER)
    monkeypatch.chdir(tmp_path)

    def run(metrics: bool) -> Path:
        out = tmp_path / f"run_{metrics}"
        scenario = load_scenario(TINY).model_copy(update={"slots": 6})
        spec = SchedulerSpec(name="mylearner.py:Learner", params={"metrics": metrics})
        result, = run_scenario(scenario, out, schedulers=[spec], channels=False)
        assert result.error is None
        return out

    return run


def test_report_draws_a_user_learners_metrics(run_dir):
    report = build_report(run_dir(True))
    fig = report.figures["learner_metrics"]
    assert [a.text for a in fig.layout.annotations] == ["q_mean", "td_error"]
    assert [len(t.x) for t in fig.data] == [6, 6]
    assert fig.layout.xaxis.title.text == "slot" and fig.layout.xaxis2.title.text == "step"
    text = report.path.read_text()
    assert "<h3>Training metrics</h3>" in text and "q_mean" in text and "td_error" in text
    assert not report.notes


def test_report_notes_a_learner_without_metrics(run_dir):
    report = build_report(run_dir(False))
    assert "learner_metrics" not in report.figures
    assert "Skipped: no free-form metrics in training.parquet" in report.path.read_text()


def test_report_of_a_sweep_draws_the_metrics_per_setting(tmp_path, monkeypatch):
    from mecsim.sweep.run import run_sweep

    (tmp_path / "mylearner.py").write_text(LEARNER)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sweep.yaml").write_text(
        f"base: {TINY}\ngrid:\n  iotds.count: [3, 4]\n"
        "schedulers: [greedy, 'mylearner.py:Learner']\nseeds: [0, 1]\nslots: 5\n")
    result = run_sweep(tmp_path / "sweep.yaml", tmp_path / "out", workers=1)
    assert not result.failed
    fig = build_report(tmp_path / "out").figures["learner_metrics"]
    means = [t for t in fig.data if t.meta.get("kind") == "mean"]
    assert {(t.meta["setting"], t.meta["metric"]) for t in means} == {
        (f"iotds.count={n}", m) for n in (3, 4) for m in ("q_mean", "td_error")}
    assert {t.meta["scheduler"] for t in means} == {"mylearner.py:Learner"}
    assert np.allclose(means[0].y, 0.5 * np.arange(1, 6))  # the same in both seeds
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == [
        "iotds.count=3", "iotds.count=4"]


def test_slot_wins_over_step_and_a_partly_logged_slot_falls_back():
    frame = pd.DataFrame({"scheduler": ["a"] * 4, "slot": [5, 6, 7, None],
                          "step": [100, 200, 300, 400], "both": [1.0, 2.0, 3.0, None],
                          "gappy": [1.0, 2.0, 3.0, 4.0]})
    frame["slot"] = frame["slot"].astype("Int32")
    fig = learner_metrics(frame, COLORS)
    both, gappy = lines(fig, "both")["a"], lines(fig, "gappy")["a"]
    assert list(both.x) == [5, 6, 7] and fig.layout.xaxis.title.text == "slot"
    assert list(gappy.x) == [100, 200, 300, 400] and fig.layout.xaxis2.title.text == "step"
