"""Each MEC's agent: an MLP from its own channel gains to "offload to me" scores."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from scipy.special import expit
from torch import nn

MISSING = -3.0  # input of an IoTD without a task this slot (a very weak channel)
FLOOR = -8.0  # inputs of real tasks are clipped here (deep fades), apart from MISSING
N_FEATURES = 4  # per IoTD, of SharedAgentNet: see _features
LOGIT_CAP = 30.0  # soft cap of the logits before the sigmoid: see scores_of


def _mlp(sizes: tuple[int, ...]) -> nn.Sequential:
    """Linear layers of ``sizes`` with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def _numpy_copy(body: nn.Sequential) -> Callable[[np.ndarray], np.ndarray]:
    """The MLP ``body`` with its current weights copied, as a numpy function."""
    layers = [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy())
              for m in body if isinstance(m, nn.Linear)]

    def forward(x: np.ndarray) -> np.ndarray:
        for k, (w, b) in enumerate(layers):
            x = x @ w + b
            if k < len(layers) - 1:
                x = np.maximum(x, 0.0)
        return x
    return forward


class _Agent(nn.Module):
    """What both agent networks share: the weight decay term."""

    def l2(self) -> torch.Tensor:
        """``||theta||^2`` over all weights and biases."""
        return sum((p * p).sum() for p in self.parameters())


class AgentNet(_Agent):
    """The paper's agent: fully connected ``N -> hidden... -> N`` with ReLU; sigmoid scores.

    Args:
        n_iotds: Output size ``N``; the input size too, plus ``extra``.
        hidden: Hidden layer widths (paper: 30, 80, 60, 30).
        extra: Inputs after the ``N`` gains (1 with the backlog input).
    """

    def __init__(self, n_iotds: int, hidden: tuple[int, ...], extra: int = 0) -> None:
        super().__init__()
        self.body = _mlp((n_iotds + extra, *hidden, n_iotds))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits ``(..., N)``; scores are their sigmoid."""
        return self.body(x)

    def numpy_forward(self) -> Callable[[np.ndarray], np.ndarray]:
        """A numpy copy of the current weights as a function ``x -> logits``.

        Frozen agents use it for inference: for these small layers it is several times
        faster than a torch call. It does not follow later weight updates.
        """
        return _numpy_copy(self.body)


class SharedAgentNet(_Agent):
    """One small MLP shared by every IoTD's output, plus a bias per IoTD; sigmoid scores.

    IoTD ``i``'s logit is ``g(f_i) + b_i``: ``g`` (``N_FEATURES -> hidden... -> 1``, ReLU)
    reads features of the IoTD computed from the agent's own input vector (see
    :func:`_features`): its input, the mean input of the IoTDs with a task, their fraction
    (how crowded the slot is) and the share of them with a stronger channel (its rank).
    Like :class:`AgentNet` it maps the agent's ``N`` inputs to ``N`` scores and sees only
    its own MEC's gains; unlike it, what it learns from one IoTD's demonstrations applies
    to every IoTD, so 256 demonstrations teach ``256 * N`` examples of one rule instead
    of 256 examples of ``N`` rules. Not in the paper (``docs/dirs.md``, ``dirs_shared``).

    With the backlog input, the agent's input has one more entry after the ``N`` gains,
    its MEC's backlog, and ``g`` gets it as one more feature.

    Args:
        n_iotds: Output size ``N``; the input size too, plus ``extra``.
        hidden: Hidden layer widths of ``g``.
        extra: Inputs after the ``N`` gains (0, or 1: the backlog).
    """

    def __init__(self, n_iotds: int, hidden: tuple[int, ...], extra: int = 0) -> None:
        super().__init__()
        if extra not in (0, 1):
            raise ValueError(f"extra must be 0 or 1, got {extra!r}")
        self.n_iotds = n_iotds
        self.body = _mlp((N_FEATURES + extra, *hidden, 1))
        self.bias = nn.Parameter(torch.zeros(n_iotds))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits ``(..., N)``; scores are their sigmoid."""
        return self.body(_features(x, torch, self.n_iotds)).squeeze(-1) + self.bias

    def numpy_forward(self) -> Callable[[np.ndarray], np.ndarray]:
        """A numpy copy of the current weights as ``x -> logits`` (as in ``AgentNet``)."""
        body, bias, n = _numpy_copy(self.body), self.bias.detach().numpy().copy(), self.n_iotds
        return lambda x: body(_features(x, np, n))[..., 0] + bias


def _features(x, xp, n: int):
    """``(..., N[+1])`` inputs to ``(..., N, 4[+1])`` features.

    The features: own input, mean input of the IoTDs with a task, their fraction, the share
    of them with a higher input; then the backlog entry, when the input has one. ``xp`` is
    ``numpy`` or ``torch``, whichever ``x`` is.
    """
    extra = x[..., n:]
    x = x[..., :n]
    present = (x > MISSING + 0.5) * 1.0
    if xp is np:
        count = present.sum(-1, keepdims=True)
        mean = (x * present).sum(-1, keepdims=True) / np.maximum(count, 1.0)
    else:
        count = present.sum(-1, keepdim=True)
        mean = (x * present).sum(-1, keepdim=True) / count.clamp(min=1.0)
    ones = xp.ones_like(x)
    # rank: the share of the IoTDs with a task whose input is above this one's
    if xp is np and x.ndim == 1:  # inference: sort instead of comparing all pairs
        ranked = np.sort(x[present > 0])
        above = ranked.size - np.searchsorted(ranked, x, side="right")
    else:
        above = ((x[..., None, :] > x[..., :, None]) * present[..., None, :]).sum(-1)
    parts = [x, mean * ones, count / n * ones, above / n]
    parts += [extra[..., k:k + 1] * ones for k in range(extra.shape[-1])]
    return xp.stack(parts, -1)


class TaskAgentNet(_Agent):
    """One small MLP applied to each task's own features; sigmoid scores (``dirs_shared``).

    Task ``i``'s logit is ``g(x_i)``, ``x_i`` its features for this agent's MEC
    (:func:`schedulers.dirs.task_features.task_features`: its own gain, size, cycles and
    local cost, the MEC's capacity and the competition of the slot's other tasks for it).
    No weight depends on ``N``: one checkpoint serves any number of IoTDs and of tasks per
    IoTD. Not in the paper (``docs/dirs.md``).

    Args:
        n_features: Features per task.
        hidden: Hidden layer widths of ``g``.
    """

    def __init__(self, n_features: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.n_features = n_features
        self.body = _mlp((n_features, *hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits ``(...)`` of features ``(..., F)``."""
        return self.body(x).squeeze(-1)

    def numpy_forward(self) -> Callable[[np.ndarray], np.ndarray]:
        """A numpy copy of the current weights as ``x -> logits`` (as in ``AgentNet``)."""
        body = _numpy_copy(self.body)
        return lambda x: body(x)[..., 0]


def make_agent(kind: str, n_iotds: int, hidden: tuple[int, ...], extra: int = 0) -> nn.Module:
    """Build one agent: ``"mlp"`` (the paper's :class:`AgentNet`), ``"shared"`` or ``"task"``.

    For ``"task"``, ``extra`` is the number of features per task (``n_iotds`` is unused).
    """
    if kind == "mlp":
        return AgentNet(n_iotds, hidden, extra)
    if kind == "shared":
        return SharedAgentNet(n_iotds, hidden, extra)
    if kind == "task":
        return TaskAgentNet(extra, hidden)
    raise ValueError(f"agent network must be 'mlp', 'shared' or 'task', got {kind!r}")


class GainNormalizer:
    """Maps gains to network inputs: ``(ln h - mu) / sigma``, IoTDs without a task to -3.

    Deep fades are clipped at -8, not at -3, so that a task over a deep fade never looks
    like an absent task (whose output is never trained).

    ``mu`` and ``sigma`` start from a physical guess (the median distance to the nearest of
    ``M`` MECs spread over the area, unit-mean fading, the log-power spread of Rayleigh
    fading) and are refitted to the demonstrations' gains before pre-training; they are
    part of a checkpoint, so every agent normalises the same way.
    """

    def __init__(self, mu: float, sigma: float) -> None:
        if not sigma > 0:
            raise ValueError(f"sigma must be > 0, got {sigma!r}")
        self.mu, self.sigma = float(mu), float(sigma)

    @classmethod
    def from_network(cls, beta0: float, area_m: tuple[float, float], n_mecs: int,
                     d_min_m: float) -> GainNormalizer:
        """A guess from the geometry, before any gain was seen."""
        distance = max(0.5 * math.sqrt(area_m[0] * area_m[1] / n_mecs), d_min_m)
        return cls(math.log(beta0) - 2.0 * math.log(distance), 2.0)

    @classmethod
    def fit(cls, gains: np.ndarray) -> GainNormalizer:
        """Fit ``mu`` and ``sigma`` to positive gains (any shape)."""
        logs = np.log(np.asarray(gains, dtype=float)[np.asarray(gains) > 0])
        if logs.size < 2:
            raise ValueError("need at least two positive gains to fit the normalisation")
        return cls(float(logs.mean()), float(max(logs.std(), 1e-6)))

    def normalize(self, gains: np.ndarray) -> np.ndarray:
        """``(ln h - mu) / sigma`` of gains of any shape (``-inf`` for a zero gain)."""
        with np.errstate(divide="ignore"):
            return (np.log(np.asarray(gains, dtype=float)) - self.mu) / self.sigma

    def inputs(self, gains: np.ndarray, iotd: np.ndarray, n_iotds: int) -> np.ndarray:
        """Scatter the tasks' gains ``(n, ...)`` to an ``(N, ...)`` input array by IoTD."""
        gains = np.asarray(gains, dtype=float)
        x = np.full((n_iotds, *gains.shape[1:]), MISSING, dtype=np.float32)
        with np.errstate(divide="ignore"):
            z = (np.log(gains) - self.mu) / self.sigma
        x[iotd] = np.maximum(z, FLOOR)  # of several tasks of one IoTD, the last one counts
        return x


def scores_of(logits) -> np.ndarray:
    """Agent scores from logits: ``sigmoid(LOGIT_CAP * tanh(z / LOGIT_CAP))`` in float64.

    The vote compares scores, not logits. A plain float32 sigmoid turns every logit above
    about 17 into exactly 1.0 (float64: above about 37), so two confident agents would tie
    and the vote's tie rule (lowest MEC index) would decide instead of the agents; trained
    agents reach logits of 40-50. The soft cap is increasing and keeps 0 at 0 (the vote's
    0.5 threshold), so the vote still picks the largest logit, and in float64 scores stay
    distinct for logits up to a few hundred.
    """
    z = np.asarray(logits, dtype=np.float64)
    return expit(LOGIT_CAP * np.tanh(z / LOGIT_CAP))


def backlog_input(backlog_cycles, cpu_hz) -> np.ndarray:
    """The backlog entry of an agent's input: ``ln(1 + seconds of queued work)``.

    Args:
        backlog_cycles: Cycles still to run on the MEC (scalar or ``(M,)``) [cycle].
        cpu_hz: The MEC's capacity ``Fmax`` (same shape) [cycle/s].
    """
    seconds = np.asarray(backlog_cycles, dtype=float) / np.asarray(cpu_hz, dtype=float)
    return np.log1p(np.maximum(seconds, 0.0)).astype(np.float32)


def per_iotd(values: np.ndarray, iotd: np.ndarray, n_iotds: int, fill: int = -1) -> np.ndarray:
    """Scatter per-task integer values to an ``(N,)`` array by IoTD (``fill`` where none)."""
    out = np.full(n_iotds, fill, dtype=np.int64)
    out[iotd] = values
    return out
