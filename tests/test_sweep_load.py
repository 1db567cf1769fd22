"""Sweeps along the offered load (the ``load`` key) and ``sweep --quick``."""

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_sweep import test_bad_sweep_file_is_one_line_naming_file_and_key as one_line_error

from mecsim.engine.stability import offered_load
from mecsim.sweep import cli as sweep_cli
from mecsim.sweep.run import run_sweep
from mecsim.sweep.spec import QUICK_SLOTS, load_sweep, quick_values, rate_for_load

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "scenarios" / "tiny.yaml"
LOADED = ROOT / "scenarios" / "loaded.yaml"
LOAD_SWEEP = ROOT / "analysis" / "sweeps" / "load.yaml"


def write_sweep(folder: Path, text: str, name: str = "sweep.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).replace("TINY", str(TINY))
                    .replace("LOADED", str(LOADED)))
    return path


# --------------------------------------------------------------------------- load -> rate


def test_load_becomes_the_rate_of_loaded_yaml(tmp_path):
    # loaded.yaml: N = 100 IoTDs of f0 = 1 GHz, 6 MECs of 10 GHz, E[F] = 2e9 cycles:
    # capacity (100e9 + 60e9) / 2e9 = 80 tasks/s, 0.8 task/s per IoTD at load 1.
    path = write_sweep(tmp_path, """
        base: LOADED
        grid: {load: [0.25, 1.0, 1.5]}
        schedulers: [local]
        slots: 10
    """)
    sweep = load_sweep(path)
    assert [c.id for c in sweep.cells] == ["load=0.25__seed=0", "load=1.0__seed=0",
                                           "load=1.5__seed=0"]
    rates = [c.scenario.tasks.arrival.rate_per_s for c in sweep.cells]
    assert rates == [0.2, 0.8, 1.2]
    for cell in sweep.cells:
        assert cell.values == {"load": cell.values["load"]}
        assert offered_load(cell.scenario)["all_cpus"] == pytest.approx(cell.values["load"])


def test_load_is_computed_from_each_cells_scenario(tmp_path):
    # tiny.yaml: MECs 10 + 20 GHz, f0 1 GHz, E[F] 1e9 cycles; the rate per IoTD is
    # load (N f0 + 30e9) / (N 1e9): 6 load with N = 6, 8.5 load with N = 4.
    path = write_sweep(tmp_path, """
        base: TINY
        set: {tasks.arrival: {process: poisson}}
        grid:
          iotds.count: [4, 6]
          load: [0.5, 1.2]
        schedulers: [local]
        seeds: [0, 1]
    """)
    sweep = load_sweep(path)
    got = {(c.values["iotds.count"], c.values["load"], c.seed):
           c.scenario.tasks.arrival.rate_per_s for c in sweep.cells}
    assert got == {(4, 0.5, 0): 4.25, (4, 0.5, 1): 4.25, (4, 1.2, 0): 10.2, (4, 1.2, 1): 10.2,
                   (6, 0.5, 0): 3.0, (6, 0.5, 1): 3.0, (6, 1.2, 0): 7.2, (6, 1.2, 1): 7.2}
    assert sweep.grid_keys == ("iotds.count", "load")
    assert sweep.cells[0].id == "iotds.count=4__load=0.5__seed=0"


def test_load_in_set_and_bernoulli_arrivals(tmp_path):
    path = write_sweep(tmp_path, """
        base: TINY
        set: {load: 0.1, tasks.arrival: {process: bernoulli}}
        grid: {iotds.count: [4, 6]}
        schedulers: [local]
    """)
    sweep = load_sweep(path)
    # bernoulli: probability = rate x slot_s (1 s) = 0.85 (N = 4), 0.6 (N = 6)
    assert [c.scenario.tasks.arrival.probability for c in sweep.cells] == [0.85, 0.6]
    # a rate_for_load on its own: the key and the value
    assert rate_for_load(sweep.cells[1].scenario, 0.1) == ("probability", 0.6)


@pytest.mark.parametrize("body, message", [
    ("grid: {load: [0, 0.5]}",
     "grid.load: must be a number > 0: the offered load as a fraction of the network's CPU "
     "capacity (1.0 = all CPUs busy) (got 0)"),
    ("grid: {load: [0.5, -1]}", "grid.load: must be a number > 0: the offered load"),
    ("grid: {load: [true]}", "grid.load: must be a number > 0: the offered load"),
    ("grid: {load: [high]}", "grid.load: must be a number > 0: the offered load"),
    ("grid: {load: [.nan]}", "grid.load: must be a number > 0: the offered load"),
    ("grid: {load: []}", "grid.load: must not be empty"),
    ("grid: {load: [0.5, 0.5]}", "grid.load: duplicate value 0.5"),
    ("set: {load: 0}", "set.load: must be a number > 0: the offered load"),
    ("grid: {load: [0.5]}\nset: {load: 0.5}", "grid.load: also given in set"),
    ("grid: {load: [0.5]}\nset: {tasks.arrival.rate_per_s: 2.0}",
     "set.tasks.arrival.rate_per_s: sets the arrival rate, which the sweep's 'load' sets; "
     "keep one of them"),
    ("grid: {load: [0.5]}",  # tiny.yaml's arrival is per_slot: its rate is fixed
     "grid.load: needs a poisson or bernoulli task arrival, whose rate it sets; the cell's "
     "tasks.arrival.process is per_slot (a fixed rate of one task per IoTD per slot): add "
     "tasks.arrival: {process: poisson} to the sweep's set (cell load=0.5__seed=0)"),
    ("set: {tasks.arrival: {process: bernoulli}}\ngrid: {load: [0.1, 0.2]}",
     "grid.load: 0.2 needs 1.2 tasks per IoTD per slot, more than a bernoulli arrival's "
     "probability 1 allows; use tasks.arrival: {process: poisson} (cell load=0.2__seed=0)"),
])
def test_bad_load_is_one_line_naming_file_and_key(tmp_path, capsys, body, message):
    one_line_error(tmp_path, capsys, "schedulers: [local]\n" + body, message)


def test_load_sweep_runs_and_the_table_has_the_load_column(tmp_path):
    path = write_sweep(tmp_path, """
        base: TINY
        set: {tasks.arrival: {process: poisson}}
        grid: {load: [0.3, 1.5]}
        schedulers: [local, greedy]
        seeds: [0, 1]
        slots: 20
    """)
    out = tmp_path / "out"
    result = run_sweep(path, out, workers=1)
    assert not result.failed and len(result.ran) == 4
    table = pd.read_parquet(out / "sweep.parquet")
    assert list(table.columns[:3]) == ["cell", "load", "seed"]
    assert sorted(table["load"].unique()) == [0.3, 1.5]
    for cell in ("load=0.3__seed=0", "load=1.5__seed=1"):
        summary = json.loads((out / "cells" / cell / "summary.json").read_text())
        assert summary["load"]["all_cpus"] == pytest.approx(float(cell[5:8]))
    # the sweep as run is a sweep file that loads back to the same cells
    again = load_sweep(out / "sweep.yaml")
    assert [c.scenario for c in again.cells] == [c.scenario for c in load_sweep(path).cells]


# --------------------------------------------------------------------------- --quick


def test_quick_values():
    assert quick_values([1]) == [1]
    assert quick_values([1, 2]) == [1, 2]
    assert quick_values([1, 2, 3]) == [1, 3]
    assert quick_values([1, 2, 3, 4]) == [1, 3, 4]
    assert quick_values([1, 2, 3, 4, 5]) == [1, 3, 5]


def test_quick_thins_the_load_sweep_and_caps_its_slots():
    full = load_sweep(LOAD_SWEEP)
    quick = load_sweep(LOAD_SWEEP, quick=True)
    loads = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5]
    assert full.spec.grid == {"load": loads} and len(full.cells) == 15 * 3
    assert quick.spec.grid == {"load": loads[::2]} and len(quick.cells) == 8 * 3
    assert {c.scenario.slots for c in full.cells} == {300}
    assert {c.scenario.slots for c in quick.cells} == {QUICK_SLOTS} == {200}
    assert quick.spec.seeds == full.spec.seeds == (0, 1, 2)
    assert quick.labels == full.labels == ("local", "greedy", "optimal", "lyapunov",
                                           "lydroo", "dirs_shared")
    # the quick cells are the full sweep's cells at the kept loads, but for their slots
    kept = {c.id: c for c in full.cells}
    for cell in quick.cells:
        assert cell.scenario == kept[cell.id].scenario.model_copy(update={"slots": 200})


@pytest.mark.parametrize("body, slots", [
    ("slots: 7", {7}),                        # fewer than QUICK_SLOTS: kept
    ("", {QUICK_SLOTS}),                      # the base's 400 slots: capped
    ("set: {slots: 500}", {QUICK_SLOTS}),
    ("set: {slots: 150}", {150}),
])
def test_quick_caps_the_slots_wherever_they_are_given(tmp_path, body, slots):
    path = write_sweep(tmp_path, f"base: LOADED\nschedulers: [local]\ngrid: "
                                 f"{{load: [0.1, 0.2, 0.3]}}\n{body}\n")
    sweep = load_sweep(path, quick=True)
    assert [c.values["load"] for c in sweep.cells] == [0.1, 0.3]
    assert {c.scenario.slots for c in sweep.cells} == slots


def test_quick_caps_a_slots_grid(tmp_path):
    path = write_sweep(tmp_path, """
        base: TINY
        schedulers: [local]
        grid: {slots: [20, 150, 250, 300, 400]}
    """)
    sweep = load_sweep(path, quick=True)
    assert sweep.spec.grid == {"slots": [20, QUICK_SLOTS]}
    assert [c.scenario.slots for c in sweep.cells] == [20, QUICK_SLOTS]


def test_quick_on_the_command_line(tmp_path, capsys, monkeypatch):
    path = write_sweep(tmp_path, """
        base: TINY
        set: {tasks.arrival: {process: poisson}}
        grid: {load: [0.2, 0.4, 0.6, 0.8, 1.0]}
        schedulers: [local]
        seeds: [0, 1]
        slots: 250
    """, name="q.yaml")
    monkeypatch.chdir(tmp_path)
    assert sweep_cli.main([str(path), "--quick", "--quiet", "--workers", "1"]) == 0
    captured = capsys.readouterr()
    out = tmp_path / "results" / "sweeps" / "q-quick"  # not the full sweep's folder
    assert f"quick: 6 cells (load: 3 values), 200 slots; out {Path('results/sweeps/q-quick')}" \
        in captured.err
    assert "6 cells: 6 run" in captured.out
    assert sorted(p.name for p in (out / "cells").iterdir()) == [
        f"load={v}__seed={s}" for v in ("0.2", "0.6", "1.0") for s in (0, 1)]
    as_run = yaml.safe_load((out / "sweep.yaml").read_text())
    assert as_run["grid"] == {"load": [0.2, 0.6, 1.0]} and as_run["slots"] == 200
    summary = json.loads((out / "cells" / "load=1.0__seed=0" / "summary.json").read_text())
    assert summary["slots"] == 200


def test_quick_is_documented_in_help(capsys):
    with pytest.raises(SystemExit):
        sweep_cli.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--quick" in text and "every other value" in text
    assert f"at most {QUICK_SLOTS} slots" in text and "-quick" in text
