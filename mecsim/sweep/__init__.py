"""Sweeps: grids of scenarios x seeds, run locally or on Ray, resumable, one tidy table.

See ``docs/sweeps.md``. Entry points: :func:`load_sweep`, :func:`run_sweep`,
:func:`build_table`; on the command line ``python -m mecsim sweep SWEEP.yaml``.

Attributes are imported lazily, so that a pool worker importing this package sets its
thread limits before numpy loads.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Cell": "spec", "Sweep": "spec", "SweepSpec": "spec", "cell_id": "spec",
    "load_sweep": "spec",
    "CellRecord": "run", "SweepResult": "run", "build_table": "run", "cell_done": "run",
    "run_sweep": "run", "write_table": "run",
    "ExecutorError": "executors", "make_executor": "executors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mecsim.sweep' has no attribute {name!r}")
    return getattr(importlib.import_module(f"mecsim.sweep.{_EXPORTS[name]}"), name)
