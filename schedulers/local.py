"""The ``local`` baseline: every task runs on its own IoTD (paper Sec. VI-C)."""

from __future__ import annotations

import numpy as np

from mecsim.scheduler import Decision, Observation, Scheduler


class Local(Scheduler):
    """Run every task locally; no MEC is ever used.

    It takes no parameters and ignores the channel, the backlog and the failures. Where the
    local execution power ``kappa f0^nu`` exceeds ``Pmax`` (constraint 7) its decision is
    invalid, as any all-local placement would be.
    """

    centralized = True

    def __init__(self) -> None:
        super().__init__()

    def decide(self, observation: Observation) -> Decision:
        """Return the all-local placement (``n`` zeros).

        Args:
            observation: The epoch's observation (only ``n_tasks`` is read).

        Returns:
            A decision without allocation (the engine applies the exact one).
        """
        return Decision(np.zeros(observation.n_tasks, dtype=np.int64))
