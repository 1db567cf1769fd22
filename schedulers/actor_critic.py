"""Actor-Critic, the DIRS paper's first DRL baseline, centralized, for M MECs.

A one-step (contextual-bandit) actor-critic: the per-slot problem does not depend on
earlier placements, so the return of a placement is the slot's reward ``1 / objective``
alone and the critic needs no bootstrapping. Read top to bottom, a run goes:

1. ``reset``: an actor ``N*M -> 120 -> 80 -> N*(M+1)`` (logits of local, MEC 1..M for each
   IoTD) and a critic ``N*M -> 120 -> 80 -> 1`` (the expected reward of the slot's gains),
   each with its Adam (or the networks of ``checkpoint``).
2. ``decide``: each task's policy is the softmax of its IoTD's logits over its feasible
   options (infeasible ones - failed MEC, zero gain, local power above ``Pmax`` - get
   probability 0). **Training**: each task's option is *sampled* (from ``self.rng``);
   **frozen**: the most likely option (argmax; ties to local, then the lowest MEC).
3. ``feedback`` (training): ``(x, task counts per IoTD and option, feasible options, the
   behaviour policy's log-probabilities, n * reward)`` goes to the replay (1024); every
   ``train_interval`` (10) slots one minibatch (256) updates

   - the critic ``V(x)`` towards ``n / objective`` (the reward times the slot's number of
     tasks: of order 1 whatever the network size; with one task per IoTD and slot it is the
     reward up to a constant factor) by mean squared error, and
   - the actor by the policy gradient ``-rho A log pi(a|x)`` summed over the tasks, with the
     advantage ``A = n/objective - V(x)`` and ``rho = min(1, pi(a_k|x) / mu(a_k|x))`` each
     task's truncated importance weight (the replay holds up to 1024 slots of older
     policies ``mu``; truncation as in ACER), plus ``entropy`` times the policy's entropy.

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
    DrlScheduler,
    _nonnegative,
    feasible_options,
    mlp,
    per_iotd_feasible,
)


@dataclass(frozen=True)
class ActorCriticConfig(DrlConfig):
    """Every Actor-Critic hyper-parameter; each is a scenario parameter of ``actor_critic``.

    Inherited (:class:`schedulers._drl_common.DrlConfig`): ``hidden`` (120, 80),
    ``learning_rate`` (the actor's), ``replay_size`` (1024), ``batch_size`` (256),
    ``train_interval`` (10), ``train_slots`` (3000), ``train``, ``checkpoint``,
    ``torch_threads``.
    """

    NAME: ClassVar[str] = "Actor-Critic"

    learning_rate: float = 1e-3
    """Adam step size of the actor."""
    critic_learning_rate: float = 1e-3
    """Adam step size of the critic."""
    entropy: float = 0.01
    """Weight of the policy's entropy (per task) in the actor's loss (exploration)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _nonnegative("entropy", self.entropy)


class ActorCritic(DrlScheduler):
    """The Actor-Critic scheduler; every keyword is a field of :class:`ActorCriticConfig`."""

    config_class: ClassVar[type[ActorCriticConfig]] = ActorCriticConfig

    # ----------------------------------------------------------------- deciding
    def _networks(self, n_in: int) -> dict[str, tuple[nn.Module, float]]:
        cfg, net = self.config, self.network
        return {"actor": (mlp(n_in, cfg.hidden, net.n_iotds * (net.n_mecs + 1)),
                          cfg.learning_rate),
                "critic": (mlp(n_in, cfg.hidden, 1), cfg.critic_learning_rate)}

    def policy(self, problem: SlotProblem, iotd: np.ndarray) -> np.ndarray:
        """``(N, M+1)`` probabilities of each IoTD's options (its tasks' feasible ones)."""
        logits = self.forward("actor", self.inputs(problem, iotd)).reshape(
            self.network.n_iotds, -1)
        feasible = per_iotd_feasible(feasible_options(problem), iotd, self.network.n_iotds)
        logits = np.where(feasible, logits, -np.inf)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def _place(self, problem: SlotProblem, iotd: np.ndarray, slot: int) -> np.ndarray:
        p = self.policy(problem, iotd)[iotd]  # (n, M+1)
        if not self.learning:
            return np.argmax(p, axis=1).astype(np.int64)
        cdf = np.cumsum(p, axis=1)
        u = self.rng.random(len(p)) * cdf[:, -1]
        return (cdf < u[:, None]).sum(axis=1).astype(np.int64)  # never a 0-probability option

    # ----------------------------------------------------------------- learning
    def _remember(self, outcome: Outcome) -> None:
        problem, iotd, n_iotds = outcome.problem, outcome.iotd, self.network.n_iotds
        p = self.policy(problem, iotd)  # the behaviour policy: no update since decide
        counts = np.zeros_like(p, dtype=np.float32)
        np.add.at(counts, (iotd, outcome.placement), 1.0)
        with np.errstate(divide="ignore"):
            log_mu = np.where(p > 0, np.log(p), 0.0)
        self.replay.add(x=self.inputs(problem, iotd), counts=counts,
                        feasible=per_iotd_feasible(feasible_options(problem), iotd, n_iotds),
                        log_mu=log_mu, reward=outcome.reward * problem.n_tasks)

    def _update(self) -> list[tuple[str, float]]:
        cfg, b = self.config, self.replay.sample(self.config.batch_size, self.rng)
        value = self.nets["critic"](b["x"]).squeeze(-1)
        critic_loss = F.mse_loss(value, b["reward"])
        advantage = (b["reward"] - value).detach()
        logits = self.nets["actor"](b["x"]).view(b["counts"].shape)
        log_pi = F.log_softmax(logits.masked_fill(~b["feasible"], MASKED), dim=-1)
        log_pi = log_pi.masked_fill(~b["feasible"], 0.0)
        rho = torch.exp(log_pi.detach() - b["log_mu"]).clamp(max=1.0)
        chosen = (b["counts"] * rho * log_pi).sum(dim=(1, 2))
        has_task = (b["counts"].sum(dim=-1) > 0).float()
        entropy = -(log_pi.exp() * log_pi).sum(dim=-1)
        actor_loss = -(advantage * chosen).mean() \
            - cfg.entropy * (entropy * has_task).sum(dim=1).mean()
        return [("critic", self.step("critic", critic_loss)),
                ("actor", self.step("actor", actor_loss))]


__all__ = ["ActorCritic", "ActorCriticConfig"]
