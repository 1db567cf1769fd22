"""The exact optimum of a slot (spec section 5): the yardstick of every comparison.

:func:`solve_optimum` picks the method:

1. **exhaustive** enumeration when ``(options)^n <= SMALL_EXHAUSTIVE`` (1024 placements,
   whatever the cycles): as fast as the flow there (about 0.1 ms) and needs no scipy;
2. **min-cost flow** when every task has the same cycles ``F`` (the paper's setting): MEC
   ``j`` serving ``n_j`` tasks then costs ``phi_T F n_j^2 / Fmax_j``, whose ``k``-th unit costs
   ``phi_T F (2k - 1) / Fmax_j``. Splitting each MEC into unit slots turns the flow network
   (source -> task -> {local, MEC unit} -> sink) into an assignment problem, solved exactly
   by ``scipy.optimize.linear_sum_assignment`` (imported on first use); exact for any ``n``;
3. **exhaustive** enumeration of every placement when ``(options)^n <= exhaustive_limit``
   (vectorised, in chunks, with :meth:`SlotProblem.batch_cost`); exact;
4. otherwise the best of a multi-start **local search**, reported with a **lower bound**
   from the convex relaxation (Frank-Wolfe duality gap); exact only when the two meet.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from mecsim.model.problem import SlotProblem

EXHAUSTIVE_LIMIT = 2_000_000
#: Placements enumerated before any other method: below it enumeration costs about what the
#: flow does (0.1 ms at 729 placements) and imports nothing.
SMALL_EXHAUSTIVE = 1024
_CHUNK = 1 << 16
#: The relaxation's share of the time left when a deadline is set.
_RELAX_SHARE = 0.4
#: Largest ``starts x n x (M+1)`` priced in one step of lockstep descents (else sequential).
LOCKSTEP_CELLS = 1 << 18
_EXACT_RTOL = 1e-12  # [-] cost within this of the bound: proven optimal


@dataclass(frozen=True)
class OptimumResult:
    """The best placement found and how far it is known to be from the optimum.

    Attributes:
        placement: ``(n,)`` integers, 0 = local, ``j`` = MEC ``j``.
        cost: Its slot cost.
        lower_bound: A proven lower bound on the optimal cost (equal to ``cost`` when exact).
        method: ``"exhaustive"``, ``"min_cost_flow"``, ``"local_search"`` or
            ``"local_search_budget"``.
        exact: True when ``placement`` is proven optimal.
    """

    placement: np.ndarray
    cost: float
    lower_bound: float
    method: str
    exact: bool


def solve_optimum(problem: SlotProblem, *, exhaustive_limit: int = EXHAUSTIVE_LIMIT,
                  starts: int = 8, rng: np.random.Generator | None = None,
                  time_budget_s: float | None = None,
                  warm: np.ndarray | None = None) -> OptimumResult:
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
        warm: ``(n,)`` a start for the local search (e.g. each task's IoTD's placement in
            the previous slot); negative or infeasible entries take the task's cheapest
            choice. ``None``: none.
    """
    if problem.n_tasks == 0:
        return OptimumResult(np.zeros(0, dtype=np.int64), 0.0, 0.0, "exhaustive", True)
    if _placements_at_most(problem, min(SMALL_EXHAUSTIVE, exhaustive_limit)):
        return exhaustive(problem)
    if equal_cycles(problem):
        return min_cost_flow(problem)
    if _placements_at_most(problem, exhaustive_limit):
        return exhaustive(problem)
    deadline = None if time_budget_s is None else time.perf_counter() + time_budget_s
    return local_search(problem, starts=starts, rng=rng, deadline=deadline, warm=warm)


def _placements_at_most(problem: SlotProblem, limit: int) -> bool:
    """Return True when ``options^n <= limit``; in log space first (a float overflows)."""
    k, n = len(_options(problem)), problem.n_tasks
    return n * math.log(k) <= math.log(max(limit, 1)) + 1e-9 and k**n <= limit


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
    unit = problem.cpu_weight * problem.cycles[0]  # [-] per MEC: phi_T F / Fmax_j (+ extra)
    placement = _assign(problem.cost_table, unit, unit_slots(problem))
    cost = problem.cost(placement)
    return OptimumResult(placement, cost, cost, "min_cost_flow", True)


def _assign(table: np.ndarray, unit: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Return the cheapest assignment of tasks to local or to MEC unit slots.

    MEC ``j`` has ``units[j]`` slots, its ``k``-th costing ``table[i, j] + unit[j] (2k - 1)``
    for task ``i``; local has ``n`` costing ``table[i, 0]``.
    """
    from scipy.optimize import linear_sum_assignment  # 0.1 s to import: only when needed

    n = table.shape[0]
    blocks, owner = [], []
    for j, count in enumerate(units):
        if count == 0:
            continue  # unavailable, or even the first unit does not pay for itself
        marginal = unit[j] * (2 * np.arange(1, count + 1) - 1)
        blocks.append(table[:, j + 1, None] + marginal[None, :])
        owner.append(np.full(count, j + 1))
    blocks.append(np.repeat(table[:, :1], n, axis=1))
    owner.append(np.zeros(n, dtype=np.int64))
    rows, cols = linear_sum_assignment(_finite(np.concatenate(blocks, axis=1)))
    placement = np.zeros(n, dtype=np.int64)
    placement[rows] = np.concatenate(owner)[cols]
    return placement


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
                 deadline: float | None = None, warm: np.ndarray | None = None
                 ) -> OptimumResult:
    """Best of single-task-move descents from several starts, with a relaxation lower bound.

    Starts: all tasks at their cheapest single choice, all local (where feasible), ``warm``
    (if given), the rounded convex relaxation, and ``starts`` random placements. Below
    ``BATCH_TASKS`` tasks the descents run in lockstep (:func:`descend_lockstep`) in two
    rounds: the cheap starts first; then the relaxation, which stops as soon as its bound
    meets their best (proven optimal: the other starts are skipped); then the others.
    From ``BATCH_TASKS`` tasks (or more than ``LOCKSTEP_CELLS`` prices a step), the
    relaxation comes first, then one descent at a time (:func:`descend_batch` from
    ``BATCH_TASKS`` tasks), the rounded relaxation's first. With ``deadline`` (a
    ``time.perf_counter()`` value) the relaxation stops at 40 % of the time left, each
    descent stops at the deadline and no start begins after it: the result is then the
    best placement found, not a local optimum (method ``local_search_budget``).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    options = _options(problem)
    n = problem.n_tasks
    randoms = [options[rng.integers(0, options.size, n)] for _ in range(starts)]
    table = problem.cost_table
    greedy = np.argmin(table, axis=1)
    cheap = [greedy, np.where(np.isfinite(table[:, 0]), 0, greedy)]
    if warm is not None:
        cheap.append(warm_start(problem, warm))
    cells = (len(cheap) + 1 + starts) * n * table.shape[1]
    if n >= BATCH_TASKS or cells > LOCKSTEP_CELLS:
        return _sequential_search(problem, cheap, randoms, max_moves, deadline)
    return _lockstep_search(problem, cheap, randoms, max_moves, deadline)


def warm_start(problem: SlotProblem, warm: np.ndarray) -> np.ndarray:
    """Return ``warm`` made a start: feasible where a task can be.

    An entry that is negative, past ``M`` or infeasible (inf in the cost table) takes the
    task's cheapest choice.
    """
    table = problem.cost_table
    a = np.asarray(warm, dtype=np.int64).copy()
    bad = (a < 0) | (a >= table.shape[1])
    a[bad] = 0
    bad |= ~np.isfinite(table[np.arange(a.size), a])
    a[bad] = np.argmin(table[bad], axis=1)
    return a


def _lockstep_search(problem: SlotProblem, cheap: list, randoms: list,
                     max_moves: int | None, deadline: float | None) -> OptimumResult:
    """:func:`local_search` for small slots: two rounds of lockstep descents (see there)."""
    seen: set[bytes] = set()
    done = descend_lockstep(problem, _distinct(cheap, seen), max_moves=max_moves,
                            deadline=deadline)
    best = _best(problem, done, None)
    relaxed, bound = relaxation_bound(problem, deadline=_relax_by(deadline), stop_at=best[1])
    cut = _past(deadline)
    if not (cut or _proven(best[1], bound)):
        others = _distinct([np.argmax(relaxed, axis=1), *randoms], seen)
        if others.shape[0]:
            done = descend_lockstep(problem, others, max_moves=max_moves, deadline=deadline)
            best = _best(problem, done, best)
        cut = _past(deadline)
    return _result(best, bound, cut)


def _sequential_search(problem: SlotProblem, cheap: list, randoms: list,
                       max_moves: int | None, deadline: float | None) -> OptimumResult:
    """:func:`local_search` for large slots: the relaxation, then one descent at a time."""
    relaxed, bound = relaxation_bound(problem, deadline=_relax_by(deadline))
    # The rounded relaxation first: at 10,000 x 100 it descends in 0.04 s to within 1e-4 of
    # the bound, where the cheapest-choice start needs 1.5 s (all tasks on the nearest MEC).
    candidates = [np.argmax(relaxed, axis=1), *cheap, *randoms]
    best, cut = None, False
    for start in candidates:
        if best is not None and _past(deadline):
            cut = True
            break
        if problem.n_tasks >= BATCH_TASKS and max_moves is None:
            placement = descend_batch(problem, start, deadline=deadline)
        else:
            placement = descend(problem, start, max_moves=max_moves, deadline=deadline)
        cost = problem.cost(placement)
        if best is None or cost < best[1]:
            best = (placement, cost)
    return _result(best, bound, cut or _past(deadline))


def _relax_by(deadline: float | None) -> float | None:
    """The relaxation's own deadline: 40 % of the time left before ``deadline``."""
    if deadline is None:
        return None
    now = time.perf_counter()
    return now + _RELAX_SHARE * max(deadline - now, 0.0)


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.perf_counter() > deadline


def _proven(cost: float, bound: float) -> bool:
    """True when ``cost`` meets the lower bound ``bound`` to 1e-12 relative."""
    return bool(cost - bound <= _EXACT_RTOL * max(abs(cost), 1.0))


def _distinct(starts: list, seen: set[bytes]) -> np.ndarray:
    """Stack the starts not met before (``seen`` is updated) as ``(S, n)``."""
    rows = []
    for start in starts:
        a = np.asarray(start, dtype=np.int64)
        key = a.tobytes()
        if key not in seen:
            seen.add(key)
            rows.append(a)
    n = starts[0].size if starts else 0
    return np.array(rows, dtype=np.int64).reshape(len(rows), n)


def _best(problem: SlotProblem, done: np.ndarray, best: tuple | None) -> tuple:
    """The cheapest of ``done`` ``(S, n)`` if it beats ``best`` (first one on ties)."""
    costs = problem.batch_cost(done)
    k = int(np.argmin(costs))
    if best is None or costs[k] < best[1]:
        return done[k], problem.cost(done[k])
    return best


def _result(best: tuple, bound: float, cut: bool) -> OptimumResult:
    placement, cost = best
    bound = min(bound, cost)
    return OptimumResult(placement, cost, bound,
                         "local_search_budget" if cut else "local_search",
                         _proven(cost, bound))


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
    table, root, weight = problem.cost_table, problem.sqrt_cycles, _padded(problem.cpu_weight)
    sums = np.bincount(a, weights=root, minlength=table.shape[1])
    for move in range(max_moves if max_moves is not None else 50 * n):
        if deadline is not None and move % 8 == 7 and time.perf_counter() > deadline:
            break
        leave, delta = _move_deltas(table, root, weight, a[None], sums[None])
        leave, delta = leave[0], delta[0]
        flat = int(np.argmin(delta))
        i, j = divmod(flat, delta.shape[1])
        scale = abs(leave[i]) if np.isfinite(leave[i]) else 0.0  # leaving inf: any finite move
        if not delta[i, j] < -1e-12 * max(scale, 1e-300):
            break
        sums[a[i]] -= root[i]
        sums[j] += root[i]
        a[i] = j
    return a


def descend_lockstep(problem: SlotProblem, starts, *, max_moves: int | None = None,
                     deadline: float | None = None) -> np.ndarray:
    """:func:`descend` from ``S`` starts at once: one move of each start per step.

    Each start follows exactly the path :func:`descend` would (same prices, same move, same
    stop), but the ``S`` moves of a step are priced together in one ``(S, n, M+1)`` array,
    so a slot pays numpy's per-call cost once per step rather than once per move. A start
    leaves the batch when no move improves it.

    Args:
        problem: The slot's problem.
        starts: ``(S, n)`` starts.
        max_moves: Cap on the moves of each start (default ``50 n``).
        deadline: Stop at this ``time.perf_counter()`` value (checked every step).

    Returns:
        ``(S, n)``: the local optima, in the order of ``starts``.
    """
    a = np.array(starts, dtype=np.int64, ndmin=2)
    count, n = a.shape
    if n == 0 or count == 0:
        return a
    prices = _Prices(problem)
    width = prices.width
    flat = (a + width * np.arange(count)[:, None]).ravel()
    sums = np.bincount(flat, weights=np.tile(prices.root, count),
                       minlength=count * width).reshape(count, width)
    active = np.arange(count)
    for _ in range(max_moves if max_moves is not None else 50 * n):
        if _past(deadline):
            break
        active = prices.step(a, sums, active)
        if active.size == 0:
            break
    return a


class _Prices:
    """What :func:`descend_lockstep` prices a step with, set up once per slot.

    :meth:`step` computes, with fewer numpy calls, the same values as
    :func:`_move_deltas` followed by the choice of each start's best move (the same
    operations on the same numbers, in place where :func:`_move_deltas` allocates).
    """

    def __init__(self, problem: SlotProblem) -> None:
        self.table = problem.cost_table
        self.root = problem.sqrt_cycles
        self.weight = _padded(problem.cpu_weight)
        n, self.width = self.table.shape
        self.column = self.root[:, None]
        self.cells = self.width * np.arange(n)  # flat index of each task's row
        self.finite = bool(np.isfinite(self.table).all())

    def step(self, a: np.ndarray, sums: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Apply each active start's best move to ``a`` and ``sums`` in place.

        Returns:
            The starts that moved (the others are local optima).
        """
        table, root, weight, width = self.table, self.root, self.weight, self.width
        mine, s = a[active], sums[active]
        count = active.size
        k = np.arange(count)
        cell = mine + self.cells  # (S, n) flat index of each task's choice in its row
        s_here = s.take(mine + (width * k)[:, None])
        leave = table.take(cell) + weight.take(mine) * (s_here**2 - (s_here - root) ** 2)
        s3 = s[:, None, :]
        delta = s3 + self.column
        np.square(delta, out=delta)
        delta -= s3**2
        delta *= weight
        delta += table
        if self.finite:
            delta -= leave[..., None]
        else:
            with np.errstate(invalid="ignore"):
                delta -= leave[..., None]
            delta[np.isnan(delta)] = np.inf  # inf - inf: between two infeasible choices
        flat = delta.reshape(count, -1)
        row = flat.shape[1] * k
        flat.reshape(-1)[cell + row[:, None]] = 0.0  # staying put
        best = flat.argmin(axis=1)
        gain = flat.take(best + row)
        i = best // width
        here = leave.take(i + leave.shape[1] * k)
        scale = np.abs(here) if self.finite else \
            np.where(np.isfinite(here), np.abs(here), 0.0)  # leaving inf: any finite move
        moving = gain < -1e-12 * np.maximum(scale, 1e-300)
        s_idx, i = active[moving], i[moving]
        j = best[moving] - i * width
        sums[s_idx, a[s_idx, i]] -= root[i]
        sums[s_idx, j] += root[i]
        a[s_idx, i] = j
        return s_idx


def _padded(weight: np.ndarray) -> np.ndarray:
    """``(M+1,)`` MEC weights with a 0 for local (column 0 of the cost table)."""
    return np.concatenate(([0.0], weight))


def _move_deltas(table: np.ndarray, root: np.ndarray, weight: np.ndarray, a: np.ndarray,
                 sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Price every single-task move of ``S`` placements.

    Args:
        table: ``(n, M+1)`` cost table (C-contiguous).
        root: ``(n,)`` ``sqrt`` of the cycles.
        weight: ``(M+1,)`` quadratic weight of each choice, 0 for local (:func:`_padded`).
        a: ``(S, n)`` placements.
        sums: ``(S, M+1)`` sums of ``sqrt c`` per choice (column 0: any finite number,
            its weight is 0).

    Returns:
        ``leave (S, n)``, each task's cost where it is (its MEC term's share included),
        and ``delta (S, n, M+1)``, the cost change of moving it to each choice (0 where it
        is, inf between two infeasible choices).
    """
    count, n = a.shape
    width = table.shape[1]
    cell = a + width * np.arange(n)  # (S, n): flat index of each task's choice in a row
    starts = np.arange(count)[:, None]
    s_here = sums[starts, a]
    leave = table.take(cell) + weight[a] * (s_here**2 - (s_here - root) ** 2)
    s = sums[:, None, :]
    delta = table + weight * ((s + root[:, None]) ** 2 - s**2)
    if np.isfinite(leave).all():
        delta -= leave[..., None]
    else:
        with np.errstate(invalid="ignore"):
            delta -= leave[..., None]
        delta[np.isnan(delta)] = np.inf  # inf - inf: from one infeasible choice to another
    delta.reshape(count, n * width)[starts, cell] = 0.0
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
    table, root, weight = problem.cost_table, problem.sqrt_cycles, _padded(problem.cpu_weight)
    sums = np.bincount(a, weights=root, minlength=table.shape[1])
    rows = np.arange(n)
    for _ in range(50 * n):
        if _past(deadline):
            break
        leave, delta = _move_deltas(table, root, weight, a[None], sums[None])
        leave, delta = leave[0], delta[0]
        to = np.argmin(delta, axis=1)
        gain = delta[rows, to]
        scale = np.where(np.isfinite(leave), np.abs(leave), 0.0)
        movers = np.flatnonzero(gain < -1e-12 * np.maximum(scale, 1e-300))
        if movers.size == 0:
            break
        _apply_batch(movers[np.argsort(gain[movers], kind="stable")], to, a, sums, root)
    return a


def _apply_batch(movers: np.ndarray, to: np.ndarray, a: np.ndarray, sums: np.ndarray,
                 root: np.ndarray) -> None:
    """Apply ``movers`` (best first) in place, at most one join and one leave per MEC."""
    joined = np.zeros(sums.size, dtype=bool)
    left = np.zeros(sums.size, dtype=bool)
    for i in movers:
        j, h = int(to[i]), int(a[i])
        if (j > 0 and joined[j]) or (h > 0 and left[h]):
            continue
        joined[j], left[h] = True, True
        sums[h] -= root[i]
        sums[j] += root[i]
        a[i] = j


def relaxation_bound(problem: SlotProblem, iterations: int = 300,
                     deadline: float | None = None, stop_at: float | None = None
                     ) -> tuple[np.ndarray, float]:
    """Lower bound from the convex relaxation (fractional placements), by Frank-Wolfe.

    The relaxed cost ``f(x) = sum C x + sum_j w_j S_j^2`` with ``S_j = sum_i sqrt(F_i) x_ij``
    is convex over the product of simplices; at every iterate ``f(x) + min_s grad.(s - x)``
    bounds its minimum, hence the integer optimum, from below. That bound depends on ``x``
    only through ``S``: ``sum_i min_j (C_ij + 2 w_j S_j sqrt(F_i)) - sum_j w_j S_j^2`` (the
    tangent of each ``w_j S^2`` at ``S_j``), valid for any ``S``. So an iteration carries
    ``S`` (``M`` numbers) and ``C.x`` (one) rather than recomputing them from ``x``. The
    best bound over the iterations is returned (with ``deadline``, a
    ``time.perf_counter()`` value, over those done by then; with ``stop_at``, a known
    placement's cost, it stops once the bound proves that placement optimal, to 1e-12).

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
    root, weight = problem.sqrt_cycles, _padded(problem.cpu_weight)
    x = allowed / allowed.sum(axis=1, keepdims=True)
    sums = root @ x  # column 0 (local) unused: its weight is 0
    linear = float((np.where(allowed, table, 0.0) * x).sum())  # C.x
    enough = np.inf if stop_at is None else stop_at - _EXACT_RTOL * max(abs(stop_at), 1.0)
    column, twice = root[:, None], 2.0 * weight
    targets, taus = np.empty((iterations, n), dtype=np.intp), []  # the x of each step
    grad = np.empty_like(table)
    best = -np.inf
    for k in range(iterations):
        if deadline is not None and k > 0 and time.perf_counter() > deadline:
            break
        coef = twice * sums  # d/dS_j of w_j S_j^2
        np.multiply(column, coef, out=grad)
        grad += table  # inf where not allowed
        target = grad.argmin(axis=1, out=targets[k])
        vertex = float(grad.min(axis=1).sum())  # grad.s at the best vertex s
        quad = 0.5 * float(coef @ sums)  # sum_j w_j S_j^2
        best = max(best, vertex - quad)
        gap = linear + 2.0 * quad - vertex  # grad.(x - s)
        if gap <= _EXACT_RTOL * max(abs(linear + quad), 1.0) or best >= enough:
            break
        to = np.bincount(target, weights=root, minlength=width)  # S at the vertex
        step = to - sums
        curve = float(step @ (weight * step))
        tau = 1.0 if curve <= 0 else min(1.0, gap / (2.0 * curve))
        linear += tau * (vertex - float(coef @ to) - linear)
        step *= tau
        sums += step
        taus.append(tau)
    return _iterate(x, targets[:len(taus)], np.array(taus)), best


def _iterate(start: np.ndarray, targets: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Return Frank-Wolfe's iterate after its steps, each ``x <- (1 - tau) x + tau e_target``.

    Args:
        start: ``(n, M+1)`` first iterate.
        targets: ``(K, n)`` each step's vertex (a choice per task).
        taus: ``(K,)`` each step's size.
    """
    n, width = start.shape
    keep = np.cumprod(np.append(1.0 - taus, 1.0)[::-1])[::-1]  # keep[k] = prod_{l>=k}(1-tau_l)
    share = np.repeat(taus * keep[1:], n)
    cells = (targets + width * np.arange(n)).ravel()
    return keep[0] * start + np.bincount(cells, weights=share,
                                         minlength=n * width).reshape(n, width)


def _options(problem: SlotProblem) -> np.ndarray:
    return np.concatenate(([0], np.flatnonzero(problem.available) + 1)).astype(np.int64)


def _finite(matrix: np.ndarray) -> np.ndarray:
    """Replace inf by a cost larger than any feasible assignment (scipy rejects inf rows)."""
    finite = matrix[np.isfinite(matrix)]
    big = (np.abs(finite).sum() + 1.0) * 2.0 if finite.size else 1.0
    return np.where(np.isfinite(matrix), matrix, big)
