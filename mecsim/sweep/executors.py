"""Where cells run: a local process pool (default) or Ray tasks.

Both executors run the same function, :func:`mecsim.sweep.run.run_cell`, one cell per call,
and yield ``(job, record)`` pairs as cells finish. A cell's failure (a scheduler error, an
exception, a worker that died) becomes a failed :class:`~mecsim.sweep.run.CellRecord`;
it never stops the other cells.

- ``local``: :class:`concurrent.futures.ProcessPoolExecutor` with ``spawn``ed workers (no
  state inherited from the driver, no fork after threads), each limited to one BLAS/OpenMP
  thread, as Ray does for its workers.
- ``ray``: one ``@ray.remote`` task per cell, on a local Ray instance or the cluster at
  ``--address``. ``ray`` is imported only here, only when asked for. A task runs its cell
  in a temporary folder on its node and returns the files, which the driver writes into
  the cell's folder: a cluster needs no shared file system.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["EXECUTORS", "ExecutorError", "LocalExecutor", "RayExecutor", "make_executor"]

EXECUTORS = ("local", "ray")
RAY_MISSING = "ray is not installed: pip install 'mecsim[ray]'"
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class ExecutorError(Exception):
    """An executor cannot start; ``str(error)`` is one line, ready to print."""


def make_executor(kind: str, *, address: str | None = None, workers: int | None = None):
    """Return the executor named ``kind`` (``local`` or ``ray``).

    Raises:
        ExecutorError: Unknown kind, ``workers < 1``, an address without Ray, Ray missing.
    """
    if workers is not None and workers < 1:
        raise ExecutorError(f"--workers must be >= 1 (got {workers})")
    if kind == "local":
        if address is not None:
            raise ExecutorError("--address is for --executor ray")
        return LocalExecutor(workers)
    if kind == "ray":
        return RayExecutor(address, workers)
    raise ExecutorError(f"unknown executor {kind!r} (valid: {', '.join(EXECUTORS)})")


def _one_thread() -> None:
    """Pool initializer: one BLAS/OpenMP thread per worker (before numpy/torch load)."""
    for var in _THREAD_VARS:
        os.environ.setdefault(var, "1")


class LocalExecutor:
    """Cells in a process pool on this machine.

    Attributes:
        workers: Processes (default: ``os.cpu_count()``; never more than the cells).
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers

    def run(self, jobs: list) -> Iterator[tuple[Any, Any]]:
        """Run ``jobs`` (:class:`~mecsim.sweep.run.CellJob`); yield ``(job, record)``."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        from mecsim.sweep.run import CellRecord, run_cell

        n = max(1, min(self.workers or os.cpu_count() or 1, len(jobs)))
        pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_one_thread)
        finished = False
        try:
            futures = {pool.submit(run_cell, job): job for job in jobs}
            for future in as_completed(futures):
                job = futures[future]
                try:
                    record = future.result()
                except Exception as exc:  # noqa: BLE001 - e.g. the worker process died
                    record = CellRecord(job.cell, False, f"worker failed: "
                                        f"{type(exc).__name__}: {exc}".splitlines()[0], math.nan)
                yield job, record
            finished = True
        finally:
            if not finished:  # interrupted: SIGTERM stops a worker's run between events,
                # which closes its files with complete: false (see mecsim.engine.runner)
                for process in list(getattr(pool, "_processes", {}).values()):
                    if process.is_alive():
                        process.terminate()
            pool.shutdown(wait=True, cancel_futures=True)


def _ray_cell(job) -> tuple[Any, dict[str, bytes]]:
    """Ray task: run the cell in a temporary folder; return its record and its files."""
    from dataclasses import replace

    from mecsim.sweep.run import run_cell

    with tempfile.TemporaryDirectory(prefix="mecsim-cell-") as tmp:
        record = run_cell(replace(job, out_dir=tmp))
        files = {str(p.relative_to(tmp)): p.read_bytes()
                 for p in sorted(Path(tmp).rglob("*")) if p.is_file()}
    return record, files


def _write_files(cell_dir: Path, files: dict[str, bytes]) -> None:
    """Write a Ray task's files into the cell folder, ``summary.json`` last (atomically)."""
    names = sorted(files, key=lambda name: name == "summary.json")
    for name in names:
        path = cell_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(files[name])
        os.replace(tmp, path)


class RayExecutor:
    """Cells as Ray tasks, one CPU each.

    Uses the Ray instance already initialised in this process, if any; otherwise connects
    to ``address`` (an existing cluster) or starts a local instance with ``workers`` CPUs,
    and shuts it down at the end.

    Attributes:
        address: Ray cluster address (``ray://host:10001``, ``host:6379``, ``auto``), or
            None for a local instance.
        workers: Cells in flight at once (default: as many as Ray schedules).
    """

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise ExecutorError(RAY_MISSING) from None
        self.ray = ray
        self.address = address
        self.workers = workers

    def _start(self) -> bool:
        ray = self.ray
        if ray.is_initialized():
            return False
        kwargs: dict[str, Any] = {"address": self.address, "include_dashboard": False,
                                  "logging_level": logging.ERROR, "log_to_driver": False}
        if self.address is None:
            kwargs["num_cpus"] = self.workers or os.cpu_count() or 1
        try:
            ray.init(**kwargs)
        except Exception as exc:  # noqa: BLE001 - e.g. no cluster at the address
            where = f" at {self.address}" if self.address else ""
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ExecutorError(f"cannot start Ray{where}: {type(exc).__name__}"
                                f"{': ' + detail if detail else ''}") from None
        return True

    def run(self, jobs: list) -> Iterator[tuple[Any, Any]]:
        """Run ``jobs`` (:class:`~mecsim.sweep.run.CellJob`); yield ``(job, record)``."""
        from mecsim.sweep.run import CellRecord

        ray = self.ray
        started = self._start()
        remote = ray.remote(num_cpus=1, max_retries=0)(_ray_cell)
        waiting = list(jobs)
        limit = self.workers or len(jobs)
        in_flight: dict[Any, Any] = {}
        try:
            while waiting or in_flight:
                while waiting and len(in_flight) < limit:
                    job = waiting.pop(0)
                    in_flight[remote.remote(job)] = job
                (ref,), _ = ray.wait(list(in_flight), num_returns=1)
                job = in_flight.pop(ref)
                try:
                    record, files = ray.get(ref)
                    _write_files(Path(job.out_dir), files)
                except Exception as exc:  # noqa: BLE001 - the task or its worker failed
                    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    record = CellRecord(job.cell, False, f"ray task failed: {type(exc).__name__}"
                                        f"{': ' + message if message else ''}", math.nan)
                yield job, record
        finally:
            for ref in in_flight:
                ray.cancel(ref, force=True)
            if started:
                ray.shutdown()
