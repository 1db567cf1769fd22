"""Cost of one task, run locally or offloaded (spec section 3, paper eqs. 1, 8-10).

Every function returns latency, energy and weighted cost as separate named arrays, so
analysis can plot each part.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from mecsim.model._validate import as_array, check_broadcast


class TaskCost(NamedTuple):
    """Per-task cost parts (arrays of one shape).

    Attributes:
        latency_s: Latency ``T`` [s].
        energy_j: Energy spent by the IoTD ``E`` [J].
        cost: Weighted cost ``phi_T T + phi_E E`` [-].
    """

    latency_s: np.ndarray
    energy_j: np.ndarray
    cost: np.ndarray


def local_power_w(local_cpu_hz, kappa: float, nu: float) -> np.ndarray:
    """Return the local execution power ``kappa * f0^nu`` [W]."""
    return kappa * np.asarray(local_cpu_hz, dtype=float) ** nu


def local_cost(cycles, local_cpu_hz, kappa: float, nu: float, phi_t: float,
               phi_e: float) -> TaskCost:
    """Return the cost of running tasks on their IoTDs.

    ``T = F / f0`` and ``E = kappa f0^nu F / f0``.

    Args:
        cycles: CPU cycles ``F`` of each task [cycle], > 0.
        local_cpu_hz: The IoTD's CPU frequency ``f0`` [cycle/s], > 0, broadcastable.
        kappa: Switched capacitance [W/(cycle/s)^nu], > 0.
        nu: Power-law exponent [-], > 0.
        phi_t: Latency weight [1/s], >= 0.
        phi_e: Energy weight [1/J], >= 0.
    """
    f_cyc = as_array("cycles", cycles, positive=True)
    f0 = as_array("local_cpu_hz", local_cpu_hz, positive=True)
    check_broadcast(cycles=f_cyc, local_cpu_hz=f0)
    _check_constants(kappa=kappa, nu=nu)
    _check_weights(phi_t, phi_e)
    latency = f_cyc / f0
    energy = local_power_w(f0, kappa, nu) * latency
    return TaskCost(latency, energy, phi_t * latency + phi_e * energy)


def offload_cost(data_bits, cycles, rate, power_w, cpu_hz, phi_t: float,
                 phi_e: float) -> TaskCost:
    """Return the cost of offloaded tasks.

    ``T = D / r + F / f`` and ``E = p D / r`` (the IoTD pays only the upload energy).

    Args:
        data_bits: Upload size ``D`` [bit], > 0.
        cycles: CPU cycles ``F`` [cycle], > 0.
        rate: Upload rate ``r`` [bit/s], >= 0 (0 gives an infinite cost).
        power_w: Transmit power ``p`` [W], >= 0.
        cpu_hz: CPU share ``f`` at the MEC [cycle/s], >= 0 (0 gives an infinite cost).
        phi_t: Latency weight [1/s], >= 0.
        phi_e: Energy weight [1/J], >= 0.
    """
    d_bits = as_array("data_bits", data_bits, positive=True)
    f_cyc = as_array("cycles", cycles, positive=True)
    r = as_array("rate", rate, nonnegative=True)
    p = as_array("power_w", power_w, nonnegative=True)
    f = as_array("cpu_hz", cpu_hz, nonnegative=True)
    check_broadcast(data_bits=d_bits, cycles=f_cyc, rate=r, power_w=p, cpu_hz=f)
    _check_weights(phi_t, phi_e)
    with np.errstate(divide="ignore", invalid="ignore"):
        upload_s = d_bits / r
        latency = upload_s + f_cyc / f
        energy = np.where(r > 0, p * upload_s, np.inf)
    return TaskCost(latency, energy, phi_t * latency + phi_e * energy)


def _check_constants(**constants: float) -> None:
    for name, value in constants.items():
        as_array(name, value, positive=True)


def _check_weights(phi_t: float, phi_e: float) -> None:
    as_array("phi_t", phi_t, nonnegative=True)
    as_array("phi_e", phi_e, nonnegative=True)
