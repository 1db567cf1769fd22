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
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch.nn.functional as F
from scipy.special import expit
from torch import nn

from mecsim.model.problem import SlotProblem
from mecsim.scheduler import Outcome
from schedulers._drl_common import DrlScheduler, feasible_options, mlp, offload_targets
from schedulers.droo.config import DrooConfig
from schedulers.droo.quantiser import order_preserving


class Droo(DrlScheduler):
    """The DROO scheduler; every keyword is a field of :class:`DrooConfig`."""

    config_class: ClassVar[type[DrooConfig]] = DrooConfig

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.k = 1
        self._best_index: list[int] = []

    @property
    def k_max(self) -> int:
        """Most candidates per slot (``k_max``, default ``N * M``)."""
        return self.config.k_max or self.network.n_iotds * self.network.n_mecs

    # ----------------------------------------------------------------- deciding
    def _networks(self, n_in: int) -> dict[str, tuple[nn.Module, float]]:
        self.k, self._best_index = self.k_max, []
        return {"dnn": (mlp(n_in, self.config.hidden, n_in), self.config.learning_rate)}

    def candidates(self, problem: SlotProblem, iotd: np.ndarray, k: int) -> np.ndarray:
        """``(K', n)`` distinct candidate placements from the DNN's scores (threshold first)."""
        m = self.network.n_mecs
        logits = self.forward("dnn", self.inputs(problem, iotd)).reshape(-1, m)
        scores = expit(logits[iotd])
        return order_preserving(scores, feasible_options(problem), k)

    def _place(self, problem: SlotProblem, iotd: np.ndarray, slot: int) -> np.ndarray:
        if not self.learning:
            return self.candidates(problem, iotd, 1)[0]
        candidates = self.candidates(problem, iotd, self.k)
        return candidates[int(np.argmin(problem.batch_cost(candidates)))]

    # ----------------------------------------------------------------- learning
    def _remember(self, outcome: Outcome) -> None:
        problem, iotd = outcome.problem, outcome.iotd
        candidates = self.candidates(problem, iotd, self.k)  # as decided: nothing changed since
        best = int(np.argmin(problem.batch_cost(candidates)))
        target, mask = offload_targets(candidates[best], iotd, self.network.n_iotds,
                                       self.network.n_mecs)
        self.replay.add(x=self.inputs(problem, iotd), target=target, mask=mask)
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

