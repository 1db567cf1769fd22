"""The scenario file: pydantic v2 models, loading, ``--set`` overrides and error messages.

A scenario is a YAML mapping validated by :class:`Scenario`. Every model forbids unknown
keys and is frozen; every quantity carries its SI unit in its name (``_s``, ``_m``, ``_hz``,
``_w``, ``_j``, ``_bits``, ``_mps``, ``_rad``, ``_db``) or in its docstring. The defaults are
the spec's section 7 (the paper's Table I), taken from :mod:`mecsim.params`.

Entry points:

- :func:`load_scenario`: read a file, apply ``--set`` overrides, validate.
- :func:`scenario_from_dict`: validate a mapping.
- :func:`apply_overrides`: apply ``KEY=VALUE`` overrides to a mapping (pure).
- :func:`dump_scenario`: the resolved scenario as YAML, loadable again.

Every problem is reported as a :class:`ScenarioError` whose message has one line per
problem, ``"<file>: <dotted.key.path>: <what is wrong> (got <value>)"``.

Besides its type, every number is checked against a physically meaningful :class:`Range`
(:data:`RANGES`, by key path), so that no accepted value can overflow, hang the engine or
give a meaningless cost; the message gives the range.

The key reference (units, defaults, the choices made) is ``docs/scenarios.md``.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from annotated_types import Ge, Gt, Le
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mecsim import params as _defaults

__all__ = [
    "ArrivalConfig",
    "BernoulliArrival",
    "ChannelConfig",
    "ChoiceDist",
    "ConstantDist",
    "DEFAULT_SCHEDULERS",
    "DistConfig",
    "FadingConfig",
    "FailureEvent",
    "GaussMarkovMobility",
    "IotdsConfig",
    "MAX_FADING_STEPS",
    "MAX_NAME_CHARS",
    "MecsConfig",
    "MobilityConfig",
    "OutputConfig",
    "PerSlotArrival",
    "PoissonArrival",
    "RANGES",
    "RandomWaypointMobility",
    "Range",
    "Scenario",
    "ScenarioError",
    "SchedulerSpec",
    "StaticMobility",
    "TasksConfig",
    "TruncNormalDist",
    "UniformDist",
    "WeightsConfig",
    "apply_overrides",
    "default_mec_layout",
    "dump_scenario",
    "load_scenario",
    "scenario_from_dict",
    "scenario_to_dict",
]

_MP = _defaults.ModelParams()  # the spec's physical defaults (bandwidth, noise, beta0, ...)

#: Default scheduler list of a scenario: the paper's baselines and the exact optimum.
DEFAULT_SCHEDULERS: tuple[str, ...] = ("local", "random", "greedy", "optimal")

#: ``output.channels: auto`` writes channels.parquet when ``N * M`` is at most this.
CHANNELS_AUTO_MAX_LINKS = 10_000

_MAX_REPORTED = 20  # problems listed in one ScenarioError; the rest are counted

#: Most fading steps in one slot (``slot_s / channel.fading.step_s``).
MAX_FADING_STEPS = 1_000_000

#: Longest scenario and scheduler names and labels (they name files and folders).
MAX_NAME_CHARS = 100


# --------------------------------------------------------------------------- errors


class ScenarioError(Exception):
    """A scenario that cannot be read or is invalid.

    ``str(error)`` is the human message: one line per problem, each
    ``"<file>: <dotted.key.path>: <what is wrong> (got <value>)"``, ready to print without a
    traceback.

    Attributes:
        source: The file (or ``"<dict>"``, ``"--set"``) the problem was found in.
        problems: The problems without the source prefix, one string each.
    """

    def __init__(self, source: str, problems: Sequence[str] | str) -> None:
        self.source = str(source)
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        shown = [f"{self.source}: {p}" for p in self.problems[:_MAX_REPORTED]]
        if len(self.problems) > _MAX_REPORTED:
            shown.append(f"{self.source}: ... and {len(self.problems) - _MAX_REPORTED} more")
        super().__init__("\n".join(shown))


class _Problem(ValueError):
    """A validator's error located below the model that raised it.

    Pydantic places a model validator's error at the model itself; this exception carries
    the rest of the key path (``loc``), which :func:`_format_errors` appends.
    """

    def __init__(self, loc: tuple[str | int, ...], msg: str, value: Any = ..., show: bool = True):
        path = ".".join(_key_text(p) for p in loc)
        got = f" (got {_show(value)})" if (show and value is not ...) else ""
        super().__init__(f"{path}: {msg}{got}" if path else f"{msg}{got}")
        self.loc = loc
        self.msg = msg
        self.value = value
        self.show = show


def _key_text(key: Any) -> str:
    """A key of a path as printed: itself, or quoted when odd (a newline, very long)."""
    text = str(key)
    return text if (text.isprintable() and len(text) <= 80) else _show(text)


def _show(value: Any) -> str:
    """Short, readable rendering of an offending value."""
    if isinstance(value, bool) or value is None:
        text = {True: "true", False: "false", None: "null"}[value]
    elif isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, int) and value.bit_length() > 200:  # repr may refuse (> 4300 digits)
        text = f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(_show(v) for v in value[:10]) + (", ...]" if len(value) > 10
                                                                  else "]")
    elif isinstance(value, Mapping):
        text = "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    else:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --------------------------------------------------------------------------- scalar types


def _to_float(value: Any) -> float:
    """Coerce a YAML scalar to a finite float; ``"50e9"`` (a string in YAML 1.1) is accepted."""
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError("expected a number") from None
    if isinstance(value, (int, np.integer)):
        try:
            return float(value)
        except OverflowError:  # an integer beyond 1.8e308
            raise ValueError("must be a finite number (this one is too large)") from None
    if not isinstance(value, (float, np.floating)):
        raise ValueError("expected a number")
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return float(value)


def _to_int(value: Any) -> int:
    """Coerce a YAML scalar to an int; integral floats and ``"1e3"`` are accepted."""
    if isinstance(value, bool):
        raise ValueError("expected an integer, not true/false")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise ValueError("expected an integer") from None
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and value == int(value):
        return int(value)
    raise ValueError("expected an integer")


Num = Annotated[float, BeforeValidator(_to_float)]
PosFloat = Annotated[float, BeforeValidator(_to_float), Gt(0)]
NonNegFloat = Annotated[float, BeforeValidator(_to_float), Ge(0)]
UnitFloat = Annotated[float, BeforeValidator(_to_float), Ge(0), Le(1)]
Int = Annotated[int, BeforeValidator(_to_int)]
PosInt = Annotated[int, BeforeValidator(_to_int), Ge(1)]
NonNegInt = Annotated[int, BeforeValidator(_to_int), Ge(0)]


# --------------------------------------------------------------------------- ranges


def _num_text(value: float) -> str:
    """Compact text of a bound: ``1000``, ``0.5``, ``1e-6``, ``1e12``, ``2 pi``."""
    if value == 2 * math.pi:
        return "2 pi"
    mantissa, exponent = f"{value:e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    if value == 0 or 1e-2 <= abs(value) < 1e4 or (len(mantissa) > 1 and abs(value) < 1e6):
        return f"{value:g}"  # 0.5, 1000, 86400 (not 8.64e4)
    return f"{mantissa}e{int(exponent)}"  # 1e-6, 1e5, 1e12


class Range:
    """The physically meaningful range of a scenario number, with the unit and a reason.

    Every number of a scenario is checked against one (``RANGES`` lists them by key path,
    ``docs/scenarios.md`` gives the reasons); a value outside is rejected with the range in
    the message, e.g. ``must be in [1e3, 1e12] Hz (1 kHz to 1 THz)``.

    Args:
        low: Smallest allowed value.
        high: Largest allowed value.
        unit: Unit written after the range (``"Hz"``, ``"m/s"``, ``""``).
        low_open: ``low`` itself is excluded (``(0, 1]``).
        high_open: ``high`` itself is excluded (``[0, 1)``).
        zero: 0 is allowed besides the range (``0 or in [1e-6, 1e6]``).
        note: Short reason shown in parentheses after the range.
        integer: An integer quantity (its bounds are written as integers).
    """

    def __init__(self, low: float, high: float, unit: str = "", *, low_open: bool = False,
                 high_open: bool = False, zero: bool = False, note: str = "",
                 integer: bool = False) -> None:
        self.low, self.high, self.unit = low, high, unit
        self.low_open, self.high_open, self.zero = low_open, high_open, zero
        self.note, self.integer = note, integer

    def contains(self, value: float) -> bool:
        """Whether ``value`` is allowed (a finite number inside the range, or 0 if allowed)."""
        if self.zero and value == 0:
            return True
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return bool(above and below)

    @property
    def text(self) -> str:
        """The range as written in messages: ``[1e3, 1e12] Hz``."""
        low = "0" if (self.low == 0 and not self.integer) else _num_text(self.low)
        high = "2^63 - 1" if self.high == 2**63 - 1 else _num_text(self.high)
        span = f"{'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"
        span = f"0 or in {span}" if self.zero else f"in {span}"
        return f"{span} {self.unit}".rstrip()

    @property
    def message(self) -> str:
        """The error message for a value outside: ``must be in [...] unit (note)``."""
        kind = "an integer " if self.integer else ""
        note = f" ({self.note})" if self.note else ""
        return f"must be {kind}{self.text}{note}"

    def check(self, value: float) -> float:
        """Return ``value`` if allowed, else raise ``ValueError`` with :attr:`message`."""
        if not self.contains(value):
            raise ValueError(self.message)
        return value

    def __repr__(self) -> str:
        return f"Range({self.text!r})"


def _ranged(rng: Range) -> Any:
    """A float field type checked against ``rng`` (after the coercion to a finite float)."""
    return Annotated[float, BeforeValidator(_to_float), AfterValidator(rng.check)]


def _ranged_int(rng: Range) -> Any:
    """An integer field type checked against ``rng``."""
    return Annotated[int, BeforeValidator(_to_int), AfterValidator(rng.check)]


_DAY_S = 86_400.0
_LONG_S = 1e9  # [s] about 32 years: the longest time a scenario may name
_SPEED = Range(1e-6, 1000.0, "m/s", note="1 um/s to Mach 3")
_CPU = Range(1e3, 1e12, "Hz", note="1 kHz to 1 THz")
_BITS = Range(1.0, 1e12, "bit", note="1 bit to 125 GB")
_CYCLES = Range(1.0, 1e15, "cycle", note="1 cycle to 1e15, a day of a 10 GHz CPU")
_DEADLINE = Range(1e-6, _LONG_S, "s", note="1 us to 32 years")

#: Every checked number of a scenario, by key path (``*`` stands for any list index), with
#: its range. ``docs/scenarios.md`` has the same table with the reasons.
RANGES: dict[str, Range] = {
    "seed": Range(0, 2**63 - 1, integer=True, note="a 64-bit signed integer"),
    "slots": Range(1, 10**9, integer=True),
    "slot_s": Range(1e-6, _DAY_S, "s", note="1 us to a day"),
    "area_m.*": Range(1.0, 1e5, "m", note="1 m to 100 km"),
    "weights.latency_per_s": Range(1e-6, 1e6, "1/s"),
    "weights.energy_per_j": Range(1e-6, 1e6, "1/J", zero=True),
    "channel.bandwidth_hz": Range(1e3, 1e11, "Hz", note="1 kHz to 100 GHz"),
    "channel.noise_psd_w_per_hz": Range(
        1e-23, 1e-3, "W/Hz", note="thermal noise k T is 1.4e-23 at 1 K, 4e-21 at 290 K"),
    "channel.beta0": Range(1e-15, 1.0, note="a gain at 1 m above 1 would create power"),
    "channel.d_min_m": Range(1e-3, 1e3, "m"),
    "channel.carrier_hz": Range(1e6, 1e12, "Hz", note="1 MHz to 1 THz"),
    "channel.candidate_mecs": Range(1, 10_000, integer=True, note=">= mecs.count: every MEC"),
    "channel.fading.sinusoids": Range(1, 128, integer=True),
    "channel.fading.step_s": Range(1e-6, _DAY_S, "s", note="and it divides slot_s"),
    "channel.fading.min_speed_mps": Range(0.0, 1000.0, "m/s"),
    "channel.fading.rician_k": Range(0.0, 1e4, note="linear, up to 40 dB"),
    "channel.fading.shadowing_std_db": Range(
        0.0, 30.0, "dB", note="measured shadowing is 3-12 dB"),
    "channel.fading.shadowing_decorrelation_m": Range(0.1, 1e5, "m"),
    "mecs.count": Range(1, 10_000, integer=True),
    "mecs.cpu_hz.*": _CPU,
    "mecs.failures.*.start_s": Range(0.0, _LONG_S, "s"),
    "mecs.failures.*.duration_s": Range(1e-6, _LONG_S, "s"),
    "iotds.count": Range(1, 10_000_000, integer=True),
    "iotds.cpu_hz": _CPU,
    "iotds.max_power_w": Range(1e-6, 1e3, "W", note="1 uW to 1 kW"),
    "iotds.kappa": Range(1e-60, 1.0, "W/(cycle/s)^nu"),
    "iotds.nu": Range(1.0, 5.0, note="CMOS dynamic power grows about as f^3"),
    "iotds.mobility.speed_range_mps.*": _SPEED,
    "iotds.mobility.pause_s": Range(0.0, _LONG_S, "s"),
    "iotds.mobility.mean_speed_mps": _SPEED,
    "iotds.mobility.speed_std_mps": Range(0.0, 1000.0, "m/s"),
    "iotds.mobility.direction_std_rad": Range(0.0, 2 * math.pi, "rad"),
    "tasks.arrival.rate_per_s": Range(1e-9, 1e6, "1/s"),
    "tasks.data_bits": _BITS,
    "tasks.cycles": _CYCLES,
    "tasks.deadline_s": _DEADLINE,
    "greedy_max_tasks_per_mec": Range(1, 10**9, integer=True),
}


def _in(key: str) -> Any:
    """The field type of ``RANGES[key]``: a ranged float or integer."""
    rng = RANGES[key]
    return _ranged_int(rng) if rng.integer else _ranged(rng)


def _pair(names: str) -> BeforeValidator:
    """Require a list of exactly two items, e.g. ``[x, y]``."""

    def check(value: Any) -> Any:
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise ValueError(f"expected a list of two numbers [{names}]")
        return value

    return BeforeValidator(check)


Point = Annotated[tuple[Num, Num], _pair("x, y")]


def _non_empty(value: Any) -> Any:
    """Reject an empty list before its items are validated (one clear message)."""
    if isinstance(value, (list, tuple)) and not value:
        raise ValueError("must not be empty")
    return value


# --------------------------------------------------------------------------- base model


class _Model(BaseModel):
    """Base of every scenario model: frozen, unknown keys rejected with the valid ones."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=False)

    @model_validator(mode="before")
    @classmethod
    def _check_keys(cls, data: Any) -> Any:
        _reject_unknown_keys(cls, data)
        return data


def _reject_unknown_keys(cls: type[BaseModel], data: Any) -> None:
    if not isinstance(data, Mapping):
        return
    valid = list(cls.model_fields)
    unknown = [k for k in data if k not in cls.model_fields]
    if not unknown:
        return
    key = unknown[0]
    close = difflib.get_close_matches(str(key), valid, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise _Problem((str(key),), f"unknown key (valid keys: {', '.join(valid)}){hint}", show=False)


# --------------------------------------------------------------------------- sections


class WeightsConfig(_Model):
    """Weights of the cost ``Phi = phi_T T + phi_E E`` (spec section 3).

    Attributes:
        latency_per_s: ``phi_T`` [1/s], > 0 (with ``phi_T = 0`` the best upload power tends
            to 0 and the cost has no minimiser).
        energy_per_j: ``phi_E`` [1/J], >= 0 (0: latency only, uploads at ``Pmax``).
    """

    latency_per_s: _in("weights.latency_per_s") = _MP.phi_t
    energy_per_j: _in("weights.energy_per_j") = _MP.phi_e


def _rho(value: Any) -> float | str:
    if isinstance(value, str) and value.strip().lower() == "jakes":
        return "jakes"
    try:
        rho = _to_float(value)
    except ValueError:
        raise ValueError('expected a number in [0, 1) or "jakes"') from None
    if not 0.0 <= rho < 1.0:
        raise ValueError('must be in [0, 1) or "jakes"')
    return rho


class FadingConfig(_Model):
    """Small-scale fading and shadowing (spec section 2; ``docs/physics.md``).

    Attributes:
        model: ``rayleigh`` or ``rician`` (line of sight with K-factor ``rician_k``).
        rho: The fading's time correlation: ``"jakes"`` (each device's Doppler
            ``f_D = v f_c / c``; correlation ``J0(2 pi f_D tau)``), or a number in [0, 1):
            the AR(1) coefficient ``g_t = rho g_{t-1} + sqrt(1 - rho^2) w_t`` between two
            fading steps for every link (0 = i.i.d. block fading, the paper).
        generator: How Jakes fading is generated: ``sum_of_sinusoids`` (Zheng-Xiao, the
            correlation is ``J0`` at every lag; the default with ``rho: jakes``) or ``ar1``
            (right at lag 1 only). A numeric ``rho`` always uses ``ar1``.
        sinusoids: Sinusoids per link of the ``sum_of_sinusoids`` generator, >= 1.
        step_s: Fading update period [s], > 0, at most ``slot_s`` and dividing it into a whole
            number of steps; ``None`` = ``slot_s``. Uploads follow the channel at every step.
        min_speed_mps: Doppler speed floor [m/s], >= 0: a device slower than this (a paused
            one) still sees its fading change as if it moved at this speed, since people and
            vehicles around it move. 0 = a paused device's fading is frozen.
        rician_k: Rician K-factor (LoS power / scattered power) [-], >= 0; only with
            ``model: rician``.
        shadowing_std_db: Standard deviation of log-normal shadowing [dB], >= 0 (0 = none).
        shadowing_decorrelation_m: Gudmundson decorrelation distance [m], > 0: the
            shadowing of a device that moved ``d`` keeps correlation ``exp(-d / this)``;
            ``None`` = fixed for the whole run. 10 m is 3GPP TR 38.901's UMi LOS value.
    """

    model: Literal["rayleigh", "rician"] = "rayleigh"
    rho: Annotated[float | Literal["jakes"], BeforeValidator(_rho)] = 0.0
    generator: Literal["sum_of_sinusoids", "ar1"] | None = None
    sinusoids: _in("channel.fading.sinusoids") = 8
    step_s: _in("channel.fading.step_s") | None = None
    min_speed_mps: _in("channel.fading.min_speed_mps") = 0.0
    rician_k: _in("channel.fading.rician_k") = 0.0
    shadowing_std_db: _in("channel.fading.shadowing_std_db") = 0.0
    shadowing_decorrelation_m: _in("channel.fading.shadowing_decorrelation_m") | None = 10.0

    @model_validator(mode="after")
    def _k_only_for_rician(self) -> FadingConfig:
        if self.model != "rician" and self.rician_k != 0:
            raise _Problem(("rician_k",), "applies only to model: rician", self.rician_k)
        if self.generator == "sum_of_sinusoids" and self.rho != "jakes":
            raise _Problem(("generator",), "sum_of_sinusoids follows the Doppler: it needs "
                           "rho: jakes (a numeric rho is an AR(1) coefficient)", self.generator)
        return self

    @property
    def jakes(self) -> bool:
        """True when the correlation follows each device's speed (``rho: jakes``)."""
        return self.rho == "jakes"

    @property
    def sum_of_sinusoids(self) -> bool:
        """True when the fading comes from the sum-of-sinusoids generator."""
        return self.jakes and self.generator != "ar1"


class ChannelConfig(_Model):
    """Radio channel (spec section 2): path loss, noise, bandwidth, fading.

    Attributes:
        bandwidth_hz: ``B`` of each IoTD's own orthogonal channel [Hz], > 0.
        noise_psd_w_per_hz: ``N0`` [W/Hz], > 0; the noise power is ``N0 * B``.
        beta0: Channel power gain at 1 m [-], > 0.
        d_min_m: Distance floor of the path loss [m], > 0.
        carrier_hz: Carrier frequency [Hz], > 0; only used by ``fading.rho: jakes`` (the
            wavelength ``c / f_c`` sets the Doppler).
        fading: See :class:`FadingConfig`.
        candidate_mecs: ``K``: each IoTD has a link to its ``K`` nearest MECs only, chosen
            again at every epoch; ``None`` (or ``K >= M``) = to every MEC. The world then
            draws fading and shadowing for ``N x K`` links, not ``N x M``; a scheduler sees
            gain 0 (no link) for every other MEC (``docs/physics.md``, "Candidate links").
    """

    bandwidth_hz: _in("channel.bandwidth_hz") = _MP.bandwidth_hz
    noise_psd_w_per_hz: _in("channel.noise_psd_w_per_hz") = _MP.noise_psd_w_per_hz
    beta0: _in("channel.beta0") = _MP.beta0
    d_min_m: _in("channel.d_min_m") = _MP.d_min_m
    carrier_hz: _in("channel.carrier_hz") = 2.4e9
    fading: FadingConfig = FadingConfig()
    candidate_mecs: _in("channel.candidate_mecs") | None = None


class FailureEvent(_Model):
    """One MEC outage: MEC ``mec`` is down during ``[start_s, start_s + duration_s)``.

    Attributes:
        mec: 1-based MEC index, ``1 <= mec <= mecs.count``.
        start_s: Simulated time the outage starts [s], >= 0.
        duration_s: Length of the outage [s], > 0.
    """

    mec: PosInt
    start_s: _in("mecs.failures.*.start_s")
    duration_s: _in("mecs.failures.*.duration_s")

    @property
    def end_s(self) -> float:
        """Time the MEC is back up [s]."""
        return self.start_s + self.duration_s


class MecsConfig(_Model):
    """The MEC servers.

    Attributes:
        count: ``M`` >= 1.
        cpu_hz: ``Fmax_j`` [cycle/s] > 0, normalised to a tuple of length ``count``; the
            file may give one number for every MEC or a list (unequal capacities).
        positions_m: ``None`` for the default grid layout
            (:meth:`Scenario.mec_positions_m`), or ``count`` points ``(x, y)`` [m] inside
            the area.
        failures: Outage events; outages of one MEC must not overlap.
        on_failure: What happens to a failed MEC's running and queued tasks: ``drop``
            them (reason ``mec_failure``) or re-run them ``local``-ly from the start.
    """

    count: _in("mecs.count") = _defaults.N_MECS
    cpu_hz: tuple[_in("mecs.cpu_hz.*"), ...] = (_defaults.MEC_CPU_HZ,) * _defaults.N_MECS
    positions_m: tuple[Point, ...] | None = None
    failures: tuple[FailureEvent, ...] = ()
    on_failure: Literal["drop", "local"] = "drop"

    @field_validator("cpu_hz", mode="before")
    @classmethod
    def _broadcast_cpu(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, (list, tuple)):
            return value
        one = RANGES["mecs.cpu_hz.*"].check(_to_float(value))
        return (one,) * int(info.data.get("count", 1))

    @model_validator(mode="before")
    @classmethod
    def _default_cpu_follows_count(cls, data: Any) -> Any:
        # Without cpu_hz, every MEC gets the default capacity, whatever the count.
        if isinstance(data, Mapping) and "cpu_hz" not in data:
            data = {**data, "cpu_hz": _defaults.MEC_CPU_HZ}
        return data

    @model_validator(mode="after")
    def _check_lengths(self) -> MecsConfig:
        n = self.count
        if len(self.cpu_hz) != n:
            raise _Problem(
                ("cpu_hz",),
                f"expected one number or a list of {n} (one per MEC, mecs.count = {n})",
                list(self.cpu_hz),
            )
        if self.positions_m is not None and len(self.positions_m) != n:
            raise _Problem(
                ("positions_m",),
                f"expected null or a list of {n} points [x, y] (mecs.count = {n})",
                [list(p) for p in self.positions_m],
            )
        for k, event in enumerate(self.failures):
            if event.mec > n:
                raise _Problem(
                    ("failures", k, "mec"), f"no such MEC: mecs.count is {n} (1-based)", event.mec
                )
        order = sorted(range(len(self.failures)),
                       key=lambda k: (self.failures[k].mec, self.failures[k].start_s, k))
        for a, b in zip(order[:-1], order[1:], strict=True):  # an overlap shows in neighbours
            first, second = self.failures[a], self.failures[b]
            if first.mec == second.mec and second.start_s < first.end_s:
                k, j = max(a, b), min(a, b)
                other = self.failures[j]
                raise _Problem(
                    ("failures", k),
                    f"overlaps failures.{j}, an outage of the same MEC {other.mec} "
                    f"({other.start_s:g} s to {other.end_s:g} s)",
                    show=False,
                )
        return self


class StaticMobility(_Model):
    """Devices stay where they are placed (uniformly at random in the area)."""

    model: Literal["static"] = "static"


class RandomWaypointMobility(_Model):
    """Random waypoint: walk straight to a uniform random point, pause, repeat.

    Attributes:
        speed_range_mps: ``[vmin, vmax]`` [m/s], ``0 < vmin <= vmax``; each leg's speed is
            uniform in it.
        pause_s: Pause at each waypoint [s], >= 0.
    """

    model: Literal["random_waypoint"] = "random_waypoint"
    speed_range_mps: Annotated[
        tuple[_in("iotds.mobility.speed_range_mps.*"), _in("iotds.mobility.speed_range_mps.*")],
        _pair("vmin, vmax"),
    ] = (0.5, 1.5)
    pause_s: _in("iotds.mobility.pause_s") = 0.0

    @model_validator(mode="after")
    def _ordered(self) -> RandomWaypointMobility:
        vmin, vmax = self.speed_range_mps
        if vmin > vmax:
            raise _Problem(("speed_range_mps",), "needs vmin <= vmax", [vmin, vmax])
        return self


class GaussMarkovMobility(_Model):
    """Gauss-Markov mobility, updated once per slot, reflecting at the border.

    Speed: ``v_t = a v_{t-1} + (1 - a) mean + sqrt(1 - a^2) N(0, speed_std^2)`` with
    ``a = memory``; the direction follows an AR(1) process of the same memory with innovation
    ``direction_std_rad`` (``mecsim.physics`` has the exact update).

    Attributes:
        mean_speed_mps: Long-run mean speed [m/s], > 0.
        memory: ``a`` in [0, 1]: 0 = memoryless, 1 = straight line at constant speed.
        speed_std_mps: Standard deviation of the speed's innovation [m/s], >= 0.
        direction_std_rad: Standard deviation of the direction's innovation [rad], >= 0.
    """

    model: Literal["gauss_markov"] = "gauss_markov"
    mean_speed_mps: _in("iotds.mobility.mean_speed_mps") = 1.0
    memory: UnitFloat = 0.75
    speed_std_mps: _in("iotds.mobility.speed_std_mps") = 0.3
    direction_std_rad: _in("iotds.mobility.direction_std_rad") = 0.5


MobilityConfig = Annotated[
    StaticMobility | RandomWaypointMobility | GaussMarkovMobility,
    Field(discriminator="model"),
]


def _tag_shorthand(key: str) -> Any:
    """``mobility: static`` -> ``{model: static}`` (and alike for the other unions)."""

    def convert(value: Any) -> Any:
        return {key: value} if isinstance(value, str) else value

    return convert


class IotdsConfig(_Model):
    """The IoT devices (all alike).

    Attributes:
        count: ``N`` >= 1.
        cpu_hz: Local CPU ``f0`` [cycle/s], > 0.
        max_power_w: ``Pmax`` [W], > 0: bound on the transmit power and on the local
            execution power ``kappa f0^nu`` (spec constraint 7, checked here).
        kappa: Effective switched capacitance [W/(cycle/s)^nu], > 0.
        nu: Exponent of the CPU power law [-], > 0.
        mobility: ``static``, ``random_waypoint`` or ``gauss_markov`` (key ``model``).
    """

    count: _in("iotds.count") = _defaults.N_IOTDS
    cpu_hz: _in("iotds.cpu_hz") = _defaults.LOCAL_CPU_HZ
    max_power_w: _in("iotds.max_power_w") = _MP.max_power_w
    kappa: _in("iotds.kappa") = _MP.kappa
    nu: _in("iotds.nu") = _MP.nu
    mobility: Annotated[MobilityConfig, BeforeValidator(_tag_shorthand("model"))] = StaticMobility()

    @model_validator(mode="after")
    def _local_power_feasible(self) -> IotdsConfig:
        power = self.kappa * self.cpu_hz**self.nu
        if not power <= self.max_power_w:
            raise _Problem(
                ("cpu_hz",),
                f"local execution power kappa * cpu_hz^nu = {power:g} W exceeds "
                f"max_power_w = {self.max_power_w:g} W (spec constraint 7)",
                self.cpu_hz,
            )
        return self

    @property
    def local_power_w(self) -> float:
        """Local execution power ``kappa f0^nu`` [W]."""
        return self.kappa * self.cpu_hz**self.nu


class PerSlotArrival(_Model):
    """Every IoTD generates exactly one task per slot, at the slot's start (the paper)."""

    process: Literal["per_slot"] = "per_slot"

    def tasks_per_s(self, slot_s: float) -> float:
        """Mean arrival rate per IoTD [1/s]."""
        return 1.0 / slot_s


class BernoulliArrival(_Model):
    """Each IoTD generates one task per slot with probability ``probability``, at its start.

    Attributes:
        probability: In (0, 1].
    """

    process: Literal["bernoulli"] = "bernoulli"
    probability: Annotated[float, BeforeValidator(_to_float), Gt(0), Le(1)] = 0.5

    def tasks_per_s(self, slot_s: float) -> float:
        """Mean arrival rate per IoTD [1/s]."""
        return self.probability / slot_s


class PoissonArrival(_Model):
    """Each IoTD generates tasks as a Poisson process in continuous time.

    Tasks arriving during a slot wait for the next decision epoch.

    Attributes:
        rate_per_s: Mean arrivals per second per IoTD [1/s], > 0.
    """

    process: Literal["poisson"] = "poisson"
    rate_per_s: _in("tasks.arrival.rate_per_s") = 1.0

    def tasks_per_s(self, slot_s: float) -> float:
        """Mean arrival rate per IoTD [1/s]."""
        return self.rate_per_s


ArrivalConfig = Annotated[
    PerSlotArrival | BernoulliArrival | PoissonArrival,
    Field(discriminator="process"),
]


class ConstantDist(_Model):
    """Always ``value`` (> 0)."""

    dist: Literal["constant"] = "constant"
    value: PosFloat

    @property
    def expected(self) -> float:
        """Mean of the distribution."""
        return self.value

    @property
    def support(self) -> tuple[float, float]:
        """Smallest and largest possible sample."""
        return (self.value, self.value)


class UniformDist(_Model):
    """Uniform on ``[low, high]``, ``0 < low <= high``."""

    dist: Literal["uniform"] = "uniform"
    low: PosFloat
    high: PosFloat

    @model_validator(mode="after")
    def _ordered(self) -> UniformDist:
        if self.low > self.high:
            raise _Problem(("high",), f"must be >= low ({self.low:g})", self.high)
        return self

    @property
    def expected(self) -> float:
        """Mean of the distribution."""
        return 0.5 * (self.low + self.high)

    @property
    def support(self) -> tuple[float, float]:
        """Smallest and largest possible sample."""
        return (self.low, self.high)


class TruncNormalDist(_Model):
    """Normal(``mean``, ``std``) truncated to ``[low, high]``.

    Requires ``0 < low < high``, ``std > 0`` and ``low <= mean <= high`` (so that sampling,
    by inversion or rejection, is efficient). ``mean`` is the untruncated location; the
    distribution's actual mean is :attr:`expected`.
    """

    dist: Literal["truncnormal"] = "truncnormal"
    mean: Num
    std: PosFloat
    low: PosFloat
    high: PosFloat

    @model_validator(mode="after")
    def _ordered(self) -> TruncNormalDist:
        if not self.low < self.high:
            raise _Problem(("high",), f"must be > low ({self.low:g})", self.high)
        if not self.low <= self.mean <= self.high:
            raise _Problem(
                ("mean",), f"must lie in [low, high] = [{self.low:g}, {self.high:g}]", self.mean
            )
        return self

    @property
    def expected(self) -> float:
        """Mean of the truncated distribution."""
        a = (self.low - self.mean) / self.std
        b = (self.high - self.mean) / self.std
        pdf = lambda z: math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)  # noqa: E731
        cdf = lambda z: 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))  # noqa: E731
        mass = cdf(b) - cdf(a)
        if mass <= 0:  # numerically empty: the window lies far in a tail
            return min(max(self.mean, self.low), self.high)
        return self.mean + self.std * (pdf(a) - pdf(b)) / mass

    @property
    def support(self) -> tuple[float, float]:
        """Smallest and largest possible sample."""
        return (self.low, self.high)


class ChoiceDist(_Model):
    """One of ``values`` (each > 0), with ``probs`` (``None`` = equally likely).

    ``probs``, if given, has one entry per value, each >= 0, summing to 1 (within 1e-6).
    """

    dist: Literal["choice"] = "choice"
    values: Annotated[tuple[PosFloat, ...], BeforeValidator(_non_empty)]
    probs: tuple[NonNegFloat, ...] | None = None

    @model_validator(mode="after")
    def _probs(self) -> ChoiceDist:
        if self.probs is None:
            return self
        if len(self.probs) != len(self.values):
            raise _Problem(
                ("probs",),
                f"expected {len(self.values)} probabilities, one per value",
                list(self.probs),
            )
        if abs(math.fsum(self.probs) - 1.0) > 1e-6:
            raise _Problem(("probs",), "must sum to 1", list(self.probs))
        return self

    @property
    def weights(self) -> tuple[float, ...]:
        """The probability of each value (uniform when ``probs`` is ``None``)."""
        if self.probs is None:
            return (1.0 / len(self.values),) * len(self.values)
        return self.probs

    @property
    def expected(self) -> float:
        """Mean of the distribution."""
        return math.fsum(v * p for v, p in zip(self.values, self.weights, strict=True))

    @property
    def support(self) -> tuple[float, float]:
        """Smallest and largest possible sample."""
        return (min(self.values), max(self.values))


DistConfig = Annotated[
    ConstantDist | UniformDist | TruncNormalDist | ChoiceDist,
    Field(discriminator="dist"),
]


def _dist_shorthand(value: Any) -> Any:
    """A bare number means a constant: ``data_bits: 8e5``."""
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return {"dist": "constant", "value": value}
    if isinstance(value, str):
        try:
            return {"dist": "constant", "value": _to_float(value)}
        except ValueError:
            return {"dist": value}
    return value


def _deadline_shorthand(value: Any) -> Any:
    """``deadline_s: 2.0`` is a constant deadline; a bare number must be > 0."""
    out = _dist_shorthand(value)
    if isinstance(out, dict) and out.get("dist") == "constant" and set(out) == {"dist", "value"}:
        if not _to_float(out["value"]) > 0:
            raise ValueError("must be > 0")
    return out


class TasksConfig(_Model):
    """Task arrivals and sizes.

    Attributes:
        arrival: ``per_slot``, ``bernoulli`` or ``poisson`` (key ``process``).
        data_bits: Distribution of the upload size ``D`` [bit] (key ``dist``).
        cycles: Distribution of the CPU work ``F`` [cycle] (key ``dist``).
        deadline_s: ``None`` = no deadline, else the relative deadline of each task [s], > 0:
            a number, or a distribution (key ``dist``, drawn per task like the sizes). A
            task not finished within its deadline of its arrival is dropped at that
            instant, wherever it is (reason ``deadline``).
    """

    arrival: Annotated[ArrivalConfig, BeforeValidator(_tag_shorthand("process"))] = PerSlotArrival()
    data_bits: Annotated[DistConfig, BeforeValidator(_dist_shorthand)] = ConstantDist(
        value=_defaults.TASK_DATA_BITS
    )
    cycles: Annotated[DistConfig, BeforeValidator(_dist_shorthand)] = ConstantDist(
        value=_defaults.TASK_CYCLES
    )
    deadline_s: Annotated[DistConfig | None, BeforeValidator(_deadline_shorthand)] = None

    @model_validator(mode="after")
    def _sizes_in_range(self) -> TasksConfig:
        for name in ("data_bits", "cycles", "deadline_s"):
            dist = getattr(self, name)
            rng = RANGES[f"tasks.{name}"]
            for loc, value in _dist_numbers(dist):
                if not rng.contains(value):
                    raise _Problem((name, *loc), rng.message, value)
        return self


def _dist_numbers(dist: Any) -> list[tuple[tuple[str | int, ...], float]]:
    """The numbers of a distribution that are samples' scale: ``[(key path, value)]``."""
    if dist is None:
        return []
    if isinstance(dist, ChoiceDist):
        return [(("values", k), v) for k, v in enumerate(dist.values)]
    keys = {"constant": ("value",), "uniform": ("low", "high"),
            "truncnormal": ("low", "high", "mean", "std")}[dist.dist]
    return [((key,), getattr(dist, key)) for key in keys]


_SCHEDULER_NAME = re.compile(r"^[A-Za-z_][\w.\-]*$")
_ENTRY_POINT = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_ENTRY_POINT_FILE = re.compile(r"^[^\x00-\x1f]+\.py:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def default_label(name: str) -> str:
    """A scheduler's label when none is given: its name (a file's, for ``path/file.py:C``)."""
    if ".py:" in name:
        path, _, attr = name.rpartition(":")
        return f"{Path(path).name}:{attr}"
    return name


class SchedulerSpec(_Model):
    """One scheduler of the run.

    In the file, an item is a name (``greedy``, or ``package.module:Class``) or a mapping
    ``{name: ..., params: {...}, label: ...}``.

    Attributes:
        name: A registered scheduler name or ``module:Class``; the registry resolves it.
        params: Keyword arguments for the scheduler's constructor (not checked here).
        label: The scheduler's name in results and tables; defaults to ``name``. Labels are
            unique within a scenario, so one scheduler can run twice with other params.
    """

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    label: str = ""

    @model_validator(mode="before")
    @classmethod
    def _check_keys(cls, data: Any) -> Any:
        if isinstance(data, str):
            data = {"name": data}
        _reject_unknown_keys(cls, data)
        if (
            isinstance(data, Mapping)
            and not data.get("label")
            and isinstance(data.get("name"), str)
        ):
            data = {**data, "label": default_label(data["name"])}
        if isinstance(data, Mapping) and data.get("params") is None and "params" in data:
            data = {**data, "params": {}}
        return data

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        pattern = (_ENTRY_POINT_FILE if ".py:" in value else
                   _ENTRY_POINT if ":" in value else _SCHEDULER_NAME)
        if len(value) > 4 * MAX_NAME_CHARS or not pattern.fullmatch(value):
            raise ValueError('expected a registered name, "package.module:Class" or '
                             '"path/to/file.py:Class"')
        return value

    @field_validator("label")
    @classmethod
    def _valid_label(cls, value: str) -> str:
        if not value.strip() or "/" in value or "\\" in value or not value.isprintable():
            raise ValueError("must be a non-empty name without / or \\ or control characters")
        if len(value) > MAX_NAME_CHARS:
            raise ValueError(f"must be at most {MAX_NAME_CHARS} characters")
        return value

    @field_validator("params", mode="before")
    @classmethod
    def _str_keys(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            bad = [k for k in value if not isinstance(k, str)]
            if bad:
                raise ValueError(f"parameter names must be strings, got {_show(bad[0])}")
        return value


def _channels_flag(value: Any) -> Any:
    if isinstance(value, bool) or value == "auto":
        return value
    raise ValueError("must be auto, true or false")


class OutputConfig(_Model):
    """What the run writes besides the always-written files.

    Attributes:
        channels: ``channels.parquet``: ``auto`` (when ``N * M <= 10000``), ``true`` or
            ``false``.
    """

    channels: Annotated[Literal["auto"] | bool, BeforeValidator(_channels_flag)] = "auto"


_NAME = re.compile(r"^[A-Za-z0-9][\w.\-]*$")


class Scenario(_Model):
    """A complete, validated scenario. See ``docs/scenarios.md`` for every key.

    Attributes:
        name: Identifier used in result folders (letters, digits, ``_ . -``).
        seed: Root of every random stream (``mecsim.rng.streams``), >= 0.
        slots: Number of decision epochs, >= 1.
        slot_s: Epoch period [s], > 0.
        area_m: ``(width, height)`` of the area [m], > 0; origin at a corner.
        weights: Cost weights ``phi_T``, ``phi_E``.
        channel: Radio channel.
        mecs: MEC servers.
        iotds: IoT devices.
        tasks: Task arrivals and sizes.
        greedy_max_tasks_per_mec: The "insufficient resources" rule of the ``random`` and
            ``greedy`` baselines: a MEC holding this many tasks at its CPU (tasks still
            uploading to it not counted) is full, and further tasks run locally;
            ``None`` = derived per MEC from a minimum CPU share, ``floor(Fmax_j / f0)``
            (see ``docs/schedulers.md``).
        on_invalid: ``error`` stops the run on an invalid decision; ``local`` runs the
            offending tasks locally and counts them.
        schedulers: The schedulers to run side by side (unique labels, at least one).
        output: Optional outputs.
    """

    name: str = "scenario"
    seed: _in("seed") = 0
    slots: _in("slots") = 3000
    slot_s: _in("slot_s") = 1.0
    area_m: Annotated[tuple[_in("area_m.*"), _in("area_m.*")], _pair("width, height")] = (
        _defaults.AREA_M
    )
    weights: WeightsConfig = WeightsConfig()
    channel: ChannelConfig = ChannelConfig()
    mecs: MecsConfig = MecsConfig()
    iotds: IotdsConfig = IotdsConfig()
    tasks: TasksConfig = TasksConfig()
    greedy_max_tasks_per_mec: _in("greedy_max_tasks_per_mec") | None = None
    on_invalid: Literal["error", "local"] = "error"
    schedulers: Annotated[tuple[SchedulerSpec, ...], BeforeValidator(_non_empty)] = tuple(
        SchedulerSpec(name=s) for s in DEFAULT_SCHEDULERS
    )
    output: OutputConfig = OutputConfig()

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("expected letters, digits, '_', '.', '-' (used in folder names)")
        if len(value) > MAX_NAME_CHARS:
            raise ValueError(f"must be at most {MAX_NAME_CHARS} characters (used in folder names)")
        return value

    @field_validator("schedulers")
    @classmethod
    def _unique_labels(cls, value: tuple[SchedulerSpec, ...]) -> tuple[SchedulerSpec, ...]:
        seen: set[str] = set()
        for k, spec in enumerate(value):
            if spec.label in seen:
                raise _Problem(
                    (k,),
                    f"scheduler '{spec.label}' is listed twice (give one a distinct label)",
                    show=False,
                )
            seen.add(spec.label)
        return value

    @model_validator(mode="after")
    def _positions_inside(self) -> Scenario:
        width, height = self.area_m
        for k, (x, y) in enumerate(self.mecs.positions_m or ()):
            if not (0.0 <= x <= width and 0.0 <= y <= height):
                raise _Problem(
                    ("mecs", "positions_m", k),
                    f"outside the area: area_m is [0, {width:g}] x [0, {height:g}] m",
                    [x, y],
                )
        return self

    @model_validator(mode="after")
    def _fading_step_divides_the_slot(self) -> Scenario:
        step = self.channel.fading.step_s
        if step is None:
            return self
        ratio = self.slot_s / step
        if step > self.slot_s * (1 + 1e-9) or abs(ratio - round(ratio)) > 1e-6 * ratio:
            raise _Problem(
                ("channel", "fading", "step_s"),
                f"must divide slot_s ({self.slot_s:g} s) into a whole number of steps",
                step,
            )
        if round(ratio) > MAX_FADING_STEPS:
            raise _Problem(
                ("channel", "fading", "step_s"),
                f"gives {round(ratio):,} fading steps per slot (slot_s = {self.slot_s:g} s); "
                f"at most {MAX_FADING_STEPS:,}",
                step,
            )
        return self

    # ----- derived quantities the engine reads

    @property
    def n_mecs(self) -> int:
        """``M``, the number of MECs."""
        return self.mecs.count

    @property
    def n_iotds(self) -> int:
        """``N``, the number of IoTDs."""
        return self.iotds.count

    @property
    def duration_s(self) -> float:
        """Simulated length of the run, ``slots * slot_s`` [s]."""
        return self.slots * self.slot_s

    @property
    def fading_steps(self) -> int:
        """Fading steps per slot, ``slot_s / channel.fading.step_s`` (1 when unset)."""
        step = self.channel.fading.step_s
        return 1 if step is None else max(1, round(self.slot_s / step))

    @property
    def mec_cpu_hz(self) -> tuple[float, ...]:
        """``Fmax_j`` of every MEC [cycle/s], length ``M``."""
        return self.mecs.cpu_hz

    @property
    def mec_positions_m(self) -> np.ndarray:
        """MEC positions [m], shape ``(M, 2)``: the given ones or the default layout.

        Default layout: ``cols = ceil(sqrt(M * width / height))`` columns and
        ``rows = ceil(M / cols)`` rows of equal cells; MECs fill the rows from ``y = 0``
        upwards, each row's MECs at the centres of equal-width cells spanning the full width
        (so a last, partial row is centred too). ``M = 2`` on 50 m x 50 m gives
        ``(12.5, 25)`` and ``(37.5, 25)``; ``M = 4`` the centres of the four quadrants.
        """
        if self.mecs.positions_m is not None:
            return np.array(self.mecs.positions_m, dtype=float).reshape(-1, 2)
        return default_mec_layout(self.mecs.count, self.area_m)

    @property
    def model_params(self) -> _defaults.ModelParams:
        """The cost model's parameters (``mecsim.params.ModelParams``) of this scenario."""
        return _defaults.ModelParams(
            bandwidth_hz=self.channel.bandwidth_hz,
            noise_psd_w_per_hz=self.channel.noise_psd_w_per_hz,
            beta0=self.channel.beta0,
            d_min_m=self.channel.d_min_m,
            max_power_w=self.iotds.max_power_w,
            kappa=self.iotds.kappa,
            nu=self.iotds.nu,
            phi_t=self.weights.latency_per_s,
            phi_e=self.weights.energy_per_j,
        )

    @property
    def write_channels(self) -> bool:
        """Whether ``channels.parquet`` is written (``auto``: ``N * M <= 10000``)."""
        if self.output.channels == "auto":
            return self.n_iotds * self.n_mecs <= CHANNELS_AUTO_MAX_LINKS
        return bool(self.output.channels)

    @property
    def scheduler_labels(self) -> tuple[str, ...]:
        """The schedulers' labels, in order."""
        return tuple(s.label for s in self.schedulers)


def default_mec_layout(count: int, area_m: tuple[float, float]) -> np.ndarray:
    """Return the default MEC positions [m], shape ``(count, 2)`` (see ``mec_positions_m``).

    Args:
        count: Number of MECs, >= 1.
        area_m: ``(width, height)`` of the area [m].
    """
    width, height = area_m
    cols = max(1, math.ceil(math.sqrt(count * width / height)))
    cols = min(cols, count)
    rows = math.ceil(count / cols)
    points = []
    for r in range(rows):
        in_row = min(cols, count - r * cols)
        y = (r + 0.5) * height / rows
        points.extend(((c + 0.5) * width / in_row, y) for c in range(in_row))
    return np.array(points, dtype=float)


# --------------------------------------------------------------------------- YAML


class _Loader(yaml.SafeLoader):
    """Safe YAML loader that reads ``50e9`` as a float and rejects duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:  # noqa: D102
        seen: set[Any] = set()
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # unhashable key: let PyYAML report it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 needs a dot and a signed exponent for a float ("5.0e+10"); accept "50e9", "1e-3".
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def _yaml_error_line(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}invalid YAML: {problem}"


def _parse_yaml(text: str) -> Any:
    """Parse YAML text with :class:`_Loader`.

    Raises:
        ValueError: With one line naming the problem (and its line, when known), for
            invalid YAML, an integer too long to read or nesting too deep.
    """
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ValueError(_yaml_error_line(exc)) from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ValueError(f"invalid YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise ValueError("invalid YAML: nested too deeply") from None


def _read_yaml(path: Path) -> Any:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(source, "no such file") from None
    except IsADirectoryError:
        raise ScenarioError(source, "is a directory, not a scenario file") from None
    except UnicodeDecodeError:
        raise ScenarioError(source, "not a UTF-8 text file") from None
    except OSError as exc:
        raise ScenarioError(source, f"cannot read: {exc.strerror or exc}") from None
    try:
        return _parse_yaml(text)
    except ValueError as exc:
        raise ScenarioError(source, str(exc)) from None


# --------------------------------------------------------------------------- overrides


def _parse_override(item: str) -> tuple[list[str | int], Any]:
    if not isinstance(item, str) or "=" not in item:
        raise ValueError(f"--set {_show(item)}: expected KEY=VALUE, e.g. iotds.count=50")
    key, raw = item.split("=", 1)
    key = key.strip()
    parts = key.split(".")
    if not key or any(not p.strip() for p in parts):
        raise ValueError(f"--set {_show(item)}: expected a dotted key such as iotds.count")
    try:
        value = _parse_yaml(raw)
    except ValueError as exc:
        raise ValueError(f"--set {_show(item)}: the value is not valid YAML ({exc})") from None
    return [p.strip() for p in parts], value


def apply_overrides(data: Mapping[str, Any], overrides: Iterable[str] = ()) -> dict[str, Any]:
    """Return a copy of ``data`` with ``KEY=VALUE`` overrides applied (``data`` is unchanged).

    ``KEY`` is a dotted path (``iotds.mobility.model``); a part that is an integer indexes an
    existing list (``mecs.positions_m.0``). Missing mappings along the path are created, so
    ``--set`` can set a key the file omits. ``VALUE`` is parsed as YAML: ``50``, ``50e9``,
    ``[10e9, 20e9]``, ``{process: poisson, rate_per_s: 2}``, ``null``. Keys are not checked
    here: an unknown one is rejected by validation, with its path.

    Args:
        data: The scenario mapping as read from the file.
        overrides: ``"KEY=VALUE"`` strings, applied in order.

    Returns:
        The new mapping.

    Raises:
        ScenarioError: (source ``--set``) for a malformed override or a path through a
            value that is neither a mapping nor a list.
    """
    result: dict[str, Any] = copy.deepcopy(dict(data))
    for item in overrides:
        try:
            parts, value = _parse_override(item)
        except ValueError as exc:
            raise ScenarioError("--set", str(exc)[len("--set ") :]) from None
        node: Any = result
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            here = ".".join(_key_text(p) for p in parts[:depth]) or "the top level"
            if isinstance(node, list):
                digits = part.lstrip("-")
                if not (digits.isdigit() and len(digits) < 20
                        and -len(node) <= int(part) < len(node)):
                    raise ScenarioError(
                        "--set",
                        f"{_show(item)}: {here} is a list of {len(node)}; "
                        f"{_show(part)} is not an index in it",
                    )
                index: Any = int(part)
            elif isinstance(node, dict):
                index = part
            else:
                raise ScenarioError(
                    "--set", f"{_show(item)}: {here} is {_show(node)}, not a mapping or a list"
                )
            if last:
                node[index] = value
            else:
                if isinstance(node, dict) and node.get(index) is None:
                    node[index] = {}
                node = node[index]
    return result


# --------------------------------------------------------------------------- validation


_UNION_FIELDS = {"mobility", "arrival", "data_bits", "cycles", "deadline_s"}
_UNION_TAGS = {
    "mobility": ("model", ("static", "random_waypoint", "gauss_markov")),
    "arrival": ("process", ("per_slot", "bernoulli", "poisson")),
    "data_bits": ("dist", ("constant", "uniform", "truncnormal", "choice")),
    "cycles": ("dist", ("constant", "uniform", "truncnormal", "choice")),
    "deadline_s": ("dist", ("constant", "uniform", "truncnormal", "choice")),
}


def _clean_loc(loc: tuple[Any, ...]) -> list[str | int]:
    """Drop pydantic's union-member tags (``mobility.random_waypoint.x`` -> ``mobility.x``)."""
    out: list[str | int] = []
    for k, part in enumerate(loc):
        if k > 0 and loc[k - 1] in _UNION_FIELDS and part in _UNION_TAGS[loc[k - 1]][1]:
            continue
        out.append(part)
    return out


def _describe(err: Mapping[str, Any]) -> tuple[list[str | int], str, bool]:
    """Return (path, message, show_input) for one pydantic error."""
    loc = _clean_loc(tuple(err["loc"]))
    kind = err["type"]
    ctx = err.get("ctx") or {}
    field = loc[-1] if loc else ""
    if kind == "value_error" and isinstance(ctx.get("error"), _Problem):
        prob = ctx["error"]
        return loc + list(prob.loc), prob.msg, prob.show and prob.value is not ...
    if kind == "value_error":
        msg = str(err["msg"])
        return loc, msg.removeprefix("Value error, "), True
    if kind == "missing":
        return loc, "missing required key", False
    if kind == "extra_forbidden":
        return loc, "unknown key", False
    if kind == "union_tag_invalid":
        disc = str(ctx.get("discriminator", "tag")).strip("'")
        tags = str(ctx.get("expected_tags", "")).replace("'", "")
        return loc, f"unknown {disc} {ctx.get('tag')!r} (valid: {tags})", False
    if kind == "union_tag_not_found" or (kind == "model_attributes_type" and field in _UNION_TAGS):
        disc, tags = _UNION_TAGS.get(str(field), ("tag", ()))
        extra = " or a number" if disc == "dist" else ""
        return loc, f"expected a mapping with key '{disc}' ({', '.join(tags)}){extra}", True
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return loc, "expected a mapping of keys", True
    if kind in ("tuple_type", "list_type"):
        return loc, "expected a list", True
    if kind in ("too_short", "too_long"):
        if "min_length" in ctx and ctx["min_length"] == 1 and kind == "too_short":
            return loc, "must not be empty", True
        expected = ctx.get("max_length") if kind == "too_long" else ctx.get("min_length")
        word = "at most" if kind == "too_long" else "at least"
        return loc, f"expected {word} {expected} items", True
    if kind == "literal_error":
        return loc, f"must be {ctx.get('expected', '').replace(chr(39), '')}", True
    if kind == "string_type":
        return loc, "expected a string", True
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {
            "greater_than": ">",
            "greater_than_equal": ">=",
            "less_than": "<",
            "less_than_equal": "<=",
        }[kind]
        bound = next(iter(ctx.values()), "")
        return loc, f"must be {op} {_show(bound)}", True
    msg = str(err["msg"])
    return loc, msg[:1].lower() + msg[1:], True


def _format_errors(exc: ValidationError, overrides: Sequence[str] = ()) -> list[str]:
    problems = []
    override_paths = []
    for item in overrides:
        try:
            parts, _ = _parse_override(item)
        except ValueError:
            continue
        override_paths.append((".".join(parts), item))
    for err in exc.errors():
        loc, msg, show_input = _describe(err)
        path = ".".join(_key_text(p) for p in loc) or "(top level)"
        text = f"{path}: {msg}"
        if show_input:
            value = err.get("input")
            ctx_err = (err.get("ctx") or {}).get("error")
            if isinstance(ctx_err, _Problem):
                value = ctx_err.value
            text += f" (got {_show(value)})"
        for opath, item in override_paths:
            if path == opath or path.startswith(opath + ".") or opath.startswith(path + "."):
                shown = item if (item.isprintable() and len(item) <= 120) else _show(item)
                text += f" [from --set {shown}]"
                break
        problems.append(text)
    return problems


def scenario_from_dict(
    data: Any, source: str = "<dict>", overrides: Sequence[str] = ()
) -> Scenario:
    """Validate a scenario mapping.

    Args:
        data: The mapping (as read from YAML).
        source: Name used in error messages (the file).
        overrides: Only used to tag errors caused by ``--set`` overrides.

    Returns:
        The validated :class:`Scenario`.

    Raises:
        ScenarioError: With one line per problem, each naming its dotted key path.
    """
    if not isinstance(data, Mapping):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise ScenarioError(
            source,
            f"the top level must be a mapping of keys (name, seed, mecs, ...), the file is {kind}",
        )
    bad_keys = [k for k in data if not isinstance(k, str)]
    if bad_keys:
        raise ScenarioError(source, f"{_show(bad_keys[0])}: keys must be strings")
    try:
        return Scenario.model_validate(dict(data))
    except ValidationError as exc:
        raise ScenarioError(source, _format_errors(exc, overrides)) from None


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Read, override and validate a scenario file.

    A file without ``name`` is named after its stem.

    Args:
        path: The YAML file.
        overrides: ``"KEY=VALUE"`` strings (``--set``), see :func:`apply_overrides`.

    Returns:
        The validated :class:`Scenario`.

    Raises:
        ScenarioError: Missing or unreadable file, invalid YAML, a top level that is not a
            mapping, a malformed override, or an invalid scenario; the message names the
            file and each offending key path.
    """
    path = Path(path)
    source = str(path)
    data = _read_yaml(path)
    if isinstance(data, Mapping):
        if "name" not in data:
            stem = re.sub(r"[^\w.\-]", "_", path.stem).lstrip("_.-")[:MAX_NAME_CHARS]
            data = {"name": stem or "scenario", **data}
        try:
            data = apply_overrides(data, overrides)
        except ScenarioError as exc:
            raise ScenarioError(source, exc.problems) from None
    elif overrides:
        try:  # overrides on an empty file: start from an empty mapping
            data = apply_overrides({} if data is None else data, overrides)
        except (ScenarioError, TypeError, ValueError):
            pass
    return scenario_from_dict(data, source=source, overrides=overrides)


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """Return the resolved scenario as plain data (lists, dicts, numbers, strings)."""
    data = scenario.model_dump(mode="json")
    compact = []
    for spec in scenario.schedulers:
        if not spec.params and spec.label == spec.name:
            compact.append(spec.name)
        else:
            item: dict[str, Any] = {"name": spec.name, "params": copy.deepcopy(spec.params)}
            if spec.label != spec.name:
                item["label"] = spec.label
            compact.append(item)
    data["schedulers"] = compact
    return data


def _float_text(value: float) -> str:
    """Shortest exact text of a float that every YAML 1.1 reader takes as a float."""
    if not math.isfinite(value):  # never produced by validation
        return ".nan" if value != value else (".inf" if value > 0 else "-.inf")
    if value == 0 or 1e-4 <= abs(value) < 1e6:
        text = repr(value)
        return text if ("." in text or "e" in text) else text + ".0"
    for digits in range(17):
        text = f"{value:.{digits}e}"
        if float(text) == value:
            break
    mantissa, exponent = text.split("e")
    if "." not in mantissa:
        mantissa += ".0"
    return f"{mantissa}e{int(exponent):+d}"


class _Dumper(yaml.SafeDumper):
    """Safe dumper that writes ``5.0e+10`` rather than ``50000000000.0``."""


_Dumper.add_representer(
    float,
    lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:float", _float_text(value)),
)


def dump_scenario(scenario: Scenario) -> str:
    """Return the resolved scenario (every key, defaults filled in) as YAML.

    ``load_scenario`` of the text gives an equal :class:`Scenario`.
    """
    header = f"# mecsim scenario '{scenario.name}', resolved: every key, defaults filled in.\n"
    body = yaml.dump(
        scenario_to_dict(scenario),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=None,
        width=100,
        allow_unicode=True,
    )
    return header + body
