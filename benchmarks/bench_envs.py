"""Overhead of ``MecEnv`` over the engine's own epochs (issue 12): a script, not a test.

Run: ``python benchmarks/bench_envs.py`` (about a minute on 2 cores) or ``--quick``.

Each scenario (``paper.yaml``, ``dense_100.yaml``) runs ``--slots`` epochs twice, with the
same placement every epoch: IoTD ``i``'s tasks go to MEC ``(i mod M) + 1`` (an entry naming
a failed or unreachable MEC runs locally, :func:`mecsim.envs.gym_env.placement_of`):

- **engine**: :func:`mecsim.engine.runner.run_scenario` with a trivial scheduler returning
  that placement: what ``python -m mecsim run`` does, tables and summary written;
- **env**: ``MecEnv(scenario).reset(seed)`` then ``step(action)`` with the fixed action
  until the episode ends (observation encoding, reward and ``info`` included).

Both are timed whole (set-up included), best of ``--repeats``, interleaved, in the same
process; the figure is the env's time per epoch over the engine's (target <= 1.3x). Both
runs must give the same per-epoch model costs (checked), so they simulate the same world.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

from mecsim.config import SchedulerSpec, load_scenario  # noqa: E402
from mecsim.engine.runner import run_scenario  # noqa: E402
from mecsim.envs.gym_env import MecEnv, placement_of  # noqa: E402
from mecsim.scheduler import Decision, Observation, Scheduler  # noqa: E402

TARGET = 1.3
SCENARIOS = {"paper": (ROOT / "scenarios" / "paper.yaml", 1000),
             "dense_100": (ROOT / "scenarios" / "dense_100.yaml", 300)}


def fixed_action(n_iotds: int, n_mecs: int) -> np.ndarray:
    """IoTD ``i`` -> MEC ``(i mod M) + 1``."""
    return np.arange(n_iotds) % n_mecs + 1


class Fixed(Scheduler):
    """The engine's side: the env's placement of :func:`fixed_action`, every epoch."""

    def __init__(self, action: np.ndarray) -> None:
        super().__init__()
        self.action = np.asarray(action)

    def decide(self, observation: Observation) -> Decision:
        return Decision(placement_of(observation, self.action)[0])


def time_engine(scenario, action: np.ndarray) -> tuple[float, list[float]]:
    with tempfile.TemporaryDirectory(prefix="bench-envs-") as out:
        spec = SchedulerSpec(name="fixed")
        start = time.perf_counter()
        result, = run_scenario(scenario, out, schedulers=[spec],
                               make=lambda name, **params: Fixed(action))
        wall = time.perf_counter() - start
    assert result.complete, result.error
    return wall, list(result.model_costs)


def time_env(scenario, action: np.ndarray) -> tuple[float, list[float]]:
    start = time.perf_counter()
    env = MecEnv(scenario)
    env.reset(seed=scenario.seed)
    costs, truncated = [], False
    while not truncated:
        _, _, _, truncated, info = env.step(action)
        costs.append(info["model_cost"])
    env.close()
    return time.perf_counter() - start, costs


def measure(name: str, path: Path, slots: int, repeats: int) -> dict:
    scenario = load_scenario(path, [f"slots={slots}", "output.channels=false"])
    action = fixed_action(scenario.iotds.count, scenario.mecs.count)
    engine, env = [], []
    for _ in range(repeats):
        wall, engine_costs = time_engine(scenario, action)
        engine.append(wall)
        wall, env_costs = time_env(scenario, action)
        env.append(wall)
    np.testing.assert_allclose(env_costs, engine_costs, rtol=1e-9)
    e, v = min(engine), min(env)
    return {"scenario": name, "slots": slots, "engine_ms": 1e3 * e / slots,
            "env_ms": 1e3 * v / slots, "ratio": v / e}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="100 slots, 1 repeat (smoke check)")
    p.add_argument("--repeats", type=int, default=3, help="best of (3)")
    args = p.parse_args(argv)
    rows = []
    for name, (path, slots) in SCENARIOS.items():
        rows.append(measure(name, path, 100 if args.quick else slots,
                            1 if args.quick else args.repeats))
    print("| scenario | slots | engine ms/epoch | MecEnv ms/epoch | ratio | target |")
    print("|---|---:|---:|---:|---:|---|")
    ok = True
    for r in rows:
        passed = r["ratio"] <= TARGET
        ok &= passed
        print(f"| {r['scenario']} | {r['slots']} | {r['engine_ms']:.2f} | {r['env_ms']:.2f} | "
              f"{r['ratio']:.2f}x | <= {TARGET}x: {'PASS' if passed else 'FAIL'} |")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
