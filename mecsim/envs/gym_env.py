"""``MecEnv``: a Gymnasium env whose ``step`` is one decision epoch of mecsim's engine.

One centralized agent places every IoTD's task each epoch. The world between two epochs
(mobility, fading, arrivals, uploads, MEC queues, deadlines, failures) is the SimPy engine
of ``python -m mecsim run``, driven by :class:`mecsim.envs.stepper.EngineStepper`: the same
scenario and seed give the same channels and arrivals as ``run --seed``.

**Observation** (``spaces.Dict``, every entry ``float32``; ``N`` IoTDs, ``M`` MECs):

==============  ========  ==================================================================
key             shape     meaning
==============  ========  ==================================================================
``tasks``       ``(N,)``  tasks the IoTD has to place this epoch (0, 1, or more with Poisson
                          arrivals), capped at :data:`MAX_TASKS`
``gains``       ``(N,M)`` ``(log10(h) + 6) / 3`` of the IoTD's channel gain ``h`` to each MEC
                          at the epoch (about -1..1 for 1e-9..1e-3), clipped to [-5, 5];
                          0 for an IoTD without a task
``data_mbit``   ``(N,)``  summed upload size of its tasks [Mbit] (capped at 1e6)
``cycles_g``    ``(N,)``  summed CPU cycles of its tasks [Gcycle] (capped at 1e6)
``backlog``     ``(M,)``  ``ln(1 + B_j / Fmax_j)``: each MEC's backlog in seconds of work
                          (capped at 50)
``available``   ``(M,)``  1, or 0 while the MEC has failed
==============  ========  ==================================================================

**Action** ``MultiDiscrete([M+1] * N)``: per IoTD, 0 runs its tasks locally, ``j`` offloads
them to MEC ``j``; every task of an IoTD in one epoch follows its entry. Entries of IoTDs
without a task are ignored. An entry naming a failed MEC, or a MEC the IoTD has no link to
(gain 0), runs the task locally instead and is counted in ``info["invalid"]``. The engine
then applies the exact CPU split and transmit power, as for any scheduler.

**Reward**: ``reward="model"`` (default) is minus the epoch's model cost (the spec's
objective of the epoch's decisions, ``slots.parquet``'s ``model_cost``); ``"realized"`` is
minus the realized cost ``phi_T latency + phi_E energy`` of every task that ended between
this epoch and the next, whatever epoch placed it, a dropped task counted at its age and
energy when dropped plus ``drop_penalty``.

**Episode**: ``terminated`` is always False (the network has no terminal state); the
scenario's ``slots`` is a time limit, so ``truncated`` is True at the last epoch.

**info**: the epoch's row of ``slots.parquet`` (``model_cost``, ``tasks``, ``offloaded``,
``backlog_tasks_j``, ...; not ``decision_s``, ``scheduler``, nor a field without a value,
such as ``lower_bound``), plus ``invalid``, ``completed``, ``dropped`` (tasks that ended
during the step), ``realized_cost`` (what they cost, drops at their age, without the
penalty) and ``world_seed``.

``reset(seed=s)`` runs the world of seed ``s``; ``reset()`` without a seed draws the next
world seed from the env's ``np_random``, which the first ``reset(seed=...)`` seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mecsim.config import Scenario, load_scenario
from mecsim.envs.encoding import (  # noqa: F401 - encode, placement_of re-exported
    MAX_TASKS,
    encode,
    observation_space,
    per_iotd_placement,
    placement_of,
)
from mecsim.envs.stepper import EngineStepper
from mecsim.scheduler import Decision, Observation

REWARDS = ("model", "realized")
#: Slot-record fields left out of ``info``: the wall time of the decision (not a property
#: of the world, and it would make two equal runs differ).
NOT_IN_INFO = ("decision_s", "scheduler")


class MecEnv(gym.Env):
    """One decision epoch of the engine per step (see the module docstring).

    Args:
        scenario: A scenario file, or a validated :class:`~mecsim.config.Scenario`.
        overrides: ``--set`` style overrides (``["iotds.count=10", ...]``) for a file.
        reward: ``"model"`` or ``"realized"``.
        drop_penalty: Extra cost of each dropped task in the realized reward (>= 0).
        render_mode: ``None`` or ``"rgb_array"`` (the map: MECs, IoTDs, placements).

    Raises:
        ValueError: On an unknown reward or render mode, or a negative penalty.
        mecsim.config.ScenarioError: On a bad scenario file or override.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, scenario: str | Path | Scenario, overrides: Sequence[str] = (),
                 reward: str = "model", drop_penalty: float = 0.0,
                 render_mode: str | None = None) -> None:
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {REWARDS}, got {reward!r}")
        if not (np.isfinite(drop_penalty) and drop_penalty >= 0):
            raise ValueError(f"drop_penalty must be a number >= 0, got {drop_penalty!r}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.scenario = (scenario if isinstance(scenario, Scenario)
                         else load_scenario(scenario, list(overrides)))
        self.reward_kind, self.drop_penalty = reward, float(drop_penalty)
        self.render_mode = render_mode
        n, m = self.scenario.iotds.count, self.scenario.mecs.count
        self.n_iotds, self.n_mecs = n, m
        self.observation_space = observation_space(n, m)
        self.action_space = spaces.MultiDiscrete(np.full(n, m + 1, dtype=np.int64))
        self._stepper: EngineStepper | None = None
        self.world_seed: int | None = None
        #: ``(N,)`` placement of each IoTD's tasks at the last step (-1: none), for render.
        self._last_placement: np.ndarray | None = None

    # ------------------------------------------------------------------ the API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start a run of the scenario on world seed ``seed`` (see the module docstring)."""
        super().reset(seed=seed)
        self.world_seed = int(seed) if seed is not None else int(
            self.np_random.integers(0, 2**31 - 1))
        self.close()
        self._last_placement = None
        scenario = self.scenario.model_copy(update={"seed": self.world_seed})
        self._stepper = EngineStepper(scenario, self.world_seed)
        return self._encode(self._stepper.observation), {"world_seed": self.world_seed}

    def step(self, action) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Place the epoch's tasks by ``action`` and simulate up to the next epoch."""
        stepper = self._stepper
        if stepper is None or stepper.done:
            raise RuntimeError("step() called before reset() or after the episode ended")
        obs = stepper.observation
        placement, invalid = placement_of(obs, np.asarray(action))
        result = stepper.step(Decision(placement))
        self._last_placement = per_iotd_placement(obs.iotd, placement, self.n_iotds)
        reward, info = reward_and_info(result, self.reward_kind, self.drop_penalty, invalid,
                                       self.world_seed)
        truncated = result.observation is None
        encoded = (self._encode(result.observation) if not truncated
                   else self._encode(None))
        return encoded, reward, False, truncated, info

    def render(self) -> np.ndarray | None:
        """The map as an ``(H, W, 3)`` uint8 array (``render_mode="rgb_array"``)."""
        if self.render_mode != "rgb_array":
            return None
        from mecsim.envs.render import draw_map

        stepper = self._stepper
        obs = stepper.observation if stepper is not None else None
        return draw_map(self.scenario, stepper.network if stepper else None, obs,
                        placement=self._last_placement)

    def close(self) -> None:
        """Abandon the current run, if any."""
        if self._stepper is not None:
            self._stepper.close()
            self._stepper = None

    # ------------------------------------------------------------------ encoding
    def _encode(self, obs: Observation | None) -> dict[str, np.ndarray]:
        return encode(obs, self.n_iotds, self.n_mecs)


def reward_and_info(result, reward_kind: str, drop_penalty: float, invalid: int,
                    world_seed: int | None) -> tuple[float, dict[str, Any]]:
    """The step's reward and ``info`` from the engine's :class:`EpochResult` (both envs)."""
    if reward_kind == "model":
        reward = -float(result.record["model_cost"])
    else:
        reward = -(result.completed_cost + result.dropped_cost + drop_penalty * result.dropped)
    info = {k: v for k, v in result.record.items()
            if k not in NOT_IN_INFO and v is not None and v == v}  # no NaN, no None
    info.update(invalid=invalid, completed=result.completed, dropped=result.dropped,
                realized_cost=result.completed_cost + result.dropped_cost,
                world_seed=world_seed)
    return reward, info
