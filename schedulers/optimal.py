"""The ``optimal`` yardstick: the exact optimum of each slot (spec section 5)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from mecsim.model import SlotProblem, solve_optimum
from mecsim.model.optimum import EXHAUSTIVE_LIMIT
from mecsim.scheduler import Decision, Observation, Scheduler
from schedulers._capacity import as_count

# [s] default wall-time budget of a slot's decision: at 10,000 IoTDs x 100 MECs a whole slot
# (the decision, the next slot's world drawn alongside, the task events and the records)
# then stays within 10 s (benchmarks/bench_scale.py --only optimal)
TIME_BUDGET_S = 9.0


class Optimal(Scheduler):
    """Solve each slot's placement problem exactly, with full information.

    It calls :func:`mecsim.model.solve_optimum` on ``observation.problem``: exhaustive
    search when ``(1 + available MECs)^n <= 1024``, a min-cost flow when all tasks have
    equal cycles, exhaustive search when ``(1 + available MECs)^n <= exhaustive_limit``,
    else the best of a multi-start local search with a convex relaxation lower bound; the
    search also starts from each task's IoTD's placement in its previous slot with tasks
    (kept by the scheduler, cleared by :meth:`reset`). The optimum is that of the spec's
    per-slot model: it ignores the MECs' backlog (it is the yardstick of the model
    objective, not of the simulated latency). A failed MEC (``observation.available``) is
    never used.

    ``Decision.info`` holds ``exact`` (True when the placement is proven optimal),
    ``lower_bound`` (a proven lower bound on the slot's optimal objective; equal to the
    placement's cost when exact) and ``method`` (``"exhaustive"``, ``"min_cost_flow"`` or
    ``"local_search"``). Where ``exact`` is False, report the result as a bound.

    With ``backlog=True`` (registered as ``optimal_backlog``) it solves the backlog-aware
    problem instead (:meth:`Observation.backlog_problem`, ``docs/model.md``): each choice's
    latency includes the work queued ahead of it. Its ``lower_bound`` is then one of that
    problem's objective, which the engine does not record; ``info`` says
    ``"objective": "backlog"``.

    Args:
        exhaustive_limit: Largest number of placements enumerated exhaustively (>= 1;
            integral floats such as ``2e6`` are accepted).
        starts: Random starts of the local search (>= 0), drawn from ``self.rng``.
        backlog: Price each choice with the backlog ahead of it.
        time_budget_s: Wall-time budget of a slot's decision [s], counted from the call of
            :meth:`decide` (default 9, so that a whole slot at 10,000 IoTDs x 100 MECs
            stays within 10 s; ``None``: none). Past it the best placement found is applied
            with the relaxation's lower bound, labelled a bound (``exact`` False, method
            ``local_search_budget``): at 10,000 IoTDs x 100 MECs a full local search takes
            minutes. The exact methods (min-cost flow, exhaustive) ignore it.

    Raises:
        ValueError: If a parameter is not an integer in range, or ``time_budget_s`` not a
            number > 0 or None.
    """

    centralized = True

    def __init__(self, exhaustive_limit: int = EXHAUSTIVE_LIMIT, starts: int = 8,
                 backlog: bool = False, time_budget_s: float | None = TIME_BUDGET_S) -> None:
        super().__init__(**_checked(exhaustive_limit, starts, backlog, time_budget_s))
        self._last: np.ndarray | None = None  # [-] (N,) each IoTD's last placement, -1: none

    @property
    def exhaustive_limit(self) -> int:
        """Largest number of placements enumerated exhaustively."""
        return self.params["exhaustive_limit"]

    @property
    def starts(self) -> int:
        """Random starts of the local search."""
        return self.params["starts"]

    def reset(self, seed: int, network: Any) -> None:
        """Start a run: seed the random starts and forget the previous slot's placement."""
        super().reset(seed, network)
        self._last = None

    def load(self, path: Any) -> None:
        """Restore the parameters :meth:`save` wrote (validated again)."""
        super().load(path)
        self.params = _checked(self.params.get("exhaustive_limit", EXHAUSTIVE_LIMIT),
                               self.params.get("starts", 8), self.params.get("backlog", False),
                               self.params.get("time_budget_s", TIME_BUDGET_S))

    def decide(self, observation: Observation) -> Decision:
        """Return the optimal placement and how it is known to be optimal.

        Args:
            observation: The epoch's observation (``problem`` and ``available`` are read).

        Returns:
            A decision without allocation (the engine applies the exact one) and with
            ``info = {"exact", "lower_bound", "method"}``.
        """
        started = time.perf_counter()
        problem = with_failures(observation)
        if self.params["backlog"]:
            problem = problem.replaced(waits=observation.waits())
        budget = self.params["time_budget_s"]
        if budget is not None:  # what is left of it once the problem is built
            budget = max(budget - (time.perf_counter() - started), 0.0)
        result = solve_optimum(problem, exhaustive_limit=self.exhaustive_limit,
                               starts=self.starts, rng=self.rng, time_budget_s=budget,
                               warm=self._warm(observation.iotd))
        self._remember(observation.iotd, result.placement)
        if self.params["backlog"]:
            return Decision(np.asarray(result.placement, dtype=np.int64),
                            info={"objective": "backlog", "method": str(result.method),
                                  "objective_exact": bool(result.exact)})
        return Decision(np.asarray(result.placement, dtype=np.int64),
                        info={"exact": bool(result.exact),
                              "lower_bound": float(result.lower_bound),
                              "method": str(result.method)})

    def _warm(self, iotd: np.ndarray) -> np.ndarray | None:
        """Each task's IoTD's placement in its last slot with tasks (-1: none), or None."""
        last = self._last
        if last is None or iotd.size == 0 or int(iotd.max()) >= last.size:
            return None
        return last[iotd]

    def _remember(self, iotd: np.ndarray, placement: np.ndarray) -> None:
        """Keep each IoTD's placement for the next slot's warm start."""
        if iotd.size == 0:
            return
        last = self._last
        size = max(int(iotd.max()) + 1, self.network.n_iotds if self.network else 0)
        if last is None or last.size < size:
            grown = np.full(size, -1, dtype=np.int64)
            if last is not None:
                grown[:last.size] = last
            self._last = last = grown
        last[iotd] = placement


def with_failures(observation: Observation) -> SlotProblem:
    """Return the slot problem with ``observation.available`` folded into its availability."""
    p = observation.problem
    available = p.available & np.asarray(observation.available, dtype=bool)
    if np.array_equal(available, p.available):
        return p
    return p.replaced(available=available)


def _checked(exhaustive_limit: Any, starts: Any, backlog: Any = False,
             time_budget_s: Any = TIME_BUDGET_S) -> dict[str, Any]:
    if time_budget_s is not None:
        ok = isinstance(time_budget_s, (int, float, np.integer, np.floating)) and \
            not isinstance(time_budget_s, bool) and time_budget_s > 0
        if not ok:
            raise ValueError(f"time_budget_s must be a number > 0 [s] or None, "
                             f"got {time_budget_s!r}")
        time_budget_s = float(time_budget_s)
    if not isinstance(backlog, (bool, np.bool_)):
        raise ValueError(f"backlog must be true or false, got {backlog!r}")
    return {"exhaustive_limit": as_count("exhaustive_limit", exhaustive_limit, 1),
            "starts": as_count("starts", starts, 0), "backlog": bool(backlog),
            "time_budget_s": time_budget_s}
