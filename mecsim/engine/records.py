"""Result tables as folders of Parquet parts: every stop, even ``kill -9``, leaves them whole.

Each table (``tasks.parquet``, ``slots.parquet``, ...) is a **folder** of parts;
``pandas.read_parquet(FOLDER)`` and ``pyarrow.dataset`` read it as one table, the parts in
name order. Rows are buffered and written as whole parts: a part is written to a hidden
temporary name in the folder (``.part-....parquet.tmp``; Parquet readers skip names that
start with ``.`` or ``_``) and renamed into place, so a part is either complete or absent.

- ``part-KKK-NNNNNN.parquet``: rows written by the scheduler at position ``KKK`` of the run
  (the part's *owner*), ``NNNNNN`` its sequence number (from 0, no gaps);
- ``part-schema.parquet``: no rows, the table's columns, so that an empty table reads with
  them.

When parts are written and what ``summary.json`` claims about them is
:mod:`mecsim.engine.runner`'s business (see ``docs/results.md``). Small files
(``summary.json``, ``scenario.yaml``) are replaced atomically through a hidden temporary.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

# pyarrow.dataset (about 0.2 s to import, pandas with it) is imported only to read a
# folder of parts, in ``read_table`` and ``table_columns``.

FLUSH_ROWS = 65_536  # rows buffered in a table before a commit is due
FLUSH_S = 2.0  # [s] wall time after which a commit is due (env MECSIM_FLUSH_S overrides)
TABLES = ("tasks", "slots", "channels", "positions", "training")  # NAME.parquet folders
SCHEMA_PART = "part-schema.parquet"
_PART = re.compile(r"part-(\d{3,})-(\d{6,})\.parquet")


def flush_interval_s() -> float:
    """The wall time between commits: ``MECSIM_FLUSH_S`` if set, else :data:`FLUSH_S`.

    Raises:
        ValueError: If ``MECSIM_FLUSH_S`` is not a positive number.
    """
    text = os.environ.get("MECSIM_FLUSH_S", "").strip()
    if not text:
        return FLUSH_S
    value = float(text)
    if not value > 0:
        raise ValueError(f"MECSIM_FLUSH_S must be a positive number of seconds, not {text!r}")
    return value


def part_name(owner: int, seq: int) -> str:
    """The file name of part ``seq`` written by the scheduler at position ``owner``."""
    return f"part-{owner:03d}-{seq:06d}.parquet"


def part_owner(name: str) -> tuple[int, int] | None:
    """``(owner, seq)`` of a part file name (None for any other name)."""
    match = _PART.fullmatch(name)
    return (int(match.group(1)), int(match.group(2))) if match else None


def table_path(out_dir: Path, table: str) -> Path:
    """The folder of ``table`` (one of :data:`TABLES`) in a run folder."""
    return Path(out_dir) / f"{table}.parquet"


@dataclass
class Staged:
    """A part written whole to its temporary name, not yet renamed into place."""

    table: pa.Table
    tmp: Path
    path: Path


class TableWriter:
    """Buffers one scheduler's rows of one table and writes them as parts of its folder.

    Args:
        folder: The table's folder (created, with its schema part, if missing).
        schema: The table's Arrow schema (every batch must have its columns).
        owner: Position of the scheduler in the run (names its parts).
    """

    def __init__(self, folder: Path, schema: pa.Schema, owner: int) -> None:
        self.folder = Path(folder)
        self.schema = schema
        self.owner = owner
        # The empty table is built before the folder appears: the first pyarrow.array of a
        # process imports pandas (0.2 s), and a kill -9 then must not find a folder without
        # its schema part.
        empty = None if (self.folder / SCHEMA_PART).is_file() else schema.empty_table()
        self.folder.mkdir(parents=True, exist_ok=True)
        if empty is not None:
            _write_whole(empty, self.folder / SCHEMA_PART)
        self.parts = 0  # parts in place
        self.rows = 0  # rows in those parts
        self.pending_rows = 0
        self._pending: list[pa.RecordBatch] = []

    def append(self, columns: dict[str, Any]) -> None:
        """Buffer one batch of rows (a dict of equal-length arrays or lists)."""
        batch = pa.RecordBatch.from_pydict(columns, schema=self.schema)
        if batch.num_rows:
            self._pending.append(batch)
            self.pending_rows += batch.num_rows

    def stage(self) -> Staged | None:
        """Write the buffered rows whole to the next part's temporary name (None if none)."""
        if not self._pending:
            return None
        table = pa.Table.from_batches(self._pending, schema=self.schema)
        self._pending, self.pending_rows = [], 0
        path = self.folder / part_name(self.owner, self.parts)
        tmp = path.with_name(f".{path.name}.tmp")
        pq.write_table(table, tmp)
        return Staged(table, tmp, path)

    def commit(self, staged: Staged) -> None:
        """Rename a staged part into place: from now on readers see its rows."""
        os.replace(staged.tmp, staged.path)
        self.parts += 1
        self.rows += staged.table.num_rows


def _write_whole(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def read_table(path: Path, columns: list[str] | None = None) -> pa.Table:
    """Read a table: a folder of parts (hidden temporaries skipped) or a single file."""
    path = Path(path)
    if path.is_dir():
        import pyarrow.dataset as ds

        return ds.dataset(path, format="parquet").to_table(columns=columns)
    return pq.read_table(path, columns=columns)


def table_columns(path: Path) -> list[str]:
    """The column names of a table (a folder of parts or a single file)."""
    path = Path(path)
    if path.is_dir():
        import pyarrow.dataset as ds

        return ds.dataset(path, format="parquet").schema.names
    return pq.read_schema(path).names


def table_bytes(path: Path) -> int:
    """Bytes on disk of a table (a folder of parts or a single file)."""
    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    return path.stat().st_size


def keep_parts(folder: Path, parts: dict[int, int]) -> None:
    """Keep the first ``parts[owner]`` parts of each owner; delete every other part file.

    Hidden temporaries (parts never renamed into place) are deleted too.
    """
    for path in Path(folder).iterdir():
        name = part_owner(path.name)
        if (name is not None and name[1] >= parts.get(name[0], 0)) or path.name.startswith("."):
            path.unlink()


def remove_tables(out_dir: Path) -> None:
    """Delete a run folder's tables (folders, or the files and ``.partial`` of old runs)."""
    for table in TABLES:
        path = table_path(out_dir, table)
        if path.is_dir():
            shutil.rmtree(path)
        for stale in (path, path.with_name(path.name + ".partial")):
            if stale.is_file() or stale.is_symlink():
                stale.unlink()


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` through a hidden temporary file and a rename."""
    write_text_atomic(path, json_text(data))


def json_text(data: Any) -> str:
    """``data`` as the JSON text :func:`write_json_atomic` writes."""
    return json.dumps(data, indent=2, sort_keys=True, default=_json_default) + "\n"


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a hidden temporary file and an atomic rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
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
