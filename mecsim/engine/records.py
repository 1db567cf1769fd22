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
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

# pyarrow.dataset (about 0.2 s to import, pandas with it) is imported only to read a
# folder of parts, in ``read_table`` and ``table_columns``. The writers build their Arrow
# arrays from numpy buffers (:func:`arrow_array`): ``pa.array`` and every table built from
# Python values import pandas (0.13 s) the first time, to ask whether they are pandas'.

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
    """A part written whole to its temporary name, not yet renamed into place.

    Of the writer's ``tally`` columns, over the part's rows: ``counts``, each string
    column's non-null values and how often each occurs; ``sums``, each integer column's
    sum (nulls skipped).
    """

    table: pa.Table
    tmp: Path
    path: Path
    counts: dict[str, Counter] = field(default_factory=dict)
    sums: dict[str, int] = field(default_factory=dict)


class TableWriter:
    """Buffers one scheduler's rows of one table and writes them as parts of its folder.

    Args:
        folder: The table's folder (created, with its schema part, if missing).
        schema: The table's Arrow schema (every batch must have its columns).
        owner: Position of the scheduler in the run (names its parts).
        tally: Columns whose tallies each staged part carries (see :class:`Staged`).
        coalesce: Keep the batches as they come and make Arrow arrays once per part, not
            once per batch (for the engine's own many small batches, whose columns are
            numpy arrays of their type; values Arrow refuses then raise when staging).
    """

    def __init__(self, folder: Path, schema: pa.Schema, owner: int,
                 tally: tuple[str, ...] = (), coalesce: bool = False) -> None:
        self.folder = Path(folder)
        self.schema = schema
        self.owner = owner
        self.tally = tally
        # The empty table is built before the folder appears: a kill -9 must not find a
        # folder without its schema part.
        empty = None if (self.folder / SCHEMA_PART).is_file() else empty_table(schema)
        self.folder.mkdir(parents=True, exist_ok=True)
        if empty is not None:
            _write_whole(empty, self.folder / SCHEMA_PART)
        self.parts = 0  # parts in place
        self.rows = 0  # rows in those parts
        self.pending_rows = 0
        self._pending: list[pa.RecordBatch] = []
        self._counts: dict[str, Counter] = {}
        self._sums: dict[str, int] = {}
        self._coalesce = coalesce
        self._raw: list[list] = []  # coalesce: the batches' columns, in schema order

    def append(self, columns: dict[str, Any]) -> None:
        """Buffer one batch of rows (a dict of equal-length arrays or lists).

        Raises:
            KeyError: If a column of the schema is missing.
            pyarrow.ArrowInvalid: If the columns' lengths differ.
        """
        if self._coalesce:
            self._keep(columns)
            return
        self._pending_batch(columns)

    def _keep(self, columns: dict[str, Any]) -> None:
        """Hold a batch's columns as they are (``coalesce``), checked for names and lengths."""
        batch = [columns[f.name] for f in self.schema]  # KeyError: a column missing
        sizes = {len(c) for c in batch}
        if len(sizes) > 1:
            raise pa.ArrowInvalid(f"columns of different lengths: {sorted(sizes)}")
        rows = sizes.pop() if sizes else 0
        if rows:
            self._raw.append(batch)
            self.pending_rows += rows

    def _pending_batch(self, columns: dict[str, Any]) -> None:
        """Make one record batch of ``columns`` and buffer it (with its tallies)."""
        arrays = []
        for f in self.schema:
            array, tally = arrow_array(columns[f.name], f.type, f.name in self.tally)
            arrays.append(array)
            if isinstance(tally, Counter):
                self._counts.setdefault(f.name, Counter()).update(tally)
            elif tally is not None:
                self._sums[f.name] = self._sums.get(f.name, 0) + tally
        batch = pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        if batch.num_rows:
            self._pending.append(batch)
            self.pending_rows += batch.num_rows

    def _join_raw(self) -> None:
        """``coalesce``: the held batches as one record batch, each column joined first."""
        raw, self._raw = self._raw, []
        self.pending_rows = 0  # held rows only (coalesce): counted again as one batch
        self._pending_batch({f.name: _joined([b[k] for b in raw])
                             for k, f in enumerate(self.schema)})

    def stage(self) -> Staged | None:
        """Write the buffered rows whole to the next part's temporary name (None if none)."""
        if self._raw:
            self._join_raw()
        if not self._pending:
            return None
        table = pa.Table.from_batches(self._pending, schema=self.schema)
        counts, sums = self._counts, self._sums
        self._pending, self.pending_rows, self._counts, self._sums = [], 0, {}, {}
        path = self.folder / part_name(self.owner, self.parts)
        tmp = path.with_name(f".{path.name}.tmp")
        pq.write_table(table, tmp)
        return Staged(table, tmp, path, counts, sums)

    def commit(self, staged: Staged) -> None:
        """Rename a staged part into place: from now on readers see its rows."""
        os.replace(staged.tmp, staged.path)
        self.count(staged)

    def count(self, staged: Staged) -> None:
        """Count a staged part as in place (whoever renames it: this process or a parent)."""
        self.parts += 1
        self.rows += staged.table.num_rows


# --------------------------------------------------------------------------- Arrow arrays
# Numeric and boolean Arrow types and the numpy dtype of their values buffer.
_NUMPY_OF = {pa.int8(): np.int8, pa.int16(): np.int16, pa.int32(): np.int32,
             pa.int64(): np.int64, pa.uint8(): np.uint8, pa.uint16(): np.uint16,
             pa.uint32(): np.uint32, pa.uint64(): np.uint64, pa.float32(): np.float32,
             pa.float64(): np.float64, pa.bool_(): np.bool_}
_MAX_FACTORS = 16  # distinct values a string column is coded by before the generic path
_FEW_ROWS = 200  # a string column shorter than this is encoded one item at a time
_MAX_OFFSET = 2**31 - 1  # [byte] the largest offset of a pa.string() array


def arrow_array(values, type_: pa.DataType, tally: bool = False
                ) -> tuple[pa.Array, Counter | int | None]:
    """An Arrow array of ``values`` of type ``type_``, built from numpy buffers.

    ``values`` is a numpy array or a list; ``None`` is a null. Numbers keep their values
    (``NaN`` stays ``NaN``), as ``pa.array`` keeps them, without its import of pandas;
    a contiguous numpy array of the type's own dtype is shared, not copied (as
    ``pa.array`` shares it). Types other than numbers, booleans and strings, and values
    numpy cannot cast to the type without loss, go through ``pa.array``.

    Args:
        values: The column's values.
        type_: Its Arrow type.
        tally: Whether to return the tally (else None).

    Returns:
        The array, and its tally: for a string column a ``Counter`` of its non-null
        values, for an integer column the sum of its non-null values, else None.
    """
    dtype = _NUMPY_OF.get(type_)
    if (dtype is not None and dtype is not np.bool_ and isinstance(values, np.ndarray)
            and values.dtype == dtype and values.ndim == 1 and values.flags.c_contiguous):
        array = pa.Array.from_buffers(type_, values.size, [None, pa.py_buffer(values)])
        return array, int(values.sum()) if tally and values.dtype.kind in "iu" else None
    if pa.types.is_string(type_):
        array, counts = _string_array(values, tally)
        return array, counts if tally else None
    data, valid = _numbers(values, dtype) if dtype is not None else (None, None)
    if data is None:  # any other type, or a lossy cast: pa.array decides (and raises)
        array = pa.array(values, type=type_)
        return array, _tally_of(array) if tally else None
    if dtype is np.bool_:
        buffer = pa.py_buffer(np.packbits(data, bitorder="little"))
    else:
        buffer = pa.py_buffer(data)
    array = pa.Array.from_buffers(type_, data.size, [_validity(valid), buffer],
                                  null_count=_nulls(valid))
    if tally and pa.types.is_integer(type_):
        return array, int(data.sum() if valid is None else data[valid].sum())
    return array, None


def _joined(pieces: list) -> Any:
    """One column from a column's pieces: numpy arrays of one dtype joined, else a list."""
    first = pieces[0]
    if len(pieces) == 1:
        return first
    if all(isinstance(p, np.ndarray) and p.dtype == first.dtype and p.ndim == 1
           for p in pieces):
        return np.concatenate(pieces)
    out: list = []
    for p in pieces:
        out.extend(p.tolist() if isinstance(p, np.ndarray) else p)
    return out


def empty_table(schema: pa.Schema) -> pa.Table:
    """A table of ``schema`` without rows (``schema.empty_table()`` imports pandas)."""
    arrays = [arrow_array([], f.type)[0] for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _numbers(values, dtype) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``values`` as a contiguous ``dtype`` array and their validity (None: no nulls).

    ``(None, None)`` when a value does not fit ``dtype`` (a float for an integer column,
    an integer out of its range, a string): the caller falls back to ``pa.array``.
    """
    valid = None
    if isinstance(values, (list, tuple)) and any(v is None for v in values):
        valid = np.array([v is not None for v in values], dtype=bool)
        fill = np.dtype(dtype).type(0)  # a value of the column's own kind (False, 0, 0.0)
        values = [fill if v is None else v for v in values]
    arr = np.asarray(values)
    if arr.ndim != 1 and arr.size:
        return None, None
    if arr.size == 0:
        return np.empty(0, dtype), valid
    if not _fits(arr, np.dtype(dtype)):
        return None, None
    return np.ascontiguousarray(arr, dtype=dtype), valid


def _fits(arr: np.ndarray, dtype: np.dtype) -> bool:
    """Whether ``arr`` casts to ``dtype`` without losing a value."""
    if np.can_cast(arr.dtype, dtype, casting="safe"):
        return True
    if arr.dtype.kind in "iu" and dtype.kind in "iu":
        info = np.iinfo(dtype)
        return bool(info.min <= arr.min() and arr.max() <= info.max)
    return False


def _validity(valid: np.ndarray | None) -> pa.Buffer | None:
    """The validity bitmap of ``valid`` (None when there are no nulls)."""
    if valid is None or valid.all():
        return None
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


def _nulls(valid: np.ndarray | None) -> int:
    return 0 if valid is None else int(valid.size - np.count_nonzero(valid))


def _string_array(values, tally: bool) -> tuple[pa.Array, Counter | None]:
    """A ``pa.string()`` array of ``values`` (str or None), and its values' counts.

    A long column is coded by its few distinct values; a short one (or one of many
    values) is encoded one item at a time.
    """
    if len(values) < _FEW_ROWS:
        return _from_items(values.tolist() if isinstance(values, np.ndarray) else values,
                           tally)
    arr = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    if arr.dtype != object:
        arr = arr.astype(object)
    arr = np.ascontiguousarray(arr.ravel())
    coded = _factorize(arr)
    if coded is not None and all(u is None or isinstance(u, str) for u in coded[0]):
        return _from_codes(*coded)
    return _from_items(arr.tolist(), tally)


def _factorize(arr: np.ndarray) -> tuple[list, np.ndarray] | None:
    """``(uniques, codes)`` with ``arr == uniques[codes]``, for an object array.

    Rows holding the same object (a column indexed from a few strings) are found by their
    object pointers, one pass of integer comparisons per distinct object; else (a column
    of equal strings made one by one, as ``np.full`` makes them) by value, one pass of
    string comparisons per distinct value. None past ``_MAX_FACTORS`` distinct values.
    """
    pointers = np.frombuffer(arr, dtype=np.intp)  # the PyObject* of each row
    coded = _passes(arr, lambda row: pointers == pointers[row], shared=True)
    if coded is None:
        coded = _passes(arr, lambda row: np.equal(arr, arr[row]), shared=False)
        if coded is None:
            return None
    objects, codes = coded
    first: dict = {}  # distinct objects may hold equal strings: one code per value
    merge = np.array([first.setdefault(v, len(first)) for v in objects], dtype=np.intp)
    return list(first), merge[codes]


def _passes(arr: np.ndarray, same_as, shared: bool) -> tuple[list, np.ndarray] | None:
    """Code ``arr`` by ``same_as(row)`` (a mask of the rows like ``row``), one pass each.

    None past ``_MAX_FACTORS`` passes, or, if ``shared`` (objects expected to be shared
    by many rows), at the first pass that codes one row only.
    """
    codes = np.full(arr.size, -1, dtype=np.intp)
    objects: list = []
    row = 0
    while arr.size:
        if len(objects) == _MAX_FACTORS:
            return None
        same = same_as(row)
        if shared and row + 1 < arr.size and not same[row + 1:].any():
            return None
        codes[same] = len(objects)  # no row of an earlier pass is like row
        objects.append(arr[row])
        row = int(np.argmax(codes < 0))
        if codes[row] >= 0:
            break
    return objects, codes


def _from_codes(uniques: list, codes: np.ndarray) -> tuple[pa.Array, Counter]:
    """The string array ``uniques[codes]`` (None: null) from numpy buffers."""
    encoded = [b"" if u is None else u.encode() for u in uniques]
    size = np.array([len(b) for b in encoded], dtype=np.int64)  # [byte]
    row_size = size[codes]
    offsets = np.zeros(codes.size + 1, dtype=np.int64)
    np.cumsum(row_size, out=offsets[1:])
    if offsets[-1] > _MAX_OFFSET:
        raise ValueError(f"a string column of {offsets[-1]} bytes does not fit one array")
    if len(encoded) <= 1:  # one value (or no row)
        data = np.frombuffer(b"".join(encoded) * codes.size, dtype=np.uint8)
    else:  # each unique's bytes in a row of a table, padded; each row's row, unpadded
        table = np.zeros((len(encoded), size.max()), dtype=np.uint8)
        for k, b in enumerate(encoded):
            table[k, :len(b)] = np.frombuffer(b, dtype=np.uint8)
        data = np.take(table, codes, axis=0)
        if size.min() < size.max():
            used = np.arange(table.shape[1]) < size[:, None]
            data = data[np.take(used, codes, axis=0)]
        data = data.ravel()
    null = [k for k, u in enumerate(uniques) if u is None]
    valid = None if not null else codes != null[0]
    counts = np.bincount(codes, minlength=len(uniques))
    return _strings(offsets, data, valid), Counter(
        {u: int(c) for u, c in zip(uniques, counts, strict=True) if u is not None and c})


def _from_items(items: list, tally: bool) -> tuple[pa.Array, Counter | None]:
    """The string array of ``items`` (str or None), one item at a time."""
    try:
        encoded = [b"" if v is None else v.encode() for v in items]
    except AttributeError:  # not a str: pa.array raises its own error
        return pa.array(items, type=pa.string()), None
    offsets = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(items)),
              out=offsets[1:])
    if offsets[-1] > _MAX_OFFSET:
        raise ValueError(f"a string column of {offsets[-1]} bytes does not fit one array")
    valid = None if None not in items else np.fromiter(
        (v is not None for v in items), dtype=bool, count=len(items))
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return _strings(offsets, data, valid), (
        Counter(v for v in items if v is not None) if tally else None)


def _strings(offsets: np.ndarray, data: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    """A ``pa.string()`` array from its int64 offsets, bytes and validity (None: no nulls)."""
    return pa.Array.from_buffers(
        pa.string(), offsets.size - 1,
        [_validity(valid), pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)],
        null_count=_nulls(valid))


def _tally_of(array: pa.Array) -> Counter | int | None:
    """The tally :func:`arrow_array` returns, of an array built by ``pa.array``."""
    if pa.types.is_string(array.type):
        return Counter(v for v in array.to_pylist() if v is not None)
    if pa.types.is_integer(array.type):
        return sum(v for v in array.to_pylist() if v is not None)
    return None


def _write_whole(table: pa.Table, path: Path) -> None:
    """Write ``table`` to a temporary, then rename it to ``path``.

    The temporary's name holds the process id: the workers of a run
    (:mod:`mecsim.engine.workers`) may each write a table's schema part at once.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def read_table(path: Path, columns: list[str] | None = None) -> pa.Table:
    """Read a table: a folder of parts (hidden temporaries skipped) or a single file."""
    path = Path(path)
    if path.is_dir():
        return _dataset(path).to_table(columns=columns)
    return pq.read_table(path, columns=columns)


def table_columns(path: Path) -> list[str]:
    """The column names of a table (a folder of parts or a single file)."""
    path = Path(path)
    if path.is_dir():
        return _dataset(path).schema.names
    return pq.read_schema(path).names


def _dataset(folder: Path):
    """The dataset of a folder of parts; ``training``'s on the union of its parts' columns.

    The parts of ``training.parquet`` may differ by a learner's free-form metrics
    (:class:`TrainingWriter`); every other table's parts share one schema (the first's).
    """
    import pyarrow.dataset as ds

    dataset = ds.dataset(folder, format="parquet")
    if folder.name != table_path(folder.parent, "training").name:
        return dataset
    schemas = [f.physical_schema for f in dataset.get_fragments()]
    if all(s.equals(schemas[0]) for s in schemas[1:]):
        return dataset
    return ds.dataset(folder, schema=pa.unify_schemas(schemas), format="parquet")


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
#: DIRS and the DRL peers log these; a learner may log any other key too: a number, written
#: as a float64 column of that name (:func:`training_columns`, :class:`TrainingWriter`).
TRAINING_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("scheduler", pa.string()),  # label of the scheduler
    ("kind", pa.string()),  # "update" | "slot" | "levy" | "imitation" | a learner's own
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
_TRAINING_NAMES = frozenset(name for name, _ in TRAINING_COLUMNS)
#: The Arrow type of a free-form training metric (a key outside :data:`TRAINING_COLUMNS`).
METRIC_TYPE = pa.float64()


def training_schema() -> pa.Schema:
    """Schema of ``training.parquet``: :data:`TRAINING_COLUMNS` (free-form metrics follow)."""
    return pa.schema(list(TRAINING_COLUMNS))


def training_columns(label: str, rows: list[dict]) -> dict[str, list]:
    """Turn log rows (dicts of any keys) into columns for :class:`TrainingWriter`.

    Every column of :data:`TRAINING_COLUMNS` is returned (a key a row lacks is None, a
    null); so is every other key of any row (a free-form metric, in order of first use),
    whose values must be numbers (``int``, ``float``, ``bool``, numpy scalars) or None.

    Raises:
        ValueError: If a key is not a string, or a free-form metric's value not a number.
    """
    extra: dict[str, None] = {}
    for row in rows:
        for key in row:
            if key not in _TRAINING_NAMES:
                extra[key] = None
    for key in extra:
        _check_metric(key, [row.get(key) for row in rows])
    names = [name for name, _ in TRAINING_COLUMNS] + list(extra)
    cols = {name: [row.get(name) for row in rows] for name in names}
    cols["scheduler"] = [label] * len(rows)
    return cols


def _check_metric(key: Any, values: list) -> None:
    """Raise ValueError unless ``key`` is a string and ``values`` numbers or None."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"training log rows have a key {key!r}: keys must be names")
    bad = next((v for v in values if v is not None and not isinstance(v, (int, float,
                                                                         np.number, np.bool_))),
               None)
    if bad is not None:
        raise ValueError(f"training log metric {key!r} has the value {bad!r}: a free-form "
                         "metric must be a number (or None)")


class TrainingWriter(TableWriter):
    """The writer of ``training.parquet``: its schema grows with a learner's own metrics.

    It starts with :func:`training_schema`; a batch with a key outside it adds a
    :data:`METRIC_TYPE` column (null in the rows buffered before it and in later batches
    without it). Each part holds the columns seen so far; :func:`read_table` unifies them.
    """

    def __init__(self, folder: Path, owner: int) -> None:
        super().__init__(folder, training_schema(), owner)

    def append(self, columns: dict[str, Any]) -> None:
        """Buffer rows from :func:`training_columns` (missing columns are nulls)."""
        new = [pa.field(k, METRIC_TYPE) for k in columns if self.schema.get_field_index(k) < 0]
        if new:
            self._widen(new)
        rows = len(columns["scheduler"])
        super().append({f.name: columns[f.name] if f.name in columns else [None] * rows
                        for f in self.schema})

    def _widen(self, fields: list[pa.Field]) -> None:
        """Add ``fields`` to the schema and, as nulls, to the batches buffered so far."""
        self.schema = pa.schema([*self.schema, *fields])
        self._pending = [
            pa.RecordBatch.from_arrays(
                [*b.columns, *(pa.nulls(b.num_rows, f.type) for f in fields)],
                schema=self.schema)
            for b in self._pending]
