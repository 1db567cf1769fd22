"""The model's default constants (spec section 7, the paper's Table I), in one place."""

from __future__ import annotations

from dataclasses import dataclass

TASK_DATA_BITS = 8.0e5  # [bit] 100 kB
TASK_CYCLES = 1.0e9  # [cycle]
LOCAL_CPU_HZ = 1.0e9  # [cycle/s] f0
MEC_CPU_HZ = 50.0e9  # [cycle/s] Fmax
AREA_M = (50.0, 50.0)  # [m]
N_MECS = 2
N_IOTDS = 30


@dataclass(frozen=True)
class ModelParams:
    """Physical and cost parameters shared by every device of a slot.

    Attributes:
        bandwidth_hz: Bandwidth ``B`` of each IoTD's orthogonal channel [Hz].
        noise_psd_w_per_hz: Noise spectral density ``N0`` [W/Hz]; noise power is ``N0 * B``.
        beta0: Channel power gain at the reference distance of 1 m [-].
        d_min_m: Minimum distance in the path loss, keeps gains finite [m].
        max_power_w: Maximum transmit (and local execution) power ``Pmax`` [W].
        kappa: Effective switched capacitance of the local CPU [W/(cycle/s)^nu].
        nu: Exponent of the local CPU's power law [-].
        phi_t: Weight of latency in the cost ``phi_T`` [1/s], > 0.
        phi_e: Weight of energy in the cost ``phi_E`` [1/J].
    """

    bandwidth_hz: float = 1.0e6
    noise_psd_w_per_hz: float = 1.0e-12
    beta0: float = 1.0e-3
    d_min_m: float = 1.0
    max_power_w: float = 1.5
    kappa: float = 1.0e-27
    nu: float = 3.0
    phi_t: float = 1.0
    phi_e: float = 1.0

    def __post_init__(self) -> None:
        for name in ("bandwidth_hz", "noise_psd_w_per_hz", "beta0", "d_min_m", "max_power_w",
                     "kappa", "nu"):
            _require_positive(name, getattr(self, name))
        for name in ("phi_t", "phi_e"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0 and value < float("inf")):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.phi_t == 0:
            # With phi_T = 0 an offloader's cost falls towards p = 0, where its rate vanishes:
            # the power problem has no minimiser (spec section 4).
            raise ValueError(f"phi_t must be > 0 (with phi_t = 0 the transmit power has no "
                             f"optimum), got {self.phi_t!r}")

    @property
    def noise_w(self) -> float:
        """Noise power ``N0 * B`` [W]."""
        return self.noise_psd_w_per_hz * self.bandwidth_hz


def _require_positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and 0 < value < float("inf")):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
