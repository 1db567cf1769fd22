"""The world of a run: everything that does not depend on the scheduler's decisions.

IoTD mobility, channel gains and task arrivals are drawn from named random streams of the
scenario seed, one slot at a time, so every scheduler of a run meets exactly the same
world (common random numbers) while memory stays flat however long the run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mecsim.model.channel import channel_gain
from mecsim.physics.arrivals import make_arrivals, make_distribution
from mecsim.physics.fading import Fading, jakes_rho
from mecsim.physics.mobility import make_mobility
from mecsim.rng import streams


@dataclass(frozen=True)
class SlotWorld:
    """The world at one decision epoch.

    Attributes:
        slot: Epoch index.
        time_s: Epoch time ``slot * slot_s`` [s].
        positions_m: ``(N, 2)`` IoTD positions [m].
        distance_m: ``(N, M)`` IoTD-MEC distances [m].
        gains: ``(N, M)`` channel power gains [-] (block fading: fixed for the slot).
        iotd: ``(n,)`` IoTD of each task decided at this epoch, ordered by arrival.
        arrival_s: ``(n,)`` arrival times [s], in ``(time_s - slot_s, time_s]``.
        data_bits: ``(n,)`` upload sizes [bit].
        cycles: ``(n,)`` CPU cycles [cycle].
    """

    slot: int
    time_s: float
    positions_m: np.ndarray
    distance_m: np.ndarray
    gains: np.ndarray
    iotd: np.ndarray
    arrival_s: np.ndarray
    data_bits: np.ndarray
    cycles: np.ndarray


class World:
    """Generates :class:`SlotWorld` instances, slot after slot, from a scenario and a seed.

    Args:
        scenario: A validated :class:`mecsim.config.Scenario`.
        seed: The run's seed (overrides ``scenario.seed`` when given).
    """

    def __init__(self, scenario, seed: int | None = None) -> None:
        self.scenario = scenario
        rng = streams(scenario.seed if seed is None else seed)
        sc = scenario
        n, m = sc.iotds.count, sc.mecs.count
        self.mec_positions_m = np.asarray(sc.mec_positions_m, dtype=float)
        area = tuple(sc.area_m)
        initial = rng["placement"].uniform((0.0, 0.0), area, size=(n, 2))
        mob = sc.iotds.mobility
        self._mobility = make_mobility(mob.model, n, area, rng["mobility"],
                                       initial_positions_m=initial,
                                       **mob.model_dump(exclude={"model"}))
        fad = sc.channel.fading
        self._fading = Fading(n, m, rng["fading"],
                              rician_k=fad.rician_k if fad.model == "rician" else 0.0,
                              shadowing_std_db=fad.shadowing_std_db,
                              shadowing_rng=rng["shadowing"])
        arr = sc.tasks.arrival
        self._arrivals = make_arrivals(arr.process, **arr.model_dump(exclude={"process"}))
        self._ages_vary = arr.process != "per_slot"
        self._data = _distribution(sc.tasks.data_bits)
        self._cycles = _distribution(sc.tasks.cycles)
        self._rng_arrivals = rng["arrivals"]
        self._rng_sizes = rng["sizes"]
        self._slot = 0

    def next_slot(self) -> SlotWorld:
        """Advance the world to the next epoch and return it."""
        sc = self.scenario
        slot_s = sc.slot_s
        if self._slot > 0:
            self._mobility.step(slot_s)
        positions = np.array(self._mobility.positions_m, dtype=float)
        fad = sc.channel.fading
        if fad.rho == "jakes":
            rho = jakes_rho(self._mobility.speeds_mps, sc.channel.carrier_hz, slot_s)
        else:
            rho = float(fad.rho)
        fading = self._fading.step(rho)
        diff = positions[:, None, :] - self.mec_positions_m[None, :, :]
        distance = np.hypot(diff[..., 0], diff[..., 1])
        gains = channel_gain(distance, fading, sc.channel.beta0, sc.channel.d_min_m)
        iotd, offset = self._arrivals.sample(sc.iotds.count, slot_s, self._rng_arrivals)
        time_s = self._slot * slot_s
        # A task decided at this epoch arrived during the slot before it (per_slot: at it).
        arrival = time_s - slot_s + offset if self._ages_vary else np.full(iotd.size, time_s)
        data = self._data.sample(iotd.size, self._rng_sizes)
        cycles = self._cycles.sample(iotd.size, self._rng_sizes)
        world = SlotWorld(self._slot, time_s, positions, distance, gains,
                          np.asarray(iotd, dtype=np.int64), np.asarray(arrival, dtype=float),
                          np.asarray(data, dtype=float), np.asarray(cycles, dtype=float))
        self._slot += 1
        return world


_DIST_NAMES = {"truncnormal": "trunc_normal"}  # scenario spelling -> physics factory name


def _distribution(cfg):
    return make_distribution(_DIST_NAMES.get(cfg.dist, cfg.dist),
                             **cfg.model_dump(exclude={"dist"}))
