"""Per-task inputs of DROO's DNN (``per_task``), and their running normalisation.

The paper's DNN reads one gain per device and MEC (``N*M`` numbers) and never the task
sizes: with unequal cycles it cannot tell a heavy task from a light one, and a checkpoint
fits one ``N`` only. With ``per_task`` (the default) one small network is applied to every
task of the slot, reading that task's own row of :func:`task_features`:

- ``M``: the normalised log gain ``(ln h_ij - mu) / sigma`` to each MEC (the gain
  normalisation of the other peers, clipped at -8), then ``M`` more: the same minus its mean
  over the slot's tasks (where the task stands among the tasks competing for MEC ``j``);
- 3: ``ln D_i``, ``ln F_i`` and ``ln F_i`` minus its mean over the slot's tasks;
- ``M + 1``: ``ln`` of the task's own cost of each option (local, then each MEC), the part
  of the slot cost that does not depend on the other tasks (``SlotProblem.cost_table``;
  an infeasible option reads :data:`INFEASIBLE_LOG_COST`);
- 2: the slot's load, ``ln n`` and ``ln sum_i sqrt(F_i)`` (the MECs' shared term is
  ``w_j (sum sqrt F)^2``, so how far each MEC can be filled depends on it);
- with ``backlog_input``, ``2 + M``: ``ln(1 + seconds)`` of the task's IoTD's CPU queue and
  uplink queue, then of each MEC's queue (:func:`schedulers.droo.scheduler.queue_inputs`).

Its ``M`` outputs are "offload this task to MEC ``j``", as the paper's per-device outputs.
The width ``3M + 6`` (``+ 2 + M``) does not depend on ``N``. Every feature is then
standardised by :class:`RunningScale`, the mean and spread of the features of every task
trained on, frozen with the weights and saved in the checkpoint.
"""

from __future__ import annotations

import numpy as np
import torch

from mecsim.model.problem import SlotProblem
from schedulers._drl_common import GainNormalizer

GAIN_FLOOR = -8.0  # normalised log gains are clipped here (deep fades), as the other peers'
INFEASIBLE_LOG_COST = 10.0  # ln cost of an infeasible option (e^10: far above any real one)
CLIP = 5.0  # standardised features are clipped to [-CLIP, CLIP]


def n_task_features(n_mecs: int, backlog_input: bool) -> int:
    """Width of one row of :func:`task_features`: ``3M + 6`` (``+ 2 + M`` with queues)."""
    return 3 * n_mecs + 6 + (2 + n_mecs if backlog_input else 0)


def task_features(problem: SlotProblem, normalizer: GainNormalizer,
                  queues: np.ndarray | None = None, iotd: np.ndarray | None = None
                  ) -> np.ndarray:
    """``(n, d)`` raw features of the slot's tasks (module docstring), before scaling.

    Args:
        problem: The slot's problem (its own cost, not a drift-priced one).
        normalizer: The gain normalisation (``mu``, ``sigma``).
        queues: ``(2N + M,)`` :func:`~schedulers.droo.scheduler.queue_inputs`, or None for
            no queue features.
        iotd: ``(n,)`` IoTD of each task (needed with ``queues``).
    """
    n = problem.n_tasks
    with np.errstate(divide="ignore"):
        z = (np.log(problem.gains) - normalizer.mu) / normalizer.sigma
        log_cost = np.log(problem.cost_table)
    z = np.maximum(z, GAIN_FLOOR)
    log_cost = np.where(np.isfinite(log_cost), log_cost, INFEASIBLE_LOG_COST)
    log_f = np.log(problem.cycles)
    load = np.array([np.log(max(n, 1)), np.log(problem.sqrt_cycles.sum())]) if n else \
        np.zeros(2)
    parts = [z, z - z.mean(axis=0, keepdims=True) if n else z,
             np.log(problem.data_bits)[:, None], log_f[:, None],
             (log_f - log_f.mean())[:, None] if n else log_f[:, None],
             log_cost, np.broadcast_to(load, (n, 2))]
    if queues is not None:
        n_mecs = problem.n_mecs
        n_iotds = (len(queues) - n_mecs) // 2
        parts += [queues[:n_iotds][iotd][:, None], queues[n_iotds:2 * n_iotds][iotd][:, None],
                  np.broadcast_to(queues[2 * n_iotds:], (n, n_mecs))]
    return np.concatenate(parts, axis=1).astype(np.float32)


class RunningScale:
    """Running mean and spread of feature rows (Welford), and the standardisation.

    Args:
        width: Features per row.
    """

    def __init__(self, width: int) -> None:
        self.count = 0
        self.mean = np.zeros(width)
        self.m2 = np.zeros(width)

    @property
    def std(self) -> np.ndarray:
        """Per-feature spread (1 before two rows, at least 1e-3)."""
        if self.count < 2:
            return np.ones_like(self.mean)
        return np.maximum(np.sqrt(self.m2 / (self.count - 1)), 1e-3)

    def update(self, rows: np.ndarray) -> None:
        """Add ``(n, width)`` rows (Chan et al.'s parallel update)."""
        rows = np.asarray(rows, dtype=float)
        if rows.shape[0] == 0:
            return
        count = rows.shape[0]
        mean = rows.mean(axis=0)
        m2 = ((rows - mean) ** 2).sum(axis=0)
        total = self.count + count
        delta = mean - self.mean
        self.m2 = self.m2 + m2 + delta**2 * self.count * count / total
        self.mean = self.mean + delta * count / total
        self.count = total

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        """Standardised ``rows`` (float32), clipped to ``[-CLIP, CLIP]``."""
        out = (np.asarray(rows, dtype=float) - self.mean) / self.std
        return np.clip(out, -CLIP, CLIP).astype(np.float32)

    def torch(self, rows: torch.Tensor) -> torch.Tensor:
        """As calling it, on a tensor of rows."""
        mean = torch.as_tensor(self.mean, dtype=rows.dtype)
        std = torch.as_tensor(self.std, dtype=rows.dtype)
        return ((rows - mean) / std).clamp(-CLIP, CLIP)

    def state(self) -> dict[str, object]:
        """What a checkpoint keeps."""
        return {"count": self.count, "mean": self.mean.tolist(), "m2": self.m2.tolist()}

    def load_state(self, state: dict[str, object]) -> None:
        """Restore :meth:`state` (a ValueError if the width differs)."""
        mean, m2 = np.asarray(state["mean"], float), np.asarray(state["m2"], float)
        if mean.shape != self.mean.shape or m2.shape != self.m2.shape:
            raise ValueError(f"the feature scale has {mean.size} features, want "
                             f"{self.mean.size}")
        self.count, self.mean, self.m2 = int(state["count"]), mean, m2
