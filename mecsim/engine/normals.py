"""A generator's standard normals drawn ahead, in a background thread, with the same values.

Used for the shadowing walk of a small world (:meth:`mecsim.engine.world.World.draw_normals_ahead`).
"""

from __future__ import annotations

import threading

import numpy as np


class NormalsAhead:
    """A generator's standard normals, drawn ahead in a background thread, handed out in order.

    ``take(shape)`` returns the next ``prod(shape)`` normals of the generator's sequence:
    exactly what ``rng.standard_normal(shape)`` would have drawn in turn, since numpy fills
    an array one normal after the other (``standard_normal(a + b)`` is
    ``standard_normal(a)`` then ``standard_normal(b)``). The filling of a block runs
    without the GIL, so on a second core it costs the engine's thread nothing. Nothing else
    may draw from ``rng`` meanwhile; the generator ends up to one block ahead of the
    normals handed out.

    This pays for a small world, where :class:`mecsim.engine.prefetch.WorldAhead` does
    not: the shadowing walk of a slot of ``dense_100`` (100 fading steps) draws about
    48,000 normals, a third of the world's time, in one numpy call that needs no GIL.

    Args:
        rng: The generator (its own stream).
        block: Normals per block, >= 1 (a block that a ``take`` needs more than is drawn
            at once, in the caller's thread).
    """

    def __init__(self, rng, block: int) -> None:
        if block < 1:
            raise ValueError(f"block must be >= 1, got {block!r}")
        self._rng, self._block = rng, int(block)
        self._buf = np.empty(0)  # the block being handed out
        self._pos = 0  # normals of _buf handed out
        self._next: np.ndarray | None = None  # the block drawn ahead
        self._thread: threading.Thread | None = None

    def take(self, shape: tuple[int, ...]) -> np.ndarray:
        """Return the next normals as a ``shape`` float64 array the caller may write.

        It may be a view of a block: no other ``take`` ever hands out that part again.
        """
        count = int(np.prod(shape, dtype=np.int64))
        left = self._buf.size - self._pos
        if count <= left:
            out = self._buf[self._pos:self._pos + count]
            self._pos += count
            return out.reshape(shape)
        out = np.empty(count)
        out[:left] = self._buf[self._pos:]
        need = count - left
        block = self._following()
        if block.size < need:  # more than a block: the rest now, in this thread
            out[left:left + block.size] = block
            self._rng.standard_normal(out=out[left + block.size:])
            self._buf, self._pos = np.empty(0), 0
        else:
            out[left:] = block[:need]
            self._buf, self._pos = block, need
        self._start()
        return out.reshape(shape)

    def close(self) -> None:
        """Wait for a block being drawn (idempotent); ``take`` may still be called."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _following(self) -> np.ndarray:
        """The block after ``_buf``: the one drawn ahead, or one drawn now."""
        if self._thread is None:
            return self._rng.standard_normal(self._block)
        self._thread.join()
        self._thread = None
        block, self._next = self._next, None
        if block is None:  # the thread failed (out of memory): draw it here, or raise here
            block = self._rng.standard_normal(self._block)
        return block

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._draw, name="mecsim-normals", daemon=True)
        self._thread.start()

    def _draw(self) -> None:
        try:
            self._next = self._rng.standard_normal(self._block)
        except BaseException:  # noqa: BLE001 - _following draws it again, in its thread
            self._next = None
