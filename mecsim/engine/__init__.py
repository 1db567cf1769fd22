"""The SimPy engine: the world, the MEC CPUs, the simulation of one scheduler, a run."""

from mecsim.engine.runner import SchedulerResult, run_scenario
from mecsim.engine.simulation import SchedulerError, Simulation
from mecsim.engine.world import SlotWorld, World

__all__ = ["SchedulerError", "SchedulerResult", "Simulation", "SlotWorld", "World",
           "run_scenario"]
