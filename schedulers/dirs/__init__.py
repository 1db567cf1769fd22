"""DIRS: multi-agent ensemble DRL with Lévy refinement and imitation (paper Sec. V)."""

from schedulers.dirs.config import DirsConfig
from schedulers.dirs.scheduler import Dirs

__all__ = ["Dirs", "DirsConfig"]
