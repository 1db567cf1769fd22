"""LyDROO: DROO driven by the drift-plus-penalty objective (Bi, Huang and Zhang, TWC 2021).

LyDROO ("Lyapunov-guided deep reinforcement learning for stable online computation
offloading in mobile-edge computing networks") keeps DROO's actor (one DNN, order-preserving
quantisation, adaptive ``K``) and changes two things:

1. the DNN reads the queues besides the channel gains (here ``backlog_input``, on by default:
   ``ln(1 + seconds of queued work)`` of every IoTD's CPU and uplink and of every MEC,
   :func:`schedulers.droo.scheduler.queue_inputs`);
2. the candidates are priced with the slot's drift-plus-penalty objective instead of its
   cost: each slot minimises ``V x cost + sum_q Q_q x (work added to q)``, the objective of
   the ``lyapunov`` scheduler (:mod:`schedulers.lyapunov`,
   :func:`mecsim.model.drift_price`). Its ``batch_cost`` is ``cost + drift / V``, so the
   cheapest candidate is the label and, while training, the placement applied.

While training, the cheapest candidate is then polished by single-task moves on the same
objective (``polish``, on by default: mecsim's adaptation, see ``docs/peers.md``). Frozen
(after ``train_slots``, or ``train: false``) it applies the cheapest of ``frozen_k``
candidates by the same objective, as DROO does (``frozen_k: 1``: the 0.5-threshold
candidate, the queues then acting through the DNN's input alone). ``docs/peers.md`` lists
what differs from the paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mecsim.model import drift_price
from mecsim.model.problem import SlotProblem
from schedulers.droo.config import DrooConfig
from schedulers.droo.scheduler import Droo
from schedulers.lyapunov import DEFAULT_V


@dataclass(frozen=True)
class LyDrooConfig(DrooConfig):
    """DROO's hyper-parameters (:class:`DrooConfig`), ``V``, and the queue input on."""

    NAME: ClassVar[str] = "LyDROO"

    v: float = DEFAULT_V
    """The penalty weight ``V`` [s^2 per unit of cost], finite and > 0, as ``lyapunov``'s:
    the candidates are priced ``cost + drift / V`` (large: DROO's cost; small: the queues
    first)."""
    backlog_input: bool = True
    """The DNN reads the queues besides the gains (LyDROO's input); false: the gains alone,
    the queues then act through the pricing only (an ablation)."""
    polish: bool = True
    """While training, improve the cheapest candidate by single-task moves on the
    drift-plus-penalty objective before applying it and learning from it (mecsim's
    adaptation, ``docs/peers.md``: the quantiser's candidates are built for one server and
    binary decisions; with ``M`` MECs they seldom hold the slot's optimum). False: the
    cheapest candidate as it is, as in the paper. (DROO's default too, since issue 13.)"""

    def __post_init__(self) -> None:
        super().__post_init__()
        v = self.v
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer,
                                                                  np.floating)) \
                or not np.isfinite(v) or v <= 0:
            raise ValueError(f"v must be a finite number > 0, got {v!r}")


class LyDroo(Droo):
    """The ``lydroo`` scheduler; every keyword is a field of :class:`LyDrooConfig`."""

    config_class: ClassVar[type[LyDrooConfig]] = LyDrooConfig

    @property
    def v(self) -> float:
        """The penalty weight ``V``."""
        return float(self.config.v)

    def objective(self, problem: SlotProblem, slot: int) -> SlotProblem:
        """The slot's problem priced with the drift of the queues ``decide`` kept for it."""
        price, mec_weight = drift_price(problem, self.queues(problem, slot).waits, self.v)
        return problem.replaced(price=price, mec_weight=mec_weight)
