"""DDPG, the DIRS paper's second DRL baseline, centralized, for M MECs.

A one-step (contextual-bandit) DDPG: the per-slot problem does not depend on earlier
placements, so the critic's target is the slot's reward itself (discount 0, no next state);
DDPG's target networks and their soft updates only stabilise a bootstrapped target and have
nothing to do here, so there are none. Read top to bottom, a run goes:

1. ``reset``: an actor ``N*M -> 120 -> 80 -> N*(M+1)`` whose outputs go through a softmax
   per IoTD (the deterministic continuous action: for each IoTD, a point of the simplex over
   local and MEC 1..M, so ``[0, 1]^(N*(M+1))``), and a critic
   ``(N*M + N*(M+1)) -> 120 -> 80 -> 1`` (the expected reward of the slot's gains and an
   action), each with its Adam (or those of ``checkpoint``).
2. ``decide``: the action is the actor's output plus, while training, Gaussian exploration
   noise (``noise_std``, from ``self.rng``) clipped to ``[0, 1]``; each task takes its IoTD's
   highest feasible entry (argmax over local and the MECs; infeasible options - failed MEC,
   zero gain, local power above ``Pmax`` - excluded; ties to the lowest MEC, then local).
   Frozen: the noise-free action.
3. ``feedback`` (training): ``(x, the noisy action taken, n * reward)`` goes to the replay
   (1024); every ``train_interval`` (10) slots one minibatch (256) updates the critic towards
   ``n / objective`` (the reward times the slot's number of tasks: of order 1 whatever the
   network size) by mean squared error, then the actor by ascending ``Q(x, mu(x))``.
   Entries of IoTDs without a task are zeroed in what the critic sees.

Why a softmax over ``M + 1`` options and not ``N*M`` sigmoid scores with the vote: with
independent sigmoids the actor drove every score to 1 within a few hundred slots on
``tiny.yaml`` (the critic learns first that offloading beats local on average), after which
the choice between MECs was left to the clipped noise; a softmax keeps the options of an
IoTD in competition.

The engine allocates exactly for the applied placement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import softmax
from torch import nn

from mecsim.model.problem import SlotProblem
from mecsim.scheduler import Outcome
from schedulers._drl_common import (
    DrlConfig,
    DrlScheduler,
    _nonnegative,
    choose,
    feasible_options,
    mlp,
)


@dataclass(frozen=True)
class DdpgConfig(DrlConfig):
    """Every DDPG hyper-parameter; each is a scenario parameter of the ``ddpg`` scheduler.

    Inherited (:class:`schedulers._drl_common.DrlConfig`): ``hidden`` (120, 80),
    ``learning_rate`` (the actor's), ``replay_size`` (1024), ``batch_size`` (256),
    ``train_interval`` (10), ``train_slots`` (3000), ``train``, ``checkpoint``,
    ``torch_threads``.
    """

    NAME: ClassVar[str] = "DDPG"

    learning_rate: float = 1e-4
    """Adam step size of the actor (DDPG's 1e-4)."""
    critic_learning_rate: float = 1e-3
    """Adam step size of the critic (DDPG's 1e-3)."""
    noise_std: float = 0.1
    """Standard deviation of the Gaussian exploration noise added to the scores in training."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _nonnegative("noise_std", self.noise_std)


class Ddpg(DrlScheduler):
    """The DDPG scheduler; every keyword is a field of :class:`DdpgConfig`."""

    config_class: ClassVar[type[DdpgConfig]] = DdpgConfig

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._taken: tuple[int, np.ndarray] | None = None  # (slot, action) of the last decide

    # ----------------------------------------------------------------- deciding
    def _networks(self, n_in: int) -> dict[str, tuple[nn.Module, float]]:
        cfg, n_out = self.config, self.network.n_iotds * (self.network.n_mecs + 1)
        return {"actor": (mlp(n_in, cfg.hidden, n_out), cfg.learning_rate),
                "critic": (mlp(n_in + n_out, cfg.hidden, 1), cfg.critic_learning_rate)}

    def action(self, problem: SlotProblem, iotd: np.ndarray) -> np.ndarray:
        """``(N, M+1)`` actor output: per IoTD, a softmax over local and the MECs."""
        logits = self.forward("actor", self.inputs(problem, iotd)).reshape(
            self.network.n_iotds, -1)
        return softmax(logits, axis=1)

    def _place(self, problem: SlotProblem, iotd: np.ndarray, slot: int) -> np.ndarray:
        action = self.action(problem, iotd)
        if self.learning:
            noise = self.rng.normal(0.0, self.config.noise_std, action.shape)
            action = np.clip(action + noise, 0.0, 1.0)
            self._taken = (slot, action)
        return choose(np.where(feasible_options(problem), action[iotd], -np.inf))

    # ----------------------------------------------------------------- learning
    def _remember(self, outcome: Outcome) -> None:
        problem, iotd = outcome.problem, outcome.iotd
        if self._taken is not None and self._taken[0] == outcome.slot:
            action = self._taken[1]
        else:  # feedback without its decide: the noise-free action
            action = self.action(problem, iotd)
        self._taken = None
        mask = np.zeros_like(action, dtype=np.float32)
        mask[iotd] = 1.0
        self.replay.add(x=self.inputs(problem, iotd), action=(action * mask).ravel(),
                        mask=mask.ravel(), reward=outcome.reward * problem.n_tasks)

    def _update(self) -> list[tuple[str, float]]:
        b = self.replay.sample(self.config.batch_size, self.rng)
        critic, actor = self.nets["critic"], self.nets["actor"]
        q = critic(torch.cat([b["x"], b["action"]], dim=1)).squeeze(-1)
        critic_loss = self.step("critic", F.mse_loss(q, b["reward"]))
        n_iotds = self.network.n_iotds
        scores = torch.softmax(actor(b["x"]).view(len(b["x"]), n_iotds, -1), dim=-1)
        scores = scores.flatten(1) * b["mask"]
        actor_loss = self.step("actor", -critic(torch.cat([b["x"], scores], dim=1)).mean())
        return [("critic", critic_loss), ("actor", actor_loss)]


__all__ = ["Ddpg", "DdpgConfig"]
