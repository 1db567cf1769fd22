"""Imitation acceleration (paper Algorithm 2) and the losses shared with online training.

Two cross-entropies (``DirsConfig.loss_target``), each agent reading only its own column
of inputs ``x[:, :, j]`` in both:

- ``"agent"`` (the paper): agent ``j`` learns "offload IoTD ``i`` to me" as the binary label
  ``a*_i == j``, alone.
- ``"vote"``: the cross-entropy of the ensemble's decision. The vote takes
  ``argmax_j s_ij`` if it is at least 0.5, else local; with ``s = sigmoid(z)`` that is the
  argmax over the logits ``(0, z_i1, ..., z_iM)``, whose softmax cross-entropy against
  ``a*_i`` trains exactly the decision the vote makes. The per-agent labels cannot: an
  agent that sees a good channel cannot know whether another MEC's is better, so with
  ``M`` MECs its "offload to me" probability is about ``1 / M`` of a task that should be
  offloaded, below the 0.5 threshold, and the vote runs such tasks locally.

``L_D`` is the cross-entropy on demonstrations; ``L_I`` adds ``lambda1 ||theta||^2``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.nn.functional import binary_cross_entropy_with_logits, cross_entropy

from schedulers.dirs.network import scores_of


def sample_losses(net: nn.Module, x: torch.Tensor, actions: torch.Tensor,
                  mec: int) -> torch.Tensor:
    """Per-sample cross-entropy of agent ``mec`` (1-based) over the IoTDs that had a task.

    Args:
        net: The agent.
        x: ``(B, N, M)`` inputs.
        actions: ``(B, N)`` best placements (-1 where an IoTD had no task).
        mec: The agent's MEC.

    Returns:
        ``(B,)`` losses.
    """
    logits = net(x[:, :, mec - 1])
    target = (actions == mec).float()
    mask = (actions >= 0).float()
    bce = binary_cross_entropy_with_logits(logits, target, reduction="none") * mask
    return bce.sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


def vote_losses(nets: list[nn.Module], x: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy of the vote over the IoTDs that had a task.

    Args:
        nets: One network per MEC, in MEC order.
        x: ``(B, N, M)`` inputs.
        actions: ``(B, N)`` best placements (-1 where an IoTD had no task).

    Returns:
        ``(B,)`` losses.
    """
    logits = torch.stack([torch.zeros(actions.shape, dtype=x.dtype)]
                         + [net(x[:, :, j]) for j, net in enumerate(nets)], dim=-1)
    mask = (actions >= 0).to(x.dtype)
    ce = cross_entropy(logits.flatten(0, 1), actions.clamp(min=0).flatten(),
                       reduction="none").view(actions.shape) * mask
    return ce.sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


def ensemble_step(nets: list[nn.Module], optimizers: list[torch.optim.Optimizer],
                  x: torch.Tensor, actions: torch.Tensor, *, target: str,
                  data_loss: Callable[[torch.Tensor], torch.Tensor],
                  decay: float) -> tuple[list[float], torch.Tensor]:
    """One Adam step of every agent; return each agent's loss and the per-sample errors.

    Agent ``j``'s loss is ``data_loss(ce) + decay * ||theta_j||^2``, ``ce`` being the
    per-sample cross-entropies: the vote's (shared by the agents, so minimised once for
    all of them) or agent ``j``'s own.

    Args:
        nets: One network per MEC.
        optimizers: One Adam per network.
        x: ``(B, N, M)`` inputs.
        actions: ``(B, N)`` best placements.
        target: ``"vote"`` or ``"agent"`` (module docstring).
        data_loss: ``(B,)`` cross-entropies to a scalar (e.g. their mean).
        decay: Weight of ``||theta||^2``.
    """
    for opt in optimizers:
        opt.zero_grad()
    if target == "vote":
        errors = vote_losses(nets, x, actions)
        data = data_loss(errors)
        decays = [decay * net.l2() for net in nets]
        (data + sum(decays)).backward()
        losses = [float(data.detach() + d.detach()) for d in decays]
    else:
        losses, errors = [], torch.zeros(len(x))
        for j, net in enumerate(nets, start=1):
            per_sample = sample_losses(net, x, actions, j)
            loss = data_loss(per_sample) + decay * net.l2()
            loss.backward()
            losses.append(float(loss.detach()))
            errors = errors + per_sample.detach()
    for opt in optimizers:
        opt.step()
    return losses, errors.detach()


def pretrain(nets: list[nn.Module], optimizers: list[torch.optim.Optimizer], x: np.ndarray,
             actions: np.ndarray, *, steps: int, batch_size: int, lambda1: float, loss: str,
             rng: np.random.Generator, target: str = "agent") -> list[dict]:
    """Pre-train every agent on demonstrations for ``steps`` minibatch steps.

    Args:
        nets: One network per MEC.
        optimizers: One Adam per network.
        x: ``(D, N, M)`` demonstration inputs.
        actions: ``(D, N)`` demonstrated placements.
        steps: ``T_D``.
        batch_size: Minibatch size (the whole set when larger).
        lambda1: Weight decay of ``L_I``.
        loss: ``"L_I"`` or ``"L_D"`` (no weight decay).
        rng: Minibatch sampler.
        target: ``"vote"`` or ``"agent"`` (module docstring).

    Returns:
        Training-log rows: each agent's loss at each step.
    """
    xt, at = torch.from_numpy(x), torch.from_numpy(actions)
    decay = lambda1 if loss == "L_I" else 0.0
    rows = []
    for step in range(steps):
        index = torch.from_numpy(rng.choice(len(x), size=min(batch_size, len(x)),
                                            replace=False))
        losses, _ = ensemble_step(nets, optimizers, xt[index], at[index], target=target,
                                  data_loss=torch.mean, decay=decay)
        rows += [{"kind": "update", "step": step, "agent": j, "loss_name": loss, "loss": v}
                 for j, v in enumerate(losses, start=1)]
    return rows


@torch.no_grad()
def accuracy(nets: list[nn.Module], x: np.ndarray, actions: np.ndarray,
             threshold: float = 0.5) -> float:
    """Fraction of decisions where the agents' vote equals the demonstration.

    The vote of :func:`mecsim.scheduler.vote` over all MECs, vectorised: the highest score
    if at least ``threshold`` (ties: the lowest MEC), else local.

    Args:
        nets: One network per MEC.
        x: ``(D, N, M, ...)`` inputs.
        actions: ``(D, N)`` demonstrated placements (-1: no task).
        threshold: The vote's minimum winning score.
    """
    xt = torch.from_numpy(x)
    scores = np.stack([scores_of(net(xt[:, :, j]).numpy()) for j, net in enumerate(nets)],
                      axis=-1)
    best = np.argmax(scores, axis=-1)
    top = np.take_along_axis(scores, best[..., None], axis=-1)[..., 0]
    placed = np.where(top >= threshold, best + 1, 0)
    mask = actions >= 0
    return float((placed[mask] == actions[mask]).mean()) if mask.any() else float("nan")
