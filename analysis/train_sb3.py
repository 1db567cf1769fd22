"""Train PPO on ``mecsim/Paper-v0`` within a wall budget, then run it beside the baselines.

    python analysis/train_sb3.py                    # 8 minutes of training, then the table
    python analysis/train_sb3.py --minutes 1 --eval-slots 500 --out /tmp/ppo.zip

1. **Training**: Stable-Baselines3 PPO (``MultiInputPolicy`` on the env's ``Dict``
   observation) on ``--envs`` copies of ``mecsim/Paper-v0`` (``scenarios/paper.yaml``, 30
   IoTDs, 2 MECs), each episode cut to ``--episode-slots`` epochs so that training sees
   many worlds (IoTD placements, channels); the world seeds come from ``--train-seed``.
   The reward is the env's ``"model"`` reward (minus the epoch's model cost) divided by the
   number of IoTDs, which changes its scale only. The envs step in worker processes
   (``SubprocVecEnv``, both cores); the untrained policy starts near "all local"
   (``--local-bias``) rather than uniform, whose queues explode on ``paper.yaml``.
   Training stops after ``--minutes`` of wall time; the policy is saved to ``--out``.
2. **Evaluation**: ``mecsim.engine.runner.run_scenario`` on ``paper.yaml`` at
   ``--eval-seed`` (checked not to be one of the training worlds) with the saved policy
   (:class:`schedulers.sb3_policy.PolicyScheduler`, label ``ppo``), ``optimal``,
   ``dirs_shared``, ``greedy``, ``random`` and ``local``, all on common random numbers.
   The table: mean model cost per slot over the whole run and over its last 500 slots
   (DIRS learns online during the run; its figure in ``docs/dirs.md`` is the last 500),
   each as a ratio to ``optimal``, and the realized cost per task.

Figures are in ``docs/training.md`` and ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EVAL_SCHEDULERS = ("optimal", "dirs_shared", "greedy", "random", "local")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=8.0, help="training wall budget (8)")
    p.add_argument("--out", default=str(ROOT / "results" / "sb3" / "ppo_paper.zip"),
                   help="where to save the policy (results/sb3/ppo_paper.zip)")
    p.add_argument("--envs", type=int, default=4, help="env copies per rollout (4)")
    p.add_argument("--episode-slots", type=int, default=256,
                   help="epochs per training episode (256)")
    p.add_argument("--train-seed", type=int, default=0, help="seed of training (0)")
    p.add_argument("--eval-seed", type=int, default=1_000_003,
                   help="world seed of the evaluation run (1000003)")
    p.add_argument("--eval-slots", type=int, default=None,
                   help="slots of the evaluation run (default: paper.yaml's 3000)")
    p.add_argument("--skip", nargs="*", default=[],
                   help="evaluation schedulers to leave out (e.g. dirs_shared)")
    p.add_argument("--eval-only", action="store_true",
                   help="do not train: evaluate the policy already at --out")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1)")
    p.add_argument("--gamma", type=float, default=0.5,
                   help="discount (0.5: paper.yaml's queues seldom outlive a slot)")
    p.add_argument("--lr", type=float, default=5e-4, help="Adam step (5e-4)")
    p.add_argument("--local-bias", type=float, default=3.0,
                   help="initial logit of 'run locally' over each MEC's (3: the untrained "
                        "policy runs about 90 %% of tasks locally instead of 1/(M+1))")
    p.add_argument("--processes", action=argparse.BooleanOptionalAction, default=True,
                   help="step the envs in worker processes (SubprocVecEnv; default on)")
    return p


def train(args) -> tuple[Path, dict]:
    """Train PPO for ``args.minutes``; save it; return the path and the training figures."""
    import gymnasium as gym
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    import mecsim.envs  # noqa: F401 - registers the ids

    torch.set_num_threads(args.threads)
    seen: set[int] = set()

    def make_env():
        env = gym.make("mecsim.envs:mecsim/Paper-v0", max_episode_steps=args.episode_slots)
        n = env.unwrapped.n_iotds
        return gym.wrappers.TransformReward(env, lambda r: r / n)

    vec = SubprocVecEnv if args.processes else DummyVecEnv
    venv = vec([make_env] * args.envs)
    venv.seed(args.train_seed)
    model = PPO("MultiInputPolicy", venv, n_steps=1024 // args.envs, batch_size=256,
                n_epochs=10, learning_rate=args.lr, gamma=args.gamma, gae_lambda=0.9,
                ent_coef=0.0, policy_kwargs={"net_arch": [128, 128]}, seed=args.train_seed,
                verbose=0, device="cpu")
    with torch.no_grad():  # start near "all local" (cost 2 per task), not uniform
        bias = model.policy.action_net.bias.view(-1, venv.action_space.nvec[0])
        bias[:, 0] += args.local_bias
    deadline = time.monotonic() + 60.0 * args.minutes

    class Stop(BaseCallback):
        """Stops ``learn`` once the budget is spent; prints progress every 16 rollouts."""

        rollouts = 0

        def _on_step(self) -> bool:
            seen.update(int(i["world_seed"]) for i in self.locals["infos"])
            return time.monotonic() < deadline

        def _on_rollout_end(self) -> None:
            self.rollouts += 1
            if self.rollouts % 16 == 0:
                left = max(deadline - time.monotonic(), 0.0)
                print(f"  {self.num_timesteps:>8} steps, {left:4.0f} s left", flush=True)

    start = time.perf_counter()
    model.learn(total_timesteps=10**9, callback=Stop())
    wall = time.perf_counter() - start
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    venv.close()
    return out, {"wall_s": wall, "steps": int(model.num_timesteps), "worlds": seen}


def evaluate(policy: Path, args) -> list:
    """Run the policy beside the baselines on paper.yaml at the evaluation seed."""
    from mecsim.config import SchedulerSpec, load_scenario
    from mecsim.engine.runner import run_scenario

    overrides = [f"seed={args.eval_seed}"]
    if args.eval_slots:
        overrides.append(f"slots={args.eval_slots}")
    scenario = load_scenario(ROOT / "scenarios" / "paper.yaml", overrides)
    specs = [SchedulerSpec(name="schedulers.sb3_policy:PolicyScheduler",
                           params={"path": str(policy)}, label="ppo")]
    specs += [SchedulerSpec(name=n) for n in EVAL_SCHEDULERS if n not in args.skip]
    with tempfile.TemporaryDirectory(prefix="train-sb3-") as out:
        start = time.perf_counter()
        results = run_scenario(scenario, out, schedulers=specs)
        print(f"evaluation: {scenario.slots} slots at seed {args.eval_seed}, "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    return results


def table(results) -> str:
    """The comparison as a Markdown table (ratios to ``optimal`` when it ran)."""
    by = {r.name: r for r in results}
    opt = by.get("optimal")

    def mean(r, last: int | None = None) -> float:
        costs = np.asarray(r.model_costs, dtype=float)
        return float(np.nanmean(costs[-last:] if last else costs))

    rows = ["| scheduler | model cost / slot | ratio to optimal | last 500: cost / slot "
            "| last 500: ratio | realized cost / task | median decision |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if r.error:
            rows.append(f"| {r.name} | error: {r.error} | | | | | |")
            continue
        whole, last = mean(r), mean(r, 500)
        ratio = f"{whole / mean(opt):.3f}" if opt else "-"
        ratio_last = f"{last / mean(opt, 500):.3f}" if opt else "-"
        rows.append(f"| {r.name} | {whole:.3f} | {ratio} | {last:.3f} | {ratio_last} | "
                    f"{r.realized_cost_per_task:.3f} | {r.median_decision_s * 1e3:.2f} ms |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.eval_only:
        policy, figures = Path(args.out), None
    else:
        print(f"training PPO on mecsim/Paper-v0 for {args.minutes:g} min "
              f"({args.envs} envs, {args.episode_slots}-epoch episodes)", flush=True)
        policy, figures = train(args)
        if args.eval_seed in figures["worlds"]:
            print(f"evaluation seed {args.eval_seed} was a training world; pick another",
                  file=sys.stderr)
            return 2
        print(f"trained: {figures['steps']} steps in {figures['wall_s']:.0f} s "
              f"({figures['steps'] / figures['wall_s']:.0f} steps/s, "
              f"{len(figures['worlds'])} worlds); saved {policy}", flush=True)
    results = evaluate(policy, args)
    print(table(results))
    by = {r.name: r for r in results}
    ppo = by["ppo"]
    for other in ("random", "local"):
        if other in by:
            below = np.mean(ppo.model_costs) < np.mean(by[other].model_costs)
            print(f"ppo {'below' if below else 'NOT below'} {other} (model cost per slot)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
