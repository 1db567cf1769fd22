"""Realized (simulated) figures of one scheduler's tasks, accumulated as rows are written.

Every task row reaches :meth:`RealizedStats.add` exactly once, with its final status:
completed, dropped, or in flight when the run stopped (its latency is then its age at the
end of the run, and its energy what the engine had charged it so far: a local run or an
upload is charged in full when it starts). Memory stays flat: latency quantiles come from a
log-binned histogram.

The realized cost of a task is ``phi_T * latency + phi_E * energy``. Over completed tasks
alone it is biased low when tasks pile up (the slow ones have not finished), so
:meth:`RealizedStats.summary` also gives a *lower bound* on the mean cost of every task not
dropped: in-flight tasks count at their age and energy so far, which their final latency
and energy can only exceed.
"""

from __future__ import annotations

import numpy as np

COMPLETED, DROPPED, IN_FLIGHT = 0, 1, 2

_LOG_MIN, _LOG_MAX = -6.0, 7.0  # [log10 s] histogram range: 1 us .. 1e7 s
_BINS_PER_DECADE = 2000  # relative width of a bin: 10**(1/2000) - 1 = 0.115 %
_N_BINS = int((_LOG_MAX - _LOG_MIN) * _BINS_PER_DECADE) + 2  # with under- and overflow

#: The keys of :meth:`RealizedStats.summary`, in order (each also has a ratio to optimal's).
FIGURES = ("realized_cost_per_task", "realized_cost_lower_bound", "mean_realized_latency_s",
           "mean_realized_energy_j", "latency_p50_s", "latency_p95_s", "latency_p99_s",
           "drop_rate", "in_flight_share", "in_flight_mean_age_s")


class RealizedStats:
    """Streaming realized latency, energy and cost of one scheduler's tasks.

    Args:
        phi_t: Latency weight ``phi_T`` [1/s].
        phi_e: Energy weight ``phi_E`` [1/J].
    """

    def __init__(self, phi_t: float, phi_e: float) -> None:
        self.phi_t, self.phi_e = float(phi_t), float(phi_e)
        self.counts = np.zeros(3, dtype=np.int64)  # completed, dropped, in flight
        self.latency_sum_s = np.zeros(3)
        self.energy_sum_j = np.zeros(3)
        self._hist = np.zeros(_N_BINS, dtype=np.int64)

    def add(self, status: np.ndarray, latency_s: np.ndarray, energy_j: np.ndarray) -> None:
        """Count task rows with their final ``status`` (0 completed, 1 dropped, 2 in flight)."""
        status = np.asarray(status, dtype=np.int64)
        if status.size == 0:
            return
        latency = np.nan_to_num(np.asarray(latency_s, dtype=float))
        energy = np.nan_to_num(np.asarray(energy_j, dtype=float))
        self.counts += np.bincount(status, minlength=3)
        self.latency_sum_s += np.bincount(status, weights=latency, minlength=3)
        self.energy_sum_j += np.bincount(status, weights=energy, minlength=3)
        done = latency[status == COMPLETED]
        if done.size:
            self._hist += np.bincount(_bin(done), minlength=self._hist.size)

    def quantile(self, q: float) -> float:
        """Latency quantile of the completed tasks [s] (NaN if none).

        The smallest latency with at least a share ``q`` of completed tasks at or below it
        (the inverse of the empirical CDF, no interpolation), read as the geometric middle
        of its histogram bin: within 0.06 % between 1 us and 1e7 s, clamped to that range
        outside it.
        """
        total = int(self._hist.sum())
        if total == 0:
            return float("nan")
        rank = max(np.ceil(q * total - 1e-9), 1.0)  # the rank-th smallest latency
        k = int(np.searchsorted(np.cumsum(self._hist), rank, side="left"))
        k = min(max(k, 1), _N_BINS - 2)
        return float(10.0 ** (_LOG_MIN + (k - 0.5) / _BINS_PER_DECADE))

    def summary(self) -> dict[str, float]:
        """Return the realized figures, keyed by :data:`FIGURES` (see ``docs/results.md``).

        ``realized_cost_per_task``, ``mean_realized_latency_s``, ``mean_realized_energy_j``
        and the ``latency_p*_s`` quantiles are over completed tasks;
        ``realized_cost_lower_bound`` is the mean cost over completed and in-flight tasks,
        these at their age and energy so far; ``drop_rate`` and ``in_flight_share`` are
        shares of all tasks; ``in_flight_mean_age_s`` is the mean age of the tasks still in
        flight at the end. NaN where no task qualifies.
        """
        n_done, n_drop, n_fly = (int(c) for c in self.counts)
        total = n_done + n_drop + n_fly
        cost = self.phi_t * self.latency_sum_s + self.phi_e * self.energy_sum_j
        out = {
            "realized_cost_per_task": _mean(cost[COMPLETED], n_done),
            "realized_cost_lower_bound": _mean(cost[COMPLETED] + cost[IN_FLIGHT], n_done + n_fly),
            "mean_realized_latency_s": _mean(self.latency_sum_s[COMPLETED], n_done),
            "mean_realized_energy_j": _mean(self.energy_sum_j[COMPLETED], n_done),
            "latency_p50_s": self.quantile(0.50),
            "latency_p95_s": self.quantile(0.95),
            "latency_p99_s": self.quantile(0.99),
            "drop_rate": _mean(n_drop, total),
            "in_flight_share": _mean(n_fly, total),
            "in_flight_mean_age_s": _mean(self.latency_sum_s[IN_FLIGHT], n_fly),
        }
        return {key: out[key] for key in FIGURES}


def _mean(total: float, count: int) -> float:
    """``total / count`` as a float, NaN when ``count`` is 0."""
    return float(total) / count if count else float("nan")


def _bin(latency_s: np.ndarray) -> np.ndarray:
    """Histogram bin of each latency (bin 0: below 1 us, the last: 1e7 s and above)."""
    with np.errstate(divide="ignore"):
        pos = (np.log10(np.maximum(latency_s, 0.0)) - _LOG_MIN) * _BINS_PER_DECADE
    pos = np.clip(pos, -1.0, _N_BINS - 2.0)  # -inf (latency 0) and overflow: clip first
    return np.floor(pos).astype(np.int64) + 1
