"""A MEC's CPU: weighted processor sharing at ``Fmax``, simulated in SimPy.

Every task in service gets ``Fmax * w_i / sum_k w_k`` cycles per second, ``w_i`` being the
CPU share the allocation gave it. Tasks from earlier slots keep running beside new ones,
so an overloaded MEC builds a backlog. The CPU keeps a virtual time ``V`` with
``dV/dt = Fmax / sum_k w_k``; a task of ``F`` cycles joining at ``V0`` leaves when ``V``
reaches its tag ``V0 + F / w``. Joins and departures are ``O(log n)``, and the CPU schedules
one SimPy timeout for its next departure (timeouts made stale by a later join are ignored).
A task can also leave before its work is done (:meth:`MecCpu.remove`, a deadline): its
share goes back to the others at once, so their finishing times move earlier.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

import simpy


class MecCpu:
    """Weighted processor sharing on one MEC.

    Args:
        env: The simulation environment.
        cpu_hz: Capacity ``Fmax`` [cycle/s], > 0.
        on_done: Called as ``on_done(token, time_s)`` when a task finishes.
    """

    def __init__(self, env: simpy.Environment, cpu_hz: float,
                 on_done: Callable[[object, float], None]) -> None:
        if not cpu_hz > 0:
            raise ValueError(f"cpu_hz must be > 0, got {cpu_hz!r}")
        self.env = env
        self.cpu_hz = float(cpu_hz)
        self._on_done = on_done
        self._heap: list[list] = []  # [tag, seq, weight, token, live]
        self._entries: dict[object, list] = {}  # token -> its live heap entry
        self._virtual = 0.0  # [cycle per unit weight]
        self._weight = 0.0  # sum of the weights in service [cycle/s]
        self._tag_weight = 0.0  # sum of tag * weight, for the backlog in cycles
        self._last_s = env.now
        self._seq = 0
        self._generation = 0

    @property
    def tasks(self) -> int:
        """Tasks in service."""
        return len(self._entries)

    def backlog_cycles(self) -> float:
        """Cycles still to run for the tasks in service [cycle]."""
        self._advance()
        return max(self._tag_weight - self._virtual * self._weight, 0.0)

    def join(self, token: object, cycles: float, weight_hz: float) -> None:
        """Start serving a task of ``cycles`` with share ``weight_hz`` (> 0)."""
        self._advance()
        tag = self._virtual + cycles / weight_hz
        entry = [tag, self._seq, weight_hz, token, True]
        heapq.heappush(self._heap, entry)
        self._entries[token] = entry
        self._seq += 1
        self._weight += weight_hz
        self._tag_weight += tag * weight_hz
        self._schedule()

    def remove(self, token: object) -> bool:
        """Stop serving ``token`` now, its work unfinished; False if it is not in service."""
        entry = self._entries.pop(token, None)
        if entry is None:
            return False
        self._advance()
        entry[4] = False
        self._weight -= entry[2]
        self._tag_weight -= entry[0] * entry[2]
        if not self._entries:
            self._heap.clear()
            self._weight = self._tag_weight = 0.0
        self._schedule()
        return True

    def clear(self) -> list[object]:
        """Stop serving every task (the MEC failed); return their tokens in tag order."""
        tokens = [entry[3] for entry in sorted(self._entries.values())]
        self._heap.clear()
        self._entries.clear()
        self._weight = self._tag_weight = 0.0
        self._generation += 1
        return tokens

    def close(self) -> None:
        """Forget every task and the ``on_done`` callback: the run has ended (idempotent)."""
        self.clear()
        self._on_done = _ended

    def _advance(self) -> None:
        now = self.env.now
        if self._weight > 0:
            self._virtual += (now - self._last_s) * self.cpu_hz / self._weight
        self._last_s = now

    def _schedule(self) -> None:
        self._generation += 1
        heap = self._heap
        while heap and not heap[0][4]:
            heapq.heappop(heap)  # removed before its turn
        if not heap:
            return
        delay = max((self._heap[0][0] - self._virtual) * self._weight / self.cpu_hz, 0.0)
        event = self.env.timeout(delay, value=self._generation)
        event.callbacks.append(self._wake)

    def _wake(self, event: simpy.Event) -> None:
        if event.value != self._generation:
            return  # a later join or departure rescheduled the CPU
        self._advance()
        heap = self._heap
        limit = self._virtual * (1 + 1e-12) + 1e-12
        done = []
        while heap and heap[0][0] <= limit:
            tag, _, weight, token, live = heapq.heappop(heap)
            if not live:
                continue
            del self._entries[token]
            self._weight -= weight
            self._tag_weight -= tag * weight
            done.append(token)
        if not self._entries:
            heap.clear()
            self._weight = self._tag_weight = 0.0
        self._schedule()
        now = self.env.now
        for token in done:
            self._on_done(token, now)


def _ended(token: object, time_s: float) -> None:
    """``on_done`` of a closed CPU: the run has ended, no task finishes any more."""
