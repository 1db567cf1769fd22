"""DROO (Huang, Bi and Zhang, IEEE TMC 2020) for M MECs, centralized.

Read top to bottom, a run goes:

1. ``reset``: one DNN ``N*M -> 120 -> 80 -> N*M`` (sigmoid outputs: "offload IoTD ``k``'s
   task to MEC ``j``") and its Adam (or the DNN of ``checkpoint``); ``K = k_max``.
2. Every epoch, ``decide``: the DNN scores every task from all the slot's gains; the
   order-preserving quantiser (:mod:`schedulers.droo.quantiser`) turns the scores into ``K``
   distinct candidate placements, the 0.5-threshold first.

   - **training**: every candidate is priced exactly (``problem.batch_cost``, the exact
     allocation) and the cheapest is applied, as in DROO;
   - **frozen** (after ``train_slots``, or ``train: false``): the 0.5-threshold candidate
     alone is applied (no search), i.e. pure inference.

3. ``feedback`` (training): the cheapest candidate is the label; ``(x, one-hot label)`` goes to
   the replay (1024), every ``train_interval`` (10) slots the DNN takes one Adam step on the
   binary cross-entropy over a minibatch (256), and every ``delta`` slots ``K`` follows the
   index of the best candidate (adaptive ``K``).

The engine allocates exactly for the applied placement, so the comparison with DIRS is
about placements alone.

**Queues.** With ``backlog_input`` the DNN reads ``2N + M`` more numbers after the gains
(:func:`queue_inputs`: ``ln(1 + seconds of queued work)`` of every IoTD's CPU and uplink and
of every MEC), so its input is ``N*M + 2N + M`` wide; its outputs stay ``N*M``. The queues
come from the :class:`~mecsim.scheduler.Observation`; the :class:`~mecsim.scheduler.Outcome`
does not carry them, so ``decide`` keeps the slot's queues for the ``feedback`` of the same
slot (the engine calls one after the other). :meth:`Droo.objective` is the problem the
candidates are priced with: the slot's own for DROO, the drift-plus-penalty one for
``lydroo`` (:mod:`schedulers.droo.lyapunov`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import expit
from torch import nn

from mecsim.model.backlog import MAX_WAIT_S
from mecsim.model.optimum import descend
from mecsim.model.problem import SlotProblem, Waits
from mecsim.scheduler import Decision, Observation, Outcome
from schedulers._drl_common import DrlScheduler, feasible_options, mlp, offload_targets
from schedulers.droo.config import DrooConfig
from schedulers.droo.quantiser import order_preserving


def queue_inputs(observation: Observation, n_iotds: int) -> np.ndarray:
    """``(2N + M,)`` queue features: ``ln(1 + Q)`` of each CPU, each uplink, each MEC.

    ``Q`` is in seconds of work, capped at :data:`mecsim.model.backlog.MAX_WAIT_S`: every
    IoTD's ``local_busy_s`` (``N``), then every IoTD's ``uplink_busy_s`` (``N``), then each
    MEC's ``backlog_cycles / Fmax`` (``M``, :meth:`Observation.waits`' ``mec_s``).
    """
    def per_iotd(values: np.ndarray | None) -> np.ndarray:
        return np.zeros(n_iotds) if values is None else np.asarray(values, dtype=float)

    seconds = np.concatenate([per_iotd(observation.local_busy_s),
                              per_iotd(observation.uplink_busy_s),
                              observation.waits().mec_s])
    return np.log1p(np.clip(seconds, 0.0, MAX_WAIT_S)).astype(np.float32)


@dataclass(frozen=True)
class SlotQueues:
    """The queues of the slot being decided, kept from ``decide`` for its ``feedback``."""

    slot: int
    inputs: np.ndarray
    """``(2N + M,)`` :func:`queue_inputs`."""
    waits: Waits
    """The queues ahead of the slot's tasks (:meth:`Observation.waits`)."""


class Droo(DrlScheduler):
    """The DROO scheduler; every keyword is a field of :class:`DrooConfig`."""

    config_class: ClassVar[type[DrooConfig]] = DrooConfig

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.k = 1
        self._best_index: list[int] = []
        self._queues: SlotQueues | None = None

    @property
    def k_max(self) -> int:
        """Most candidates per slot (``k_max``, default ``N * M``)."""
        return self.config.k_max or self.network.n_iotds * self.network.n_mecs

    @property
    def n_queue_inputs(self) -> int:
        """Queue features after the gains: ``2N + M`` with ``backlog_input``, else 0."""
        net = self.network
        return 2 * net.n_iotds + net.n_mecs if self.config.backlog_input else 0

    # ----------------------------------------------------------------- deciding
    def _networks(self, n_in: int) -> dict[str, tuple[nn.Module, float]]:
        self.k, self._best_index, self._queues = self.k_max, [], None
        dnn = mlp(n_in + self.n_queue_inputs, self.config.hidden, n_in)
        return {"dnn": (dnn, self.config.learning_rate)}

    def decide(self, observation: Observation) -> Decision:
        """Keep the slot's queues (for the input and the pricing), then decide as DROO."""
        if observation.n_tasks:
            self._queues = SlotQueues(observation.slot,
                                      queue_inputs(observation, self.network.n_iotds),
                                      observation.waits())
        return super().decide(observation)

    def queues(self, problem: SlotProblem, slot: int) -> SlotQueues:
        """The queues kept by ``decide`` for ``slot``; empty ones if it decided no such slot."""
        q = self._queues
        if q is not None and q.slot == slot and q.waits.local_s.shape == (problem.n_tasks,):
            return q
        net, n = self.network, problem.n_tasks
        return SlotQueues(slot, np.zeros(2 * net.n_iotds + net.n_mecs, dtype=np.float32),
                          Waits(np.zeros(n), np.zeros(n), np.zeros(problem.n_mecs)))

    def inputs(self, problem: SlotProblem, iotd: np.ndarray, slot: int | None = None
               ) -> np.ndarray:
        """The DNN's input: the gains, then (``backlog_input``) the queues of ``slot``.

        ``slot`` None: the slot ``decide`` saw last.
        """
        x = super().inputs(problem, iotd)
        if not self.config.backlog_input:
            return x
        slot = self._queues.slot if slot is None and self._queues is not None else slot
        return np.concatenate([x, self.queues(problem, -1 if slot is None else slot).inputs])

    def objective(self, problem: SlotProblem, slot: int) -> SlotProblem:
        """The problem whose ``batch_cost`` prices the candidates: DROO's is the slot's own."""
        return problem

    def candidates(self, problem: SlotProblem, iotd: np.ndarray, k: int,
                   slot: int | None = None) -> np.ndarray:
        """``(K', n)`` distinct candidate placements from the DNN's scores (threshold first).

        ``slot`` chooses the kept queues of the input (None: the slot ``decide`` saw last).
        """
        m = self.network.n_mecs
        logits = self.forward("dnn", self.inputs(problem, iotd, slot)).reshape(-1, m)
        scores = expit(logits[iotd])
        return order_preserving(scores, feasible_options(problem), k)

    def _best(self, problem: SlotProblem, iotd: np.ndarray, slot: int
              ) -> tuple[np.ndarray, int]:
        """The training slot's placement and the index of the candidate it came from.

        The cheapest candidate by :meth:`objective`; with ``polish``, then improved by
        single-task moves on that objective (:func:`mecsim.model.optimum.descend`).
        """
        candidates = self.candidates(problem, iotd, self.k, slot)
        priced = self.objective(problem, slot)
        best = int(np.argmin(priced.batch_cost(candidates)))
        if self.config.polish:
            return descend(priced, candidates[best]), best
        return candidates[best], best

    def _place(self, problem: SlotProblem, iotd: np.ndarray, slot: int) -> np.ndarray:
        if not self.learning:
            return self.candidates(problem, iotd, 1, slot)[0]
        return self._best(problem, iotd, slot)[0]

    # ----------------------------------------------------------------- learning
    def _remember(self, outcome: Outcome) -> None:
        problem, iotd = outcome.problem, outcome.iotd
        placement, best = self._best(problem, iotd, outcome.slot)  # as decided
        target, mask = offload_targets(placement, iotd, self.network.n_iotds,
                                       self.network.n_mecs)
        self.replay.add(x=self.inputs(problem, iotd, outcome.slot), target=target, mask=mask)
        self._adapt_k(best + 1)

    def _adapt_k(self, index: int) -> None:
        """DROO's adaptive K: every ``delta`` slots, one more than the best index seen."""
        cfg = self.config
        if not cfg.adaptive_k:
            return
        self._best_index.append(index)
        if len(self._best_index) == cfg.delta:
            self.k = min(max(self._best_index) + 1, self.k_max)
            self._best_index = []

    def _update(self) -> list[tuple[str, float]]:
        batch = self.replay.sample(self.config.batch_size, self.rng)
        logits = self.nets["dnn"](batch["x"])
        per_entry = F.binary_cross_entropy_with_logits(logits, batch["target"],
                                                       reduction="none")
        loss = (per_entry * batch["mask"]).sum() / batch["mask"].sum().clamp(min=1.0)
        return [("BCE", self.step("dnn", loss))]

    # ----------------------------------------------------------------- state
    def _extra_state(self) -> dict[str, Any]:
        return {"k": self.k, "best_index": list(self._best_index)}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.k = min(int(state["k"]), self.k_max)
        self._best_index = [int(i) for i in state["best_index"]]

    def load(self, path: str | Path) -> None:
        """As :meth:`DrlScheduler.load`; a checkpoint with other inputs is named as such.

        Raises:
            ValueError: Also if the checkpoint's ``backlog_input`` differs from the config's
                (its DNN reads another input).
        """
        try:
            state = torch.load(Path(path), weights_only=True)
            saved = bool(state["config"].get("backlog_input", False))
        except Exception:  # noqa: BLE001 - the base class reports unreadable files
            saved = self.config.backlog_input
        if saved != self.config.backlog_input:
            raise ValueError(f"{self.label} checkpoint {path} was trained with backlog_input="
                             f"{str(saved).lower()}, the config has backlog_input="
                             f"{str(self.config.backlog_input).lower()}")
        super().load(path)

