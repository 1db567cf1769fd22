"""The exact optimum of a slot (spec section 5): the yardstick of every comparison.

:func:`solve_optimum` picks the method:

1. **min-cost flow** when every task has the same cycles ``F`` (the paper's setting): MEC
   ``j`` serving ``n_j`` tasks then costs ``phi_T F n_j^2 / Fmax_j``, whose ``k``-th unit costs
   ``phi_T F (2k - 1) / Fmax_j``. Splitting each MEC into unit slots turns the flow network
   (source -> task -> {local, MEC unit} -> sink) into an assignment problem, solved exactly
   by ``scipy.optimize.linear_sum_assignment``; exact for any ``n``, and faster than
   enumeration even for small ``n``;
2. **exhaustive** enumeration of every placement when ``(options)^n <= exhaustive_limit``
   (vectorised, in chunks, with :meth:`SlotProblem.batch_cost`); exact;
3. otherwise the best of a multi-start **local search**, reported with a **lower bound**
   from the convex relaxation (Frank-Wolfe duality gap); not claimed optimal.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from mecsim.model.problem import SlotProblem

EXHAUSTIVE_LIMIT = 2_000_000
_CHUNK = 1 << 16


@dataclass(frozen=True)
class OptimumResult:
    """The best placement found and how far it is known to be from the optimum.

    Attributes:
        placement: ``(n,)`` integers, 0 = local, ``j`` = MEC ``j``.
        cost: Its slot cost.
        lower_bound: A proven lower bound on the optimal cost (equal to ``cost`` when exact).
        method: ``"exhaustive"``, ``"min_cost_flow"`` or ``"local_search"``.
        exact: True when ``placement`` is proven optimal.
    """

    placement: np.ndarray
    cost: float
    lower_bound: float
    method: str
    exact: bool


def solve_optimum(problem: SlotProblem, *, exhaustive_limit: int = EXHAUSTIVE_LIMIT,
                  starts: int = 8, rng: np.random.Generator | None = None,
                  time_budget_s: float | None = None) -> OptimumResult:
    """Return the optimal placement, or the best found with a lower bound where not exact.

    Args:
        problem: The slot's problem.
        exhaustive_limit: Largest number of placements enumerated exhaustively.
        starts: Random starts of the local search (used only when no exact method applies).
        rng: Generator of the local search's random starts (default: seeded with 0).
        time_budget_s: Wall-time budget of the local search [s] (``None``: none). Past it
            the search returns its best placement so far with the relaxation's lower bound
            (``exact`` False, method ``local_search_budget``); the relaxation gets at most
            40 % of it. The exact methods (min-cost flow, exhaustive) ignore it.
    """
    options = _options(problem)
    if problem.n_tasks == 0:
        return OptimumResult(np.zeros(0, dtype=np.int64), 0.0, 0.0, "exhaustive", True)
    if equal_cycles(problem):
        return min_cost_flow(problem)
    # The log guard first: (1 + M)^n overflows a float from n of about 650 tasks.
    k, n = len(options), problem.n_tasks
    if n * math.log(k) <= math.log(exhaustive_limit) + 1e-9 and k**n <= exhaustive_limit:
        return exhaustive(problem)
    deadline = None if time_budget_s is None else time.perf_counter() + time_budget_s
    return local_search(problem, starts=starts, rng=rng, deadline=deadline)


def equal_cycles(problem: SlotProblem) -> bool:
    """Return True when all tasks have the same cycles (to 1e-12 relative)."""
    c = problem.cycles
    return bool(c.size == 0 or np.ptp(c) <= 1e-12 * c.max())


def exhaustive(problem: SlotProblem) -> OptimumResult:
    """Enumerate every placement over the available options; exact."""
    options = _options(problem)
    n, base = problem.n_tasks, len(options)
    total = base**n
    powers = base ** np.arange(n, dtype=np.int64)
    best_cost, best_index = np.inf, 0
    for start in range(0, total, _CHUNK):
        index = np.arange(start, min(start + _CHUNK, total), dtype=np.int64)
        digits = (index[:, None] // powers[None, :]) % base
        costs = problem.batch_cost(options[digits])
        k = int(np.argmin(costs))
        if costs[k] < best_cost:
            best_cost, best_index = float(costs[k]), int(index[k])
    placement = options[(best_index // powers) % base]
    return OptimumResult(placement, best_cost, best_cost, "exhaustive", True)


def min_cost_flow(problem: SlotProblem) -> OptimumResult:
    """Solve the equal-cycles problem exactly as an assignment to MEC unit slots.

    Only the first ``K_j`` units of MEC ``j`` can be used at the optimum. With ``n_j`` tasks
    there, each locally feasible one must save at least the last unit's marginal cost
    ``u_j (2 n_j - 1)`` over running locally (else moving it local lowers the cost), and
    the locally infeasible ones (``n_stuck``) cannot move. So ``n_j <= c_j(n_j) + n_stuck``
    with ``c_j(k)`` the number of locally feasible tasks whose local-minus-upload saving is
    at least ``u_j (2k - 1)``; ``K_j`` is the largest such ``k``.

    Raises:
        ValueError: If the tasks' cycles differ.
    """
    if not equal_cycles(problem):
        raise ValueError("min_cost_flow needs equal cycles for every task; use solve_optimum")
    n = problem.n_tasks
    table = problem.cost_table
    local = table[:, 0]
    unit = problem.cpu_weight * problem.cycles[0]  # [-] per MEC: phi_T F / Fmax_j (+ extra)
    blocks, owner = [], []
    for j, units in enumerate(unit_slots(problem)):
        if units == 0:
            continue  # unavailable, or even the first unit does not pay for itself
        marginal = unit[j] * (2 * np.arange(1, units + 1) - 1)
        blocks.append(table[:, j + 1, None] + marginal[None, :])
        owner.append(np.full(units, j + 1))
    blocks.append(np.repeat(local[:, None], n, axis=1))
    owner.append(np.zeros(n, dtype=np.int64))
    matrix = np.concatenate(blocks, axis=1)
    columns = np.concatenate(owner)
    rows, cols = linear_sum_assignment(_finite(matrix))
    placement = np.zeros(n, dtype=np.int64)
    placement[rows] = columns[cols]
    cost = problem.cost(placement)
    return OptimumResult(placement, cost, cost, "min_cost_flow", True)


def unit_slots(problem: SlotProblem) -> np.ndarray:
    """Return ``K_j``, the most tasks MEC ``j`` can hold at an optimum (equal cycles), ``(M,)``.

    See :func:`min_cost_flow`; 0 for an unavailable MEC.
    """
    n = problem.n_tasks
    table = problem.cost_table
    local = table[:, 0]
    unit = problem.cpu_weight * problem.cycles[0] if n else problem.cpu_weight
    free = np.isfinite(local)
    stuck = int(n - np.count_nonzero(free))  # tasks that cannot run locally
    ks = np.arange(1, n + 1)
    out = np.zeros(problem.n_mecs, dtype=np.int64)
    for j in np.flatnonzero(problem.available):
        with np.errstate(invalid="ignore"):
            saving = np.sort(local[free] - table[free, j + 1])  # ascending; -inf: no link
        # The k-th unit is usable only if k tasks can be there: the locally infeasible ones
        # and those whose saving covers the k-th unit's marginal cost u_j (2k - 1).
        covering = saving.size - np.searchsorted(saving, unit[j] * (2 * ks - 1), side="left")
        out[j] = np.count_nonzero(ks <= covering + stuck)  # a prefix: ks rises, covering falls
    return out


def local_search(problem: SlotProblem, *, starts: int = 8,
                 rng: np.random.Generator | None = None, max_moves: int | None = None,
                 deadline: float | None = None) -> OptimumResult:
    """Best of single-task-move descents from several starts, with a relaxation lower bound.

    Starts: all tasks at their cheapest single choice, all local (where feasible), the
    rounded convex relaxation, and ``starts`` random placements. With ``deadline`` (a
    ``time.perf_counter()`` value) the relaxation stops at 40 % of the time left, each
    descent stops at the deadline and no start begins after it: the result is then the
    best placement found, not a local optimum (method ``local_search_budget``).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    relax_by = None
    if deadline is not None:
        now = time.perf_counter()
        relax_by = now + 0.4 * max(deadline - now, 0.0)
    relaxed, bound = relaxation_bound(problem, deadline=relax_by)
    table = problem.cost_table
    candidates = [np.argmin(table, axis=1), np.argmax(relaxed, axis=1)]
    candidates.append(np.where(np.isfinite(table[:, 0]), 0, np.argmin(table, axis=1)))
    options = _options(problem)
    candidates += [options[rng.integers(0, options.size, problem.n_tasks)] for _ in range(starts)]
    best, cut = None, False
    for start in candidates:
        if best is not None and deadline is not None and time.perf_counter() > deadline:
            cut = True
            break
        if problem.n_tasks >= BATCH_TASKS and max_moves is None:
            placement = descend_batch(problem, start, deadline=deadline)
        else:
            placement = descend(problem, start, max_moves=max_moves, deadline=deadline)
        cost = problem.cost(placement)
        if best is None or cost < best[1]:
            best = (placement, cost)
    cut = cut or (deadline is not None and time.perf_counter() > deadline)
    placement, cost = best
    bound = min(bound, cost)
    exact = bool(cost - bound <= 1e-12 * max(abs(cost), 1.0))
    return OptimumResult(placement, cost, bound,
                         "local_search_budget" if cut else "local_search", exact)


def descend(problem: SlotProblem, placement, *, max_moves: int | None = None,
            deadline: float | None = None) -> np.ndarray:
    """Move one task at a time to the choice that lowers the cost most, until none does.

    Args:
        problem: The slot's problem.
        placement: ``(n,)`` start.
        max_moves: Cap on moves (default ``50 n``).
        deadline: Stop at this ``time.perf_counter()`` value (checked every 8 moves).

    Returns:
        A placement no single-task move improves.
    """
    a = np.array(placement, dtype=np.int64)
    n = a.size
    if n == 0:
        return a
    table, root, weight = problem.cost_table, problem.sqrt_cycles, problem.cpu_weight
    sums = np.bincount(a, weights=root, minlength=problem.n_mecs + 1)[1:]
    for move in range(max_moves if max_moves is not None else 50 * n):
        if deadline is not None and move % 8 == 7 and time.perf_counter() > deadline:
            break
        leave, delta = _move_deltas(table, root, weight, a, sums)
        flat = int(np.argmin(delta))
        i, j = divmod(flat, delta.shape[1])
        scale = abs(leave[i]) if np.isfinite(leave[i]) else 0.0  # leaving inf: any finite move
        if not delta[i, j] < -1e-12 * max(scale, 1e-300):
            break
        if a[i] > 0:
            sums[a[i] - 1] -= root[i]
        if j > 0:
            sums[j - 1] += root[i]
        a[i] = j
    return a


def _move_deltas(table: np.ndarray, root: np.ndarray, weight: np.ndarray, a: np.ndarray,
                 sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Price every single-task move of placement ``a`` (MEC sums ``sums`` of ``sqrt c``).

    Returns:
        ``leave (n,)``, each task's cost where it is (its MEC term's share included), and
        ``delta (n, M+1)``, the cost change of moving it to each choice (0 where it is,
        inf between two infeasible choices).
    """
    rows = np.arange(a.size)
    here = a - 1
    on_mec = here >= 0
    s_here = np.where(on_mec, sums[np.maximum(here, 0)], 0.0)
    w_here = np.where(on_mec, weight[np.maximum(here, 0)], 0.0)
    leave = table[rows, a] + w_here * (s_here**2 - (s_here - root) ** 2)
    join = np.empty_like(table)
    join[:, 0] = table[:, 0]
    join[:, 1:] = table[:, 1:] + weight * ((sums + root[:, None]) ** 2 - sums**2)
    with np.errstate(invalid="ignore"):
        delta = join - leave[:, None]
    delta[np.isnan(delta)] = np.inf  # inf - inf: from one infeasible choice to another
    delta[rows, a] = 0.0
    return leave, delta


BATCH_TASKS = 1000  # from this many tasks a slot, descents move tasks in batches


def descend_batch(problem: SlotProblem, placement, *, deadline: float | None = None
                  ) -> np.ndarray:
    """:func:`descend` with many moves per step: for large slots (``n >= BATCH_TASKS``).

    Each step prices every single-task move once (as :func:`descend` does for one move) and
    applies, best first, every improving move such that no MEC gains more than one task
    and loses more than one (local takes any number). Under those rules the cost falls by
    at least the sum of the moves' own savings: a MEC's term ``w (sum sqrt c)^2`` changes,
    for one task ``a`` joining and one ``b`` leaving, by ``-2 w r_a r_b`` less than the two
    moves priced apart. It stops when no single move improves, so its result is a local
    optimum of the same kind, reached in far fewer steps when ``M`` is large.

    Args:
        problem: The slot's problem.
        placement: ``(n,)`` start.
        deadline: Stop at this ``time.perf_counter()`` value.
    """
    a = np.array(placement, dtype=np.int64)
    n = a.size
    if n == 0:
        return a
    table, root, weight = problem.cost_table, problem.sqrt_cycles, problem.cpu_weight
    sums = np.bincount(a, weights=root, minlength=problem.n_mecs + 1)[1:]
    rows = np.arange(n)
    for _ in range(50 * n):
        if deadline is not None and time.perf_counter() > deadline:
            break
        leave, delta = _move_deltas(table, root, weight, a, sums)
        to = np.argmin(delta, axis=1)
        gain = delta[rows, to]
        scale = np.where(np.isfinite(leave), np.abs(leave), 0.0)
        movers = np.flatnonzero(gain < -1e-12 * np.maximum(scale, 1e-300))
        if movers.size == 0:
            break
        movers = movers[np.argsort(gain[movers], kind="stable")]
        joined = np.zeros(problem.n_mecs + 1, dtype=bool)
        left = np.zeros(problem.n_mecs + 1, dtype=bool)
        for i in movers:
            j, h = int(to[i]), int(a[i])
            if (j > 0 and joined[j]) or (h > 0 and left[h]):
                continue
            joined[j], left[h] = True, True
            if h > 0:
                sums[h - 1] -= root[i]
            if j > 0:
                sums[j - 1] += root[i]
            a[i] = j
    return a


def relaxation_bound(problem: SlotProblem, iterations: int = 300,
                     deadline: float | None = None) -> tuple[np.ndarray, float]:
    """Lower bound from the convex relaxation (fractional placements), by Frank-Wolfe.

    The relaxed cost ``sum C x + sum_j w_j (sum_i sqrt(F_i) x_ij)^2`` is convex over the
    product of simplices; at every iterate ``f(x) + min_s grad.(s - x)`` bounds its minimum,
    hence the integer optimum, from below. The best bound over the iterations is returned
    (with ``deadline``, a ``time.perf_counter()`` value, over those done by then: every
    iterate's bound is valid, later ones are tighter).

    Returns:
        The last fractional iterate ``(n, M+1)`` and the best lower bound.
    """
    table = problem.cost_table
    n, width = table.shape
    if n == 0:
        return np.zeros((0, width)), 0.0
    allowed = np.isfinite(table)
    if not allowed.any(axis=1).all():
        return np.zeros((n, width)), np.inf
    c = np.where(allowed, table, 0.0)
    root, weight = problem.sqrt_cycles, problem.cpu_weight
    x = allowed / allowed.sum(axis=1, keepdims=True)
    best = -np.inf
    for k in range(iterations):
        if deadline is not None and k > 0 and time.perf_counter() > deadline:
            break
        sums = root @ x[:, 1:]
        value = float((c * x).sum() + weight @ sums**2)
        grad = c.copy()
        grad[:, 1:] += 2.0 * weight * sums * root[:, None]
        grad = np.where(allowed, grad, np.inf)
        target = np.argmin(grad, axis=1)
        gap = float((np.where(allowed, grad, 0.0) * x).sum() - grad[np.arange(n), target].sum())
        best = max(best, value - gap)
        if gap <= 1e-12 * max(abs(value), 1.0):
            break
        s = np.zeros_like(x)
        s[np.arange(n), target] = 1.0
        d = s - x
        curve = float(weight @ (root @ d[:, 1:]) ** 2)
        slope = -gap
        tau = 1.0 if curve <= 0 else min(1.0, -slope / (2.0 * curve))
        x = x + tau * d
    return x, best


def _options(problem: SlotProblem) -> np.ndarray:
    return np.concatenate(([0], np.flatnonzero(problem.available) + 1)).astype(np.int64)


def _finite(matrix: np.ndarray) -> np.ndarray:
    """Replace inf by a cost larger than any feasible assignment (scipy rejects inf rows)."""
    finite = matrix[np.isfinite(matrix)]
    big = (np.abs(finite).sum() + 1.0) * 2.0 if finite.size else 1.0
    return np.where(np.isfinite(matrix), matrix, big)
