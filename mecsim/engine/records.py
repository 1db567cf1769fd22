"""Streaming, atomic result files: nothing is held in memory that is already on disk.

Each table is appended in row groups to ``NAME.partial`` and renamed to ``NAME`` when the
run closes, normally or on Ctrl-C/SIGTERM; a reader therefore never sees a half-written
file. Small tables (``summary.json``) are replaced atomically on every update.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FLUSH_ROWS = 65_536  # rows buffered per table before a row group is written
FLUSH_S = 2.0  # [s] wall time after which buffered rows are written anyway


class TableWriter:
    """Appends column batches to one Parquet file, flushing by size and by time.

    Args:
        path: Final path of the file.
        schema: The table's Arrow schema (every batch must have its columns).
    """

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.schema = schema
        self._writer = pq.ParquetWriter(self.partial, schema)
        self._pending: list[pa.RecordBatch] = []
        self._rows = 0
        self._last_flush = time.monotonic()
        self.rows_written = 0

    def append(self, columns: dict[str, Any]) -> None:
        """Buffer one batch of rows (a dict of equal-length arrays or lists)."""
        batch = pa.RecordBatch.from_pydict(columns, schema=self.schema)
        if batch.num_rows == 0:
            return
        self._pending.append(batch)
        self._rows += batch.num_rows
        if self._rows >= FLUSH_ROWS or time.monotonic() - self._last_flush > FLUSH_S:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows as one row group."""
        if self._pending:
            self._writer.write_table(pa.Table.from_batches(self._pending, schema=self.schema))
            self.rows_written += self._rows
            self._pending, self._rows = [], 0
        self._last_flush = time.monotonic()

    def close(self) -> None:
        """Flush, write the footer and move the file to its final name."""
        if self._writer is None:
            return
        self.flush()
        self._writer.close()
        self._writer = None
        os.replace(self.partial, self.path)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=_json_default) + "\n")
    os.replace(tmp, path)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


STATUS = ("completed", "dropped", "in_flight")
DROP_REASONS = ("", "deadline", "mec_failure", "invalid_decision")


def task_schema() -> pa.Schema:
    """Schema of ``tasks.parquet``: one row per task and scheduler."""
    return pa.schema([
        ("scheduler", pa.string()), ("task_id", pa.int64()), ("iotd", pa.int32()),
        ("slot", pa.int32()), ("arrival_s", pa.float64()), ("target", pa.int16()),
        ("cpu_hz", pa.float64()), ("tx_power_w", pa.float64()), ("data_bits", pa.float64()),
        ("cycles", pa.float64()), ("gain", pa.float64()), ("rate_bps", pa.float64()),
        ("model_latency_s", pa.float64()), ("model_energy_j", pa.float64()),
        ("model_cost", pa.float64()), ("status", pa.string()), ("drop_reason", pa.string()),
        ("done_s", pa.float64()), ("realized_latency_s", pa.float64()),
        ("realized_energy_j", pa.float64()), ("rerun_local", pa.bool_()),
        ("deadline_s", pa.float64()), ("start_s", pa.float64()), ("uploaded_s", pa.float64()),
    ])


def slot_schema(n_mecs: int) -> pa.Schema:
    """Schema of ``slots.parquet``: one row per scheduler and epoch."""
    fields = [
        ("scheduler", pa.string()), ("slot", pa.int32()), ("time_s", pa.float64()),
        ("tasks", pa.int32()), ("offloaded", pa.int32()), ("model_cost", pa.float64()),
        ("model_latency_s", pa.float64()), ("model_energy_j", pa.float64()),
        ("decision_s", pa.float64()), ("invalid", pa.int32()), ("lower_bound", pa.float64()),
        ("exact", pa.bool_()),
    ]
    for j in range(1, n_mecs + 1):
        fields += [(f"backlog_tasks_{j}", pa.int32()), (f"backlog_cycles_{j}", pa.float64()),
                   (f"available_{j}", pa.bool_())]
    fields += [("backlog_tasks_total", pa.int32()), ("backlog_cycles_total", pa.float64())]
    return pa.schema(fields)


def position_schema() -> pa.Schema:
    """Schema of ``positions.parquet``: every IoTD's position at every epoch."""
    return pa.schema([("slot", pa.int32()), ("iotd", pa.int32()), ("x_m", pa.float64()),
                      ("y_m", pa.float64())])


def channel_schema() -> pa.Schema:
    """Schema of ``channels.parquet``: every IoTD-MEC link at every epoch."""
    return pa.schema([("slot", pa.int32()), ("iotd", pa.int32()), ("mec", pa.int16()),
                      ("gain", pa.float64()), ("distance_m", pa.float64())])


#: Columns of ``training.parquet`` (a long table: each row fills the columns of its kind).
TRAINING_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("scheduler", pa.string()),  # label of the scheduler
    ("kind", pa.string()),  # "update" | "slot" | "levy" | "imitation"
    ("slot", pa.int32()),  # epoch of the row (update, slot, levy)
    ("step", pa.int32()),  # update or pre-training step
    ("agent", pa.int16()),  # MEC index j (1-based) of a per-agent loss
    ("loss_name", pa.string()),  # e.g. "L_A", "L_I", "L_D"
    ("loss", pa.float64()),
    ("objective", pa.float64()),  # model objective of the slot
    ("reward", pa.float64()),  # 1 / objective
    ("latency_s", pa.float64()),  # model latency of the slot's tasks, summed [s]
    ("energy_j", pa.float64()),  # model energy of the slot's tasks, summed [J]
    ("mode", pa.string()),  # Lévy search mode: "proposed" | "classic"
    ("iteration", pa.int32()),  # Lévy iteration G (0 = start)
    ("fitness", pa.float64()),  # best objective after that iteration
    ("split", pa.string()),  # imitation accuracy on "train" | "test"
    ("accuracy", pa.float64()),
    ("demonstrations", pa.int32()),
)


def training_schema() -> pa.Schema:
    """Schema of ``training.parquet``."""
    return pa.schema(list(TRAINING_COLUMNS))


def training_columns(label: str, rows: list[dict]) -> dict[str, list]:
    """Turn log rows (dicts with any subset of the columns) into columns for the writer.

    Raises:
        ValueError: If a row has a key that is not a training column.
    """
    names = [name for name, _ in TRAINING_COLUMNS]
    unknown = {k for row in rows for k in row} - set(names)
    if unknown:
        raise ValueError(f"training log rows have unknown columns {sorted(unknown)}")
    cols = {name: [row.get(name) for row in rows] for name in names}
    cols["scheduler"] = [label] * len(rows)
    return cols
