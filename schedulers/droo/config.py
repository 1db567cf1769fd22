"""DROO hyper-parameters: one dataclass, DROO's values where they carry over."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from schedulers._drl_common import DrlConfig, _positive_int


@dataclass(frozen=True)
class DrooConfig(DrlConfig):
    """Every DROO hyper-parameter; each is a scenario parameter of the ``droo`` scheduler.

    Inherited (:class:`schedulers._drl_common.DrlConfig`): ``hidden`` (120, 80),
    ``learning_rate``, ``replay_size`` (1024 slots; with ``per_task`` ``1024 N`` task
    rows), ``batch_size`` (256; with ``per_task`` ``256 x 8`` task rows),
    ``train_interval`` (10), ``train_slots`` (3000), ``train``, ``checkpoint``,
    ``torch_threads``.
    """

    NAME: ClassVar[str] = "DROO"

    learning_rate: float = 1e-2
    """Adam step size (DROO's 0.01)."""
    steps_per_update: int = 6
    """Adam steps at each update, each on a fresh minibatch (DROO takes 1). The search and
    the polish dominate a training slot's time, so more steps cost little; 6 instead of 1
    brought the frozen network from 1.12 to 1.04 times the optimum at ``N = 100``,
    ``M = 10`` (``docs/peers.md``)."""
    k_max: int | None = None
    """Most candidates per slot, and the first ``K``; None: ``N * M``, the number of DNN
    outputs (DROO's ``K <= N`` with one output per IoTD)."""
    adaptive_k: bool = True
    """Adapt ``K`` (DROO's rule); False: always ``k_max`` candidates."""
    delta: int = 32
    """DROO's ``Delta``: every ``delta`` training slots, ``K`` becomes one more than the
    largest index (1-based) of the best candidate over those slots, at most ``k_max``."""
    backlog_input: bool = False
    """Give the DNN the queues besides the gains: ``2N + M`` more inputs,
    ``ln(1 + seconds of queued work)`` of each IoTD's CPU, then of each IoTD's uplink, then
    of each MEC (as DIRS's ``backlog_input``; not in the DROO paper). The candidates are
    still priced with the slot's cost alone (``lydroo`` prices them with the queues)."""

    polish: bool = True
    """While training, improve the cheapest candidate by single-task moves on the same
    objective (:func:`mecsim.model.optimum.descend`) before applying it and using it as the
    label (not in the DROO paper, whose label is the cheapest candidate as it is: false).
    Frozen decisions never polish."""
    per_task: bool = True
    """One network applied to every task, reading that task's own gains, data, cycles and
    costs and the slot's load (:mod:`schedulers.droo.features`; ``3M + 6`` inputs, ``M``
    outputs, any ``N``); false: the paper's DNN, ``N*M`` gains in, ``N*M`` outputs."""
    frozen_k: int | None = None
    """Candidates per slot once frozen (after ``train_slots``, or ``train: false``): the
    best of them by the exact pricing is applied, as DROO's deployed algorithm does; None:
    the ``K`` reached in training (saved in the checkpoint); 1: the network's
    0.5-threshold candidate alone, no search."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive_int("delta", self.delta)
        for name in ("k_max", "frozen_k"):
            if getattr(self, name) is not None:
                _positive_int(name, getattr(self, name))
        for name in ("adaptive_k", "backlog_input", "polish", "per_task"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
