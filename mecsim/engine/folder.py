"""What a run folder holds: its summary, the schedulers it holds whole, a consistency check.

A scheduler is held *whole* when ``summary.json`` says ``complete: true`` for it and every
part that the summary counts for it is on disk (:func:`complete_schedulers`): the rule of
``mecsim run --resume`` and of a sweep's finished cells. :func:`check_run_folder` checks
what must hold after any stop, even ``kill -9``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mecsim.engine.records import STATUS, TABLES, part_name, read_table, table_path

SUMMARY = "summary.json"


def read_summary(out_dir: str | Path) -> dict[str, Any] | None:
    """A run folder's ``summary.json`` (None when missing or unreadable)."""
    try:
        summary = json.loads((Path(out_dir) / SUMMARY).read_text())
    except (OSError, ValueError):
        return None
    return summary if isinstance(summary, dict) else None


def complete_schedulers(out_dir: str | Path,
                        summary: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The schedulers a run folder holds whole, by label, with their ``summary.json`` entry.

    A scheduler is held whole when ``summary.json`` (``summary``, else read from the
    folder) says ``complete: true`` and every part it counts for it is on disk. This is the
    rule of ``--resume`` and of a sweep's finished cells. They come in run order (the
    entry's ``index``), not in the file's key order.
    """
    out = Path(out_dir)
    summary = read_summary(out) if summary is None else summary
    entries = (summary or {}).get("schedulers")
    done = {}
    for label, entry in (entries if isinstance(entries, dict) else {}).items():
        if isinstance(entry, dict) and entry.get("complete") is True and _parts_on_disk(
                out, entry):
            done[label] = entry
    return dict(sorted(done.items(), key=lambda item: item[1]["index"]))


def _parts_on_disk(out: Path, entry: dict[str, Any]) -> bool:
    index, parts = entry.get("index"), entry.get("parts")
    if not isinstance(index, int) or not isinstance(parts, dict) or not parts:
        return False
    return all(isinstance(n, int) and all(
        (table_path(out, table) / part_name(index, i)).is_file() for i in range(n))
        for table, n in parts.items())


def check_run_folder(out_dir: str | Path) -> list[str]:
    """What is wrong in a run folder; empty when it is whole and consistent.

    Checks that every file a reader sees is readable (``summary.json``, ``scenario.yaml``,
    each part, each table as a whole) and that for every scheduler of ``summary.json`` the
    task rows on disk are its ``counts`` (``generated``; ``completed``, ``dropped`` and
    ``in_flight`` by status) and its slot rows its ``slots``; and that no rows belong to a
    scheduler the summary does not list. Hidden temporaries (``.`` or ``_`` names) are
    skipped, as readers skip them.
    """
    import yaml

    out = Path(out_dir)
    problems: list[str] = []
    summary = read_summary(out)
    if (out / SUMMARY).exists() and summary is None:
        problems.append(f"{SUMMARY}: unreadable")
    try:
        if (out / "scenario.yaml").exists():
            yaml.safe_load((out / "scenario.yaml").read_text())
    except (OSError, yaml.YAMLError) as exc:
        problems.append(f"scenario.yaml: unreadable ({exc})")
    tables = {}
    for table in TABLES:
        if table_path(out, table).exists():
            tables[table] = _read_whole(table_path(out, table), problems)
    for table in ("tasks", "slots"):  # a table never written holds no rows
        if table not in tables:
            tables[table] = pa.table({"scheduler": pa.array([], pa.string()),
                                      "status": pa.array([], pa.string())})
    entries = (summary or {}).get("schedulers") or {}
    for label, entry in entries.items():
        problems += _counted(label, entry, tables.get("tasks"), tables.get("slots"))
    for table in ("tasks", "slots"):
        rows = tables.get(table)
        if rows is not None and rows.num_rows:
            stray = set(rows.column("scheduler").to_pylist()) - set(entries)
            if stray:
                problems.append(f"{table}.parquet: rows of {sorted(stray)}, not in {SUMMARY}")
    return problems


def _read_whole(folder: Path, problems: list[str]):
    """Read a table, noting each unreadable part (None if the table is unreadable)."""
    if folder.is_dir():
        for part in sorted(folder.iterdir()):
            if part.name.startswith((".", "_")):
                continue
            try:
                pq.read_metadata(part)
            except Exception as exc:  # noqa: BLE001 - any unreadable part is reported
                problems.append(f"{folder.name}/{part.name}: unreadable ({exc})")
    try:
        return read_table(folder)
    except Exception as exc:  # noqa: BLE001
        problems.append(f"{folder.name}: unreadable ({exc})")
        return None


def _counted(label: str, entry: dict[str, Any], tasks, slots) -> list[str]:
    """Where the rows of one scheduler differ from what ``summary.json`` says of them."""
    import pyarrow.compute as pc

    problems = []
    counts = entry.get("counts") or {}
    if tasks is not None:
        mine = tasks.filter(pc.equal(tasks.column("scheduler"), label))
        status = mine.column("status").to_pylist()
        rows = {"generated": len(status), **{s: status.count(s) for s in STATUS}}
        if {k: counts.get(k, 0) for k in rows} != rows:
            problems.append(f"{label}: {SUMMARY} counts {counts}, the task rows {rows}")
    if slots is not None:
        n = pc.sum(pc.equal(slots.column("scheduler"), label)).as_py() or 0
        if entry.get("slots", 0) != n:
            problems.append(f"{label}: {SUMMARY} says {entry.get('slots')} slots, "
                            f"slots.parquet holds {n}")
    return problems
