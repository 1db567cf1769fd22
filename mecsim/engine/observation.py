"""The engine's observations: ``uplink_busy_s`` computed when a scheduler first reads it.

The uplink backlog estimate (:meth:`mecsim.engine.lines.FcfsLines.busy_s`) prices every
queued upload at its mean rate over the slot's fading steps: with long uplink queues
(``random`` on ``dense_100``) that is the fading of nearly every link at every step, most
of it for uploads that will not start in the slot. Most schedulers never read it (the
baselines, ``optimal``, the DRL peers but DROO), so the engine computes it only when one
does, during its decision, from the same state: the value is the one it would have had.

Once the decision is made the engine changes the lines, so an estimate never read by then
can no longer be computed as of the epoch. So if the scheduler kept the observation (a
replay buffer, a log: more references to it than the engine's own), the engine computes
the estimate then, before anything changes; if nobody kept it, nobody can read it later.
A first read after that of an observation reached another way (a weak reference) raises
``RuntimeError`` rather than return another moment's figure (:meth:`EpochObservation.seal`).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable

import numpy as np

from mecsim.scheduler import Observation


class _OnFirstRead:
    """A field computed on first read (a non-data descriptor: the value then shadows it)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: EpochObservation | None, owner: type):
        if instance is None:
            return None  # the dataclass default, for the class itself
        source = instance.__dict__.get("_source")
        if source is None:
            raise RuntimeError(
                f"Observation.{self.name} of slot {instance.slot} was first read after the "
                "decision: the engine computes it at the epoch, read it in decide()")
        value = instance.__dict__[self.name] = source()
        return value


class EpochObservation(Observation):
    """An :class:`Observation` whose ``uplink_busy_s`` comes from ``uplink()`` when first read.

    Made by :meth:`at_epoch`; the engine calls :meth:`seal` once the decision is made.
    Equal, field by field, to the observation with the estimate computed at once.
    """

    uplink_busy_s = _OnFirstRead()

    @classmethod
    def at_epoch(cls, uplink: Callable[[], np.ndarray], **fields) -> EpochObservation:
        """Build the observation of ``fields`` (every field but ``uplink_busy_s``).

        Args:
            uplink: Returns ``uplink_busy_s`` ``(N,)`` [s] as of the epoch (called at most
                once, at the first read).
            **fields: The other fields of :class:`Observation`.
        """
        obs = cls(**fields)
        del obs.__dict__["uplink_busy_s"]  # the descriptor answers from now on
        obs.__dict__["_source"] = uplink
        return obs

    def seal(self, keep: bool = False) -> None:
        """The decision is made: compute the estimate now if ``keep``, else forget how.

        Args:
            keep: Whether someone else still holds this observation (a scheduler that
                stored it): then an estimate not read yet is computed now, from the
                epoch's state, so that a later read gets it. Otherwise a first read from
                now on raises (idempotent).
        """
        if keep and "uplink_busy_s" not in self.__dict__ and self.__dict__["_source"]:
            _ = self.uplink_busy_s
        self.__dict__["_source"] = None

    @staticmethod
    def held_elsewhere(obs: EpochObservation, mine: int) -> bool:
        """Whether references to ``obs`` other than the caller's ``mine`` exist (CPython).

        Where the interpreter cannot count references, assume it is held.
        """
        count = getattr(sys, "getrefcount", None)
        # getrefcount's own argument and this function's parameter are two more
        return True if count is None else count(obs) - 2 > mine

    def __repr__(self) -> str:
        """The dataclass's repr, with ``uplink_busy_s=<not read>`` until it is read."""
        parts = []
        for f in dataclasses.fields(self):
            if f.name == "uplink_busy_s" and f.name not in self.__dict__:
                parts.append("uplink_busy_s=<not read>")
            else:
                parts.append(f"{f.name}={getattr(self, f.name)!r}")
        return f"{type(self).__name__}({', '.join(parts)})"
