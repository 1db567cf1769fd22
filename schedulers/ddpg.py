"""DDPG, the DIRS paper's second DRL baseline, centralized, for M MECs.

A one-step (contextual-bandit) DDPG: the per-slot problem does not depend on earlier
placements, so the critic's target is the reward itself (discount 0, no next state); DDPG's
target networks and their soft updates only stabilise a bootstrapped target and have nothing
to do here, so there are none. Like :mod:`schedulers.actor_critic`, the networks read **one
task at a time** with weights shared by every task and MEC, and every task has its own
reward (:func:`~schedulers._drl_common.task_rewards`, the share of its local cost that its
choice saves, counting the delay it imposes on its MEC's other tasks). Read top to bottom, a
run goes:

1. ``reset``: an actor ``mu`` (``7 -> 64 -> 64 -> 1`` on each (task, MEC) pair's
   :func:`~schedulers._drl_common.option_features`, then a sigmoid: the deterministic
   continuous action of task ``i`` is its scores ``a_i`` in ``[0, 1]^M``, one per MEC) and a
   critic ``q`` (``7 -> 64 -> 64 -> 1`` on the same features: the expected reward of
   offloading the task to that MEC; local's reward is 0 by construction), each with its
   Adam (or those of ``checkpoint``). The actor starts at scores 0.5 everywhere.
2. ``decide``: the scores plus, while training, Gaussian exploration noise (``noise_std``,
   decaying linearly to a tenth of it over ``train_slots``; from ``self.rng``), clipped to
   ``[0, 1]``; each task takes the vote of DIRS (its highest-scoring feasible MEC if that
   score is at least 0.5, else local; infeasible options - failed MEC, zero gain, local
   power above ``Pmax`` - excluded). Frozen: the noise-free scores.
3. ``feedback`` (training): each task adds ``(features, feasible options, noisy scores,
   option taken, reward)`` to the replay (``replay_size`` tasks); every ``train_interval``
   slots ``steps_per_update`` minibatches of ``batch_size`` tasks update the critic (mean
   squared error of ``q(s_i, j)`` against ``r_i`` for the offloaded tasks, of the chosen MEC
   ``j``), then the actor by ascending ``Q(s, mu(s))`` less ``logit_l2`` times the mean
   squared pre-sigmoid score (which keeps the scores where the noise and the critic's
   gradient can still move them: without it, on 300 IoTDs, the first crowded slots drove
   every score to the sigmoid's flat end below 0.5 and the policy stayed local).

The critic of the action: ``Q(s_i, a_i) = g(a_i) sum_j p_j(a_i) q(s_i, j)``, the vote made
differentiable in two soft steps at temperature ``temperature`` ``T``: which MEC
(``p = softmax(a_i / T)`` over the feasible MECs) and whether to offload at all (the gate
``g = sigmoid((sum_j p_j a_ij - 0.5) / T)``); local's value is 0. For clear-cut scores it is
the value of the option the vote chose, so the critic is fit on the options taken; its
gradient in ``a`` raises the score of a MEC worth more than the others, and all of them when
offloading is worth more than local: the deterministic policy gradient
``grad_a Q grad_theta mu``. (A single softmax over ``(0.5, a_i1, ..., a_iM)`` let the
least-bad of ``M`` losing MECs be pushed above 0.5, because the others' weight dragged the
mixture below it: with 10 MECs DDPG offloaded 99 % of the tasks, at 1.13x ``optimal``.)

Why not the earlier version (one ``N*M -> N*(M+1)`` actor and a critic of the whole slot's
action trained on ``n / objective``): with one reward for all ``n`` tasks of a slot and a
critic of an ``N*(M+1)``-dimensional action, the critic's gradient for one task was noise;
off ``paper.yaml`` it cost 2.6-4.4x the optimum (122x with 100 IoTDs and 10 MECs) against
``greedy``'s 2.3-3.5x.

The engine allocates exactly for the applied placement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mecsim.model.problem import SlotProblem
from mecsim.scheduler import Outcome
from schedulers._drl_common import (
    MASKED,
    THRESHOLD,
    DrlConfig,
    OptionScorer,
    TaskScheduler,
    _nonnegative,
    _positive,
    annealed,
    feasible_options,
    task_rewards,
    threshold_placement,
)


@dataclass(frozen=True)
class DdpgConfig(DrlConfig):
    """Every DDPG hyper-parameter; each is a scenario parameter of the ``ddpg`` scheduler.

    Inherited (:class:`schedulers._drl_common.DrlConfig`): ``train``, ``checkpoint``,
    ``torch_threads``, ``steps_per_update`` (1).
    """

    NAME: ClassVar[str] = "DDPG"

    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the actor and the critic (each reads one (task, MEC) pair)."""
    learning_rate: float = 1e-3
    """Adam step size of the actor."""
    critic_learning_rate: float = 1e-3
    """Adam step size of the critic."""
    noise_std: float = 0.2
    """Standard deviation of the Gaussian exploration noise on the scores at the start; it
    decays linearly to a tenth of it over ``train_slots``."""
    temperature: float = 0.5
    """Temperature of the softmax that relaxes the vote in the critic of the action (at 0.1
    the gradient for a score well below 0.5 vanished, and on 300 IoTDs every score sank
    below 0.5 in the first 200 slots, never to come back)."""
    logit_l2: float = 0.01
    """Weight of the mean squared pre-sigmoid score in the actor's loss: keeps the scores
    off the sigmoid's flat ends, where neither the critic's gradient nor the noise moves
    them."""
    replay_size: int = 8192
    """Tasks kept in the replay ring (the oldest is overwritten)."""
    batch_size: int = 256
    """Tasks in each minibatch."""
    train_interval: int = 2
    """Slots between two updates."""
    train_slots: int = 1000
    """Slots (with tasks) of online training; then the networks freeze."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _nonnegative("noise_std", self.noise_std)
        _positive("temperature", self.temperature)
        _nonnegative("logit_l2", self.logit_l2)


class Ddpg(TaskScheduler):
    """The DDPG scheduler; every keyword is a field of :class:`DdpgConfig`."""

    config_class: ClassVar[type[DdpgConfig]] = DdpgConfig

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._taken: tuple[int, np.ndarray] | None = None  # (slot, scores) of the last decide

    # ----------------------------------------------------------------- deciding
    def _networks(self, n_in: int) -> dict[str, tuple[nn.Module, float]]:
        cfg = self.config
        return {"actor": (OptionScorer(cfg.hidden), cfg.learning_rate),
                "critic": (OptionScorer(cfg.hidden), cfg.critic_learning_rate)}

    def action(self, problem: SlotProblem) -> np.ndarray:
        """``(n, M)`` actor output: each task's score of each MEC, in ``[0, 1]``."""
        with torch.no_grad():
            x = torch.from_numpy(self.features(problem))
            return torch.sigmoid(self.nets["actor"](x)).numpy().astype(float)

    def _place(self, problem: SlotProblem, iotd: np.ndarray, slot: int) -> np.ndarray:
        action = self.action(problem)
        if self.learning:
            std = annealed(self.config.noise_std, self.progress, end_share=0.1)
            action = np.clip(action + self.rng.normal(0.0, std, action.shape), 0.0, 1.0)
            self._taken = (slot, action)
        return threshold_placement(action, feasible_options(problem))

    # ----------------------------------------------------------------- learning
    def _remember(self, outcome: Outcome) -> None:
        problem, a = outcome.problem, outcome.placement
        if (self._taken is not None and self._taken[0] == outcome.slot
                and self._taken[1].shape[0] == len(a)):
            action = self._taken[1]
        else:  # feedback without its decide: the noise-free action
            action = self.action(problem)
        self._taken = None
        self.replay.extend(x=self.features(problem), action=action.astype(np.float32),
                           feasible=feasible_options(problem),
                           taken=a.astype(np.float32), reward=task_rewards(problem, a))

    def relaxed_q(self, x: torch.Tensor, scores: torch.Tensor,
                  feasible: torch.Tensor) -> torch.Tensor:
        """``Q(s, a)``: the critic's values of the MECs under the relaxed vote.

        The vote in two soft steps at ``temperature`` ``T``: which MEC (``p = softmax(a / T)``
        over the feasible MECs, the MEC's value ``sum_j p_j q_j``), and whether to offload at
        all (the gate ``sigmoid((sum_j p_j a_j - 0.5) / T)``, 1 where local is infeasible);
        local's value is 0. For clear-cut scores it is the value of the vote's choice.
        """
        q = self.nets["critic"](x)
        mecs = feasible[:, 1:]
        p = torch.softmax((scores / self.config.temperature).masked_fill(~mecs, MASKED), dim=1)
        soft_max = (p * scores).sum(dim=1)
        gate = torch.sigmoid((soft_max - THRESHOLD) / self.config.temperature)
        gate = torch.where(feasible[:, 0], gate, torch.ones_like(gate))
        gate = torch.where(mecs.any(dim=1), gate, torch.zeros_like(gate))
        return gate * (p * q.masked_fill(~mecs, 0.0)).sum(dim=1)

    def _update(self) -> list[tuple[str, float]]:
        b = self.replay.sample(self.config.batch_size, self.rng)
        taken = b["taken"].long()
        off = taken > 0
        q = self.nets["critic"](b["x"])
        q_taken = q.gather(1, (taken - 1).clamp(min=0)[:, None]).squeeze(1)
        critic_loss = F.mse_loss(q_taken[off], b["reward"][off]) if off.any() \
            else (q_taken * 0.0).sum()
        critic_loss = self.step("critic", critic_loss)
        logits = self.nets["actor"](b["x"])
        value = self.relaxed_q(b["x"], torch.sigmoid(logits), b["feasible"]).mean()
        penalty = self.config.logit_l2 * logits.masked_fill(~b["feasible"][:, 1:], 0.0).pow(2)
        actor_loss = self.step("actor", penalty.mean() - value)
        return [("critic", critic_loss), ("actor", actor_loss)]


__all__ = ["Ddpg", "DdpgConfig"]
