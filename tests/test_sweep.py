"""Sweeps: the sweep file, cells, the local and Ray executors, resume, the tidy table."""

import json
import logging
import math
import shutil
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from mecsim.config import ScenarioError
from mecsim.sweep import cli as sweep_cli
from mecsim.sweep.run import WALL_FIELDS, cell_done, run_sweep
from mecsim.sweep.spec import _unique_ids, cell_id, load_sweep

ROOT = Path(__file__).resolve().parent.parent
TINY_GRID = ROOT / "analysis" / "sweeps" / "tiny_grid.yaml"
TINY = ROOT / "scenarios" / "tiny.yaml"


def write_sweep(folder: Path, text: str, name: str = "sweep.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).replace("TINY", str(TINY)))
    return path


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """The tiny grid (2 x 2 cells, 5 slots) run once by the local executor."""
    out = tmp_path_factory.mktemp("local") / "out"
    started = time.perf_counter()
    result = run_sweep(TINY_GRID, out, workers=2)
    result.seconds = time.perf_counter() - started
    return result


# --------------------------------------------------------------------------- the file


def test_grid_expansion_and_cell_ids(tmp_path):
    path = write_sweep(tmp_path, """
        base: TINY
        set: {tasks.deadline_s: 3.0}
        grid:
          iotds.count: [4, 6]
          mecs.cpu_hz: [20e9, [10e9, 30e9]]
        schedulers: [local, {name: greedy, label: greedy2}]
        seeds: [3, 1]
        slots: 7
    """)
    sweep = load_sweep(path)
    assert sweep.grid_keys == ("iotds.count", "mecs.cpu_hz")
    assert sweep.labels == ("local", "greedy2")
    assert len(sweep.cells) == 2 * 2 * 2
    ids = [c.id for c in sweep.cells]
    assert ids[:3] == ["iotds.count=4__mecs.cpu_hz=2.0e+10__seed=3",
                       "iotds.count=4__mecs.cpu_hz=2.0e+10__seed=1",
                       "iotds.count=4__mecs.cpu_hz=1.0e+10_3.0e+10__seed=3"]
    assert len(set(ids)) == len(ids)
    first, last = sweep.cells[0], sweep.cells[-1]
    assert first.scenario.iotds.count == 4 and first.scenario.mecs.cpu_hz == (20e9, 20e9)
    assert last.scenario.iotds.count == 6 and last.scenario.mecs.cpu_hz == (10e9, 30e9)
    assert last.values == {"iotds.count": 6, "mecs.cpu_hz": [10e9, 30e9]} and last.seed == 1
    for cell in sweep.cells:
        s = cell.scenario
        assert (s.seed, s.slots, s.tasks.deadline_s.expected) == (cell.seed, 7, 3.0)
        assert s.scheduler_labels == ("local", "greedy2")
    # same file, same ids; overrides of seeds and slots for a quick run
    assert [c.id for c in load_sweep(path).cells] == ids
    quick = load_sweep(path, slots=2, seeds=[0])
    assert len(quick.cells) == 4 and {c.scenario.slots for c in quick.cells} == {2}


def test_cell_ids_are_safe_and_unique():
    assert cell_id({"iotds.count": 10}, 0) == "iotds.count=10__seed=0"
    assert cell_id({"tasks.arrival": {"process": "poisson", "rate_per_s": 0.5}}, 2) == \
        "tasks.arrival=process_poisson_rate_per_s_0.5__seed=2"
    assert cell_id({"name": "a/b c"}, 0) == "name=a_b_c__seed=0"
    long = cell_id({"mecs.positions_m": [[float(i), 1.0] for i in range(40)]}, 0)
    assert len(long) <= 120 and "/" not in long
    ids = _unique_ids([({"x": "a b"}, 0), ({"x": "a_b"}, 0), ({"x": "c"}, 0)])
    assert ids[2] == "x=c__seed=0" and len(set(ids)) == 3
    assert all(i.startswith("x=a_b__seed=0-") for i in ids[:2])


@pytest.mark.parametrize("body, message", [
    ("grid: {iotds.cout: [1, 2]}",
     "grid.iotds.cout: unknown key (valid keys: count, cpu_hz, max_power_w, kappa, nu, "
     "mobility); did you mean 'count'? (cell iotds.cout=1__seed=0)"),
    ("grd: {iotds.count: [1]}", "grd: unknown key (valid keys: base, set, grid, schedulers, "
                                "seeds, slots); did you mean 'grid'?"),
    ("grid: {iotds.count: [0, 2]}",
     "grid.iotds.count: must be an integer in [1, 1e7] (got 0) (cell iotds.count=0__seed=0)"),
    ("set: {mecs.cout: 3}", "set.mecs.cout: unknown key"),
    ("grid: {seed: [1, 2]}", "grid.seed: cannot be set in grid; use the sweep's 'seeds' key"),
    ("grid: {iotds.count: []}", "grid.iotds.count: must not be empty"),
    ("grid: {iotds.count: 5}", "grid.iotds.count: expected a list of values (got 5)"),
    ("grid: {iotds.count: [1, 1]}", "grid.iotds.count: duplicate value 1"),
    ("seeds: [0, 0]", "seeds: duplicate seeds"),
    ("slots: 0", "slots: must be >= 1 (got 0)"),
    ("schedulers: [local, nosuch]", "schedulers.1: unknown scheduler 'nosuch'"),
    ("schedulers: [{name: local, prams: {}}]", "schedulers.0.prams: unknown key"),
    ("grid: {iotds.count.x: [1]}", "grid.iotds.count.x: iotds.count is 6, not a mapping"),
])
def test_bad_sweep_file_is_one_line_naming_file_and_key(tmp_path, capsys, body, message):
    path = write_sweep(tmp_path, "base: TINY\n" + body + "\n")
    with pytest.raises(ScenarioError) as err:
        load_sweep(path)
    assert str(err.value).startswith(f"{path}: {message}")
    assert "\n" not in str(err.value)
    assert sweep_cli.main([str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: {message[:40]}")
    assert "Traceback" not in captured.err and not (tmp_path / "out").exists()


def test_base_is_a_built_in_scenario_by_name_unless_a_file_is_there(tmp_path):
    from mecsim.scenario_files import builtin_scenarios

    spec = load_sweep(write_sweep(tmp_path, "base: tiny\ngrid: {iotds.count: [4, 6]}\n"))
    assert spec.base == builtin_scenarios()["tiny"].resolve()
    (tmp_path / "tiny").write_text("name: mine\nslots: 3\n")  # a file of that name wins
    spec = load_sweep(write_sweep(tmp_path, "base: tiny\ngrid: {iotds.count: [4, 6]}\n"))
    assert spec.base == (tmp_path / "tiny").resolve()


def test_missing_base_and_not_a_mapping(tmp_path):
    path = write_sweep(tmp_path, "base: nothere.yaml\n")
    with pytest.raises(ScenarioError, match=r"sweep.yaml: base: nothere.yaml: no such file$"):
        load_sweep(path)
    path = write_sweep(tmp_path, "- a\n")
    with pytest.raises(ScenarioError, match="the top level must be a mapping"):
        load_sweep(path)


def test_executor_errors_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    out = tmp_path / "out"
    assert sweep_cli.main([str(TINY_GRID), "--out", str(out), "--executor", "ray"]) == 2
    assert capsys.readouterr().err.strip() == \
        "error: ray is not installed: pip install 'mecsim[ray]'"
    assert sweep_cli.main([str(TINY_GRID), "--out", str(out), "--address", "x:1"]) == 2
    assert "--address is for --executor ray" in capsys.readouterr().err
    assert sweep_cli.main([str(TINY_GRID), "--out", str(out), "--workers", "0"]) == 2
    assert "--workers must be >= 1" in capsys.readouterr().err
    assert not (out / "cells").exists()


# --------------------------------------------------------------------------- local runs


def test_local_sweep_writes_every_cell_and_the_table(local_run):
    sweep = load_sweep(TINY_GRID)
    out = local_run.out
    assert not local_run.failed and not local_run.skipped
    assert sorted(r.cell for r in local_run.ran) == sorted(c.id for c in sweep.cells)
    for cell in sweep.cells:
        folder = out / "cells" / cell.id
        for name in ("scenario.yaml", "summary.json"):
            assert (folder / name).is_file(), (cell.id, name)
        for name in ("slots.parquet", "tasks.parquet"):  # folders of parts
            assert len(pd.read_parquet(folder / name)), (cell.id, name)
        assert cell_done(folder, cell)
    table = pd.read_parquet(out / "sweep.parquet")
    assert list(table.columns[:7]) == ["cell", "iotds.count", "seed", "scheduler", "complete",
                                       "error", "mean_cost_per_slot"]
    assert len(table) == 4 * 3 and table["complete"].all() and table["error"].isna().all()
    assert str(table["iotds.count"].dtype) == "int64"
    for _, row in table.iterrows():
        cell = next(c for c in sweep.cells if c.id == row["cell"])
        assert (row["iotds.count"], row["seed"]) == (cell.values["iotds.count"], cell.seed)
        summary = json.loads((out / "cells" / row["cell"] / "summary.json").read_text())
        s = summary["schedulers"][row["scheduler"]]
        for name in ("mean_cost_per_slot", "ratio_to_optimal", "mean_realized_latency_s",
                     "mean_realized_energy_j", "median_decision_s", "wall_s"):
            assert row[name] == pytest.approx(s[name], rel=0, abs=0), name
        assert row["dropped"] == s["counts"]["dropped"]
        assert row["slots_done"] == 5 == summary["slots"]
    optimal = table[table["scheduler"] == "optimal"]
    assert (optimal["ratio_to_optimal"] == 1.0).all()
    again = load_sweep(out / "sweep.yaml")  # the sweep as run is itself a sweep file
    assert [(c.id, c.scenario) for c in again.cells] == [(c.id, c.scenario) for c in sweep.cells]
    import pyarrow.parquet as pq
    meta = pq.read_schema(out / "sweep.parquet").metadata
    assert json.loads(meta[b"mecsim.grid"]) == ["iotds.count"]
    assert json.loads(meta[b"mecsim.schedulers"]) == ["local", "greedy", "optimal"]


def test_table_carries_the_realized_figures_and_stability(local_run):
    table = pd.read_parquet(local_run.out / "sweep.parquet")
    realized = ["realized_cost_per_task", "realized_cost_lower_bound", "mean_realized_latency_s",
                "latency_p50_s", "latency_p95_s", "latency_p99_s", "drop_rate",
                "in_flight_share", "in_flight_mean_age_s"]
    for name in realized + ["realized_cost_per_task_ratio_to_optimal",
                            "realized_cost_lower_bound_ratio_to_optimal"]:
        assert str(table[name].dtype) == "float64", name
    assert str(table["stable"].dtype) in ("object", "bool")
    for _, row in table.iterrows():
        s = json.loads((local_run.out / "cells" / row["cell"] / "summary.json").read_text())
        mine, optimal = s["schedulers"][row["scheduler"]], s["schedulers"]["optimal"]
        for name in realized:
            if mine[name] is None:
                assert math.isnan(row[name]), name
            else:
                assert row[name] == mine[name], name
        assert mine["stable"] is None and row["stable"] is None  # 5 slots: too short to tell
        for name in ("realized_cost_per_task", "realized_cost_lower_bound"):
            ratio = row[f"{name}_ratio_to_optimal"]
            assert ratio == pytest.approx(mine[name] / optimal[name], rel=1e-12), name
    assert (table.loc[table["scheduler"] == "optimal",
                      "realized_cost_per_task_ratio_to_optimal"] == 1.0).all()
    assert (table.loc[table["scheduler"] == "local",
                      "realized_cost_per_task_ratio_to_optimal"] > 1.0).all()


def test_resume_reruns_only_missing_or_incomplete_cells(local_run, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(local_run.out, out)
    sweep = load_sweep(TINY_GRID)
    ids = [c.id for c in sweep.cells]
    gone, partial, lost = ids[1], ids[2], ids[3]
    (out / "cells" / gone / "summary.json").unlink()
    # complete in its summary, but a part it counts is missing: not done either
    next((out / "cells" / lost / "tasks.parquet").glob("part-001-*.parquet")).unlink()
    summary_path = out / "cells" / partial / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["schedulers"]["optimal"]["complete"] = False
    summary_path.write_text(json.dumps(summary))
    (out / "cells" / partial / "leftover.partial").write_text("x")
    mtimes = {i: (out / "cells" / i / "summary.json").stat().st_mtime_ns
              for i in set(ids) - {gone, partial, lost}}
    table_before = pd.read_parquet(out / "sweep.parquet")

    result = run_sweep(sweep, out, workers=2)
    assert sorted(r.cell for r in result.ran) == sorted([gone, partial, lost])
    assert sorted(result.skipped) == sorted(set(ids) - {gone, partial, lost})
    assert not result.failed
    for i in set(ids) - {gone, partial, lost}:
        assert (out / "cells" / i / "summary.json").stat().st_mtime_ns == mtimes[i]
    assert (out / "cells" / gone / "summary.json").is_file()
    assert not (out / "cells" / partial / "leftover.partial").exists()  # folder cleared
    drop = ["wall_s", "median_decision_s"]
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet").drop(columns=drop),
                                  table_before.drop(columns=drop))
    # nothing left to do: a third call runs nothing
    again = run_sweep(sweep, out)
    assert again.ran == [] and len(again.skipped) == len(ids)
    # a changed scenario (other slots) makes every cell stale
    assert not any(cell_done(out / "cells" / c.id, c)
                   for c in load_sweep(TINY_GRID, slots=6).cells)


HELPER = '''
import numpy as np
from mecsim.scheduler import Decision, Scheduler


class Flaky(Scheduler):
    """Fine with 2 IoTDs; raises in decide with 3 (a scheduler error); in reset with 4."""

    def reset(self, seed, network):
        super().reset(seed, network)
        if network.n_iotds == 4:
            raise RuntimeError("crash in reset")

    def decide(self, observation):
        if self.network.n_iotds == 3 and observation.slot == 1:
            raise RuntimeError("boom")
        return Decision(np.zeros(observation.n_tasks, dtype=np.int64))
'''


def test_failing_cells_are_reported_and_the_others_complete(tmp_path, monkeypatch, capsys):
    helpers = tmp_path / "helpers"
    helpers.mkdir()
    (helpers / "sweep_flaky_helper.py").write_text(HELPER)
    monkeypatch.syspath_prepend(str(helpers))
    monkeypatch.setenv("PYTHONPATH", str(helpers))
    path = write_sweep(tmp_path, """
        base: TINY
        grid: {iotds.count: [2, 3, 4]}
        schedulers: [local, "sweep_flaky_helper:Flaky", greedy]
        slots: 3
    """)
    out = tmp_path / "out"
    assert sweep_cli.main([str(path), "--out", str(out), "--quiet", "--workers", "2"]) == 1
    captured = capsys.readouterr()
    assert "failed: iotds.count=3__seed=0: scheduler 'sweep_flaky_helper:Flaky' at slot 1: " \
           "raised RuntimeError: boom\n" in captured.err
    assert "failed: iotds.count=4__seed=0: RuntimeError: crash in reset\n" in captured.err
    assert "3 cells: 1 run, 0 already done, 2 failed" in captured.out
    table = pd.read_parquet(out / "sweep.parquet").set_index(["iotds.count", "scheduler"])
    assert table["complete"].to_dict() == {
        (2, "local"): True, (2, "sweep_flaky_helper:Flaky"): True, (2, "greedy"): True,
        (3, "local"): True, (3, "sweep_flaky_helper:Flaky"): False, (3, "greedy"): True,
        (4, "local"): True, (4, "sweep_flaky_helper:Flaky"): False, (4, "greedy"): False}
    assert table.loc[(3, "sweep_flaky_helper:Flaky"), "error"].endswith("raised RuntimeError: boom")
    assert table.loc[(4, "sweep_flaky_helper:Flaky"), "error"] == "RuntimeError: crash in reset"
    assert table.loc[(4, "greedy"), "error"] == "RuntimeError: crash in reset"
    assert "Traceback" in (out / "cells" / "iotds.count=4__seed=0" / "error.txt").read_text()
    assert math.isnan(table.loc[(4, "greedy"), "mean_cost_per_slot"])
    # a rerun skips the done cell and retries the failed ones
    result = run_sweep(path, out, workers=2)
    assert result.skipped == ["iotds.count=2__seed=0"]
    assert sorted(r.cell for r in result.failed) == ["iotds.count=3__seed=0",
                                                     "iotds.count=4__seed=0"]


# --------------------------------------------------------------------------- Ray


@pytest.fixture(scope="module")
def ray_instance():
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'mecsim[ray]')")
    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR)
    yield time.perf_counter() - started
    ray.shutdown()


def _without_wall_clock(summary: dict) -> dict:
    summary = json.loads(json.dumps(summary))
    for s in summary["schedulers"].values():
        for name in WALL_FIELDS:
            s.pop(name)
    return summary


def test_ray_executor_equals_local_cell_for_cell(ray_instance, local_run, tmp_path):
    out = tmp_path / "ray"
    started = time.perf_counter()
    result = run_sweep(TINY_GRID, out, executor="ray")
    seconds = time.perf_counter() - started
    print(f"ray: init {ray_instance:.1f} s, sweep {seconds:.1f} s; "
          f"local sweep {local_run.seconds:.1f} s")
    assert not result.failed and len(result.ran) == 4
    for cell in load_sweep(TINY_GRID).cells:
        mine, theirs = out / "cells" / cell.id, local_run.out / "cells" / cell.id
        assert _without_wall_clock(json.loads((mine / "summary.json").read_text())) == \
            _without_wall_clock(json.loads((theirs / "summary.json").read_text())), cell.id
        pd.testing.assert_frame_equal(pd.read_parquet(mine / "tasks.parquet"),
                                      pd.read_parquet(theirs / "tasks.parquet"))
        assert sorted(p.name for p in mine.iterdir()) == sorted(p.name for p in theirs.iterdir())
    drop = ["wall_s", "median_decision_s"]
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet").drop(columns=drop),
                                  pd.read_parquet(local_run.out / "sweep.parquet")
                                  .drop(columns=drop))


def test_the_sweep_command_ends_with_a_results_table(tmp_path, capsys):
    path = write_sweep(tmp_path, """
        base: TINY
        grid: {iotds.count: [5, 3]}
        schedulers: [optimal, local]
        seeds: [0, 1]
        slots: 12
    """)
    assert sweep_cli.main([str(path), "--out", str(tmp_path / "out"), "--quiet",
                           "--workers", "1"]) == 0
    out = capsys.readouterr().out
    df = pd.read_parquet(tmp_path / "out" / "sweep.parquet")
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["3"], ["5"])]
    assert [r[:2] for r in rows] == [["5", "optimal"], ["5", "local"], ["3", "optimal"],
                                     ["3", "local"]]  # run order: as written, not sorted
    figures = [("realized_cost_per_task", 1.0), ("realized_cost_per_task_ratio_to_optimal", 1.0),
               ("mean_realized_latency_s", 1.0), ("latency_p95_s", 1.0), ("drop_rate", 100.0),
               ("offload_share", 100.0)]
    for n, name, seeds, *cells in rows:
        part = df[(df["iotds.count"] == int(n)) & (df.scheduler == name)]
        assert int(seeds) == part["seed"].nunique() == 2
        for (column, scale), cell in zip(figures, cells, strict=False):
            assert float(cell) == pytest.approx(part[column].mean() * scale, rel=1e-3,
                                                abs=1e-9), (n, name, column)
        assert cells[-1] == "?"  # 12 slots: stability not judged
    assert rows[0][4] == "1" and float(rows[1][4]) > 1.5  # local's cost against optimal's
    assert f"fulltable:{tmp_path / 'out' / 'sweep.parquet'}" in "".join(out.split())
    assert "4 cells: 4 run, 0 already done, 0 failed" in out


def test_the_results_table_caps_its_rows_and_says_how_many_are_left_out(tmp_path):
    from rich.console import Console

    n = 7
    rows = {"cell": [f"c{k}" for k in range(n)], "load": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3],
            "seed": [0] * n, "scheduler": ["greedy"] * n, "complete": [True] * n,
            "realized_cost_per_task": [float(k) for k in range(n)]}
    path = tmp_path / "sweep.parquet"
    pd.DataFrame(rows).to_parquet(path)
    console = Console(width=200, record=True)
    console.print(sweep_cli.results_table(path, ["load"], max_rows=3))
    text = console.export_text()
    shown = [line.split() for line in text.splitlines() if line.split()[1:2] == ["greedy"]]
    assert [r[0] for r in shown] == ["0.9", "0.8", "0.7"]  # the first three, as run
    assert f"4morerowsnotshown;fulltable:{path}" in "".join(text.split())
