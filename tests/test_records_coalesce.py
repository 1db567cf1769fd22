"""Table writers that join the engine's small batches before making Arrow arrays."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from mecsim.engine.records import TableWriter

SCHEMA = pa.schema([("slot", pa.int64()), ("x", pa.float64()), ("ok", pa.bool_()),
                    ("status", pa.string()), ("n", pa.int32())])


def _batches(rng):
    for slot in range(7):
        k = int(rng.integers(0, 5))
        yield {"slot": np.full(k, slot, dtype=np.int64), "x": rng.normal(size=k),
               "ok": rng.uniform(size=k) < 0.5,
               "status": np.array(rng.choice(["completed", "dropped"], size=k), dtype=object),
               "n": [int(v) for v in rng.integers(0, 9, size=k)] if slot % 2 else
               np.arange(k, dtype=np.int64)}
    yield {"slot": [7, 7], "x": [1.5, None], "ok": [True, None], "status": ["a", None],
           "n": [None, 3]}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_coalescing_writer_writes_the_same_part_and_tallies(tmp_path, seed):
    staged = {}
    for coalesce in (False, True):
        writer = TableWriter(tmp_path / f"t{coalesce}", SCHEMA, 0,
                             tally=("status", "slot"), coalesce=coalesce)
        batches = list(_batches(np.random.default_rng(seed)))
        for b in batches:
            writer.append(b)
        assert writer.pending_rows == sum(len(b["slot"]) for b in batches)
        staged[coalesce] = writer.stage()
        assert writer.pending_rows == 0
    plain, joined = staged[False], staged[True]
    assert joined.table.equals(plain.table)
    assert joined.tmp.read_bytes() == plain.tmp.read_bytes()
    assert joined.counts == plain.counts and joined.sums == plain.sums


def test_a_coalescing_writer_checks_each_batch_when_appended(tmp_path):
    writer = TableWriter(tmp_path / "t", SCHEMA, 0, coalesce=True)
    good = {"slot": [1], "x": [0.5], "ok": [True], "status": ["a"], "n": [2]}
    with pytest.raises(KeyError):
        writer.append({k: v for k, v in good.items() if k != "x"})
    with pytest.raises(pa.ArrowInvalid, match="lengths"):
        writer.append({**good, "x": [0.5, 0.6]})
    writer.append(good)
    assert writer.stage().table.num_rows == 1
    assert writer.stage() is None  # nothing left
