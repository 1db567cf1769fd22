"""DROO's order-preserving quantisation, generalised from one MEC to ``M``.

DROO (Huang, Bi and Zhang, IEEE TMC 2020, eqs. 8-9) turns a relaxed output
``x_hat in [0, 1]^N`` (one MEC) into ``K`` binary candidates: the first thresholds ``x_hat``
at 0.5; with the entries sorted by ``|x_hat_i - 0.5|``, candidate ``k + 1`` thresholds
``x_hat`` at the ``k``-th closest entry ``x_hat_(k)`` instead, which flips that entry and every
entry on the same side of 0.5 that is closer to it, and nothing else.

**With M MECs** each task ``i`` has ``M + 1`` options: local, with the fixed score 0.5, and
MEC ``j`` with the network's score ``s_ij`` ("offload to MEC ``j``"); infeasible options
(failed MEC, zero gain, local power above ``Pmax``) are removed. Then:

1. Candidate 1 gives each task its highest-scoring option ``c_i`` (the 0.5-threshold of the
   output, i.e. the IoTDs' vote: the best MEC if its score is at least 0.5, else local).
2. For every task ``i`` and every other feasible option ``o``, the *gap*
   ``g_io = score(c_i) - score(o) >= 0`` is how much ``o``'s score must rise to take the task
   (for one MEC: ``|x_hat_i - 0.5|``).
3. The (task, option) pairs are taken in increasing gap (ties by task, then option). The pair
   with the ``k``-th smallest gap ``g`` and option ``o`` gives candidate ``k + 1``: **every
   task whose gap to ``o`` is at most ``g`` switches to ``o``**, the others keep candidate 1's
   choice. It is the vote after raising option ``o``'s score by ``g`` for every task.

For ``M = 1`` this is exactly DROO's rule: raising "local" by ``x_hat_(k) - 0.5`` is the
threshold ``x_hat_(k)`` above 0.5, raising "offload" the threshold below it. With ``M > 1``
the moves include switching between MECs, not only between local and offloaded, so the
candidates explore the load balance between MECs too. A candidate equal to an earlier one
(tied gaps, several tasks from one IoTD) is skipped, so the candidates are distinct; there
are at most ``min(K, 1 + n * M)``.
"""

from __future__ import annotations

import numpy as np

from schedulers._drl_common import THRESHOLD, choose, option_scores


def order_preserving(scores: np.ndarray, feasible: np.ndarray, k: int,
                     threshold: float = THRESHOLD) -> np.ndarray:
    """Return up to ``k`` distinct candidate placements, the 0.5-threshold first.

    Args:
        scores: ``(n, M)`` network outputs in ``[0, 1]`` ("offload task ``i`` to MEC ``j``").
        feasible: ``(n, M+1)`` feasible options (column 0 local).
        k: Number of candidates wanted (>= 1).
        threshold: The fixed score of local (0.5).

    Returns:
        ``(K', n)`` placements, ``1 <= K' <= k``, in DROO's order.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k!r}")
    table = option_scores(scores, feasible, threshold)
    first = choose(table)
    top = table[np.arange(len(table)), first]
    with np.errstate(invalid="ignore"):
        gap = top[:, None] - table  # how much option o must rise to take task i
    gap[~np.isfinite(table)] = np.inf  # infeasible options never win
    gap[np.arange(len(table)), first] = np.inf  # a task's own choice is not a move
    flat = gap.ravel()
    order = np.argsort(flat, kind="stable")
    order = order[np.isfinite(flat[order])]  # infeasible options and own choices: no move
    candidates = [first]
    seen = {first.tobytes()}
    start = 0
    while len(candidates) < k and start < len(order):
        # the next moves, built at once: (pair e) -> every task within gap g_e of option o_e
        chunk = order[start:start + 2 * (k - len(candidates)) + 8]
        start += len(chunk)
        option = chunk % gap.shape[1]
        move = gap[:, option].T <= flat[chunk][:, None]
        for candidate in np.where(move, option[:, None], first[None, :]):
            key = candidate.tobytes()
            if key not in seen:
                seen.add(key)
                candidates.append(candidate)
                if len(candidates) >= k:
                    break
    return np.stack(candidates)
