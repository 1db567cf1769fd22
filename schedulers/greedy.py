"""The ``greedy`` baseline: every task to its nearest MEC (paper Sec. VI-C)."""

from __future__ import annotations

import numpy as np

from mecsim.scheduler import Decision, Observation
from schedulers._capacity import CapacityLimited, reachable


class Greedy(CapacityLimited):
    """Offload every task to the nearest reachable MEC, within each MEC's task limit.

    The distance is the Euclidean one between the task's IoTD and each MEC, the world's
    (``Observation.distance_m``; computed from the positions when absent); with candidate
    links (``Observation.candidates``) only the IoTD's ``K`` linked MECs are looked at;
    only MECs that are available and have a positive gain to the IoTD count (ties go to the
    lower MEC index); a task with no such MEC runs locally. Then the insufficient-resources
    rule of :mod:`schedulers._capacity` applies, on the MEC's CPU load (tasks at its CPU,
    not those still uploading): a MEC sent more tasks than it accepts keeps those with the
    fewest cycles, and the IoTDs needing the most cycles run locally (they are not re-sent
    to the next-nearest MEC).

    Args:
        max_tasks_per_mec: Fixed limit on the tasks a MEC's CPU holds, those already at
            it included, those still uploading to it not (``None``: derived from
            ``min_cpu_share_hz``).
        min_cpu_share_hz: Minimum equal-split CPU share per task [cycle/s] (``None``: the
            fastest IoTD CPU of the network).
        count_backlog: Count the tasks already at each MEC's CPU against its limit.
        count_uploads: Count the tasks still uploading too (the older rule; default off).
    """

    centralized = True

    def decide(self, observation: Observation) -> Decision:
        """Return the nearest-MEC placement, with the over-limit tasks sent local.

        Args:
            observation: The epoch's observation.

        Returns:
            A decision without allocation (the engine applies the exact one).

        Raises:
            RuntimeError: If :meth:`reset` was not called (the MEC positions come from it).
        """
        network = self.network_or_raise()
        n = observation.n_tasks
        if n == 0:
            return Decision(np.zeros(0, dtype=np.int64))
        if observation.candidates is not None:
            placement = self._nearest_linked(observation, network.mec_positions_m)
            return Decision(self.limit(observation, placement))
        distance = observation.task_distances_m(network.mec_positions_m)
        distance = np.where(reachable(observation), distance, np.inf)
        nearest = np.argmin(distance, axis=1)
        found = np.isfinite(distance[np.arange(n), nearest])
        placement = np.where(found, nearest + 1, 0)
        return Decision(self.limit(observation, placement))

    @staticmethod
    def _nearest_linked(observation: Observation, mec_positions_m: np.ndarray) -> np.ndarray:
        """The nearest reachable MEC among each task's candidate links (1-based; 0: none).

        Works on ``(n, K)`` arrays only; ties go to the lower MEC index, as without
        candidates.
        """
        iotd = observation.iotd
        cand = observation.candidates[iotd]  # (n, K) 0-based
        rows = np.arange(iotd.size)[:, None]
        usable = np.asarray(observation.available, dtype=bool) & observation.problem.available
        ok = usable[cand] & (observation.problem.gains[rows, cand] > 0)
        if observation.distance_m is not None:  # (N, K), to the candidates
            distance = observation.distance_m[iotd]
        else:
            distance = np.take_along_axis(observation.task_distances_m(mec_positions_m),
                                          cand, axis=1)
        distance = np.where(ok, distance, np.inf)
        best = distance.min(axis=1)
        m = observation.problem.gains.shape[1]
        mec = np.where(distance == best[:, None], cand, m).min(axis=1)
        return np.where(np.isfinite(best), mec + 1, 0)
