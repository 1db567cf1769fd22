"""The ``random`` baseline: each task to a uniformly random choice (paper Sec. VI-C).

(The module is not called ``random.py`` so that it can never shadow the standard library.)
"""

from __future__ import annotations

import numpy as np

from mecsim.scheduler import Decision, Observation
from schedulers._capacity import CapacityLimited, reachable


class RandomOffload(CapacityLimited):
    """Place each task uniformly at random on local or one of the reachable MECs.

    Task ``i`` draws one of ``1 + m_i`` options with equal probability: local, or one of
    the ``m_i`` MECs that are available and have a positive gain to its IoTD. Then the
    insufficient-resources rule of :mod:`schedulers._capacity` applies, on the MEC's CPU
    load (tasks at its CPU, not those still uploading): a MEC sent more tasks than it
    accepts keeps those with the fewest cycles and the others run locally.

    Randomness comes from ``self.rng`` (seeded by :meth:`reset`): exactly ``n`` uniform
    draws per epoch, so the same seed and observations give the same decisions.

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
        """Return a random placement that respects each MEC's task limit.

        Args:
            observation: The epoch's observation.

        Returns:
            A decision without allocation (the engine applies the exact one).
        """
        ok = reachable(observation)
        n = observation.n_tasks
        u = self.rng.random(n)  # always n draws: the stream does not depend on the gains
        if n == 0:
            return Decision(np.zeros(0, dtype=np.int64))
        choices = 1 + ok.sum(axis=1)
        pick = np.minimum((u * choices).astype(np.int64), choices - 1)  # 0 = local
        rank = np.cumsum(ok, axis=1)  # k-th reachable MEC has rank k
        hit = ok & (rank == pick[:, None])
        placement = np.where(pick > 0, np.argmax(hit, axis=1) + 1, 0)
        return Decision(self.limit(observation, placement))
