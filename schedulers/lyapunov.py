"""``lyapunov``: drift-plus-penalty offloading (Neely, "Stochastic Network Optimization", 2010).

Every queue the engine simulates is a queue of *work in seconds*: MEC ``j`` holds
``Q_j = B_j / Fmax_j`` (its backlog in cycles, tasks still uploading to it included), IoTD
``i``'s CPU holds ``Q_loc_i`` and its uplink ``Q_up_i`` (the time each needs for the jobs
it holds). Each drains at one second per second. With ``L = sum Q^2 / 2``, the one-slot
drift is bounded by a constant plus ``sum_q Q_q x (work added to q)``, so minimising, each
slot,

    V x cost(a)  +  sum_j Q_j F_i / Fmax_j [i -> j]
                 +  sum_i Q_up_i D_i / r_ij [i -> j]  +  sum_i Q_loc_i F_i / f0_i [i local]

keeps every queue stable at any load some scheduler can serve, with a slot cost within
``O(1/V)`` of the best stable one and queues of ``O(V)``: ``V`` trades cost for backlog.
``cost(a)`` is the spec's slot cost (:class:`~mecsim.model.SlotProblem`); the queue terms
are a per-(task, choice) price (:func:`mecsim.model.drift_price`), so the problem keeps its
shape and :func:`mecsim.model.solve_optimum` solves it exactly (min-cost flow when the
cycles are equal, exhaustive search when small) or by local search with a lower bound.
See ``docs/peers.md`` for the trade-off measured on a sweep of ``V``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mecsim.model import drift_price, solve_optimum
from mecsim.model.optimum import EXHAUSTIVE_LIMIT
from mecsim.scheduler import Decision, Observation, Scheduler
from schedulers._capacity import as_count
from schedulers.optimal import with_failures

#: Default penalty weight ``V`` [s^2 per unit of cost] (``docs/peers.md``: the sweep).
DEFAULT_V = 0.1


class Lyapunov(Scheduler):
    """Minimise ``V x slot cost + queue-weighted work`` each slot, exactly where it can.

    ``Decision.info`` holds ``method`` (the solver's), ``objective_exact`` (the placement
    is proven to minimise the drift-plus-penalty objective) and ``queue_s`` (the largest
    queue seen, in seconds). The spec's ``lower_bound``/``exact`` keys are not given: they
    would be about a different objective.

    Args:
        v: The penalty weight ``V`` (> 0) [s^2 per unit of cost]. Large: the myopic
            optimum (``optimal``); small: the queues first.
        exhaustive_limit: As for ``optimal``.
        starts: As for ``optimal``.

    Raises:
        ValueError: If a parameter is out of range.
    """

    centralized = True

    def __init__(self, v: float = DEFAULT_V, exhaustive_limit: int = EXHAUSTIVE_LIMIT,
                 starts: int = 8) -> None:
        super().__init__(**_checked(v, exhaustive_limit, starts))

    @property
    def v(self) -> float:
        """The penalty weight ``V``."""
        return self.params["v"]

    def load(self, path: Any) -> None:
        """Restore the parameters :meth:`save` wrote (validated again)."""
        super().load(path)
        self.params = _checked(self.params.get("v", DEFAULT_V),
                               self.params.get("exhaustive_limit", EXHAUSTIVE_LIMIT),
                               self.params.get("starts", 8))

    def decide(self, observation: Observation) -> Decision:
        """Return the placement minimising the slot's drift-plus-penalty objective."""
        problem = with_failures(observation)
        queues = observation.waits()
        price, mec_weight = drift_price(problem, queues, self.v)
        priced = problem.replaced(price=price, mec_weight=mec_weight)
        result = solve_optimum(priced, exhaustive_limit=self.params["exhaustive_limit"],
                               starts=self.params["starts"], rng=self.rng)
        largest = max(float(np.max(queues.mec_s, initial=0.0)),
                      float(np.max(queues.local_s, initial=0.0)),
                      float(np.max(queues.uplink_s, initial=0.0)))
        return Decision(np.asarray(result.placement, dtype=np.int64),
                        info={"method": str(result.method),
                              "objective_exact": bool(result.exact), "queue_s": largest})


def _checked(v: Any, exhaustive_limit: Any, starts: Any) -> dict[str, Any]:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer,
                                                                np.floating)) \
            or not np.isfinite(v) or v <= 0:
        raise ValueError(f"v must be a finite number > 0, got {v!r}")
    return {"v": float(v), "exhaustive_limit": as_count("exhaustive_limit", exhaustive_limit, 1),
            "starts": as_count("starts", starts, 0)}
