"""The next slot's world, computed on another core while the engine simulates this one.

The world (mobility, fading, shadowing, arrivals) does not depend on any decision: that is
what gives every scheduler the same world (common random numbers). So slot ``k + 1`` can
be drawn while slot ``k``'s tasks are simulated. numpy releases the GIL in its array work,
so on two cores most of the world's time is hidden behind the engine's.

The values are those of calling :meth:`World.next_slot` in turn, bit for bit: one thread
at a time advances the world (the next draw starts only once the slot before it has been
handed over), and nothing the engine does touches the world's state. The world is never
advanced past the slots asked for, so it ends in the same state as without prefetching.

Each numpy call gives the GIL back and must take it again from the engine's thread, which
runs Python all the time; a thread that asks for the GIL waits up to the interpreter's
switch interval (5 ms by default) before the holder lets go. The world's thousand-odd
numpy calls a slot (10k x 100) then took 235 ms in the thread against 140 ms alone. While a
slot is drawn in the thread, the switch interval is :data:`SWITCH_INTERVAL_S` (restored
when the draw has been handed over), and the world evaluates its fading in larger calls
(:meth:`World.draw_in_large_calls`): ``greedy`` at 10k x 100 went from 4.5 to 3.6 s for
20 slots (``benchmarks/bench_scale.py --only floor``).
"""

from __future__ import annotations

import sys
import threading

from mecsim.engine.world import SlotWorld, World

#: Fewer links than this: drawing in a thread does not pay. The world's work is then many
#: small numpy calls (a slot of ``dense_100``: 600 links, 100 fading steps), mostly Python
#: that holds the GIL, and the two threads only take turns: ``dense_100``'s four schedulers
#: took 26.1 s with it against 22.4 s; 1,000 x 100 links ran about 9 % faster, 10,000 x 100
#: 12-15 % faster.
MIN_LINKS = 10_000
#: [s] the interpreter's switch interval while a slot is drawn in the thread (default 5 ms)
SWITCH_INTERVAL_S = 1e-4


def worth_it(world: World, slots: int) -> bool:
    """Whether to draw ``world``'s slots ahead in a run of ``slots`` slots."""
    return slots > 1 and world.prefetchable and world.links >= MIN_LINKS


def normals_worth_it(world: World, slots: int) -> bool:
    """Whether to draw a small world's shadowing normals ahead instead (below ``MIN_LINKS``)."""
    return slots > 1 and world.links < MIN_LINKS


class WorldAhead:
    """Hands out a world's slots in order, drawing each next one in a background thread.

    Args:
        world: The world to advance; nothing else may call its ``next_slot`` meanwhile.
    """

    def __init__(self, world: World) -> None:
        self._world = world
        self._thread: threading.Thread | None = None
        self._result: tuple[SlotWorld | None, BaseException | None] = (None, None)
        self._interval: float | None = None  # [s] the switch interval to restore
        world.draw_in_large_calls()

    def next_slot(self, more: bool) -> SlotWorld:
        """Return the next slot; with ``more``, start drawing the one after it.

        Raises:
            Exception: Whatever ``World.next_slot`` raised for this slot.
        """
        if self._thread is None:
            slot = self._world.next_slot()
        else:
            self._join()
            slot, error = self._result
            self._result = (None, None)
            if error is not None:
                raise error
        if more:
            self._thread = threading.Thread(target=self._draw, name="mecsim-world",
                                            daemon=True)
            self._interval = sys.getswitchinterval()
            sys.setswitchinterval(SWITCH_INTERVAL_S)
            self._thread.start()
        return slot

    def close(self) -> None:
        """Wait for a slot being drawn and drop it (the run stopped early; idempotent)."""
        self._join()
        self._result = (None, None)

    def _join(self) -> None:
        """Wait for the draw in flight, if any, and restore the switch interval."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._interval is not None:
            sys.setswitchinterval(self._interval)
            self._interval = None

    def _draw(self) -> None:
        try:
            self._result = (self._world.next_slot(), None)
        except BaseException as exc:  # noqa: BLE001 - handed to the engine's thread
            self._result = (None, exc)
