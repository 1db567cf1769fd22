"""Stopping a run cleanly on Ctrl-C or SIGTERM.

A signal that raised wherever Python happened to be (inside a Parquet write, between
counting a slot's tasks and recording them) could leave the files out of step with the
counters. :class:`StopRequest` instead records the first signal and the simulation
raises it at the next epoch boundary, where every finished slot is whole. Inside
scheduler code (a decision, a training step, DIRS's pre-training: :meth:`StopRequest.urgent`)
a signal raises at once: the engine's state is not being changed there, so the slot being
decided is simply not recorded, and a run stops within moments wherever it is. A second
signal raises at once anywhere.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """The run was stopped by SIGTERM (Ctrl-C raises :class:`KeyboardInterrupt`).

    A ``BaseException``, like ``KeyboardInterrupt``, so that a scheduler's or a
    library's ``except Exception`` cannot swallow it.
    """


def _raise_for(signum: int) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Interrupted(f"terminated by {signal.Signals(signum).name}")


class StopRequest:
    """Defers SIGINT and SIGTERM to the next call of :meth:`check`.

    Use as ``with stop.installed(): ...`` and call ``stop.check()`` at points where
    stopping is safe. Outside the main thread nothing is installed and signals keep
    their usual behaviour.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._urgent = 0  # depth of urgent() blocks now running

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` or :class:`Interrupted` if a signal came."""
        if self.signum is not None:
            _raise_for(self.signum)

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """A block of scheduler code: a signal that comes during it raises at once.

        Only for code that changes no engine state (a scheduler's decision, feedback,
        reset), so that stopping inside it keeps every recorded slot whole.
        """
        self.check()
        self._urgent += 1
        try:
            yield
        finally:
            self._urgent -= 1

    def _handler(self, signum: int, frame) -> None:
        second = self.signum is not None
        self.signum = signum
        if second or self._urgent:  # the second signal, or inside scheduler code: stop now
            _raise_for(signum)

    @contextmanager
    def installed(self) -> Iterator[StopRequest]:
        """Install the deferring handlers for the block (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.signal(s, self._handler) for s in STOP_SIGNALS}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into :class:`Interrupted` at once (main thread only).

    For loops that have no epoch boundary to wait for, such as a sweep's driver.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: _raise_for(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
