"""Tests of the scenario file: models, defaults, errors, overrides, dump/load."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from mecsim.config import (
    ChoiceDist,
    ConstantDist,
    GaussMarkovMobility,
    PoissonArrival,
    RandomWaypointMobility,
    Scenario,
    ScenarioError,
    SchedulerSpec,
    StaticMobility,
    TruncNormalDist,
    UniformDist,
    apply_overrides,
    default_mec_layout,
    dump_scenario,
    load_scenario,
    scenario_from_dict,
)

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
SHIPPED = sorted(SCENARIOS.glob("*.yaml"))


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(data: dict, source: str = "bad.yaml") -> str:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, source=source)
    return str(info.value)


# --------------------------------------------------------------------------- shipped files


def test_the_four_required_scenarios_are_shipped():
    names = {p.stem for p in SHIPPED}
    assert {"paper", "dense_100", "failures", "tiny"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_scenario_validates_and_round_trips(path: Path, tmp_path: Path):
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    again = load_scenario(write(tmp_path, dump_scenario(scenario)))
    assert again == scenario
    assert len(scenario.mec_cpu_hz) == scenario.n_mecs
    assert scenario.mec_positions_m.shape == (scenario.n_mecs, 2)


def test_paper_scenario_is_table_one():
    s = load_scenario(SCENARIOS / "paper.yaml")
    assert s == Scenario(name="paper")  # every key equals the default (Table I)
    assert (s.n_mecs, s.n_iotds, s.slots) == (2, 30, 3000)
    assert isinstance(s.iotds.mobility, StaticMobility)
    assert s.channel.fading.rho == 0.0
    assert s.tasks.arrival.process == "per_slot"
    assert s.scheduler_labels == ("local", "random", "greedy", "optimal")


def test_dense_scenario_meets_the_issue():
    s = load_scenario(SCENARIOS / "dense_100.yaml")
    assert s.n_iotds >= 100 and s.n_mecs >= 4
    assert len(set(s.mec_cpu_hz)) > 1
    assert not isinstance(s.iotds.mobility, StaticMobility)
    assert s.channel.fading.rho == "jakes" and s.channel.fading.jakes
    assert isinstance(s.tasks.arrival, PoissonArrival)
    assert not isinstance(s.tasks.data_bits, ConstantDist)
    assert not isinstance(s.tasks.cycles, ConstantDist)
    assert s.slots == 1000
    assert s.area_m[0] * s.area_m[1] > 50.0 * 50.0
    assert s.scheduler_labels == ("local", "random", "greedy", "optimal")


def test_failures_and_tiny_scenarios():
    f = load_scenario(SCENARIOS / "failures.yaml")
    assert len(f.mecs.failures) == 2
    assert all(1 <= e.mec <= f.n_mecs for e in f.mecs.failures)
    assert all(e.end_s <= f.duration_s for e in f.mecs.failures)
    t = load_scenario(SCENARIOS / "tiny.yaml")
    assert (t.n_mecs, t.n_iotds, t.slots) == (2, 6, 20)


# --------------------------------------------------------------------------- defaults


def test_defaults_equal_the_spec_table():
    s = Scenario()
    assert s.tasks.data_bits == ConstantDist(value=8.0e5)
    assert s.tasks.cycles == ConstantDist(value=1.0e9)
    assert s.channel.bandwidth_hz == 1.0e6
    assert s.iotds.cpu_hz == 1.0e9
    assert s.mec_cpu_hz == (50.0e9, 50.0e9)
    assert s.iotds.max_power_w == 1.5
    assert s.channel.noise_psd_w_per_hz == 1.0e-12
    assert (s.iotds.kappa, s.iotds.nu) == (1.0e-27, 3.0)
    assert s.channel.beta0 == 1.0e-3
    assert s.channel.d_min_m == 1.0
    assert (s.weights.latency_per_s, s.weights.energy_per_j) == (1.0, 1.0)
    assert s.area_m == (50.0, 50.0)
    assert (s.n_mecs, s.n_iotds) == (2, 30)
    assert (s.slots, s.slot_s, s.seed) == (3000, 1.0, 0)
    assert s.channel.fading.model == "rayleigh" and s.channel.fading.rho == 0.0
    assert s.mecs.failures == () and s.mecs.on_failure == "drop"
    assert s.tasks.deadline_s is None
    assert s.greedy_max_tasks_per_mec is None
    assert s.on_invalid == "error"
    assert s.output.channels == "auto" and s.write_channels


def test_model_params_follow_the_scenario():
    s = scenario_from_dict({"channel": {"bandwidth_hz": 2e6}, "weights": {"energy_per_j": 0}})
    p = s.model_params
    assert p.bandwidth_hz == 2e6 and p.phi_e == 0.0 and p.phi_t == 1.0
    assert p.noise_w == pytest.approx(2e-6)
    assert p.max_power_w == 1.5 and p.kappa == 1e-27


def test_an_empty_mapping_is_the_default_scenario():
    assert scenario_from_dict({}) == Scenario()


def test_models_are_frozen():
    s = Scenario()
    with pytest.raises(ValidationError, match="frozen"):
        s.slots = 5  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        s.mecs.count = 5  # type: ignore[misc]


# --------------------------------------------------------------------------- derived values


def test_cpu_hz_scalar_is_broadcast_to_count():
    s = scenario_from_dict({"mecs": {"count": 3, "cpu_hz": 20e9}})
    assert s.mec_cpu_hz == (20e9, 20e9, 20e9)
    assert scenario_from_dict({"mecs": {"count": 5}}).mec_cpu_hz == (50e9,) * 5
    listed = scenario_from_dict({"mecs": {"count": 2, "cpu_hz": [10e9, 20e9]}})
    assert listed.mec_cpu_hz == (10e9, 20e9)


def test_default_layout():
    np.testing.assert_allclose(default_mec_layout(2, (50, 50)), [[12.5, 25], [37.5, 25]])
    np.testing.assert_allclose(
        default_mec_layout(4, (200, 200)), [[50, 50], [150, 50], [50, 150], [150, 150]]
    )
    three = default_mec_layout(3, (50, 50))  # 2 + 1, the partial row centred
    np.testing.assert_allclose(three, [[12.5, 12.5], [37.5, 12.5], [25, 37.5]])
    for m in range(1, 30):
        for area in ((50.0, 50.0), (300.0, 40.0), (10.0, 90.0)):
            pts = default_mec_layout(m, area)
            assert pts.shape == (m, 2)
            assert len({tuple(p) for p in pts.round(9)}) == m
            assert np.all(pts > 0) and np.all(pts < np.array(area))
    s = scenario_from_dict({"mecs": {"positions_m": [[1, 2], [3, 4]]}})
    np.testing.assert_allclose(s.mec_positions_m, [[1, 2], [3, 4]])


def test_write_channels_auto_threshold():
    assert scenario_from_dict({"iotds": {"count": 5000}, "mecs": {"count": 2}}).write_channels
    assert not scenario_from_dict({"iotds": {"count": 5001}, "mecs": {"count": 2}}).write_channels
    assert scenario_from_dict(
        {"iotds": {"count": 9000}, "output": {"channels": True}}
    ).write_channels
    assert not scenario_from_dict({"output": {"channels": False}}).write_channels


def test_distribution_means():
    assert ConstantDist(value=4).expected == 4
    assert UniformDist(low=1, high=3).expected == 2
    assert ChoiceDist(values=[1, 3], probs=[0.25, 0.75]).expected == 2.5
    assert ChoiceDist(values=[1, 3]).weights == (0.5, 0.5)
    sym = TruncNormalDist(mean=5, std=1, low=3, high=7)
    assert sym.expected == pytest.approx(5)
    skew = TruncNormalDist(mean=3, std=1, low=3, high=10)
    assert skew.expected == pytest.approx(3 + math.sqrt(2 / math.pi), rel=1e-6)


# --------------------------------------------------------------------------- shorthands


def test_shorthands():
    s = scenario_from_dict(
        {
            "iotds": {"mobility": "gauss_markov"},
            "tasks": {"arrival": "poisson", "data_bits": 4e5, "cycles": "2e9"},
            "schedulers": [
                "greedy",
                {"name": "greedy", "label": "greedy_10", "params": {"max_tasks_per_mec": 10}},
                "pkg.mod:Cls",
            ],
        }
    )
    assert isinstance(s.iotds.mobility, GaussMarkovMobility)
    assert s.tasks.arrival == PoissonArrival(rate_per_s=1.0)
    assert s.tasks.data_bits == ConstantDist(value=4e5)
    assert s.tasks.cycles == ConstantDist(value=2e9)
    assert s.schedulers[0] == SchedulerSpec(name="greedy", params={}, label="greedy")
    assert s.schedulers[1].params == {"max_tasks_per_mec": 10}
    assert s.scheduler_labels == ("greedy", "greedy_10", "pkg.mod:Cls")


def test_yaml_shorthand_numbers_are_floats(tmp_path: Path):
    path = write(
        tmp_path,
        "mecs: {cpu_hz: 50e9}\nchannel: {noise_psd_w_per_hz: 1e-12, carrier_hz: 2.4e9}\n"
        "schedulers: [{name: dirs, params: {lr: 1e-4}}]\n",
    )
    s = load_scenario(path)
    assert s.mec_cpu_hz == (50e9, 50e9)
    assert s.channel.noise_psd_w_per_hz == 1e-12 and s.channel.carrier_hz == 2.4e9
    assert s.schedulers[0].params == {"lr": 1e-4}  # float in free-form params too
    # the same string through the Python API
    assert scenario_from_dict({"mecs": {"cpu_hz": "50e9"}}).mec_cpu_hz == (50e9, 50e9)


def test_integral_floats_accepted_for_counts():
    assert scenario_from_dict({"slots": 1e3, "iotds": {"count": "50"}}).slots == 1000


# --------------------------------------------------------------------------- rejections


def test_unknown_top_level_key():
    msg = error_of({"slotz": 3})
    assert msg.startswith("bad.yaml: slotz: unknown key (valid keys: name, seed, slots,")
    assert "did you mean 'slots'" in msg
    assert "\n" not in msg


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"iotds": {"cuont": 50}}, "iotds.cuont"),
        ({"channel": {"fading": {"rhoo": 0.5}}}, "channel.fading.rhoo"),
        (
            {"mecs": {"failures": [{"mec": 1, "start_s": 0, "duration_s": 1, "x": 1}]}},
            "mecs.failures.0.x",
        ),
        ({"iotds": {"mobility": {"model": "random_waypoint", "spead": 1}}}, "iotds.mobility.spead"),
        (
            {"tasks": {"data_bits": {"dist": "uniform", "low": 1, "high": 2, "mean": 1}}},
            "tasks.data_bits.mean",
        ),
        (
            {"tasks": {"arrival": {"process": "bernoulli", "rate_per_s": 1}}},
            "tasks.arrival.rate_per_s",
        ),
        ({"schedulers": [{"name": "greedy", "parms": {}}]}, "schedulers.0.parms"),
        ({"output": {"channel": True}}, "output.channel"),
    ],
)
def test_unknown_nested_keys_name_their_path_and_the_valid_keys(data, path):
    msg = error_of(data)
    assert msg.startswith(f"bad.yaml: {path}: unknown key (valid keys: ")


def test_unknown_key_lists_the_models_valid_keys():
    msg = error_of({"iotds": {"cuont": 50}})
    assert msg == (
        "bad.yaml: iotds.cuont: unknown key (valid keys: count, cpu_hz, max_power_w, kappa, "
        "nu, mobility); did you mean 'count'?"
    )


@pytest.mark.parametrize(
    ("data", "path", "got"),
    [
        ({"slots": "many"}, "slots", "'many'"),
        ({"slots": 2.5}, "slots", "2.5"),
        ({"seed": -1}, "seed", "-1"),
        ({"iotds": {"count": True}}, "iotds.count", "true"),
        ({"iotds": {"count": 0}}, "iotds.count", "0"),
        ({"mecs": {"cpu_hz": -5e9}}, "mecs.cpu_hz", None),
        ({"mecs": {"cpu_hz": [10e9, -1]}}, "mecs.cpu_hz.1", "-1"),
        ({"mecs": {"cpu_hz": [10e9, 20e9, 30e9]}}, "mecs.cpu_hz", "[1e+10, 2e+10, 3e+10]"),
        ({"mecs": {"count": 3, "cpu_hz": [10e9, 20e9]}}, "mecs.cpu_hz", None),
        ({"slot_s": float("nan")}, "slot_s", "nan"),
        ({"channel": {"bandwidth_hz": float("inf")}}, "channel.bandwidth_hz", "inf"),
        ({"channel": {"beta0": 0}}, "channel.beta0", "0"),
        ({"iotds": {"max_power_w": "high"}}, "iotds.max_power_w", "'high'"),
        ({"area_m": [50, 50, 50]}, "area_m", None),
        ({"area_m": [50, -1]}, "area_m.1", "-1"),
        (
            {"mecs": {"failures": [{"mec": 3, "start_s": 10, "duration_s": 5}]}},
            "mecs.failures.0.mec",
            "3",
        ),
        (
            {"mecs": {"failures": [{"mec": 1, "start_s": -1, "duration_s": 5}]}},
            "mecs.failures.0.start_s",
            "-1",
        ),
        (
            {"mecs": {"failures": [{"mec": 1, "start_s": 1, "duration_s": 0}]}},
            "mecs.failures.0.duration_s",
            "0",
        ),
        ({"mecs": {"failures": [{"mec": 1, "start_s": 1}]}}, "mecs.failures.0.duration_s", None),
        ({"mecs": {"positions_m": [[10, 10], [60, 10]]}}, "mecs.positions_m.1", "[60, 10]"),
        ({"mecs": {"positions_m": [[10, 10], [10, -0.5]]}}, "mecs.positions_m.1", None),
        ({"mecs": {"positions_m": [[10, 10]]}}, "mecs.positions_m", None),
        ({"mecs": {"on_failure": "retry"}}, "mecs.on_failure", "'retry'"),
        (
            {"tasks": {"data_bits": {"dist": "uniform", "low": 0, "high": 2}}},
            "tasks.data_bits.low",
            "0",
        ),
        (
            {"tasks": {"data_bits": {"dist": "uniform", "low": 3, "high": 2}}},
            "tasks.data_bits.high",
            "2",
        ),
        ({"tasks": {"data_bits": {"dist": "gamma", "shape": 2}}}, "tasks.data_bits", None),
        ({"tasks": {"data_bits": {"value": 2}}}, "tasks.data_bits", None),
        ({"tasks": {"data_bits": -3}}, "tasks.data_bits.value", "-3"),
        (
            {
                "tasks": {
                    "cycles": {
                        "dist": "truncnormal",
                        "mean": 1e9,
                        "std": 1e8,
                        "low": -1,
                        "high": 2e9,
                    }
                }
            },
            "tasks.cycles.low",
            "-1",
        ),
        (
            {
                "tasks": {
                    "cycles": {
                        "dist": "truncnormal",
                        "mean": 5e9,
                        "std": 1e8,
                        "low": 1,
                        "high": 2e9,
                    }
                }
            },
            "tasks.cycles.mean",
            None,
        ),
        (
            {"tasks": {"cycles": {"dist": "choice", "values": [1e9, 0]}}},
            "tasks.cycles.values.1",
            "0",
        ),
        ({"tasks": {"cycles": {"dist": "choice", "values": []}}}, "tasks.cycles.values", None),
        (
            {"tasks": {"cycles": {"dist": "choice", "values": [1e9, 2e9], "probs": [0.5, 0.6]}}},
            "tasks.cycles.probs",
            None,
        ),
        (
            {"tasks": {"cycles": {"dist": "choice", "values": [1e9, 2e9], "probs": [1.0]}}},
            "tasks.cycles.probs",
            None,
        ),
        (
            {"tasks": {"arrival": {"process": "bernoulli", "probability": 0}}},
            "tasks.arrival.probability",
            "0",
        ),
        ({"tasks": {"arrival": {"process": "burst"}}}, "tasks.arrival", None),
        ({"tasks": {"deadline_s": 0}}, "tasks.deadline_s", "0"),
        (
            {"iotds": {"mobility": {"model": "random_waypoint", "speed_range_mps": [2, 1]}}},
            "iotds.mobility.speed_range_mps",
            "[2, 1]",
        ),
        (
            {"iotds": {"mobility": {"model": "random_waypoint", "speed_range_mps": [0, 1]}}},
            "iotds.mobility.speed_range_mps.0",
            "0",
        ),
        (
            {"iotds": {"mobility": {"model": "gauss_markov", "memory": 1.5}}},
            "iotds.mobility.memory",
            "1.5",
        ),
        ({"iotds": {"mobility": "teleport"}}, "iotds.mobility", None),
        ({"iotds": {"cpu_hz": 2e9}}, "iotds.cpu_hz", None),  # kappa f0^3 = 8 W > Pmax
        ({"channel": {"fading": {"rho": 1.0}}}, "channel.fading.rho", "1"),
        ({"channel": {"fading": {"rho": "fast"}}}, "channel.fading.rho", "'fast'"),
        ({"channel": {"fading": {"rician_k": 3}}}, "channel.fading.rician_k", "3"),
        ({"channel": {"fading": {"model": "nakagami"}}}, "channel.fading.model", None),
        ({"weights": {"latency_per_s": 0, "energy_per_j": 1}}, "weights.latency_per_s", "0"),
        ({"weights": {"latency_per_s": -1}}, "weights.latency_per_s", "-1"),
        ({"greedy_max_tasks_per_mec": 0}, "greedy_max_tasks_per_mec", "0"),
        ({"on_invalid": "ignore"}, "on_invalid", "'ignore'"),
        ({"schedulers": []}, "schedulers", None),
        ({"schedulers": ["greedy", "greedy"]}, "schedulers.1", None),
        ({"schedulers": ["no spaces"]}, "schedulers.0.name", None),
        ({"schedulers": ["mod:"]}, "schedulers.0.name", None),
        ({"schedulers": [{"params": {}}]}, "schedulers.0.name", None),
        ({"schedulers": [{"name": "x", "params": [1]}]}, "schedulers.0.params", None),
        ({"output": {"channels": "sometimes"}}, "output.channels", "'sometimes'"),
        ({"name": "a/b"}, "name", "'a/b'"),
        ({"mecs": 4}, "mecs", "4"),
    ],
)
def test_invalid_values_name_the_key_path(data, path, got):
    msg = error_of(data)
    assert len(msg.splitlines()) == 1, msg  # one problem, one line
    first = msg.splitlines()[0]
    assert first.startswith(f"bad.yaml: {path}: "), msg
    if got is not None:
        assert f"(got {got})" in first, msg


def test_all_problems_are_listed_one_per_line():
    msg = error_of({"slots": 0, "seed": -1, "iotds": {"count": -3}})
    lines = msg.splitlines()
    assert len(lines) == 3
    assert all(line.startswith("bad.yaml: ") for line in lines)
    assert {line.split(": ")[1] for line in lines} == {"slots", "seed", "iotds.count"}


def test_overlapping_outages_of_one_mec_are_rejected():
    events = [
        {"mec": 1, "start_s": 10, "duration_s": 10},
        {"mec": 1, "start_s": 15, "duration_s": 1},
    ]
    assert error_of({"mecs": {"failures": events}}).startswith(
        "bad.yaml: mecs.failures.1: overlaps"
    )
    events[1]["start_s"] = 20  # back-to-back is fine
    assert len(scenario_from_dict({"mecs": {"failures": events}}).mecs.failures) == 2


def test_direct_construction_also_validates():
    with pytest.raises(ValidationError, match="failures.0.mec"):
        Scenario(mecs={"failures": [{"mec": 3, "start_s": 1, "duration_s": 2}]})
    with pytest.raises(ValidationError):
        RandomWaypointMobility(speed_range_mps=(3, 1))


def test_top_level_must_be_a_mapping(tmp_path: Path):
    for text in ("- a\n- b\n", "42\n", ""):
        with pytest.raises(ScenarioError) as info:
            load_scenario(write(tmp_path, text))
        assert str(info.value).startswith(f"{tmp_path / 's.yaml'}: the top level must be a mapping")
        assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- files and YAML


def test_missing_file(tmp_path: Path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value) == f"{path}: no such file"
    assert info.value.source == str(path)


def test_directory_instead_of_file(tmp_path: Path):
    with pytest.raises(ScenarioError, match="is a directory"):
        load_scenario(tmp_path)


def test_bad_yaml_names_the_file_and_line(tmp_path: Path):
    path = write(tmp_path, "name: x\nmecs:\n  count: [1, 2\n  cpu_hz: 3\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: line ")
    assert "invalid YAML" in msg
    assert "\n" not in msg


def test_duplicate_keys_are_rejected(tmp_path: Path):
    path = write(tmp_path, "iotds:\n  count: 3\n  count: 4\n")
    with pytest.raises(
        ScenarioError, match=r"line 3, column 3: invalid YAML: found duplicate key 'count'"
    ):
        load_scenario(path)


def test_merge_keys_still_work(tmp_path: Path):
    text = (
        "mecs:\n  failures:\n    - &f {mec: 1, start_s: 0, duration_s: 1}\n"
        "    - {<<: *f, start_s: 5}\n"
    )
    s = load_scenario(write(tmp_path, text))
    assert [e.start_s for e in s.mecs.failures] == [0.0, 5.0]


def test_error_names_the_file(tmp_path: Path):
    path = write(tmp_path, "iotds:\n  cuont: 50\n", name="my.yaml")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value).startswith(f"{path}: iotds.cuont: unknown key")


def test_name_defaults_to_the_file_stem(tmp_path: Path):
    assert load_scenario(write(tmp_path, "seed: 3\n", name="my run.yaml")).name == "my_run"
    assert load_scenario(write(tmp_path, "name: other\n")).name == "other"


# --------------------------------------------------------------------------- overrides


def test_apply_overrides_is_pure_and_nested():
    data = {"iotds": {"count": 30}, "mecs": {"cpu_hz": 50e9}}
    out = apply_overrides(
        data,
        [
            "iotds.count=50",
            "mecs.cpu_hz=[10e9, 20e9]",
            "tasks.arrival.process=poisson",
            "iotds.mobility={model: gauss_markov, memory: 0.5}",
            "tasks.deadline_s=null",
        ],
    )
    assert data == {"iotds": {"count": 30}, "mecs": {"cpu_hz": 50e9}}
    assert out["iotds"]["count"] == 50
    assert out["mecs"]["cpu_hz"] == [10e9, 20e9]
    assert out["tasks"]["arrival"] == {"process": "poisson"}
    assert out["iotds"]["mobility"] == {"model": "gauss_markov", "memory": 0.5}
    assert out["tasks"]["deadline_s"] is None


def test_overrides_index_lists_and_later_wins():
    data = {"mecs": {"positions_m": [[1, 1], [2, 2]]}}
    out = apply_overrides(data, ["mecs.positions_m.1=[5, 5]", "seed=1", "seed=2"])
    assert out["mecs"]["positions_m"] == [[1, 1], [5, 5]]
    assert out["seed"] == 2


@pytest.mark.parametrize(
    "item",
    [
        "iotds.count",
        "=3",
        "iotds..count=3",
        "seed.x=1",
        "mecs.positions_m.7=[1, 1]",
        "mecs.cpu_hz=[1, 2",
    ],
)
def test_malformed_overrides(item):
    data = {"seed": 0, "mecs": {"positions_m": [[1, 1]]}}
    with pytest.raises(ScenarioError) as info:
        apply_overrides(data, [item])
    assert str(info.value).startswith("--set: ")


def test_load_with_overrides():
    s = load_scenario(
        SCENARIOS / "paper.yaml",
        [
            "iotds.count=50",
            "mecs.count=2",
            "mecs.cpu_hz=[10e9, 20e9]",
            "tasks.arrival.process=poisson",
            "tasks.arrival.rate_per_s=2",
            "seed=7",
        ],
    )
    assert s.n_iotds == 50
    assert s.mec_cpu_hz == (10e9, 20e9)
    assert s.tasks.arrival == PoissonArrival(rate_per_s=2.0)
    assert s.seed == 7
    # the file's other keys are untouched
    assert s.slots == 3000 and s.name == "paper"


def test_override_creates_a_key_the_file_omits():
    s = load_scenario(SCENARIOS / "tiny.yaml", ["channel.fading.shadowing_std_db=6"])
    assert s.channel.fading.shadowing_std_db == 6.0
    s = load_scenario(
        SCENARIOS / "tiny.yaml", ["mecs.failures=[{mec: 2, start_s: 5, duration_s: 3}]"]
    )
    assert s.mecs.failures[0].mec == 2


def test_misspelled_override_key_is_rejected():
    path = SCENARIOS / "paper.yaml"
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, ["iotds.cuont=50"])
    msg = str(info.value)
    assert msg.startswith(f"{path}: iotds.cuont: unknown key (valid keys: count,")
    assert "[from --set iotds.cuont=50]" in msg


def test_invalid_override_value_is_rejected_with_the_file():
    path = SCENARIOS / "paper.yaml"
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, ["mecs.cpu_hz=[10e9, 20e9, 30e9]"])
    assert str(info.value).startswith(f"{path}: mecs.cpu_hz: expected one number or a list of 2")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, ["seed"])
    assert str(info.value).startswith(f"{path}: 'seed': expected KEY=VALUE")


# --------------------------------------------------------------------------- dump


def test_dump_round_trip_of_a_rich_scenario(tmp_path: Path):
    data = {
        "name": "rich",
        "area_m": [120, 80],
        "channel": {
            "fading": {"model": "rician", "rician_k": 3, "rho": "jakes", "shadowing_std_db": 2.5}
        },
        "mecs": {
            "count": 3,
            "cpu_hz": [1.5e10, 2e10, 1e11 / 3],
            "positions_m": [[0, 0], [120, 80], [60.5, 40.25]],
            "failures": [{"mec": 3, "start_s": 1.5, "duration_s": 2}],
            "on_failure": "local",
        },
        "iotds": {
            "count": 7,
            "mobility": {"model": "random_waypoint", "speed_range_mps": [1, 3], "pause_s": 2},
        },
        "tasks": {
            "arrival": {"process": "bernoulli", "probability": 0.3},
            "data_bits": {"dist": "choice", "values": [1e5, 2e5], "probs": [0.1, 0.9]},
            "cycles": {"dist": "truncnormal", "mean": 1e9, "std": 2e8, "low": 5e8, "high": 2e9},
            "deadline_s": 4,
        },
        "greedy_max_tasks_per_mec": 4,
        "on_invalid": "local",
        "schedulers": [
            "local",
            {
                "name": "greedy",
                "params": {"max_tasks_per_mec": 2, "nested": {"a": [1, 2.5e-7]}},
                "label": "greedy2",
            },
            "my.pkg:Sched",
        ],
        "output": {"channels": False},
    }
    s = scenario_from_dict(data)
    text = dump_scenario(s)
    assert "50000000000" not in text
    again = load_scenario(write(tmp_path, text))
    assert again == s
    assert dump_scenario(again) == text
    assert isinstance(yaml.safe_load(text), dict)  # plain YAML for other readers


def test_dump_is_complete():
    loaded = yaml.safe_load(dump_scenario(load_scenario(SCENARIOS / "tiny.yaml")))
    assert set(loaded) == set(Scenario.model_fields)
    assert loaded["mecs"]["cpu_hz"] == [10e9, 20e9]
    assert loaded["iotds"]["kappa"] == 1e-27


# --------------------------------------------------------------------------- ranges


_RANGE_CONTEXT = {  # what a key needs around it to be checked alone
    "area_m.*": [],
    "mecs.count": ["mecs.cpu_hz=50e9"],
    "mecs.failures.*.start_s": ["mecs.failures=[{mec: 1, start_s: 1, duration_s: 1}]"],
    "mecs.failures.*.duration_s": ["mecs.failures=[{mec: 1, start_s: 1, duration_s: 1}]"],
    "iotds.cpu_hz": ["iotds.kappa=1e-60"],
    "iotds.kappa": ["iotds.cpu_hz=1e3", "iotds.nu=1", "iotds.max_power_w=1000"],
    "iotds.nu": ["iotds.kappa=1e-60"],
    "iotds.max_power_w": ["iotds.kappa=1e-60"],
    "iotds.mobility.speed_range_mps.*": ["iotds.mobility={model: random_waypoint}"],
    "iotds.mobility.pause_s": ["iotds.mobility={model: random_waypoint}"],
    "iotds.mobility.mean_speed_mps": ["iotds.mobility={model: gauss_markov}"],
    "iotds.mobility.speed_std_mps": ["iotds.mobility={model: gauss_markov}"],
    "iotds.mobility.direction_std_rad": ["iotds.mobility={model: gauss_markov}"],
    "channel.fading.step_s": ["slot_s=86400"],
    "channel.fading.rician_k": ["channel.fading.model=rician"],
    "tasks.arrival.rate_per_s": ["tasks.arrival={process: poisson}"],
}


def _range_cases():
    from mecsim.config import RANGES

    for key, rng in RANGES.items():
        low_bad = rng.low - 1 if rng.integer else (rng.low * 0.99 if rng.low > 0 else -1e-3)
        high_bad = rng.high + 1 if rng.integer else rng.high * 1.01
        for value, ok in ((rng.low, True), (rng.high, True), (low_bad, False),
                          (high_bad, False)):
            yield pytest.param(key, value, ok, id=f"{key}={value:g}")


@pytest.mark.parametrize(("key", "value", "ok"), list(_range_cases()))
def test_every_range_accepts_its_bounds_and_rejects_beyond(key: str, value: float, ok: bool):
    from mecsim.config import RANGES, scenario_to_dict

    base = scenario_to_dict(Scenario())
    path = key.replace("*", "0")
    context = list(_RANGE_CONTEXT.get(key, []))
    if key == "channel.fading.step_s":
        context = [f"slot_s={86400 if value > 1 else 1}"]
    if key == "iotds.mobility.speed_range_mps.*":
        context = ["iotds.mobility={model: random_waypoint, speed_range_mps: [1e-6, 1000]}"]
        path = key.replace("*", "0" if value <= 1 else "1")
    data = apply_overrides(base, [*context, f"{path}={value!r}"])
    if ok:
        scenario_from_dict(data)
        return
    msg = error_of(data)
    where = f"{path}.value" if key.startswith("tasks.") and key != "tasks.arrival.rate_per_s" \
        else path
    assert len(msg.splitlines()) == 1, msg
    assert msg.startswith(f"bad.yaml: {where}: must be "), msg
    assert RANGES[key].text in msg, msg  # the range is in the message


def test_ranges_are_documented():
    from mecsim.config import RANGES

    text = (Path(__file__).resolve().parents[1] / "docs" / "scenarios.md").read_text()
    table = text[text.index("### Ranges"):text.index("## Before a run")]
    for key in RANGES:
        documented = key.replace(".*.", "[k].").replace(".*", "")
        leaf = key.replace(".*", "").split(".")[-1]
        assert f"`{documented}" in table or f"`{leaf}`" in table, key


def test_the_message_gives_the_range_and_the_reason():
    assert error_of({"channel": {"beta0": 1e30}}) == (
        "bad.yaml: channel.beta0: must be in [1e-15, 1] (a gain at 1 m above 1 would create "
        "power) (got 1e+30)")
    assert error_of({"iotds": {"count": 1e30}}) == (
        "bad.yaml: iotds.count: must be an integer in [1, 1e7] (got 1e+30)")
    assert error_of({"weights": {"energy_per_j": 1e-9}}).endswith(
        "weights.energy_per_j: must be 0 or in [1e-6, 1e6] 1/J (got 1e-09)")


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"iotds": {"nu": 1e308}}, "iotds.nu"),  # kappa * cpu_hz ** nu overflowed
        ({"iotds": {"cpu_hz": 1e308}}, "iotds.cpu_hz"),
        ({"mecs": {"count": 1e30}}, "mecs.count"),  # (cpu,) * count overflowed
        ({"mecs": {"count": 10**30, "cpu_hz": 1e10}}, "mecs.count"),
        ({"iotds": {"kappa": 10**400}}, "iotds.kappa"),  # float(int) overflowed
        ({"slot_s": 1e308}, "slot_s"),
        ({"tasks": {"cycles": {"dist": "uniform", "low": 1, "high": 1e300}}}, "tasks.cycles.high"),
        ({"tasks": {"deadline_s": {"dist": "choice", "values": [1, 1e12]}}},
         "tasks.deadline_s.values.1"),
        ({"tasks": {"data_bits": {"dist": "truncnormal", "mean": 5, "std": 1e-9, "low": 1,
                                  "high": 10}}}, "tasks.data_bits.std"),
        ({"channel": {"fading": {"step_s": 1e-6}}, "slot_s": 10}, "channel.fading.step_s"),
        ({"name": "x" * 101}, "name"),
        ({"schedulers": [{"name": "local", "label": "a\nb"}]}, "schedulers.0.label"),
        ({"schedulers": [{"name": "greedy\n", "label": "g"}]}, "schedulers.0.name"),
    ],
)
def test_overflow_and_absurd_values_are_one_line(data, path):
    msg = error_of(data)
    assert len(msg.splitlines()) == 1, msg
    assert msg.startswith(f"bad.yaml: {path}: "), msg


def test_huge_integers_and_odd_text_stay_on_one_line(tmp_path: Path):
    path = write(tmp_path, "iotds:\n  count: " + "9" * 5000 + "\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert "invalid YAML" in str(info.value) and "\n" not in str(info.value)
    for item in ["iotds.count=" + "9" * 5000, "tasks.arrival='a\nb'", "iotds.a\nb=1",
                 "mecs.positions_m." + "9" * 5000 + "=1"]:
        with pytest.raises(ScenarioError) as info:
            load_scenario(SCENARIOS / "failures.yaml", [item])
        assert "\n" not in str(info.value), str(info.value)


def test_many_outages_validate_quickly():
    import time

    events = [{"mec": 1 + k % 2, "start_s": 10.0 * k, "duration_s": 5.0} for k in range(20000)]
    started = time.perf_counter()
    assert len(scenario_from_dict({"mecs": {"failures": events}}).mecs.failures) == 20000
    assert time.perf_counter() - started < 10.0
    events.append({"mec": 2, "start_s": 12.0, "duration_s": 1.0})  # inside outage 1 of MEC 2
    assert error_of({"mecs": {"failures": events}}).startswith(
        "bad.yaml: mecs.failures.20000: overlaps failures.1, an outage of the same MEC 2")
