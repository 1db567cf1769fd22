"""Queues in the slot's problem: waits behind the backlog, and drift-plus-penalty prices.

The spec's per-slot model prices a placement as if every MEC, CPU and uplink were empty at
the epoch. The engine simulates what was left over. Two ways of bringing it back into a
slot's problem, both per (task, choice), so every solver of :mod:`mecsim.model.optimum`
(the min-cost flow, exhaustive search, the local search and its bound) works unchanged:

* :func:`backlog_waits` -> :class:`~mecsim.model.problem.Waits`: the *backlog-aware* cost,
  each task's latency lengthened by the work queued ahead of it (``docs/model.md``);
* :func:`drift_price`: the *drift-plus-penalty* price of Neely's Lyapunov optimisation,
  ``sum_q Q_q x (work the slot adds to queue q) / V`` with every queue ``Q`` in seconds of
  work (``docs/peers.md``, the ``lyapunov`` scheduler).
"""

from __future__ import annotations

import numpy as np

from mecsim.model._validate import as_array
from mecsim.model.problem import SlotProblem, Waits

#: Largest wait a queue is reported with [s]: a line whose channel gives it no rate at all
#: in this slot would otherwise wait forever (a finite stand-in keeps the table finite).
MAX_WAIT_S = 1e6


def backlog_waits(problem: SlotProblem, mec_backlog_cycles, local_busy_s, uplink_busy_s
                  ) -> Waits:
    """Return the waits of a slot's tasks behind the work already queued.

    Args:
        problem: The slot's problem (its tasks and MEC capacities).
        mec_backlog_cycles: ``(M,)`` cycles queued, in service or still uploading to each
            MEC [cycle].
        local_busy_s: ``(n,)`` time each task's IoTD's CPU needs for the jobs it holds [s].
        uplink_busy_s: ``(n,)`` time each task's IoTD's uplink needs for its uploads [s].

    Returns:
        The waits, ``mec_s = B_j / Fmax_j``, each capped at :data:`MAX_WAIT_S`.
    """
    n, m = problem.n_tasks, problem.n_mecs
    backlog = as_array("mec_backlog_cycles", mec_backlog_cycles, shape=(m,), nonnegative=True)
    local = as_array("local_busy_s", np.minimum(local_busy_s, MAX_WAIT_S), shape=(n,),
                     nonnegative=True)
    uplink = as_array("uplink_busy_s", np.minimum(uplink_busy_s, MAX_WAIT_S), shape=(n,),
                      nonnegative=True)
    return Waits(local, uplink, np.minimum(backlog / problem.mec_cpu_hz, MAX_WAIT_S))


def drift_price(problem: SlotProblem, queues: Waits, v: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Return the drift price of each choice and of each MEC's batch, divided by ``V``.

    Every queue is in seconds of work and drains at one second per second. A task kept on
    its IoTD adds ``F / f0`` to its CPU's queue ``Q_loc``; one offloaded to MEC ``j`` adds
    ``D / r_ij`` (at the optimal power) to its uplink's queue ``Q_up`` and ``F / Fmax_j`` to
    the MEC's ``Q_j``. A queue ``Q`` that gains ``a`` and serves ``b`` in a slot changes
    ``Q^2 / 2`` by at most ``Q (a - b) + (a^2 + b^2) / 2``; the price is the part that
    depends on the placement:

    * ``Q x a`` for every queue: linear, one entry per (task, choice) (the returned table);
    * ``a^2 / 2`` for the MECs, ``(sum_{i on j} F_i)^2 / (2 Fmax_j^2)``, which keeps one
      slot's tasks from all joining the queue that was shortest at its start. It is priced
      as ``mean(F) (sum sqrt F_i)^2 / (2 Fmax_j^2)`` (the returned ``mec_weight``), the
      shape of the slot's CPU term: exact when the cycles are equal. The ``a^2 / 2`` of an
      IoTD's CPU and uplink (several tasks of one IoTD in one slot) is left out.

    Args:
        problem: The slot's problem (without a price).
        queues: The queues [s], as :func:`backlog_waits` returns them.
        v: The penalty weight ``V`` [s^2 per unit of cost], > 0: large ``V`` follows the
            slot cost (the myopic optimum), small ``V`` empties the queues first.

    Returns:
        ``(price, mec_weight)``: the ``(n, M+1)`` table (0 where a choice is infeasible; its
        cost stays inf there) and the ``(M,)`` extra weight of the quadratic term, both
        divided by ``V`` (for :class:`~mecsim.model.problem.SlotProblem`).
    """
    if isinstance(v, bool) or not (isinstance(v, (int, float)) and np.isfinite(v) and v > 0):
        raise ValueError(f"v must be a finite number > 0, got {v!r}")
    price = np.zeros((problem.n_tasks, problem.n_mecs + 1))
    price[:, 0] = queues.local_s * problem.cycles / problem.local_cpu_hz
    with np.errstate(invalid="ignore"):
        upload = np.where(np.isfinite(problem.upload_s),
                          queues.uplink_s[:, None] * problem.upload_s, 0.0)
    price[:, 1:] = upload + queues.mec_s[None, :] * (problem.cycles[:, None]
                                                     / problem.mec_cpu_hz[None, :])
    mean_cycles = float(problem.cycles.mean()) if problem.n_tasks else 0.0
    mec_weight = mean_cycles / (2.0 * problem.mec_cpu_hz**2)
    return price / float(v), mec_weight / float(v)
