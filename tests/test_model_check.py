"""The decision check (constraints 5-7) and the model's refusal of bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mecsim.model import (
    SlotProblem,
    channel_gain,
    check_decision,
    cpu_split,
    local_cost,
    mec_cpu_cost,
    offload_cost,
    optimal_power,
    rate_bps,
)
from mecsim.params import ModelParams

# ----------------------------------------------------------------------- check_decision


@pytest.fixture
def problem() -> SlotProblem:
    """Four tasks, three MECs (MEC 3 down); task 3 has no link to MEC 1; task 2 runs hot."""
    gains = np.array([[1e-5, 2e-6, 1e-6],
                      [3e-6, 1e-5, 1e-6],
                      [1e-6, 1e-6, 1e-6],
                      [0.0, 5e-6, 1e-6]])
    return SlotProblem(gains, [8e5] * 4, [1e9, 2e9, 1e9, 4e9], [1e9, 1e9, 1.2e9, 1e9],
                       [4e9, 6e9, 1e10], available=[True, True, False])


VALID = [1, 2, 1, 2]


def test_valid_decisions_pass(problem):
    assert check_decision(problem, VALID) == []
    alloc = problem.allocate(VALID)
    assert check_decision(problem, VALID, alloc.cpu_hz, alloc.tx_power_w) == []
    assert check_decision(problem, np.array(VALID, dtype=np.int32)) == []
    assert check_decision(problem, np.array(VALID, dtype=float)) == []  # integral floats
    # less CPU than Fmax and any power in (0, Pmax] are valid too
    assert check_decision(problem, VALID, alloc.cpu_hz / 2, [1.5, 1e-9, 0.3, 1.5]) == []
    # local tasks' CPU and power entries are ignored
    assert check_decision(problem, [0, 2, 1, 2], [-1.0, 3e9, 4e9, 3e9],
                          [0.0, 1.0, 1.0, 1.0]) == []


def _one(messages: list[str], *words: str) -> str:
    assert len(messages) == 1, messages
    for word in words:
        assert word in messages[0], (word, messages[0])
    return messages[0]


@pytest.mark.parametrize("bad", [[1, 2, 1], [1, 2, 1, 2, 0], [[1, 2, 1, 2]], 3])
def test_wrong_shape(problem, bad):
    _one(check_decision(problem, bad), "shape", "(4,)")


def test_non_integers(problem):
    _one(check_decision(problem, [1, 2.5, 1, 2]), "integers", "tasks 1")
    _one(check_decision(problem, ["a", "b", "c", "d"]), "integers")
    _one(check_decision(problem, [True, False, True, False]), "integers")


def test_out_of_range(problem):
    _one(check_decision(problem, [1, 4, 1, -1]), "0..3", "tasks 1, 3", "4, -1")


def test_nan(problem):
    _one(check_decision(problem, [1, np.nan, 1, 2]), "non-finite", "1")
    _one(check_decision(problem, [1, np.inf, 1, 2]), "non-finite")


def test_unavailable_mec(problem):
    _one(check_decision(problem, [1, 3, 1, 2]), "tasks 1", "unavailable", "3")


def test_zero_gain_link(problem):
    _one(check_decision(problem, [1, 2, 1, 1]), "tasks 3", "zero channel gain")


def test_local_infeasible(problem):
    msg = _one(check_decision(problem, [1, 2, 0, 2]), "tasks 2", "run locally", "Pmax",
               "constraint 7")
    assert "1.728" in msg


def test_cpu_over_fmax(problem):
    alloc = problem.allocate(VALID)
    cpu = alloc.cpu_hz.copy()
    cpu[1] *= 1.01  # MEC 2 now over its 6e9 Hz
    _one(check_decision(problem, VALID, cpu, alloc.tx_power_w), "MEC(s) 2", "Fmax",
         "constraint 6")
    # within floating-point slack is fine, beyond it is not
    cpu = alloc.cpu_hz * (1 + 1e-12)
    assert check_decision(problem, VALID, cpu, alloc.tx_power_w) == []
    cpu = alloc.cpu_hz * (1 + 1e-6)
    assert len(check_decision(problem, VALID, cpu, alloc.tx_power_w)) == 1


def test_cpu_zero_or_bad(problem):
    alloc = problem.allocate(VALID)
    cpu = alloc.cpu_hz.copy()
    cpu[0] = 0.0
    _one(check_decision(problem, VALID, cpu), "cpu_hz", "> 0", "tasks 0")
    _one(check_decision(problem, VALID, cpu[:3]), "cpu_hz", "shape")
    cpu[0] = np.nan
    _one(check_decision(problem, VALID, cpu), "cpu_hz", "non-finite")


@pytest.mark.parametrize("power", [1.6, 0.0, -0.1])
def test_power_out_of_range(problem, power):
    p = [1.0, power, 1.0, 1.0]
    _one(check_decision(problem, VALID, None, p), "tx_power_w", "tasks 1", "constraint 7")


def test_power_bad_shape_or_nan(problem):
    _one(check_decision(problem, VALID, None, [1.0, 1.0]), "tx_power_w", "shape")
    _one(check_decision(problem, VALID, None, [1.0, np.inf, 1.0, 1.0]), "non-finite")


def test_several_violations_are_all_reported(problem):
    msgs = check_decision(problem, [3, 2, 0, 1], [1e9, 1e10, 0.0, 1e9], [1.0, 2.0, 0.0, 1.0])
    text = " | ".join(msgs)
    for word in ("unavailable", "zero channel gain", "run locally", "constraint 6",
                 "constraint 7"):
        assert word in text, (word, text)


# ------------------------------------------------------------------------- bad input


def _raises(func, *words):
    with pytest.raises(ValueError) as info:
        func()
    for word in words:
        assert word in str(info.value), (word, str(info.value))


GOOD = {"gains": np.full((2, 2), 1e-6), "data_bits": [8e5, 8e5], "cycles": [1e9, 1e9],
        "local_cpu_hz": 1e9, "mec_cpu_hz": [1e10, 2e10]}


@pytest.mark.parametrize(("name", "value", "shown"), [
    ("mec_cpu_hz", [1e10, 0.0], "0.0"),
    ("mec_cpu_hz", [-1e10, 2e10], "-10000000000.0"),
    ("mec_cpu_hz", [1e10, np.inf], "inf"),
    ("data_bits", [8e5, -1.0], "-1.0"),
    ("data_bits", [0.0, 8e5], "0.0"),
    ("cycles", [1e9, 0.0], "0.0"),
    ("cycles", [np.nan, 1e9], "nan"),
    ("local_cpu_hz", -1e9, "-1000000000.0"),
    ("local_cpu_hz", [1e9, 0.0], "0.0"),
    ("gains", [[1e-6, np.nan], [1e-6, 1e-6]], "nan"),
    ("gains", [[1e-6, np.inf], [1e-6, 1e-6]], "inf"),
    ("gains", [[1e-6, -1e-6], [1e-6, 1e-6]], "-1e-06"),
])
def test_slot_problem_rejects_bad_values(name, value, shown):
    _raises(lambda: SlotProblem(**{**GOOD, name: value}), name, shown)


@pytest.mark.parametrize(("name", "value", "shown"), [
    ("gains", np.full((2, 3), 1e-6), "(2, 3)"),
    ("data_bits", [8e5], "(1,)"),
    ("cycles", [1e9, 1e9, 1e9], "(3,)"),
    ("local_cpu_hz", [1e9, 1e9, 1e9], "(3,)"),
    ("mec_cpu_hz", [[1e10, 2e10]], "(1, 2)"),
])
def test_slot_problem_rejects_mismatched_shapes(name, value, shown):
    _raises(lambda: SlotProblem(**{**GOOD, name: value}), name, shown)


def test_slot_problem_rejects_bad_available_and_empty_mecs():
    _raises(lambda: SlotProblem(**GOOD, available=[True]), "available", "(1,)")
    _raises(lambda: SlotProblem(**{**GOOD, "mec_cpu_hz": [], "gains": np.zeros((2, 0))}),
            "mec_cpu_hz")


def test_placements_are_checked_by_batch_cost():
    problem = SlotProblem(**GOOD)
    _raises(lambda: problem.batch_cost([[0, 3]]), "placements", "0..2")
    _raises(lambda: problem.batch_cost([[0.0, 1.0]]), "placements", "integers")
    _raises(lambda: problem.batch_cost([0, 1]), "placements", "shape")


@pytest.mark.parametrize(("name", "value"), [
    ("bandwidth_hz", 0.0), ("bandwidth_hz", -1e6), ("noise_psd_w_per_hz", 0.0),
    ("beta0", -1e-3), ("d_min_m", 0.0), ("max_power_w", 0.0), ("max_power_w", -1.5),
    ("max_power_w", math.inf), ("kappa", 0.0), ("nu", -3.0), ("phi_t", -1.0),
    ("phi_e", -0.5), ("phi_e", math.nan), ("phi_t", 0.0),
])
def test_model_params_reject_bad_values(name, value):
    _raises(lambda: ModelParams(**{name: value}), name, repr(value))


def test_model_params_accept_phi_e_zero():
    assert ModelParams(phi_e=0.0).phi_e == 0.0


def test_channel_gain_bad_input():
    _raises(lambda: channel_gain([10.0, -1.0], 1.0), "distance_m", "-1.0")
    _raises(lambda: channel_gain([10.0, np.nan], 1.0), "distance_m", "nan")
    _raises(lambda: channel_gain(10.0, [1.0, np.inf]), "fading", "inf")
    _raises(lambda: channel_gain(10.0, -0.5), "fading", "-0.5")
    _raises(lambda: channel_gain(10.0, 1.0, beta0=0.0), "beta0", "0.0")
    _raises(lambda: channel_gain(10.0, 1.0, d_min_m=-1.0), "d_min_m", "-1.0")
    _raises(lambda: channel_gain(np.ones(3), np.ones(2)), "distance_m (3,)", "fading (2,)")


def test_rate_bps_bad_input():
    _raises(lambda: rate_bps(1.0, 1e-6, 0.0, 1e-6), "bandwidth_hz", "0.0")
    _raises(lambda: rate_bps(1.0, 1e-6, -1e6, 1e-6), "bandwidth_hz", "-1000000.0")
    _raises(lambda: rate_bps(1.0, 1e-6, 1e6, 0.0), "noise_w", "0.0")
    _raises(lambda: rate_bps(-1.0, 1e-6, 1e6, 1e-6), "power_w", "-1.0")
    _raises(lambda: rate_bps(1.0, np.nan, 1e6, 1e-6), "gain", "nan")
    _raises(lambda: rate_bps(1.0, [1e-6, np.inf], 1e6, 1e-6), "gain", "inf")
    _raises(lambda: rate_bps(1.0, -1e-6, 1e6, 1e-6), "gain", "-1e-06")
    _raises(lambda: rate_bps([1.0, 1.0], [1e-6] * 3, 1e6, 1e-6), "power_w (2,)", "gain (3,)")


def test_local_cost_bad_input():
    _raises(lambda: local_cost(0.0, 1e9, 1e-27, 3, 1, 1), "cycles", "0.0")
    _raises(lambda: local_cost([1e9, -1e9], 1e9, 1e-27, 3, 1, 1), "cycles", "-1000000000.0")
    _raises(lambda: local_cost(1e9, 0.0, 1e-27, 3, 1, 1), "local_cpu_hz", "0.0")
    _raises(lambda: local_cost(1e9, np.nan, 1e-27, 3, 1, 1), "local_cpu_hz", "nan")
    _raises(lambda: local_cost(1e9, 1e9, -1e-27, 3, 1, 1), "kappa", "-1e-27")
    _raises(lambda: local_cost(1e9, 1e9, 1e-27, 0.0, 1, 1), "nu", "0.0")
    _raises(lambda: local_cost(1e9, 1e9, 1e-27, 3, -1.0, 1), "phi_t", "-1.0")
    _raises(lambda: local_cost([1e9, 1e9], [1e9, 1e9, 1e9], 1e-27, 3, 1, 1), "cycles (2,)",
            "local_cpu_hz (3,)")


def test_offload_cost_bad_input():
    args = {"data_bits": 8e5, "cycles": 1e9, "rate": 1e6, "power_w": 1.0, "cpu_hz": 1e9,
            "phi_t": 1.0, "phi_e": 1.0}
    for name, value, shown in [("data_bits", 0.0, "0.0"), ("data_bits", -8e5, "-800000.0"),
                               ("cycles", 0.0, "0.0"), ("rate", -1.0, "-1.0"),
                               ("rate", np.inf, "inf"), ("power_w", -1.0, "-1.0"),
                               ("power_w", np.nan, "nan"), ("cpu_hz", -1e9, "-1000000000.0"),
                               ("phi_e", -1.0, "-1.0")]:
        _raises(lambda n=name, v=value: offload_cost(**{**args, n: v}), name, shown)
    _raises(lambda: offload_cost(**{**args, "rate": [1e6, 2e6], "cpu_hz": [1e9] * 3}),
            "rate (2,)", "cpu_hz (3,)")


def test_cpu_split_bad_input():
    _raises(lambda: cpu_split([1, 1], [1e9, 0.0], [1e9]), "cycles", "0.0")
    _raises(lambda: cpu_split([1, 1], [1e9, 1e9], [0.0]), "mec_cpu_hz", "0.0")
    _raises(lambda: cpu_split([1, 1], [1e9, 1e9], [np.inf]), "mec_cpu_hz", "inf")
    _raises(lambda: cpu_split([1, 1], [1e9], [1e9]), "cycles", "(1,)")
    _raises(lambda: cpu_split([1, 2], [1e9, 1e9], [1e9]), "placement", "0..1")
    _raises(lambda: cpu_split([-1, 1], [1e9, 1e9], [1e9]), "placement", "-1")
    _raises(lambda: cpu_split([1.0, 0.0], [1e9, 1e9], [1e9]), "placement", "1.")
    _raises(lambda: cpu_split(1, [1e9], [1e9]), "placement")
    _raises(lambda: mec_cpu_cost([1, 3], [1e9, 1e9], [1e9, 1e9], 1.0), "placement", "3")
    _raises(lambda: mec_cpu_cost([-1, 0], [1e9, 1e9], [1e9], 1.0), "placement", "-1")


def test_optimal_power_bad_input():
    _raises(lambda: optimal_power(1e-6, 1e-6, 1, 1, 0.0), "max_power_w", "0.0")
    _raises(lambda: optimal_power(1e-6, 1e-6, 1, 1, -1.5), "max_power_w", "-1.5")
    _raises(lambda: optimal_power(1e-6, 0.0, 1, 1, 1.5), "noise_w", "0.0")
    _raises(lambda: optimal_power([1e-6, np.nan], 1e-6, 1, 1, 1.5), "gain", "nan")
    _raises(lambda: optimal_power(np.inf, 1e-6, 1, 1, 1.5), "gain", "inf")
    _raises(lambda: optimal_power(-1e-6, 1e-6, 1, 1, 1.5), "gain", "-1e-06")
    _raises(lambda: optimal_power(1e-6, 1e-6, 1, -1.0, 1.5), "phi_e", "-1.0")
    _raises(lambda: optimal_power(1e-6, 1e-6, 0.0, 1.0, 1.5), "phi_t", "0.0")


def test_nothing_is_silently_clipped():
    # A gain of exactly 0 is allowed (no link) and costs inf, it is not raised to a floor;
    # a distance below d_min is the model's floor, documented, not an input repair.
    problem = SlotProblem([[0.0, 1e-6]], [8e5], [1e9], 1e9, [1e10, 1e10])
    assert problem.rate_bps[0, 0] == 0.0
    assert problem.cost_table[0, 1] == math.inf
    assert problem.cost([1]) == math.inf
    # a power above Pmax is reported, not capped
    _one(check_decision(problem, [2], None, [1.5 * (1 + 1e-6)]), "tx_power_w")
