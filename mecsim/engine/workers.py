"""A run's schedulers in worker processes, ``workers`` at a time (``mecsim run --workers``).

Every scheduler of a run simulates its own copy of the world from the same streams (common
random numbers), so the schedulers do not depend on each other. With ``workers`` > 1 the
runner forks one worker process per scheduler, at most ``workers`` at once, the longest
expected first (:func:`mecsim.preflight.longest_first`: ``optimal`` and the learners before
the baselines, else in run order). The results are a serial run's, bit for bit.

**The folder's protocol is the serial run's.** A worker writes its scheduler's rows to
hidden temporary parts and hands each commit to the parent: the figures it counts and its
staged parts. The parent alone writes ``summary.json``: the summary to a temporary, the
parts renamed into place (``tasks`` last), then the summary renamed
(:meth:`~mecsim.engine.runner.RunFiles.publish`). So the summary never counts more than
the parts hold, whichever process is killed when.

**Signals.** The parent takes Ctrl-C and SIGTERM as a serial run does
(:class:`~mecsim.engine.interrupt.StopRequest`): it starts no more workers, sends SIGTERM
to each running one, which stops at its next epoch boundary (inside scheduler code: at
once) with a last commit, and raises as a serial run would once they have ended. A second
signal is passed on too: the workers stop at once. Workers ignore SIGINT, which a Ctrl-C
at a terminal sends to the whole process group. A worker dies with its parent (Linux's
``PR_SET_PDEATHSIG``): after ``kill -9`` of a run, nothing writes on.

**Failures.** A scheduler's error is its result's ``error``, as in a serial run. A worker
that dies (the OOM killer, a crash in native code) is its scheduler's ``error``, and the
other schedulers run on. Any other exception in a worker (a full disk) stops the run and is
raised by the parent.

**Costs.** A worker is a ``fork`` of the parent: nothing is imported or pickled again, and
a caller's ``make`` and plug-ins work as they do serially. Only Linux forks
(:func:`mecsim.preflight.can_fork`); elsewhere a run is serial. Each worker holds its own
world, so memory grows with ``workers`` (:func:`mecsim.preflight.auto_workers` sizes ``--workers
auto`` to the machine). The scheduler objects stay in the workers: each result's
``scheduler`` is None. The parent should have no other thread running when it forks
(``mecsim run`` refreshes its progress bars from the main thread for this reason).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from mecsim.engine.interrupt import STOP_SIGNALS, Interrupted, StopRequest
from mecsim.engine.runner import RunFiles, SchedulerResult, _signals_held, run_one
from mecsim.preflight import longest_first, usable_cpus

TICK_S = 0.05  # [s] a worker sends its progress at most this often
POLL_S = 0.1  # [s] the parent looks at its stop request at least this often
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@dataclass
class _Worker:
    """The parent's handle on one worker process."""

    index: int  # the scheduler's position in the run
    process: Any  # multiprocessing's Process
    conn: Connection  # the worker's messages
    tick: Callable[[int, int], None] | None
    told: int = 0  # SIGTERMs sent to it
    ended: bool = False  # it said it ended (else, at EOF, it died)


def run_in_workers(scenario, specs, results: list[SchedulerResult], files: RunFiles, make,
                   progress, workers: int, stop: StopRequest) -> None:
    """Run the schedulers of ``results`` not yet complete, ``workers`` at a time.

    Args are :func:`~mecsim.engine.runner.run_scenario`'s (``files``: the run folder, its
    first summary written; ``stop``: the run's installed stop request).

    Raises:
        KeyboardInterrupt, Interrupted: The run was stopped (after the workers' last commits).
        Exception: What a worker raised other than its scheduler's error.
    """
    context = multiprocessing.get_context("fork")
    waiting = [k for k in longest_first(scenario, specs) if not results[k].complete]
    running: dict[int, _Worker] = {}
    failures: list[BaseException] = []
    try:
        while waiting or running:
            while waiting and len(running) < workers and stop.signum is None and not failures:
                k = waiting.pop(0)
                tick = progress(specs[k].label, scenario.slots) if progress else None
                with _signals_held():  # no worker the parent does not know of
                    running[k] = _start(context, scenario, specs[k], make, files, results[k],
                                        workers, tick)
            if stop.signum is not None or failures:
                waiting.clear()
                _tell(running.values(), times=1)
            _serve(running, results, files, failures)
    finally:  # on an exception here (a second signal): the workers stop at once
        _tell(running.values(), times=2)
        while running:
            _serve(running, results, files, failures)
    if failures:
        raise failures[0]
    stop.check()


def _start(context, scenario, spec, make, files: RunFiles, result: SchedulerResult,
           workers: int, tick) -> _Worker:
    """Fork the worker of one scheduler."""
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_work, name=f"mecsim-{spec.label}",  # not daemonic: it may fork
        args=(sender, scenario, spec, make, files, result, workers, tick is not None,
              os.getpid()))
    # the worker is born with Ctrl-C and SIGTERM blocked and unblocks them once its own
    # handlers are in: a stop sent at once waits for them instead of meeting the parent's
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        process.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    sender.close()  # the worker's end: EOF reaches the parent when the worker ends
    return _Worker(result.index, process, receiver, tick)


def _tell(workers: Iterable[_Worker], times: int) -> None:
    """Send SIGTERM to each worker until it has had ``times`` of them."""
    for w in workers:
        while w.told < times and w.process.pid is not None:
            w.told += 1
            try:
                os.kill(w.process.pid, signal.SIGTERM)
            except ProcessLookupError:  # already gone: its EOF will tell
                break


def _serve(running: dict[int, _Worker], results: list[SchedulerResult], files: RunFiles,
           failures: list[BaseException]) -> None:
    """Act on the messages that come within :data:`POLL_S`; forget the workers that ended."""
    by_conn = {w.conn: w for w in running.values()}
    for conn in wait(list(by_conn), POLL_S):
        with _signals_held():  # a message read is a message acted on
            _act(by_conn[conn], running, results, files, failures)


def _act(w: _Worker, running: dict[int, _Worker], results: list[SchedulerResult],
         files: RunFiles, failures: list[BaseException]) -> None:
    """Read one message of a worker and act on it (at EOF: the worker has ended)."""
    try:
        message = w.conn.recv()
    except EOFError:
        _ended(w, results[w.index], files)
        del running[w.index]
        return
    kind, *body = message
    if kind == "tick" and w.tick is not None:
        w.tick(*body)
    elif kind == "commit":
        files.receive(w.index, *body)
    elif kind == "end":
        w.ended = True
    elif kind == "stopped":
        w.ended = True
        if not w.told:  # a signal from elsewhere: not the run's stop
            _fail(results[w.index], files, f"was {body[0]}")
    elif kind == "error":
        exc, text = body
        if hasattr(exc, "add_note"):  # Python 3.11+
            exc.add_note(f"in the worker of scheduler {results[w.index].name!r}:\n{text}")
        failures.append(exc)
        w.ended = True


def _ended(w: _Worker, result: SchedulerResult, files: RunFiles) -> None:
    """A worker's pipe closed: reap it; if it died, that is its scheduler's error."""
    w.conn.close()
    w.process.join()
    if w.ended:
        return
    code = w.process.exitcode
    how = f"exit status {code}"
    if code is not None and code < 0:
        try:
            how = f"killed by {signal.Signals(-code).name}"
        except ValueError:  # a signal Python has no name for
            how = f"killed by signal {-code}"
    _fail(result, files, f"died ({how})")


def _fail(result: SchedulerResult, files: RunFiles, what: str) -> None:
    """Make what befell a scheduler's worker its error, in the summary at once."""
    result.error = f"scheduler {result.name!r}: its worker process {what}"
    result.complete = False
    files.receive(result.index, {}, [])


# --------------------------------------------------------------------------- the worker


def _work(conn: Connection, scenario, spec, make, files: RunFiles, result: SchedulerResult,
          workers: int, ticks: bool, parent: int) -> None:
    """A worker process's body: simulate one scheduler, sending its commits to the parent."""
    _die_with(parent)
    _share_cores(workers)
    sent = [0]  # model costs sent so far

    def handover(r: SchedulerResult, moves: list[tuple[Path, Path]]) -> None:
        conn.send(("commit", _state(r, sent[0]), moves))  # run_one commits with its result
        sent[0] = len(r.model_costs)

    files.handover = handover
    tick = _Ticks(conn, scenario.slots) if ticks else None
    try:
        with StopRequest().installed() as stop:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent takes Ctrl-C
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
            run_one(scenario, spec, make, files, result, tick, stop)
        if tick is not None:
            tick.flush()
    except (KeyboardInterrupt, Interrupted) as exc:  # the last commit is sent
        conn.send(("stopped", str(exc)))
        return
    except BaseException as exc:  # noqa: BLE001 - raised again by the parent
        conn.send(("error", _portable(exc), traceback.format_exc()))
        return
    conn.send(("end",))


def _state(result: SchedulerResult, sent: int) -> dict[str, Any]:
    """What a commit tells the parent of a result: its fields, the model costs not yet sent."""
    state = {k: v for k, v in result.__dict__.items() if k not in ("scheduler", "model_costs")}
    state["model_costs"] = (sent, result.model_costs[sent:])
    return state


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a RuntimeError that names it."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any exception that cannot cross a pipe
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when its parent ends (Linux), or end now if it has."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # no prctl: the parent's EOF is the only tie
        pass
    if os.getppid() != parent:  # the parent ended before prctl
        os._exit(1)


def _share_cores(workers: int) -> None:
    """Give torch this worker's share of the CPUs, unless OMP_NUM_THREADS says otherwise."""
    if "OMP_NUM_THREADS" in os.environ:
        return
    threads = max(1, usable_cpus() // workers)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
    else:  # read when torch is imported
        os.environ["OMP_NUM_THREADS"] = str(threads)


class _Ticks:
    """A worker's progress callback: ``(slot, tasks)`` sent at most every :data:`TICK_S`."""

    def __init__(self, conn: Connection, slots: int) -> None:
        self.conn, self.slots = conn, slots
        self.slot, self.tasks, self.unsent = 0, 0, False
        self.last = 0.0

    def __call__(self, slot: int, tasks: int) -> None:
        self.slot, self.tasks, self.unsent = slot, self.tasks + tasks, True
        now = time.monotonic()
        if now - self.last >= TICK_S or slot + 1 >= self.slots:
            self.flush()
            self.last = now

    def flush(self) -> None:
        """Send what has not been sent."""
        if self.unsent:
            self.conn.send(("tick", self.slot, self.tasks))
            self.tasks, self.unsent = 0, False
