"""Gymnasium and PettingZoo environments on mecsim's engine (the ``rl`` extra).

Importing this package registers the Gymnasium ids:

- ``mecsim/Paper-v0``: ``scenarios/paper.yaml`` (the DIRS paper's setting);
- ``mecsim/Dense100-v0``: ``scenarios/dense_100.yaml``;
- ``mecsim/Scenario-v0``: any file, ``gymnasium.make("mecsim/Scenario-v0",
  scenario="path.yaml", overrides=[...])``.

Gymnasium 1.x reads no installed-package entry points, so the ids exist once this package
is imported; ``gymnasium.make("mecsim.envs:mecsim/Paper-v0")`` imports it first by itself
(Gymnasium's ``module:id`` form). See ``docs/envs.md``.
"""

from __future__ import annotations

from pathlib import Path

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

#: The registered ids and the scenario each runs (None: given to ``make``).
IDS = {"mecsim/Paper-v0": SCENARIOS / "paper.yaml",
       "mecsim/Dense100-v0": SCENARIOS / "dense_100.yaml",
       "mecsim/Scenario-v0": None}


def register_envs() -> None:
    """Register :data:`IDS` with Gymnasium (idempotent)."""
    import gymnasium

    for env_id, path in IDS.items():
        if env_id in gymnasium.registry:
            continue
        kwargs = {} if path is None else {"scenario": str(path)}
        gymnasium.register(id=env_id, entry_point="mecsim.envs.gym_env:MecEnv", kwargs=kwargs)


register_envs()

from mecsim.envs.gym_env import MecEnv  # noqa: E402


def parallel_env(scenario, overrides=(), reward="model", render_mode=None, **kwargs):
    """The PettingZoo parallel env, one agent per MEC (:mod:`mecsim.envs.parallel`)."""
    from mecsim.envs.parallel import parallel_env as make

    return make(scenario, overrides, reward=reward, render_mode=render_mode, **kwargs)


__all__ = ["IDS", "MecEnv", "parallel_env", "register_envs"]
