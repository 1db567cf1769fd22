"""DROO (Huang, Bi and Zhang, IEEE TMC 2020) for M MECs, centralized.

Read top to bottom, a run goes:

1. ``reset``: the DNN and its Adam (or the DNN of ``checkpoint``); ``K = k_max``. With
   ``per_task`` (the default) one MLP ``d -> 120 -> 80 -> M`` applied to every task, reading
   that task's own row (:mod:`schedulers.droo.features`: its gains, data, cycles and
   option costs and the slot's load, standardised by :class:`RunningScale`); with
   ``per_task: false`` the paper's ``N*M -> 120 -> 80 -> N*M`` from all the slot's gains.
   Sigmoid outputs: "offload this task to MEC ``j``".
2. Every epoch, ``decide``: the DNN scores every task; the order-preserving quantiser
   (:mod:`schedulers.droo.quantiser`) turns the scores into ``K`` distinct candidate
   placements, the 0.5-threshold first.

   - **training**: every candidate is priced exactly (``problem.batch_cost``, the exact
     allocation), the cheapest is polished by single-task moves (``polish``) and applied;
   - **frozen** (after ``train_slots``, or ``train: false``): the weights are fixed; the
     cheapest of ``frozen_k`` candidates (default: the ``K`` reached in training) is applied,
     DROO's deployed algorithm (the DNN, the quantiser and the exact pricing); ``frozen_k:
     1`` is the 0.5-threshold candidate alone, the network without search.

3. ``feedback`` (training): the applied placement is the label; ``(x, one-hot label)`` goes
   to the replay (one entry per task with ``per_task``), every ``train_interval`` (10) slots
   the DNN takes one Adam step on the binary cross-entropy over a minibatch, and every
   ``delta`` slots ``K`` follows the index of the best candidate (adaptive ``K``).

The engine allocates exactly for the applied placement, so the comparison with DIRS is
about placements alone.

**Queues.** With ``backlog_input`` the DNN reads the queues too (:func:`queue_inputs`:
``ln(1 + seconds of queued work)`` of every IoTD's CPU and uplink and of every MEC): per task,
its IoTD's two and the ``M`` MECs'; with ``per_task: false``, all ``2N + M`` after the
gains. The queues come from the :class:`~mecsim.scheduler.Observation`; the
:class:`~mecsim.scheduler.Outcome` does not carry them, so ``decide`` keeps the slot's queues
for the ``feedback`` of the same slot (the engine calls one after the other).
:meth:`Droo.objective` is the problem the candidates are priced with: the slot's own for
DROO, the drift-plus-penalty one for ``lydroo`` (:mod:`schedulers.droo.lyapunov`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
from schedulers._drl_common import DrlScheduler, Replay, feasible_options, mlp, offload_targets
from schedulers.droo.config import DrooConfig
from schedulers.droo.features import RunningScale, n_task_features, task_features
from schedulers.droo.quantiser import order_preserving

INPUT_FIELDS = ("backlog_input", "per_task")  # config fields that shape the DNN's input
TASK_ROWS = 8  # per_task: a minibatch is batch_size * TASK_ROWS task rows


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
        self._decided: tuple[int, np.ndarray, int] | None = None  # slot, placement, index
        self.scale: RunningScale | None = None

    @property
    def any_n(self) -> bool:  # type: ignore[override]
        """The per-task DNN has no per-IoTD weight: its checkpoint serves any ``N``."""
        return self.config.per_task

    @property
    def k_max(self) -> int:
        """Most candidates per slot (``k_max``, default ``N * M``)."""
        return self.config.k_max or self.network.n_iotds * self.network.n_mecs

    @property
    def uses_queues(self) -> bool:
        """Whether ``decide`` keeps the slot's queues: for the input or for the pricing."""
        return self.config.backlog_input or type(self).objective is not Droo.objective

    @property
    def n_queue_inputs(self) -> int:
        """Queue features after the gains: ``2N + M`` with ``backlog_input``, else 0."""
        net = self.network
        return 2 * net.n_iotds + net.n_mecs if self.config.backlog_input else 0

    # ----------------------------------------------------------------- deciding
    @property
    def frozen_k(self) -> int:
        """Candidates per frozen slot: ``frozen_k``, default the ``K`` reached in training."""
        return self.config.frozen_k or self.k

    def _networks(self, n_in: int) -> dict[str, tuple[nn.Module, float]]:
        self.k, self._best_index, self._queues, self._decided = self.k_max, [], None, None
        if self.config.per_task:
            width = n_task_features(self.network.n_mecs, self.config.backlog_input)
            self.scale = RunningScale(width)
            dnn = mlp(width, self.config.hidden, self.network.n_mecs)
        else:
            self.scale = None
            dnn = mlp(n_in + self.n_queue_inputs, self.config.hidden, n_in)
        return {"dnn": (dnn, self.config.learning_rate)}

    def _build(self, seed: int) -> None:
        super()._build(seed)
        if self.config.per_task:  # one entry per task: as many tasks as replay_size slots
            self.replay = Replay(self.config.replay_size * self.network.n_iotds)

    def decide(self, observation: Observation) -> Decision:
        """Keep the slot's queues (for the input and the pricing), then decide as DROO."""
        if observation.n_tasks and self.uses_queues:
            # float noise of the engine's bookkeeping can leave a backlog of -1e-6 cycles
            observation = replace(observation,
                                  backlog_cycles=np.maximum(observation.backlog_cycles, 0.0))
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

    def raw_inputs(self, problem: SlotProblem, iotd: np.ndarray, slot: int | None = None
                   ) -> np.ndarray:
        """The DNN's input before scaling (see :meth:`inputs`)."""
        queues = None
        if self.config.backlog_input:
            slot = self._queues.slot if slot is None and self._queues is not None else slot
            queues = self.queues(problem, -1 if slot is None else slot).inputs
        if self.config.per_task:
            return task_features(problem, self.normalizer, queues, iotd)
        x = super().inputs(problem, iotd)
        return x if queues is None else np.concatenate([x, queues])

    def inputs(self, problem: SlotProblem, iotd: np.ndarray, slot: int | None = None
               ) -> np.ndarray:
        """The DNN's input for the tasks of ``slot`` (None: the slot ``decide`` saw last).

        With ``per_task``: ``(n, d)`` task rows (:mod:`schedulers.droo.features`), scaled by
        :attr:`scale`; else the ``(N*M,)`` gains, then (``backlog_input``) the ``2N + M``
        queues.
        """
        x = self.raw_inputs(problem, iotd, slot)
        return self.scale(x) if self.config.per_task else x

    def objective(self, problem: SlotProblem, slot: int) -> SlotProblem:
        """The problem whose ``batch_cost`` prices the candidates: DROO's is the slot's own."""
        return problem

    def candidates(self, problem: SlotProblem, iotd: np.ndarray, k: int,
                   slot: int | None = None) -> np.ndarray:
        """``(K', n)`` distinct candidate placements from the DNN's scores (threshold first).

        ``slot`` chooses the kept queues of the input (None: the slot ``decide`` saw last).
        """
        m = self.network.n_mecs
        logits = self.forward("dnn", self.inputs(problem, iotd, slot))
        scores = expit(logits if self.config.per_task else logits.reshape(-1, m)[iotd])
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
        if self.learning:
            placement, best = self._best(problem, iotd, slot)
            self._decided = (slot, placement, best)
            return placement
        candidates = self.candidates(problem, iotd, self.frozen_k, slot)
        if len(candidates) == 1:
            return candidates[0]
        return candidates[int(np.argmin(self.objective(problem, slot).batch_cost(candidates)))]

    # ----------------------------------------------------------------- learning
    def _remember(self, outcome: Outcome) -> None:
        problem, iotd = outcome.problem, outcome.iotd
        decided = self._decided
        if (decided is not None and decided[0] == outcome.slot
                and np.array_equal(decided[1], outcome.placement)):
            placement, best = decided[1], decided[2]  # kept by decide
        else:
            placement, best = self._best(problem, iotd, outcome.slot)  # as decided
        self._decided = None
        self._adapt_k(best + 1)
        if self.config.per_task:
            rows = self.raw_inputs(problem, iotd, outcome.slot)
            self.scale.update(rows)
            target = np.zeros((len(iotd), self.network.n_mecs), dtype=np.float32)
            off = np.flatnonzero(placement > 0)
            target[off, placement[off] - 1] = 1.0
            self._store(x=rows, target=target)
            return
        target, mask = offload_targets(placement, iotd, self.network.n_iotds,
                                       self.network.n_mecs)
        self.replay.add(x=self.inputs(problem, iotd, outcome.slot), target=target, mask=mask)

    def _store(self, **rows: np.ndarray) -> None:
        """Add one replay entry per row (first axis) of every array."""
        extend = getattr(self.replay, "extend", None)
        if extend is not None:
            extend(**rows)
            return
        for k in range(len(next(iter(rows.values())))):
            self.replay.add(**{name: value[k] for name, value in rows.items()})

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
        if self.config.per_task:
            batch = self.replay.sample(self.config.batch_size * TASK_ROWS, self.rng)
            logits = self.nets["dnn"](self.scale.torch(batch["x"]))
            loss = F.binary_cross_entropy_with_logits(logits, batch["target"])
            return [("BCE", self.step("dnn", loss))]
        batch = self.replay.sample(self.config.batch_size, self.rng)
        logits = self.nets["dnn"](batch["x"])
        per_entry = F.binary_cross_entropy_with_logits(logits, batch["target"],
                                                       reduction="none")
        loss = (per_entry * batch["mask"]).sum() / batch["mask"].sum().clamp(min=1.0)
        return [("BCE", self.step("dnn", loss))]

    # ----------------------------------------------------------------- state
    def _extra_state(self) -> dict[str, Any]:
        extra = {"k": self.k, "best_index": list(self._best_index)}
        if self.scale is not None:
            extra["scale"] = self.scale.state()
        return extra

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.k = min(int(state["k"]), self.k_max)
        self._best_index = [int(i) for i in state["best_index"]]
        if self.scale is not None:
            self.scale.load_state(state["scale"])

    def load(self, path: str | Path) -> None:
        """As :meth:`DrlScheduler.load`; a checkpoint with other inputs is named as such.

        Raises:
            ValueError: Also if the checkpoint's ``backlog_input`` or ``per_task`` differs
                from the config's (its DNN reads another input); a checkpoint without
                ``per_task`` has the paper's ``N*M`` input.
        """
        saved = {name: getattr(self.config, name) for name in INPUT_FIELDS}
        try:
            state = torch.load(Path(path), weights_only=True)
            if state["scheduler"] == self.label:  # another's is named by the base class
                saved = {name: bool(state["config"].get(name, False)) for name in INPUT_FIELDS}
        except Exception:  # noqa: BLE001 - the base class reports unreadable files
            pass
        for name in INPUT_FIELDS:
            want = getattr(self.config, name)
            if saved[name] != want:
                raise ValueError(f"{self.label} checkpoint {path} was trained with {name}="
                                 f"{str(saved[name]).lower()}, the config has {name}="
                                 f"{str(want).lower()}")
        super().load(path)

