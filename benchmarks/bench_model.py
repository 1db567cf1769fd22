"""Speed of the model's inner loops (issue 2): a script, not a test.

Run: ``python benchmarks/bench_model.py``. Prints one table with each figure, its target
and PASS/FAIL. Instances are drawn as in the spec (devices and MECs in a 50 m square,
Rayleigh fading, defaults of section 7), with a fixed seed.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from mecsim.model import SlotProblem  # noqa: E402
from mecsim.model.optimum import exhaustive, local_search, min_cost_flow  # noqa: E402
from mecsim.params import (  # noqa: E402
    LOCAL_CPU_HZ,
    MEC_CPU_HZ,
    TASK_CYCLES,
    TASK_DATA_BITS,
    ModelParams,
)


def make_problem(rng: np.random.Generator, n: int, m: int, *, equal: bool = True,
                 fmax: float = MEC_CPU_HZ) -> SlotProblem:
    """A slot with ``n`` devices and ``m`` MECs, uniform in a 50 m square, Rayleigh fading."""
    params = ModelParams()
    dev = rng.uniform(0, 50, (n, 2))
    mec = rng.uniform(0, 50, (m, 2))
    d = np.linalg.norm(dev[:, None, :] - mec[None, :, :], axis=2)
    gains = params.beta0 * rng.exponential(1.0, (n, m)) / np.maximum(d, params.d_min_m) ** 2
    cycles = np.full(n, TASK_CYCLES) if equal else TASK_CYCLES * rng.uniform(0.2, 2.0, n)
    return SlotProblem(gains, np.full(n, TASK_DATA_BITS), cycles, LOCAL_CPU_HZ,
                       np.full(m, fmax), params)


def timed(func, repeats: int) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls [s] and the last result."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> int:
    rng = np.random.default_rng(2024)
    rows = []

    # 1. batch objective, K = 1024, N = 100, M = 10, and the plain-Python baseline
    problem = make_problem(rng, 100, 10)
    placements = rng.integers(0, 11, (1024, 100))
    problem.batch_cost(placements)  # builds the cost table once (cached per slot)
    t_batch, costs = timed(lambda: problem.batch_cost(placements), 200)
    t_loop, loop = timed(lambda: [problem.cost(a) for a in placements], 5)
    assert np.allclose(costs, loop, rtol=1e-12)
    rows.append(("batch objective K=1024 N=100 M=10 (median of 200)", t_batch, 5e-3))
    rows.append(("  baseline: Python loop of problem.cost (median of 5)", t_loop, None))
    ratio = t_loop / t_batch

    # 2. exact optimum, equal cycles, N = 1000, M = 20 (min-cost flow): the spec's Fmax
    #    (many unit slots per MEC), and scarce CPUs with 50 devices that cannot run locally
    big = make_problem(rng, 1000, 20)
    t_flow, flow = timed(lambda: min_cost_flow(big), 3)
    rows.append(("min-cost flow N=1000 M=20, equal cycles (median of 3)", t_flow, 5.0))
    scarce = make_problem(rng, 1000, 20, fmax=5e9)
    hot = np.full(1000, LOCAL_CPU_HZ)
    hot[:50] = 1.2e9  # 1.73 W > Pmax: these must offload
    scarce = SlotProblem(scarce.gains, scarce.data_bits, scarce.cycles, hot,
                         scarce.mec_cpu_hz, scarce.params)
    t_flow2, _ = timed(lambda: min_cost_flow(scarce), 3)
    rows.append(("  same, Fmax=5e9 and 50 locally infeasible (median of 3)", t_flow2, 5.0))

    # 3. exhaustive, N = 10, M = 2 (3^10 = 59049 placements)
    small = make_problem(rng, 10, 2, fmax=5e9)
    t_ex, ex = timed(lambda: exhaustive(small), 5)
    check = min_cost_flow(small)
    assert abs(ex.cost - check.cost) <= 1e-12 * ex.cost
    rows.append(("exhaustive N=10 M=2 (median of 5)", t_ex, 1.0))

    # 4. local search, N = 200, M = 10, unequal cycles, with its gap to the bound
    mid = make_problem(rng, 200, 10, equal=False, fmax=1e10)
    t_ls, ls = timed(lambda: local_search(mid), 3)
    gap = (ls.cost - ls.lower_bound) / ls.lower_bound
    rows.append(("local search N=200 M=10, unequal cycles (median of 3)", t_ls, None))

    # 5. optimal on dense_100's slots (about 35 tasks, 6 MECs, unequal cycles), as run
    slots = 200
    decision, gaps, exact = dense_optimal(slots)
    rows.append((f"optimal on dense_100, {slots} slots: decision time, sum", decision, None))

    print(f"{'what':<58} {'measured':>12} {'target':>10}  result")
    print("-" * 90)
    failed = False
    for what, seconds, target in rows:
        shown = f"{seconds * 1e3:.3f} ms" if seconds < 1 else f"{seconds:.3f} s"
        if target is None:
            print(f"{what:<58} {shown:>12} {'-':>10}  -")
            continue
        ok = seconds <= target
        failed |= not ok
        limit = f"{target * 1e3:g} ms" if target < 1 else f"{target:g} s"
        print(f"{what:<58} {shown:>12} {limit:>10}  {'PASS' if ok else 'FAIL'}")
    print("-" * 90)
    print(f"batch objective speed-up over the Python loop: {ratio:.0f}x")
    print(f"min-cost flow N=1000 M=20: cost {flow.cost:.6g}, "
          f"{int(np.count_nonzero(flow.placement))} of 1000 tasks offloaded")
    print(f"exhaustive N=10 M=2: cost {ex.cost:.6g} (min-cost flow agrees)")
    print(f"local search N=200 M=10: cost {ls.cost:.6g}, lower bound {ls.lower_bound:.6g}, "
          f"gap {gap:.3%}, exact={ls.exact}")
    print(f"optimal on dense_100, {slots} slots: gap to the bound mean {gaps.mean():.4e}, "
          f"max {gaps.max():.4e}; {exact} slots proven optimal")
    return 1 if failed else 0


def dense_optimal(slots: int) -> tuple[float, np.ndarray, int]:
    """Run ``optimal`` alone on ``dense_100`` for ``slots`` slots.

    Returns:
        Its summed decision time [s], each slot's relative gap to its lower bound, and the
        number of slots proven optimal.
    """
    import tempfile

    import pyarrow.parquet as pq

    from mecsim.config import load_scenario
    from mecsim.engine.runner import run_scenario

    root = Path(__file__).resolve().parents[1]
    scenario = load_scenario(root / "scenarios" / "dense_100.yaml", [f"slots={slots}"])
    specs = [spec for spec in scenario.schedulers if spec.label == "optimal"]
    with tempfile.TemporaryDirectory() as out:
        run_scenario(scenario, out, schedulers=specs, channels=False)
        table = pq.read_table(Path(out) / "slots.parquet",
                              columns=["model_cost", "lower_bound", "decision_s", "exact"])
    cost, bound = (table[k].to_numpy() for k in ("model_cost", "lower_bound"))
    return (float(table["decision_s"].to_numpy().sum()), (cost - bound) / bound,
            int(table["exact"].to_numpy().sum()))


if __name__ == "__main__":
    sys.exit(main())
