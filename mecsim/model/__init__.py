"""The cost model of the spec (sections 2-5): channel, cost, allocation, optimum, checks."""

from mecsim.model.allocation import cpu_split, mec_cpu_cost, optimal_power
from mecsim.model.backlog import backlog_waits, drift_price
from mecsim.model.channel import channel_gain, rate_bps, snr
from mecsim.model.check import check_decision
from mecsim.model.cost import TaskCost, local_cost, offload_cost
from mecsim.model.optimum import OptimumResult, solve_optimum
from mecsim.model.problem import Allocation, SlotProblem, Waits

__all__ = [
    "Allocation",
    "OptimumResult",
    "SlotProblem",
    "TaskCost",
    "Waits",
    "backlog_waits",
    "channel_gain",
    "check_decision",
    "cpu_split",
    "drift_price",
    "local_cost",
    "mec_cpu_cost",
    "offload_cost",
    "optimal_power",
    "rate_bps",
    "snr",
    "solve_optimum",
]
