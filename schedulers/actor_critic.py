"""Actor-Critic, the DIRS paper's first DRL baseline, centralized, for M MECs.

A one-step (contextual-bandit) actor-critic: the per-slot problem does not depend on
earlier placements, so the return of a placement is its reward alone and the critic needs no
bootstrapping. The policy is **factorised per task** with weights shared by every task and
MEC (:class:`schedulers._drl_common.OptionScorer`), and every task gets its own reward, so a
slot of ``n`` tasks gives ``n`` training examples and one checkpoint serves any ``N``.
Read top to bottom, a run goes:

1. ``reset``: an actor (``7 -> 64 -> 64 -> 1`` on each (task, MEC) pair's
   :func:`~schedulers._drl_common.option_features`: its gain, upload cost, CPU cost alone
   and in a crowded slot, the MEC's share of the capacity, the task's size; costs relative
   to the task's local cost) and a critic ``V`` (``21 -> 64 -> 64 -> 1`` on the features
   pooled over the MECs: the expected reward of the task), each with its Adam (or the
   networks of ``checkpoint``).
2. ``decide``: task ``i``'s policy is the softmax over its feasible options of the logits
   ``(0, s_i1, ..., s_iM)``: local has the fixed logit 0, MEC ``j`` the actor's score
   ``s_ij`` (infeasible options - failed MEC, zero gain, local power above ``Pmax`` - get
   probability 0). The actor's last layer starts at zero: at first every option is equally
   likely. **Training**: each task's option is *sampled* (from ``self.rng``); **frozen**: the
   most likely option (argmax; ties to local, then the lowest MEC).
3. ``feedback`` (training): each task adds ``(features, feasible options, option taken,
   behaviour log-probability, reward)`` to the replay (``replay_size`` tasks); every
   ``train_interval`` slots ``steps_per_update`` minibatches of ``batch_size`` tasks update

   - the critic ``V(s_i)`` towards the task's reward ``r_i`` by mean squared error, and
   - the actor by the policy gradient ``-rho_i A_i log pi(a_i|s_i)`` with the advantage
     ``A_i = r_i - V(s_i)`` and ``rho_i = min(1, pi(a_i|s_i) / mu(a_i|s_i))`` the truncated
     importance weight of the replay's older policies ``mu`` (as in ACER), minus
     ``entropy`` times the policy's entropy; ``entropy`` decays linearly to 0 over
     ``train_slots`` so that the frozen argmax is the policy that was trained.

The reward (:func:`~schedulers._drl_common.task_rewards`) is each task's *difference
reward*: the share of its local cost that its choice saves, counting the delay it imposes
on the other tasks of its MEC. Why not the paper's ``1 / objective`` for the slot: one
number for all ``n`` tasks gives each task's choice a signal ``n`` times weaker than the
noise of the others' choices; with 30 IoTDs the earlier per-slot version learned to spread
tasks almost uniformly and, off ``paper.yaml``, cost 2.5-17x the optimum (94x with 100
IoTDs and 10 MECs) against ``greedy``'s 2.3-3.5x. With ``1 / objective`` the scale also
changed with ``N`` and the task sizes; a share of the local cost is of order 1 everywhere.

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
    DrlConfig,
    OptionScorer,
    TaskScheduler,
    TaskValue,
    _nonnegative,
    annealed,
    feasible_options,
    task_rewards,
)


@dataclass(frozen=True)
class ActorCriticConfig(DrlConfig):
    """Every Actor-Critic hyper-parameter; each is a scenario parameter of ``actor_critic``.

    Inherited (:class:`schedulers._drl_common.DrlConfig`): ``train``, ``checkpoint``,
    ``torch_threads``, ``steps_per_update`` (1).
    """

    NAME: ClassVar[str] = "Actor-Critic"

    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the actor and the critic (each reads one task)."""
    learning_rate: float = 1e-3
    """Adam step size of the actor."""
    critic_learning_rate: float = 1e-3
    """Adam step size of the critic."""
    entropy: float = 0.01
    """Weight of the policy's entropy (per task) at the start; decays linearly to 0."""
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
        _nonnegative("entropy", self.entropy)


class ActorCritic(TaskScheduler):
    """The Actor-Critic scheduler; every keyword is a field of :class:`ActorCriticConfig`."""

    config_class: ClassVar[type[ActorCriticConfig]] = ActorCriticConfig

    # ----------------------------------------------------------------- deciding
    def _networks(self, n_in: int) -> dict[str, tuple[nn.Module, float]]:
        cfg = self.config
        return {"actor": (OptionScorer(cfg.hidden), cfg.learning_rate),
                "critic": (TaskValue(cfg.hidden), cfg.critic_learning_rate)}

    def policy(self, problem: SlotProblem) -> np.ndarray:
        """``(n, M+1)`` probabilities of each task's options (local first)."""
        with torch.no_grad():
            scores = self.nets["actor"](torch.from_numpy(self.features(problem))).numpy()
        logits = np.concatenate([np.zeros((len(scores), 1)), scores], axis=1)
        logits = np.where(feasible_options(problem), logits, -np.inf)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def _place(self, problem: SlotProblem, iotd: np.ndarray, slot: int) -> np.ndarray:
        p = self.policy(problem)
        if not self.learning:
            return np.argmax(p, axis=1).astype(np.int64)
        cdf = np.cumsum(p, axis=1)
        u = self.rng.random(len(p)) * cdf[:, -1]
        return (cdf < u[:, None]).sum(axis=1).astype(np.int64)  # never a 0-probability option

    # ----------------------------------------------------------------- learning
    def _remember(self, outcome: Outcome) -> None:
        problem, a = outcome.problem, outcome.placement
        p = self.policy(problem)  # the behaviour policy: no update since decide
        chosen = p[np.arange(len(a)), a]
        self.replay.extend(x=self.features(problem), feasible=feasible_options(problem),
                           action=a.astype(np.float32),
                           log_mu=np.log(np.maximum(chosen, 1e-12)),
                           reward=task_rewards(problem, a))

    def _update(self) -> list[tuple[str, float]]:
        cfg, b = self.config, self.replay.sample(self.config.batch_size, self.rng)
        value = self.nets["critic"](b["x"])
        critic_loss = F.mse_loss(value, b["reward"])
        advantage = (b["reward"] - value).detach()
        scores = self.nets["actor"](b["x"])
        logits = torch.cat([torch.zeros_like(scores[:, :1]), scores], dim=1)
        log_pi = F.log_softmax(logits.masked_fill(~b["feasible"], MASKED), dim=-1)
        taken = log_pi.gather(1, b["action"].long()[:, None]).squeeze(1)
        rho = torch.exp(taken.detach() - b["log_mu"]).clamp(max=1.0)
        entropy = -(log_pi.exp() * log_pi.masked_fill(~b["feasible"], 0.0)).sum(dim=-1)
        weight = annealed(cfg.entropy, self.progress)
        actor_loss = -(rho * advantage * taken).mean() - weight * entropy.mean()
        return [("critic", self.step("critic", critic_loss)),
                ("actor", self.step("actor", actor_loss))]


__all__ = ["ActorCritic", "ActorCriticConfig"]
