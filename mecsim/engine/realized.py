"""Realized (simulated) figures of one scheduler's tasks, accumulated as rows are written.

Every task row reaches :meth:`RealizedStats.add` exactly once, with its final status:
completed, dropped, or in flight when the run stopped (its latency is then its age at the
end of the run and its energy what it had spent so far). Memory stays flat: latency
quantiles come from a log-binned histogram.
"""

from __future__ import annotations

import numpy as np

COMPLETED, DROPPED, IN_FLIGHT = 0, 1, 2

_LOG_MIN, _LOG_MAX = -6.0, 7.0  # [log10 s] histogram range: 1 us .. 1e7 s
_BINS_PER_DECADE = 2000  # relative width of a bin: 10**(1/2000) - 1 = 0.115 %


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
        self._hist = np.zeros(int((_LOG_MAX - _LOG_MIN) * _BINS_PER_DECADE) + 2, dtype=np.int64)

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
        """Latency quantile of the completed tasks [s] (NaN if none), within 0.12 %."""
        total = self._hist.sum()
        if total == 0:
            return float("nan")
        k = int(np.searchsorted(np.cumsum(self._hist), q * total, side="left"))
        k = min(max(k, 1), self._hist.size - 2)
        return float(10.0 ** (_LOG_MIN + (k - 0.5) / _BINS_PER_DECADE))

    def summary(self) -> dict[str, float | int]:
        """Return the realized figures (see ``docs/results.md``)."""
        n_done, n_drop, n_fly = (int(c) for c in self.counts)
        total = n_done + n_drop + n_fly
        nan = float("nan")
        cost = self.phi_t * self.latency_sum_s + self.phi_e * self.energy_sum_j
        seen = n_done + n_fly
        return {
            "realized_cost_per_task": cost[COMPLETED] / n_done if n_done else nan,
            "realized_cost_lower_bound": (cost[COMPLETED] + cost[IN_FLIGHT]) / seen
            if seen else nan,
            "mean_realized_latency_s": self.latency_sum_s[COMPLETED] / n_done if n_done else nan,
            "mean_realized_energy_j": self.energy_sum_j[COMPLETED] / n_done if n_done else nan,
            "latency_p50_s": self.quantile(0.50),
            "latency_p95_s": self.quantile(0.95),
            "latency_p99_s": self.quantile(0.99),
            "drop_rate": n_drop / total if total else nan,
            "in_flight_share": n_fly / total if total else nan,
            "in_flight_mean_age_s": self.latency_sum_s[IN_FLIGHT] / n_fly if n_fly else nan,
        }


def _bin(latency_s: np.ndarray) -> np.ndarray:
    """Histogram bin of each latency (bin 0: below 1 us, the last: above 1e7 s)."""
    with np.errstate(divide="ignore"):
        pos = (np.log10(np.maximum(latency_s, 0.0)) - _LOG_MIN) * _BINS_PER_DECADE
    return np.clip(np.floor(pos).astype(np.int64) + 1, 0, int(
        (_LOG_MAX - _LOG_MIN) * _BINS_PER_DECADE) + 1)
