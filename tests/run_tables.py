"""A run folder's tables, sorted by their keys, for comparing two runs row by row."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

KEYS = {"tasks": ["scheduler", "task_id"], "slots": ["scheduler", "slot"]}


def run_tables(out: Path) -> dict[str, pd.DataFrame]:
    """``tasks`` and ``slots`` of the run in ``out``, without wall-clock columns."""
    return {name: pd.read_parquet(Path(out) / f"{name}.parquet")
            .drop(columns=["decision_s"], errors="ignore")
            .sort_values(key).reset_index(drop=True) for name, key in KEYS.items()}
