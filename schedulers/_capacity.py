"""The baselines' "insufficient resources" rule, shared by ``random`` and ``greedy``.

The paper (Sec. VI-C) sends a task to a MEC unless "the computational resource of the
allocated MEC is insufficient", in which case the IoTD runs it locally, without saying what
insufficient means. mecsim defines it on the **MEC's CPU load**, as a per-MEC task limit:

- MEC ``j``'s CPU holds at most ``L_j`` tasks at once. At an epoch it accepts at most
  ``max(L_j - c_j, 0)`` new tasks, ``c_j`` being the tasks **at its CPU**
  (``Observation.mec_cpu_tasks[j]``: arrived at the MEC, upload done, and not ended); a
  failed MEC accepts none. **Tasks still uploading do not count**: an upload stuck behind a
  deep fade uses the IoTD's uplink, not the MEC's CPU, so a few stalled uplinks cannot fill
  every MEC and silently turn the baseline into ``local``. (An observation without
  ``mec_cpu_tasks``, one not made by the engine, counts its whole ``backlog_tasks``.)
- ``L_j = max_tasks_per_mec`` when that scheduler parameter is given; otherwise it follows
  from a **minimum CPU share**: ``L_j = floor(Fmax_j / f_min)``, so that under the CPU's
  processor sharing with equal shares every task at the MEC gets at least ``f_min``
  cycles/s. ``f_min`` is the parameter ``min_cpu_share_hz``, by default the fastest local
  CPU of the network (``max f0``): no task is offloaded to a share slower than an IoTD's own
  CPU. With the paper's defaults (``Fmax = 50 GHz``, ``f0 = 1 GHz``) that is 50 tasks per
  MEC. The epoch's new tasks count against the limit with those at the CPU; earlier tasks
  still uploading join the CPU later, so its task count can pass ``L_j`` for a while when
  many uploads end at once.
- Parameter ``count_uploads=True`` counts the tasks still uploading too (the whole
  ``Observation.backlog_tasks``): the rule of mecsim before this definition, kept to
  reproduce older figures. ``count_backlog=False`` counts neither: then ``L_j`` bounds only
  the epoch's new tasks.
- Optional, off by default: ``max_uplink_wait_s`` (seconds) also sends local the tasks of
  an IoTD whose *own* uplink already holds more than that much queued upload time
  (``Observation.uplink_busy_s``), before the MEC limits apply. It is the device's side of
  "insufficient resources", one IoTD at a time: a stalled uplink makes its own IoTD compute
  locally and nobody else. Without it ``random`` keeps feeding uplinks that crawl through
  deep fades to far MECs: on ``dense_100.yaml`` its mean latency was still rising at 1000
  slots (10.1 s at 400, 13.7 s at 1000); with ``max_uplink_wait_s: 1`` it settles (3.6 s /
  3.7 s) and ``greedy`` moves from 1.42 / 1.44 s to 1.35 / 1.34 s.
- When more tasks are sent to a MEC than it accepts, **the tasks with the most cycles run
  locally first** ("the IoTDs who need more computing resources execute the task
  locally"); among equal cycles the later task (higher index in the slot) goes local first.
  Bumped tasks run locally; they are not re-sent to another MEC.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mecsim.scheduler import Network, Observation, Scheduler


def task_room(observation: Observation, local_cpu_hz: np.ndarray, *,
              max_tasks_per_mec: int | None = None,
              min_cpu_share_hz: float | None = None, count_backlog: bool = True,
              count_uploads: bool = False) -> np.ndarray:
    """Return how many of the epoch's tasks each MEC still accepts.

    Args:
        observation: The epoch's observation (capacities, availability, load).
        local_cpu_hz: The IoTDs' CPU frequencies ``f0`` [cycle/s]; their maximum is the
            default minimum share.
        max_tasks_per_mec: Fixed limit ``L`` on the tasks a MEC's CPU holds; ``None``
            derives it from the minimum CPU share.
        min_cpu_share_hz: Minimum equal-split share ``f_min`` [cycle/s]; ``None`` uses
            ``max(local_cpu_hz)``. Ignored when ``max_tasks_per_mec`` is given.
        count_backlog: Count the tasks already at the MEC against the limit (default);
            ``False`` limits only the epoch's new tasks.
        count_uploads: Count the tasks still uploading to the MEC too (the whole
            ``backlog_tasks``; the older rule). Default ``False``: only those at its CPU.

    Returns:
        ``(M,)`` non-negative integers; 0 for a failed MEC.
    """
    problem = observation.problem
    fmax = problem.mec_cpu_hz
    if max_tasks_per_mec is not None:
        limit = np.full(fmax.shape, int(max_tasks_per_mec), dtype=np.int64)
    else:
        share = min_cpu_share_hz
        if share is None:
            f0 = np.asarray(local_cpu_hz, dtype=float)
            share = float(f0.max()) if f0.size else float(fmax.max())
        # the 1e-9 slack keeps an exact ratio (50e9 / 1e9) from flooring to 49
        limit = np.floor(fmax / share * (1.0 + 1e-9)).astype(np.int64)
    room = np.maximum(limit - held_tasks(observation, count_backlog, count_uploads), 0)
    usable = np.asarray(observation.available, dtype=bool) & problem.available
    return np.where(usable, room, 0)


def held_tasks(observation: Observation, count_backlog: bool = True,
               count_uploads: bool = False) -> np.ndarray:
    """Return ``(M,)`` the tasks that count against each MEC's limit.

    Args:
        observation: The epoch's observation.
        count_backlog: ``False``: none (all zero).
        count_uploads: Count the tasks still uploading too (``backlog_tasks``); by default
            only those at the CPU (``mec_cpu_tasks``, or ``backlog_tasks`` when the
            observation lacks it).

    Returns:
        ``(M,)`` non-negative integers.
    """
    at_cpu = observation.mec_cpu_tasks
    held = observation.backlog_tasks if count_uploads or at_cpu is None else at_cpu
    held = np.asarray(held, dtype=np.int64)
    return held if count_backlog else np.zeros_like(held)


def enforce_room(placement: np.ndarray, cycles: np.ndarray, room: np.ndarray) -> np.ndarray:
    """Send the tasks with the most cycles local until no MEC takes more than its room.

    Args:
        placement: ``(n,)`` wished placement (0 = local, ``j`` = MEC ``j``).
        cycles: ``(n,)`` task cycles [cycle].
        room: ``(M,)`` tasks each MEC still accepts (see :func:`task_room`).

    Returns:
        A new ``(n,)`` placement in which MEC ``j`` holds at most ``room[j-1]`` tasks: those
        with the fewest cycles (ties: lower index first); the others run locally.
    """
    a = np.array(placement, dtype=np.int64)
    n = a.size
    if n == 0:
        return a
    index = np.arange(n)
    order = np.lexsort((index, np.asarray(cycles, dtype=float), a))  # by MEC, cycles, index
    sorted_a = a[order]
    rank = index - np.searchsorted(sorted_a, sorted_a, side="left")
    limit = np.concatenate(([n], np.asarray(room, dtype=np.int64)))[sorted_a]
    over = (sorted_a > 0) & (rank >= limit)
    a[order[over]] = 0
    return a


def reachable(observation: Observation) -> np.ndarray:
    """Return ``(n, M)`` True where task ``i`` may go to MEC ``j`` (available, gain > 0)."""
    problem = observation.problem
    usable = np.asarray(observation.available, dtype=bool) & problem.available
    return usable[None, :] & (problem.gains > 0)


class CapacityLimited(Scheduler):
    """Base of the baselines that apply the insufficient-resources rule of this module.

    Args:
        max_tasks_per_mec: Fixed limit on the tasks a MEC's CPU holds (``None``: derived
            from ``min_cpu_share_hz``).
        min_cpu_share_hz: Minimum equal-split CPU share per task [cycle/s] (``None``: the
            fastest IoTD CPU of the network).
        count_backlog: Count the tasks already at each MEC against its limit (default);
            ``False`` limits only the tasks of the current epoch.
        count_uploads: Count the tasks still uploading to a MEC as well as those at its
            CPU (the older rule; default ``False``: uploads do not count).
        max_uplink_wait_s: Run locally the tasks of an IoTD whose own uplink holds more
            than this much queued upload time [s] (``None``, the default: no such rule).

    Raises:
        ValueError: If ``max_tasks_per_mec`` is not an integer >= 0 (integral floats such as
            ``5.0`` are accepted), ``min_cpu_share_hz`` not a finite number > 0, or
            ``count_backlog`` or ``count_uploads`` not a bool, or ``max_uplink_wait_s``
            not a number >= 0 or None.
    """

    def __init__(self, max_tasks_per_mec: int | None = None,
                 min_cpu_share_hz: float | None = None, count_backlog: bool = True,
                 count_uploads: bool = False, max_uplink_wait_s: float | None = None) -> None:
        super().__init__(**_checked(max_tasks_per_mec, min_cpu_share_hz, count_backlog,
                                    count_uploads, max_uplink_wait_s))

    @property
    def max_tasks_per_mec(self) -> int | None:
        """The fixed per-MEC task limit, or ``None`` when derived from the CPU share."""
        return self.params["max_tasks_per_mec"]

    @property
    def min_cpu_share_hz(self) -> float | None:
        """The minimum CPU share [cycle/s], or ``None`` for the fastest IoTD CPU."""
        return self.params["min_cpu_share_hz"]

    @property
    def count_backlog(self) -> bool:
        """Whether the tasks already at each MEC count against its limit."""
        return self.params["count_backlog"]

    @property
    def count_uploads(self) -> bool:
        """Whether tasks still uploading to a MEC count against its limit (older rule)."""
        return self.params["count_uploads"]

    def load(self, path: Any) -> None:
        """Restore the parameters :meth:`save` wrote (validated again)."""
        super().load(path)
        self.params = _checked(self.params.get("max_tasks_per_mec"),
                               self.params.get("min_cpu_share_hz"),
                               self.params.get("count_backlog", True),
                               self.params.get("count_uploads", False),
                               self.params.get("max_uplink_wait_s"))

    def room(self, observation: Observation) -> np.ndarray:
        """Return ``(M,)`` how many new tasks each MEC accepts at this epoch."""
        return task_room(observation, self.network_or_raise().local_cpu_hz,
                         max_tasks_per_mec=self.max_tasks_per_mec,
                         min_cpu_share_hz=self.min_cpu_share_hz,
                         count_backlog=self.count_backlog, count_uploads=self.count_uploads)

    def limit(self, observation: Observation, placement: np.ndarray) -> np.ndarray:
        """Apply the rule to a wished placement: the uplink wait (if set), then the room."""
        placement = np.asarray(placement, dtype=np.int64)
        wait = self.params["max_uplink_wait_s"]
        busy = observation.uplink_busy_s if wait is not None and placement.size else None
        if busy is not None:  # read only when used: the engine computes it on first read
            placement = np.where(np.asarray(busy)[observation.iotd] > wait, 0, placement)
        return enforce_room(placement, observation.problem.cycles, self.room(observation))

    def network_or_raise(self) -> Network:
        """Return the network given to :meth:`reset`.

        Raises:
            RuntimeError: If :meth:`reset` was not called.
        """
        if self.network is None:
            raise RuntimeError(f"{type(self).__name__}.reset(seed, network) must be called "
                               "before decide()")
        return self.network


def _checked(max_tasks_per_mec: Any, min_cpu_share_hz: Any, count_backlog: Any,
             count_uploads: Any, max_uplink_wait_s: Any = None) -> dict[str, Any]:
    if max_tasks_per_mec is not None:
        max_tasks_per_mec = as_count("max_tasks_per_mec", max_tasks_per_mec, 0)
    if min_cpu_share_hz is not None:
        ok = isinstance(min_cpu_share_hz, (int, float, np.floating, np.integer)) and not \
            isinstance(min_cpu_share_hz, bool) and math.isfinite(min_cpu_share_hz) and \
            min_cpu_share_hz > 0
        if not ok:
            raise ValueError(f"min_cpu_share_hz must be a finite number > 0 [cycle/s] or None, "
                             f"got {min_cpu_share_hz!r}")
        min_cpu_share_hz = float(min_cpu_share_hz)
    for name, flag in (("count_backlog", count_backlog), ("count_uploads", count_uploads)):
        if not isinstance(flag, (bool, np.bool_)):
            raise ValueError(f"{name} must be true or false, got {flag!r}")
    if max_uplink_wait_s is not None:
        ok = isinstance(max_uplink_wait_s, (int, float, np.floating, np.integer)) and not \
            isinstance(max_uplink_wait_s, bool) and max_uplink_wait_s >= 0
        if not ok:
            raise ValueError(f"max_uplink_wait_s must be a number >= 0 [s] or None, "
                             f"got {max_uplink_wait_s!r}")
        max_uplink_wait_s = float(max_uplink_wait_s)
    return {"max_tasks_per_mec": max_tasks_per_mec, "min_cpu_share_hz": min_cpu_share_hz,
            "count_backlog": bool(count_backlog), "count_uploads": bool(count_uploads),
            "max_uplink_wait_s": max_uplink_wait_s}


def as_count(name: str, value: Any, low: int) -> int:
    """Return ``value`` as an ``int >= low``; integral floats (``5.0``, YAML's ``1e3``) pass.

    Raises:
        ValueError: If ``value`` is a bool, not integral, or below ``low``; names ``name``.
    """
    integral = isinstance(value, (int, np.integer)) or (
        isinstance(value, (float, np.floating)) and math.isfinite(value)
        and float(value).is_integer())
    if isinstance(value, (bool, np.bool_)) or not integral or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)
