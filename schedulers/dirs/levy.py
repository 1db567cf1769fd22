"""The Lévy flight search of DIRS (spec section 6, paper Algorithm 4): refine a placement.

Starting from a placement ``x`` (0 = local, ``j`` = MEC ``j``; the ensemble action in
DIRS), each iteration ``G = 1..iterations`` draws one Mantegna step ``d_i`` per task,
builds a mutant by the h-mutation, a trial by the Lévy crossover, and keeps the trial if
its exact slot cost is strictly lower (greedy selection). The result is never worse than
the start.

Choices where the spec is silent (each testable through a public function):

* **Step magnitude.** Both the mutation and the crossover compare ``gamma_G * |d_i|``,
  the magnitude of the step. Mantegna steps are symmetric, so with the signed ``d_i``
  half of the tasks could not move in an iteration, whatever the weight.
* **One step per task and iteration**, shared by the mutation and the crossover, as in
  the paper (Algorithm 4 draws ``d_i`` once, eqs. 25 and 27 both read it). Task ``i``
  therefore changes iff ``gamma_G |d_i| > max(r_i, th)`` and its random choice differs
  from ``x_i`` (see :func:`levy_trials`).
* **Channel ratio** ``r_i = h_{i,x_i} / sum_j h_ij`` (:func:`channel_ratio`): the sum runs
  over the *available* MECs; a task on a failed MEC, a task whose available gains are all
  zero and a **local task have ratio 0** (``h_{i,0} := 0``: a local task holds no
  channel, so the channel gives it no stability and it is always a mutation candidate).
  Of the alternatives tried (``h_{i,0}`` = 0, = its best share, = 1) this one gave the
  lowest costs on paper-like instances (30 tasks, 2 MECs, 100 iterations from random
  starts: mean 41.2 against 42.8 and 42.7; optimum 36.5).
* **Random choice** of the mutation: uniform over local and the available MECs,
  the current entry included (so a mutation may keep the entry); never a failed MEC.
* **Classic mode** (the channel-blind Lévy flight of the paper's Fig. 7): the ratio is
  replaced by the constant :func:`classic_threshold` ``1 / (M' + 1)``, ``M'`` the number
  of available MECs: every one of the ``M' + 1`` options counted as an equal share.
  Since ``th = 0.5 >= 1/3`` at ``M = 2``, the crossover threshold then governs alone.
* **At least one change.** When the mutant differs from ``x`` but the crossover took none
  of its differences, the differing entry with the largest weighted step is taken (as
  ``j_rand`` does in differential evolution), so every iteration with a mutation tries a
  real move instead of re-evaluating ``x``.
* **G_max = iterations + 1**, so ``gamma_G = 2 - 2 G / G_max`` falls from about 2 to
  ``2 / (iterations + 1)`` and stays positive: with ``G_max = iterations`` the last
  iteration would have weight 0 and could change nothing (and ``iterations = 1`` would
  be a no-op).

Speed: all random numbers are drawn up front (steps first, then the mutation choices,
both ``(iterations, n)``). The trials of a block of iterations are built as if ``x`` did
not change and evaluated with one :meth:`SlotProblem.batch_cost` call; the first
improving trial is accepted and the next block starts after it. Since trial ``G``
depends only on ``x`` and iteration ``G``'s draws, this gives exactly the sequential
algorithm's result, with far fewer Python-level steps.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from mecsim.model.problem import SlotProblem

#: Search modes: channel-guided h-mutation, or the channel-blind classic Lévy flight.
MODES = ("proposed", "classic")

_MAX_BLOCK = 64


@dataclass(frozen=True)
class LevyResult:
    """Outcome of a Lévy flight search.

    Attributes:
        placement: ``(n,)`` int64, the best placement found (0 = local, ``j`` = MEC ``j``).
        cost: Its slot cost, ``problem.cost(placement)``.
        fitness: ``(iterations + 1,)`` best cost after each iteration; index 0 is the
            start's cost. Non-increasing.
    """

    placement: np.ndarray
    cost: float
    fitness: np.ndarray


def mantegna_sigma(beta: float) -> float:
    """Return ``sigma_u`` of Mantegna's algorithm for the stability index ``beta``.

    ``sigma_u = (Gamma(1+b) sin(pi b/2) / (Gamma((1+b)/2) b 2^((b-1)/2)))^(1/b)``;
    about 0.6966 for ``b = 1.5``. At ``b = 2`` the sine vanishes and so does
    ``sigma_u`` (returned as exactly 0.0): the ratio ``u / |v|^(1/b)`` degenerates there,
    which is why :func:`levy_steps` uses the Gaussian limit at ``b = 2``.

    Raises:
        ValueError: Unless ``0 < beta <= 2``.
    """
    beta = _beta(beta)
    if beta == 2.0:
        return 0.0
    num = math.gamma(1.0 + beta) * math.sin(math.pi * beta / 2.0)
    den = math.gamma((1.0 + beta) / 2.0) * beta * 2.0 ** ((beta - 1.0) / 2.0)
    return (num / den) ** (1.0 / beta)


def levy_steps(rng: np.random.Generator, beta: float, size) -> np.ndarray:
    """Draw Lévy flight steps by Mantegna's algorithm (paper eqs. 20-22).

    ``d = u / |v|^(1/beta)`` with ``u ~ N(0, sigma_u^2)`` (:func:`mantegna_sigma`) and
    ``v ~ N(0, 1)``, ``u`` drawn first, then ``v``. The steps are symmetric and
    heavy-tailed, ``P(|d| > x) ~ x^(-beta)``. At ``beta = 2``, where Mantegna's ratio
    degenerates (``sigma_u = 0``), the steps are the stable law's Gaussian limit
    ``N(0, 2)`` (the characteristic function ``exp(-k^2)`` of paper eq. 19): a thin tail.

    Args:
        rng: Source of randomness.
        beta: Stability index, ``0 < beta <= 2``.
        size: Output shape.

    Raises:
        ValueError: Unless ``0 < beta <= 2``.
    """
    beta = _beta(beta)
    if beta == 2.0:
        return rng.normal(0.0, math.sqrt(2.0), size)
    u = rng.normal(0.0, mantegna_sigma(beta), size)
    v = rng.normal(0.0, 1.0, size)
    with np.errstate(divide="ignore"):
        return u / np.abs(v) ** (1.0 / beta)


def channel_ratio(problem: SlotProblem) -> np.ndarray:
    """Return the ``(n, M+1)`` table of ``h_{i,j} / sum_{j' available} h_{i,j'}``.

    Column 0 (local), the columns of failed MECs and the rows whose available gains are
    all zero are 0. Row ``i``, column ``x_i`` is the ratio ``r_i`` that the h-mutation
    (paper eq. 25) compares with the weighted step: the larger, the more stable.
    """
    n, m = problem.gains.shape
    gains = np.where(problem.available[None, :], problem.gains, 0.0)
    total = gains.sum(axis=1, keepdims=True)
    ratio = np.zeros((n, m + 1))
    np.divide(gains, total, out=ratio[:, 1:], where=total > 0)
    return ratio


def classic_threshold(problem: SlotProblem) -> float:
    """Return the classic Lévy flight's constant mutation threshold ``1 / (M' + 1)``.

    ``M'`` is the number of available MECs: the share of each of the ``M' + 1`` options
    when none is preferred (no channel information).
    """
    return 1.0 / (int(np.count_nonzero(problem.available)) + 1)


def levy_trials(x, steps, gamma, choices, ratio, th: float) -> np.ndarray:
    """Build trial placements by h-mutation and Lévy crossover (paper eqs. 25, 27).

    For each row ``b`` (one iteration) and task ``i``, with ``w = gamma_b * |steps[b, i]|``:
    the mutant takes ``choices[b, i]`` if ``w > ratio_i``, else ``x_i``; the trial takes
    the mutant's entry if ``w > th``, else ``x_i``. If the mutant differs from ``x`` but
    the trial does not, the differing entry with the largest ``w`` is taken.

    Args:
        x: ``(n,)`` current placement.
        steps: ``(B, n)`` Lévy steps (signed; their magnitude is used).
        gamma: ``(B,)`` weights ``gamma_G``.
        choices: ``(B, n)`` random options for the mutation.
        ratio: ``(n,)`` ratios ``r_i`` of the current entries, or a scalar (classic).
        th: Crossover threshold.

    Returns:
        ``(B, n)`` trial placements.
    """
    x = np.asarray(x)
    weighted = np.asarray(gamma, dtype=float)[:, None] * np.abs(steps)
    return _trials(x, weighted, np.asarray(choices), ratio, th)


def sweep_start(problem: SlotProblem) -> np.ndarray:
    """A warm start for a search: the best of ``n + 1`` "offload the ``k`` best" placements.

    Tasks are ranked by their saving alone (local cost minus the cheapest upload, the MEC
    CPU's contention left out); placement ``k`` sends the ``k`` first to their cheapest
    MEC and runs the rest locally. The ``n + 1`` placements are scored exactly in one
    :meth:`SlotProblem.batch_cost`, so the contention is priced; the cheapest is returned
    (a task that cannot run locally is always among the offloaded).
    """
    table = problem.cost_table
    n = problem.n_tasks
    best_mec = 1 + np.argmin(table[:, 1:], axis=1)
    saving = table[:, 0] - table[np.arange(n), best_mec]
    order = np.argsort(-saving, kind="stable")
    offloaded = np.arange(n + 1)[:, None] > np.arange(n)[None, :]  # row k: the first k
    candidates = np.zeros((n + 1, n), dtype=np.int64)
    candidates[:, order] = np.where(offloaded, best_mec[order][None, :], 0)
    return candidates[int(np.argmin(problem.batch_cost(candidates)))]


def levy_search(problem: SlotProblem, start, *, rng: np.random.Generator, beta: float = 1.5,
                iterations: int = 100, th: float = 0.5, mode: str = "proposed") -> LevyResult:
    """Refine a placement by the Lévy flight search (paper Algorithm 4; module docstring).

    Args:
        problem: The slot's problem; trials are scored with its exact ``batch_cost``.
        start: ``(n,)`` integers in ``0..M``, the placement to refine (the ensemble
            action). It may be infeasible (cost inf); any feasible trial then replaces it.
        rng: Source of every random number of the search.
        beta: Lévy stability index, ``0 < beta <= 2``: small for long (global) jumps,
            large for short (local) ones.
        iterations: Number of iterations ``>= 1``; ``G_max = iterations + 1``.
        th: Lévy crossover threshold ``>= 0``.
        mode: ``"proposed"`` (channel-guided h-mutation) or ``"classic"`` (constant
            threshold :func:`classic_threshold`).

    Returns:
        The best placement, its cost and the fitness after each iteration.

    Raises:
        ValueError: On an invalid argument; the message names it.
    """
    beta = _beta(beta)
    if isinstance(iterations, bool) or not isinstance(iterations, numbers.Integral) \
            or iterations < 1:
        raise ValueError(f"iterations must be an integer >= 1, got {iterations!r}")
    iterations = int(iterations)
    if isinstance(th, bool) or not isinstance(th, numbers.Real) or not th >= 0:
        raise ValueError(f"th must be a number >= 0, got {th!r}")
    th = float(th)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    x = _start(problem, start)
    n = x.size

    cost = problem.cost(x)
    fitness = np.full(iterations + 1, cost)
    if n == 0:
        return LevyResult(x, cost, fitness)

    options = np.concatenate(([0], np.flatnonzero(problem.available) + 1)).astype(np.int64)
    gamma = 2.0 - 2.0 * np.arange(1, iterations + 1) / (iterations + 1)
    weighted = gamma[:, None] * np.abs(levy_steps(rng, beta, (iterations, n)))
    choices = options[rng.integers(0, options.size, (iterations, n))]
    if mode == "proposed":
        table = channel_ratio(problem)
        rows = np.arange(n)
    else:
        constant = classic_threshold(problem)

    g, block, last = 0, 4, 0  # next iteration (0-based), block size, last acceptance
    while g < iterations:
        stop = min(g + block, iterations)
        ratio = table[rows, x] if mode == "proposed" else constant
        trials = _trials(x, weighted[g:stop], choices[g:stop], ratio, th)
        costs = problem.batch_cost(trials)
        better = np.flatnonzero(costs < cost)
        if better.size:
            k = int(better[0])
            fitness[g + 1:g + k + 1] = cost
            x, cost = trials[k], float(costs[k])
            g += k + 1
            fitness[g] = cost
            last = g
            block = min(max(2, 2 * (k + 1)), _MAX_BLOCK)
        else:
            fitness[g + 1:stop + 1] = cost
            g = stop
            block = min(2 * block, _MAX_BLOCK)
    exact = problem.cost(x)  # the batch may differ from a single evaluation in the last ulp
    fitness[last:] = exact
    return LevyResult(x.astype(np.int64, copy=True), exact, fitness)


def _trials(x: np.ndarray, weighted: np.ndarray, choices: np.ndarray, ratio,
            th: float) -> np.ndarray:
    differs = (weighted > ratio) & (choices != x)  # where the mutant differs from x
    take = differs & (weighted > th)
    lonely = np.flatnonzero(differs.any(axis=1) & ~take.any(axis=1))
    if lonely.size:
        pick = np.argmax(np.where(differs[lonely], weighted[lonely], -1.0), axis=1)
        take[lonely, pick] = True
    return np.where(take, choices, x)


def _beta(beta) -> float:
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not 0 < beta <= 2:
        raise ValueError(f"beta must be a number with 0 < beta <= 2, got {beta!r}")
    return float(beta)


def _start(problem: SlotProblem, start) -> np.ndarray:
    a = np.asarray(start)
    n, m = problem.n_tasks, problem.n_mecs
    if a.shape != (n,):
        raise ValueError(f"start must have shape ({n},), got {a.shape}")
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer)
                               or (np.issubdtype(a.dtype, np.floating)
                                   and np.all(np.isfinite(a)) and np.all(a == np.round(a)))):
        raise ValueError(f"start must hold integers in 0..{m}, got dtype {a.dtype}")
    if a.size and (a.min() < 0 or a.max() > m):
        raise ValueError(f"start must hold integers in 0..{m}, got values "
                         f"{a.min()!r}..{a.max()!r}")
    return a.astype(np.int64)
