"""A PettingZoo ``ParallelEnv``: one agent per MEC, DIRS's decentralised setting.

Each epoch of mecsim's engine (driven by :class:`~mecsim.envs.stepper.EngineStepper`, the
engine of ``python -m mecsim run``) is one ``step``. The agent ``"mec_j"`` of each available
MEC ``j`` sees only what the engine's :class:`~mecsim.scheduler.AgentView` holds for it, and
scores every IoTD; the env gives each task its IoTD's score, combines the agents' scores with
the IoTDs' vote (:func:`mecsim.scheduler.vote`, as the engine does for a decentralized
scheduler), and the engine applies the exact CPU split and transmit power. Every agent gets
the same shared reward. ``docs/envs.md`` documents every field.

**Observation** of agent ``"mec_j"`` (``spaces.Dict``, ``float32``; ``N`` IoTDs): MEC ``j``'s
column of ``MecEnv``'s encoding, per IoTD slot (:func:`mecsim.envs.encoding.encode_view`):

==============  ========  ==================================================================
key             shape     meaning
==============  ========  ==================================================================
``tasks``       ``(N,)``  tasks the IoTD announced this epoch (0: none; the mask)
``gains``       ``(N,)``  ``(log10(h_ij) + 6) / 3`` of the IoTD's gain to MEC ``j`` only
``data_mbit``   ``(N,)``  summed upload size of its tasks [Mbit]
``cycles_g``    ``(N,)``  summed CPU cycles of its tasks [Gcycle]
``backlog``     ``(1,)``  ``ln(1 + B_j / Fmax_j)``: MEC ``j``'s own backlog
==============  ========  ==================================================================

**Action** of ``"mec_j"``: ``Box(0, 1, (N,))``, its score "offload IoTD ``i``'s tasks to me".
Each task goes to the MEC whose agent scored its IoTD highest if that score is at least
``threshold`` (0.5), else runs locally; ties go to the lowest MEC. Entries of IoTDs without a
task are ignored; scores are clipped to [0, 1]; an agent left out of ``actions`` scores
nothing (all 0), and actions of agents not in ``agents`` are ignored. A winning MEC without a
link to the IoTD (gain 0) runs the task locally instead, counted in ``info["invalid"]``.

**Reward** (shared): as ``MecEnv``'s: ``"model"`` is minus the epoch's model cost,
``"realized"`` minus the realized cost of the tasks that ended before the next epoch (plus
``drop_penalty`` per drop). An agent that has just (re)joined gets 0: it did not act.

**Agents**: ``possible_agents`` is every MEC (``"mec_1"`` ... ``"mec_M"``); ``agents`` holds
those whose MEC is up at the current epoch. When a MEC fails, the step's dicts still hold
its agent, with ``truncations`` True (terminations are always False: nothing ends for good)
and a zero observation; it leaves ``agents`` until the MEC is repaired, then rejoins with an
observation and a zero reward. At the scenario's last epoch every agent is truncated and
``agents`` becomes empty. (PettingZoo's ``parallel_api_test`` does not allow an agent to
come back after it was truncated, so it passes on an episode in which no MEC is repaired.)

**info** of every agent: ``MecEnv``'s info of the step (the slot's row of ``slots.parquet``,
``invalid``, ``completed``, ``dropped``, ``realized_cost``, ``world_seed``).

**Seeding**: ``reset(seed=s)`` runs the world of ``run --seed s``; ``reset()`` draws the next
world seed from the env's ``np_random`` (seeded by the first ``reset(seed=...)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from mecsim.config import Scenario, load_scenario
from mecsim.envs.encoding import (
    agent_observation_space,
    encode,
    encode_view,
    observation_space,
    per_iotd_placement,
    usable,
)
from mecsim.envs.gym_env import REWARDS, reward_and_info
from mecsim.envs.stepper import EngineStepper
from mecsim.scheduler import Decision, Observation, agent_views, vote


def agent_name(mec: int) -> str:
    """The agent of MEC ``mec`` (1-based): ``"mec_<mec>"``."""
    return f"mec_{mec}"


def parallel_env(scenario: str | Path | Scenario, overrides: Sequence[str] = (),
                 reward: str = "model", render_mode: str | None = None,
                 drop_penalty: float = 0.0, threshold: float = 0.5) -> MecParallelEnv:
    """The PettingZoo parallel env of ``scenario`` (see :class:`MecParallelEnv`)."""
    return MecParallelEnv(scenario, overrides, reward=reward, render_mode=render_mode,
                          drop_penalty=drop_penalty, threshold=threshold)


class MecParallelEnv(ParallelEnv):
    """One agent per MEC, one engine epoch per step (see the module docstring).

    Args:
        scenario: A scenario file, or a validated :class:`~mecsim.config.Scenario`.
        overrides: ``--set`` style overrides for a file.
        reward: ``"model"`` or ``"realized"``.
        render_mode: ``None`` or ``"rgb_array"``.
        drop_penalty: Extra cost of each dropped task in the realized reward (>= 0).
        threshold: The vote's minimum winning score to offload, in [0, 1].

    Raises:
        ValueError: On an unknown reward or render mode, a negative penalty or a threshold
            out of [0, 1].
        mecsim.config.ScenarioError: On a bad scenario file or override.
    """

    metadata = {"name": "mecsim_parallel_v0", "render_modes": ["rgb_array"],
                "render_fps": 4, "is_parallelizable": True}

    def __init__(self, scenario: str | Path | Scenario, overrides: Sequence[str] = (), *,
                 reward: str = "model", render_mode: str | None = None,
                 drop_penalty: float = 0.0, threshold: float = 0.5) -> None:
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {REWARDS}, got {reward!r}")
        if not (np.isfinite(drop_penalty) and drop_penalty >= 0):
            raise ValueError(f"drop_penalty must be a number >= 0, got {drop_penalty!r}")
        if not (np.isfinite(threshold) and 0.0 <= threshold <= 1.0):
            raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.scenario = (scenario if isinstance(scenario, Scenario)
                         else load_scenario(scenario, list(overrides)))
        self.reward_kind, self.drop_penalty = reward, float(drop_penalty)
        self.threshold = float(threshold)
        self.render_mode = render_mode
        n, m = self.scenario.iotds.count, self.scenario.mecs.count
        self.n_iotds, self.n_mecs = n, m
        self.possible_agents = [agent_name(j) for j in range(1, m + 1)]
        self.agents: list[str] = []
        self.observation_spaces = {a: agent_observation_space(n) for a in self.possible_agents}
        self.action_spaces = {a: spaces.Box(0.0, 1.0, (n,), dtype=np.float32)
                              for a in self.possible_agents}
        #: The global state (``state()``): ``MecEnv``'s observation, flattened.
        self._global_space = observation_space(n, m)
        self.state_space = spaces.flatten_space(self._global_space)
        self._np_random: np.random.Generator | None = None
        self._stepper: EngineStepper | None = None
        self._last_placement: np.ndarray | None = None
        self.world_seed: int | None = None

    # ------------------------------------------------------------------ spaces
    def observation_space(self, agent: str) -> spaces.Dict:
        """The (cached) observation space of ``agent``."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Box:
        """The (cached) action space of ``agent``."""
        return self.action_spaces[agent]

    @property
    def np_random(self) -> np.random.Generator:
        """The env's generator of world seeds (seeded by ``reset(seed=...)``)."""
        if self._np_random is None:
            self._np_random, _ = seeding.np_random()
        return self._np_random

    # ------------------------------------------------------------------ the API
    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, Any]]]:
        """Start a run of the scenario on world seed ``seed`` (see the module docstring)."""
        if seed is not None:
            self._np_random, _ = seeding.np_random(int(seed))
            self.world_seed = int(seed)
        else:
            self.world_seed = int(self.np_random.integers(0, 2**31 - 1))
        self.close()
        self._last_placement = None
        scenario = self.scenario.model_copy(update={"seed": self.world_seed})
        self._stepper = EngineStepper(scenario, self.world_seed)
        obs = self._stepper.observation
        self.agents = self._up(obs)
        views = agent_views(obs) if obs is not None else {}
        observations = {a: encode_view(views.get(self._mec(a)), self.n_iotds)
                        for a in self.agents}
        return observations, {a: {"world_seed": self.world_seed} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        """Vote the agents' scores into a placement; simulate up to the next epoch.

        Returns:
            ``observations, rewards, terminations, truncations, infos``, each keyed by the
            agents of this epoch and of the next one.

        Raises:
            RuntimeError: Before ``reset`` or after the run ended.
            ValueError: On an action of the wrong size or with a NaN.
        """
        stepper = self._stepper
        if stepper is None or stepper.done:
            raise RuntimeError("step() called before reset() or after the episode ended")
        obs = stepper.observation
        placement, invalid = self.placement(obs, actions)
        result = stepper.step(Decision(placement))
        self._last_placement = per_iotd_placement(obs.iotd, placement, self.n_iotds)
        reward, info = reward_and_info(result, self.reward_kind, self.drop_penalty, invalid,
                                       self.world_seed)
        before, after = self.agents, self._up(result.observation)
        keys = [a for a in self.possible_agents if a in before or a in after]
        views = agent_views(result.observation) if result.observation is not None else {}
        self.agents = after
        observations = {a: encode_view(views.get(self._mec(a)), self.n_iotds) for a in keys}
        rewards = {a: reward if a in before else 0.0 for a in keys}
        terminations = dict.fromkeys(keys, False)
        truncations = {a: a not in after for a in keys}
        infos = {a: dict(info) for a in keys}
        return observations, rewards, terminations, truncations, infos

    def placement(self, obs: Observation, actions: dict[str, Any]) -> tuple[np.ndarray, int]:
        """Each task's placement from the agents' scores, and how many were invalid."""
        scores = {}
        for j, view in agent_views(obs).items():
            action = actions.get(agent_name(j))
            if action is None:
                continue
            s = np.asarray(action, dtype=float).reshape(-1)
            if s.shape != (self.n_iotds,) or np.isnan(s).any():
                raise ValueError(f"{agent_name(j)}'s action must be {self.n_iotds} scores "
                                 f"(no NaN), got shape {np.shape(action)}")
            scores[j] = np.clip(s, 0.0, 1.0)[view.iotd]
        return usable(obs, vote(scores, obs.n_tasks, self.threshold))

    def state(self) -> np.ndarray:
        """The global state: ``MecEnv``'s observation of the epoch, flattened (CTDE)."""
        obs = self._stepper.observation if self._stepper is not None else None
        return spaces.flatten(self._global_space, encode(obs, self.n_iotds, self.n_mecs))

    def render(self) -> np.ndarray | None:
        """The map as an ``(H, W, 3)`` uint8 array (``render_mode="rgb_array"``)."""
        if self.render_mode != "rgb_array":
            return None
        from mecsim.envs.render import draw_map

        stepper = self._stepper
        return draw_map(self.scenario, stepper.network if stepper else None,
                        stepper.observation if stepper else None,
                        placement=self._last_placement)

    def close(self) -> None:
        """Abandon the current run, if any."""
        if self._stepper is not None:
            self._stepper.close()
            self._stepper = None

    # ------------------------------------------------------------------ helpers
    def _up(self, obs: Observation | None) -> list[str]:
        if obs is None:
            return []
        return [agent_name(j + 1) for j in np.flatnonzero(obs.available)]

    @staticmethod
    def _mec(agent: str) -> int:
        return int(agent.rsplit("_", 1)[1])
