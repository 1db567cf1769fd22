"""DROO: one DNN, order-preserving quantisation, exact pricing, adaptive K (Huang et al. 2020).

:class:`LyDroo` (``lydroo``) is DROO priced with the drift-plus-penalty objective, its input
with the queues (Bi, Huang and Zhang, 2021).
"""

from schedulers.droo.config import DrooConfig
from schedulers.droo.lyapunov import LyDroo, LyDrooConfig
from schedulers.droo.scheduler import Droo

__all__ = ["Droo", "DrooConfig", "LyDroo", "LyDrooConfig"]
