"""DROO: a DNN, order-preserving quantisation, exact pricing, adaptive K (Huang et al. 2020).

Frozen, it applies the cheapest of ``frozen_k`` candidates (its deployed algorithm); its DNN
reads each task's own features (``per_task``, :mod:`schedulers.droo.features`).

:class:`LyDroo` (``lydroo``) is DROO priced with the drift-plus-penalty objective, its input
with the queues (Bi, Huang and Zhang, 2021).
"""

from schedulers.droo.config import DrooConfig
from schedulers.droo.lyapunov import LyDroo, LyDrooConfig
from schedulers.droo.scheduler import Droo

__all__ = ["Droo", "DrooConfig", "LyDroo", "LyDrooConfig"]
