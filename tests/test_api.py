"""The Python API of a run: mecsim.run and mecsim.load_results."""

import json
from pathlib import Path

import pandas as pd
import pytest

import mecsim
from mecsim.config import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "scenarios" / "tiny.yaml"


def test_run_in_memory_returns_the_tables_and_the_summary():
    res = mecsim.run(TINY, schedulers=["local", "optimal"], seed=3, slots=8)
    assert res.folder is None and res.schedulers == ["local", "optimal"]
    assert res.summary["seed"] == 3 and res.summary["slots"] == 8
    assert len(res.slots) == 2 * 8 and set(res.slots.scheduler) == {"local", "optimal"}
    assert set(res.tasks.scheduler) == {"local", "optimal"}
    table = res.table()
    assert list(table.index) == ["local", "optimal"]
    assert table.loc["optimal", "ratio_to_optimal"] == pytest.approx(1.0)
    assert table.loc["local", "mean_cost_per_slot"] == pytest.approx(
        res.slots[res.slots.scheduler == "local"].model_cost.mean())


def test_run_equals_the_command_line_and_load_results_reads_it_back(tmp_path):
    from mecsim.cli import main

    assert main(["run", str(TINY), "--scheduler", "greedy", "--seed", "2", "--slots", "6",
                 "--out", str(tmp_path / "cli"), "--quiet"]) == 0
    res = mecsim.run(TINY, schedulers=["greedy"], seed=2, slots=6, out=tmp_path / "api")
    assert res.folder == tmp_path / "api"
    cli = mecsim.load_results(tmp_path / "cli")
    pd.testing.assert_series_equal(cli.slots.model_cost, res.slots.model_cost)
    assert cli.table().loc["greedy", "realized_cost_per_task"] == \
        res.table().loc["greedy", "realized_cost_per_task"]
    again = mecsim.load_results(tmp_path / "api")
    assert again.summary == json.loads((tmp_path / "api" / "summary.json").read_text())


def test_scheduler_items_and_a_scenario_object():
    scenario = load_scenario(TINY)
    res = mecsim.run(scenario, schedulers=[("greedy", {"max_tasks_per_mec": 1}),
                                           {"name": "greedy", "label": "greedy_free"}],
                     slots=5, overrides=["iotds.count=4"])
    assert res.schedulers == ["greedy", "greedy_free"]
    assert res.tasks.iotd.max() <= 3
    capped = res.slots[res.slots.scheduler == "greedy"].offloaded.sum()
    free = res.slots[res.slots.scheduler == "greedy_free"].offloaded.sum()
    assert capped < free


def test_bad_input_raises_before_running(tmp_path):
    with pytest.raises(ScenarioError, match="iotds.count"):
        mecsim.run(TINY, overrides=["iotds.count=0"])
    with pytest.raises(ValueError, match="unknown scheduler 'nosuch'"):
        mecsim.run(TINY, schedulers=["nosuch"], out=tmp_path / "x")
    assert not (tmp_path / "x").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        mecsim.run(TINY, schedulers=["local"], out=tmp_path / "full")
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        mecsim.load_results(tmp_path)


def test_the_docs_example_runs(tmp_path, monkeypatch):
    import re

    code = re.search(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(),
                     flags=re.S)[1]
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "tiny.yaml").write_text(TINY.read_text())
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/api.md", "exec"), {})
    assert (tmp_path / "results" / "api-example" / "summary.json").exists()
