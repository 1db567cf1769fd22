"""Train then evaluate (issue 13): training's own world, run --checkpoint, online labels,
and the generalisation benchmark's code path on a tiny cell."""

import csv
import importlib.util
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from mecsim.cli import main
from mecsim.config import load_scenario
from mecsim.rng import scheduler_seed, streams, training_seed
from mecsim.training import meta_path, read_meta

ROOT = Path(__file__).resolve().parent.parent
TINY = str(ROOT / "scenarios" / "tiny.yaml")
DIRS = "{demonstrations: 4, demo_holdout: 2, pretrain_steps: 5, train_slots: 5}"
POISSON = "tasks.arrival={process: poisson, rate_per_s: 2.0}"  # arrivals differ by world
SCHEDULE = 4 + 2 + 5  # slots (with tasks) of DIRS's schedule above


def _train(out: Path, *extra: str, slots: int = SCHEDULE + 1) -> int:
    return main(["train", TINY, "--out", str(out), "--quiet", "--scheduler", "dirs_shared",
                 "--slots", str(slots), "--set", POISSON, "--set",
                 f"schedulers=[{{name: dirs_shared, params: {DIRS}}}]", *extra])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A dirs_shared checkpoint trained on tiny.yaml (scenario seed 0) to its schedule's end."""
    out = tmp_path_factory.mktemp("train") / "ck.pt"
    assert _train(out) == 0
    return out


def _tasks_per_slot(run: Path, scheduler: str) -> list[int]:
    slots = pd.read_parquet(run / "slots.parquet")
    return slots[slots["scheduler"] == scheduler].sort_values("slot")["tasks"].tolist()


def test_training_seed_is_a_stream_of_its_own():
    seeds = [training_seed(s) for s in range(50)]
    assert len(set(seeds)) == 50 and all(0 <= t < 2**63 for t in seeds)
    assert all(t != s for s, t in enumerate(seeds))
    assert seeds == [training_seed(s) for s in range(50)]  # reproducible
    assert training_seed(0) not in {scheduler_seed(0, k) for k in range(8)}
    a = streams(0)["arrivals"].random(8)
    b = streams(training_seed(0))["arrivals"].random(8)
    assert not (a == b).all()
    with pytest.raises(ValueError, match="seed"):
        training_seed(-1)


def test_train_and_run_of_one_file_see_different_worlds(trained, tmp_path, capsys):
    meta = read_meta(trained)
    world = training_seed(0)
    assert meta["scenario"] == {"file": TINY, "name": "tiny", "seed": 0}
    assert meta["training_world_seed"] == world
    assert meta["scheduler"]["name"] == "dirs_shared" and meta["finished"] is True
    assert meta["phase"] == "frozen" and meta["slots_needed"] == SCHEDULE
    assert (meta["n_iotds"], meta["n_mecs"], meta["slots"]) == (6, 2, SCHEDULE + 1)
    assert meta["wall_s"] > 0 and meta["mecsim_version"]
    train_run = Path(meta["run_dir"])
    assert load_scenario(train_run / "scenario.yaml").seed == world
    # the evaluation run of the same file and seed simulates other arrivals
    out = tmp_path / "run"
    assert main(["run", TINY, "--out", str(out), "--quiet", "--set", POISSON, "--slots",
                 str(SCHEDULE + 1), "--scheduler", "local"]) == 0
    seen_in_training = _tasks_per_slot(train_run, "dirs_shared")
    assert _tasks_per_slot(out, "local") != seen_in_training
    # and the sidecar's world seed is the world training saw
    again = tmp_path / "again"
    assert main(["run", TINY, "--out", str(again), "--quiet", "--set", POISSON, "--slots",
                 str(SCHEDULE + 1), "--scheduler", "local", "--seed", str(world)]) == 0
    assert _tasks_per_slot(again, "local") == seen_in_training


def test_train_prints_the_world_and_warns_when_the_schedule_does_not_finish(tmp_path,
                                                                            capsys):
    out = tmp_path / "short.pt"
    assert _train(out, slots=4) == 0
    captured = capsys.readouterr()
    assert f"world seed {training_seed(0)}" in captured.out
    assert "did not finish" in captured.err and f"--slots {SCHEDULE}" in captured.err
    meta = json.loads(meta_path(out).read_text())
    assert meta["finished"] is False and meta["training_slots"] == 4


def test_run_checkpoint_freezes_the_learner(trained, tmp_path, capsys):
    out = tmp_path / "frozen"
    code = main(["run", TINY, "--out", str(out), "--quiet", "--slots", "5", "--seed", "3",
                 "--scheduler", "optimal", "--checkpoint", str(trained)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads((out / "summary.json").read_text())["schedulers"]
    assert summary["dirs_shared"]["index"] == 1  # added to the run from the sidecar
    assert summary["dirs_shared"]["training_slots"] == 0
    assert summary["dirs_shared"]["complete"] and summary["dirs_shared"]["ratio_to_optimal"]
    assert not (out / "training.parquet").exists()  # no update rows: frozen
    assert "(online)" not in captured.out and "training world" not in captured.err
    stored = load_scenario(out / "scenario.yaml")
    assert stored.seed == 3
    # LABEL=PATH into the scenario's own entry of that label
    out2 = tmp_path / "labelled"
    assert main(["run", TINY, "--out", str(out2), "--quiet", "--slots", "3", "--set",
                 f"schedulers=[local, {{name: dirs_shared, label: mine, params: {DIRS}}}]",
                 "--checkpoint", f"mine={trained}"]) == 0
    summary = json.loads((out2 / "summary.json").read_text())["schedulers"]
    assert summary["mine"]["training_slots"] == 0
    assert not (out2 / "training.parquet").exists()


def test_online_learner_is_labelled(tmp_path, capsys):
    out = tmp_path / "online"
    assert main(["run", TINY, "--out", str(out), "--quiet", "--slots", "8", "--set",
                 f"schedulers=[optimal, {{name: dirs_shared, params: {DIRS}}}]"]) == 0
    captured = capsys.readouterr()
    summary = json.loads((out / "summary.json").read_text())["schedulers"]
    assert summary["dirs_shared"]["training_slots"] == 8
    assert summary["optimal"]["training_slots"] == 0
    assert "(online)" in captured.out and "still learning on 8 of 8 slots" in captured.err
    assert (out / "training.parquet").exists()


def test_run_checkpoint_refused_before_any_scheduler_runs(trained, tmp_path, capsys):
    out = tmp_path / "other_m"
    code = main(["run", TINY, "--out", str(out), "--quiet", "--set", "mecs.count=3", "--set",
                 "mecs.cpu_hz=[1e10, 1e10, 1e10]", "--set",
                 f"schedulers=[local, {{name: dirs_shared, params: {DIRS}}}]",
                 "--checkpoint", str(trained)])
    err = capsys.readouterr().err
    assert code == 2 and "schedulers.1.params.checkpoint" in err and "M=3" in err
    assert len(err.strip().splitlines()) == 1
    assert not (out / "summary.json").exists()
    # ambiguous, unknown label, and a scheduler that does not learn
    for sets, ck, words in [
            (f"schedulers=[dirs, {{name: dirs_shared, params: {DIRS}}}]", str(trained),
             ("several schedulers", "dirs, dirs_shared")),
            ("schedulers=[local, greedy]", f"greedy={trained}", ("greedy does not learn",)),
    ]:
        code = main(["run", TINY, "--out", str(tmp_path / "x"), "--quiet", "--set", sets,
                     "--checkpoint", ck])
        err = capsys.readouterr().err
        assert code == 2 and all(w in err for w in words), err


def test_run_on_the_training_world_warns(trained, tmp_path, capsys):
    out = tmp_path / "same"
    assert main(["run", TINY, "--out", str(out), "--quiet", "--slots", "2", "--scheduler",
                 "local", "--seed", str(training_seed(0)), "--checkpoint", str(trained)]) == 0
    assert "its own training world" in capsys.readouterr().err


def _bench():
    spec = importlib.util.spec_from_file_location(
        "bench_learners", ROOT / "benchmarks" / "bench_learners.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_bench_learners_on_a_tiny_cell(tmp_path):
    bench = _bench()
    grid = tmp_path / "grid.yaml"
    grid.write_text(
        "base: scenarios/tiny.yaml\ntrain_seed: 0\neval_seeds: [1]\nslots: 4\n"
        "labels: false\nbaselines: [optimal, greedy]\n"
        f"learners:\n  dirs_shared: {DIRS}\n  droo: {{train_slots: 4}}\n"
        "cells:\n  tiny: []\n  other: ['iotds.count=7']\n")
    out = tmp_path / "out"
    code = bench.main(["--grid", str(grid), "--out", str(out), "--cells", "tiny",
                       "--workers", "1", "--no-inference"])
    assert code == 1  # tiny schedules miss the targets: the exit status says so
    rows = list(csv.DictReader(open(out / "bench_learners.csv")))
    assert [r["scheduler"] for r in rows] == ["dirs_shared", "droo", "optimal", "greedy"]
    ratios = {r["scheduler"]: float(r["ratio"]) for r in rows}
    assert ratios["optimal"] == 1.0 and all(v >= 1.0 - 1e-9 for v in ratios.values())
    assert all(r["online_slots"] == "0" and r["cell"] == "tiny" for r in rows)
    trained = {r["scheduler"]: float(r["train_s"]) for r in rows[:2]}
    assert all(v > 0 for v in trained.values())
    text = (out / "bench_learners.md").read_text()
    assert "## tiny" in text and "## other" not in text and "FAIL: tiny: dirs_shared" in text
    for name in ratios:
        assert f"| {name} | {ratios[name]:.3f} |" in text
    meta = read_meta(out / "runs" / "tiny" / "train" / "dirs_shared.pt")
    assert meta["training_world_seed"] == training_seed(0) != 1


def test_train_without_slots_runs_the_whole_schedule(tmp_path, capsys):
    """No --slots: the run lasts the schedule plus a margin and ends frozen, whatever the
    scenario's own length (tiny.yaml: 20 slots, shorter than this schedule's 25)."""
    out = tmp_path / "ck.pt"
    params = "{demonstrations: 8, demo_holdout: 2, pretrain_steps: 5, train_slots: 15}"
    assert main(["train", TINY, "--out", str(out), "--quiet", "--scheduler", "dirs_shared",
                 "--set", f"schedulers=[{{name: dirs_shared, params: {params}}}]"]) == 0
    meta = read_meta(out)
    assert meta["slots"] == 25 + 25 // 20 + 5 and meta["finished"] is True
    assert "training for 31 slots" in capsys.readouterr().out
