"""DROO: one DNN, order-preserving quantisation, exact pricing, adaptive K (Huang et al. 2020)."""

from schedulers.droo.config import DrooConfig
from schedulers.droo.scheduler import Droo

__all__ = ["Droo", "DrooConfig"]
