"""Imitation acceleration (paper Algorithm 2) and the losses shared with online training.

Agent ``j`` learns "offload IoTD ``i`` to me" as a binary label ``a*_i == j`` from its own
column of inputs ``x[:, :, j]``. ``L_D`` is the cross-entropy on demonstrations; ``L_I``
adds ``lambda1 ||theta||^2``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn.functional import binary_cross_entropy_with_logits

from mecsim.scheduler import vote
from schedulers.dirs.network import AgentNet


def sample_losses(net: AgentNet, x: torch.Tensor, actions: torch.Tensor,
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


def pretrain(nets: list[AgentNet], optimizers: list[torch.optim.Optimizer], x: np.ndarray,
             actions: np.ndarray, *, steps: int, batch_size: int, lambda1: float, loss: str,
             rng: np.random.Generator) -> list[dict]:
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

    Returns:
        Training-log rows: each agent's loss at each step.
    """
    xt, at = torch.from_numpy(x), torch.from_numpy(actions)
    decay = lambda1 if loss == "L_I" else 0.0
    rows = []
    for step in range(steps):
        index = torch.from_numpy(rng.choice(len(x), size=min(batch_size, len(x)),
                                            replace=False))
        for j, (net, opt) in enumerate(zip(nets, optimizers, strict=True), start=1):
            value = sample_losses(net, xt[index], at[index], j).mean()
            total = value + decay * net.l2() if decay else value
            opt.zero_grad()
            total.backward()
            opt.step()
            rows.append({"kind": "update", "step": step, "agent": j, "loss_name": loss,
                         "loss": float(total.detach())})
    return rows


@torch.no_grad()
def accuracy(nets: list[AgentNet], x: np.ndarray, actions: np.ndarray,
             threshold: float = 0.5) -> float:
    """Fraction of IoTD decisions where the agents' vote equals the demonstration."""
    xt = torch.from_numpy(x)
    scores = [torch.sigmoid(net(xt[:, :, j])).numpy() for j, net in enumerate(nets)]
    hits = total = 0
    for d in range(len(x)):
        placed = vote({j + 1: s[d] for j, s in enumerate(scores)}, x.shape[1], threshold)
        mask = actions[d] >= 0
        hits += int((placed[mask] == actions[d][mask]).sum())
        total += int(mask.sum())
    return hits / total if total else float("nan")
