"""DROO hyper-parameters: one dataclass, DROO's values where they carry over."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from schedulers._drl_common import DrlConfig, _positive_int


@dataclass(frozen=True)
class DrooConfig(DrlConfig):
    """Every DROO hyper-parameter; each is a scenario parameter of the ``droo`` scheduler.

    Inherited (:class:`schedulers._drl_common.DrlConfig`): ``hidden`` (120, 80),
    ``learning_rate``, ``replay_size`` (1024), ``batch_size`` (256), ``train_interval`` (10),
    ``train_slots`` (3000), ``train``, ``checkpoint``, ``torch_threads``.
    """

    NAME: ClassVar[str] = "DROO"

    learning_rate: float = 1e-2
    """Adam step size (DROO's 0.01)."""
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

    polish: bool = False
    """While training, improve the cheapest candidate by single-task moves on the same
    objective (:func:`mecsim.model.optimum.descend`) before applying it and using it as the
    label (not in the DROO paper; frozen inference is unchanged)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive_int("delta", self.delta)
        if self.k_max is not None:
            _positive_int("k_max", self.k_max)
        for name in ("adaptive_k", "backlog_input", "polish"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
