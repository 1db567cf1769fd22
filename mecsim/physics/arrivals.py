"""Task arrivals per slot and task-size distributions.

An arrival process lists the tasks that arrive during one slot: which IoTD, and when
within the slot. A size distribution draws positive task sizes (CPU cycles ``F`` or
bits ``D``).

Example:
    >>> rng = np.random.default_rng(0)
    >>> iotd, offset_s = make_arrivals("poisson", rate_per_s=2.0).sample(30, 0.5, rng)
    >>> cycles = make_distribution("uniform", low=0.5e9, high=1.5e9).sample(iotd.size, rng)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

# scipy.special (about 0.1 s to import) is imported by ``TruncNormal`` only, when one is
# made, so a run with other size laws starts without it; scipy.stats (0.4 s) only for a
# far tail of the truncated normal.

__all__ = ["ArrivalProcess", "PerSlot", "Bernoulli", "Poisson", "ARRIVAL_PROCESSES",
           "make_arrivals", "SizeDistribution", "Constant", "Uniform", "TruncNormal",
           "Choice", "SIZE_DISTRIBUTIONS", "make_distribution"]


# --------------------------------------------------------------------------- arrivals


class ArrivalProcess(ABC):
    """Base class: the tasks that arrive at ``n`` IoTDs during one slot."""

    @abstractmethod
    def mean_count(self, slot_s: float) -> float:
        """Return the mean number of tasks per IoTD per slot of ``slot_s`` seconds."""

    def sample(self, n_devices: int, slot_s: float,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """List the tasks arriving during one slot.

        Args:
            n_devices: Number of IoTDs, >= 0.
            slot_s: Slot length [s], > 0.
            rng: Generator of the draws.

        Returns:
            ``(iotd_index, offset_s)``: one entry per task, the IoTD (int64, in
            ``[0, n_devices)``) and the arrival time after the slot's start [s], in
            ``[0, slot_s)``; ordered by offset, then IoTD.

        Raises:
            ValueError: If an argument is invalid.
        """
        n = _check_count("n_devices", n_devices)
        slot = _check_real("slot_s", slot_s, low=0.0, low_open=True)
        iotd, offset_s = self._draw(n, slot, _check_rng(rng))
        order = np.lexsort((iotd, offset_s))
        return iotd[order].astype(np.int64), offset_s[order]

    @abstractmethod
    def _draw(self, n: int, slot_s: float,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Return the tasks ``(iotd_index, offset_s)`` in any order."""


class PerSlot(ArrivalProcess):
    """Exactly one task per IoTD per slot, arriving at the slot's start (offset 0)."""

    def mean_count(self, slot_s: float) -> float:
        """Return 1."""
        return 1.0

    def _draw(self, n: int, slot_s: float,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return np.arange(n), np.zeros(n)

    def __repr__(self) -> str:
        return "PerSlot()"


class Bernoulli(ArrivalProcess):
    """At most one task per IoTD per slot, with a given probability, at a uniform offset.

    Args:
        probability: Probability that an IoTD gets a task in a slot, in ``[0, 1]``.
    """

    def __init__(self, probability: float) -> None:
        self.probability = _check_real("probability", probability, low=0.0, high=1.0)

    def mean_count(self, slot_s: float) -> float:
        """Return ``probability``."""
        return self.probability

    def _draw(self, n: int, slot_s: float,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        iotd = np.flatnonzero(rng.random(n) < self.probability)
        return iotd, _uniform_offsets(iotd.size, slot_s, rng)

    def __repr__(self) -> str:
        return f"Bernoulli(probability={self.probability!r})"


class Poisson(ArrivalProcess):
    """Poisson arrivals: ``Poisson(rate * slot)`` tasks per IoTD, at uniform offsets.

    Given its count, the arrival times of a Poisson process within the slot are
    independent and uniform, so this is the exact continuous-time process.

    Args:
        rate_per_s: Arrival rate of each IoTD [tasks/s], >= 0.
    """

    def __init__(self, rate_per_s: float) -> None:
        self.rate_per_s = _check_real("rate_per_s", rate_per_s, low=0.0)

    def mean_count(self, slot_s: float) -> float:
        """Return ``rate_per_s * slot_s``."""
        return self.rate_per_s * slot_s

    def _draw(self, n: int, slot_s: float,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        counts = rng.poisson(self.rate_per_s * slot_s, n)
        iotd = np.repeat(np.arange(n), counts)
        return iotd, _uniform_offsets(iotd.size, slot_s, rng)

    def __repr__(self) -> str:
        return f"Poisson(rate_per_s={self.rate_per_s!r})"


#: The arrival processes ``make_arrivals`` knows, by name.
ARRIVAL_PROCESSES: dict[str, type[ArrivalProcess]] = {
    "per_slot": PerSlot,
    "bernoulli": Bernoulli,
    "poisson": Poisson,
}


def make_arrivals(process: str, **params: Any) -> ArrivalProcess:
    """Build an arrival process by name.

    Args:
        process: One of ``"per_slot"``, ``"bernoulli"`` (``probability``), ``"poisson"``
            (``rate_per_s``).
        **params: The process's keyword arguments.

    Raises:
        ValueError: If ``process`` is unknown or a parameter is invalid.
    """
    if process not in ARRIVAL_PROCESSES:
        raise ValueError(f"process must be one of {sorted(ARRIVAL_PROCESSES)}, got {process!r}")
    return ARRIVAL_PROCESSES[process](**params)


def _uniform_offsets(count: int, slot_s: float, rng: np.random.Generator) -> np.ndarray:
    """Draw ``count`` offsets uniform in ``[0, slot_s)`` (rounding never reaches ``slot_s``)."""
    return np.minimum(rng.random(count) * slot_s, np.nextafter(slot_s, 0.0))


# --------------------------------------------------------------------------- task sizes


class SizeDistribution(ABC):
    """Base class: a law of positive task sizes (cycles or bits)."""

    @property
    @abstractmethod
    def mean(self) -> float:
        """The law's mean."""

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` sizes, every one > 0.

        Args:
            n: Number of draws, >= 0.
            rng: Generator of the draws.

        Returns:
            A float array of shape ``(n,)``.

        Raises:
            ValueError: If an argument is invalid.
        """
        return self._draw(_check_count("n", n), _check_rng(rng))

    @abstractmethod
    def _draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Return ``n`` draws."""


class Constant(SizeDistribution):
    """Always the same size.

    Args:
        value: The size, > 0.
    """

    def __init__(self, value: float) -> None:
        self.value = _check_real("value", value, low=0.0, low_open=True)

    @property
    def mean(self) -> float:
        """``value``."""
        return self.value

    def _draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.full(n, self.value)

    def __repr__(self) -> str:
        return f"Constant(value={self.value!r})"


class Uniform(SizeDistribution):
    """Sizes uniform in ``[low, high)``.

    Args:
        low: Lower bound, > 0.
        high: Upper bound, >= ``low``.
    """

    def __init__(self, low: float, high: float) -> None:
        self.low = _check_real("low", low, low=0.0, low_open=True)
        self.high = _check_real("high", high, low=self.low)

    @property
    def mean(self) -> float:
        """``(low + high) / 2``."""
        return 0.5 * (self.low + self.high)

    def _draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.low, self.high, n)

    def __repr__(self) -> str:
        return f"Uniform(low={self.low!r}, high={self.high!r})"


class TruncNormal(SizeDistribution):
    """Normal law ``N(mean, std^2)`` truncated to ``[low, high]``.

    Args:
        mean: Mean of the untruncated normal (the ``loc``).
        std: Standard deviation of the untruncated normal, > 0.
        low: Lower truncation bound, > 0 (so every draw is positive).
        high: Upper truncation bound, > ``low``; may be ``inf``.

    ``mean`` (the property) is the truncated law's mean, which differs from the ``mean``
    argument unless the truncation is symmetric about it.
    """

    def __init__(self, mean: float, std: float, low: float, high: float) -> None:
        self.loc = _check_real("mean", mean)
        self.scale = _check_real("std", std, low=0.0, low_open=True)
        self.low = _check_real("low", low, low=0.0, low_open=True)
        self.high = _check_real("high", high, low=self.low, low_open=True, allow_inf=True)
        self._a = (self.low - self.loc) / self.scale  # standardised bounds
        self._b = (self.high - self.loc) / self.scale
        self._mean = self._truncated_mean()
        if not self.low <= self._mean <= self.high:
            raise ValueError(f"[low, high] = [{low!r}, {high!r}] lies too far in the tail of "
                             f"N({mean!r}, {std!r}^2) to sample")

    @property
    def mean(self) -> float:
        """Mean of the truncated law."""
        return self._mean

    def _near(self) -> bool:
        """No far tail: the plain formulas (inverse CDF, mean) are exact enough."""
        return -5.0 < self._a < 5.0 and self._b > -5.0

    def _truncated_mean(self) -> float:
        """``loc + scale (phi(a) - phi(b)) / (Phi(b) - Phi(a))``; scipy.stats in a far tail.

        scipy.stats (about 0.4 s to import) is needed only there: the run of a scenario with
        truncated-normal sizes does not wait for it.
        """
        a, b = self._a, self._b
        if not self._near():
            from scipy.stats import truncnorm

            return float(truncnorm.mean(a, b, loc=self.loc, scale=self.scale))
        from scipy.special import ndtr

        def pdf(x: float) -> float:
            return 0.0 if np.isinf(x) else float(np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi))

        return self.loc + self.scale * (pdf(a) - pdf(b)) / float(ndtr(b) - ndtr(a))

    def _draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        from scipy.special import ndtr, ndtri

        a, b = self._a, self._b
        if self._near():
            pa, pb = ndtr(a), ndtr(b)
            draws = self.loc + self.scale * ndtri(pa + rng.uniform(size=n) * (pb - pa))
        else:
            from scipy.stats import truncnorm

            draws = truncnorm.rvs(self._a, self._b, loc=self.loc, scale=self.scale, size=n,
                                  random_state=rng)
        return np.clip(np.asarray(draws, dtype=float), self.low, self.high)  # rounding only

    def __repr__(self) -> str:
        return (f"TruncNormal(mean={self.loc!r}, std={self.scale!r}, low={self.low!r}, "
                f"high={self.high!r})")


class Choice(SizeDistribution):
    """Sizes drawn from a finite list of values.

    Args:
        values: The possible sizes, a non-empty 1-D sequence, every one > 0.
        probs: Their probabilities (>= 0, summing to 1); equal when ``None``.
    """

    def __init__(self, values: Any, probs: Any = None) -> None:
        self.values = _check_vector("values", values)
        if (self.values <= 0.0).any():
            raise ValueError(f"values must all be > 0, got {self.values.tolist()}")
        if probs is None:
            self.probs = np.full(self.values.size, 1.0 / self.values.size)
        else:
            self.probs = _check_probs(probs, self.values.size)

    @property
    def mean(self) -> float:
        """``sum(values * probs)``."""
        return float(self.values @ self.probs)

    def _draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.choice(self.values, size=n, p=self.probs)

    def __repr__(self) -> str:
        return f"Choice(values={self.values.tolist()}, probs={self.probs.tolist()})"


#: The size distributions ``make_distribution`` knows, by name.
SIZE_DISTRIBUTIONS: dict[str, type[SizeDistribution]] = {
    "constant": Constant,
    "uniform": Uniform,
    "trunc_normal": TruncNormal,
    "choice": Choice,
}


def make_distribution(dist: str, **params: Any) -> SizeDistribution:
    """Build a size distribution by name.

    Args:
        dist: One of ``"constant"`` (``value``), ``"uniform"`` (``low``, ``high``),
            ``"trunc_normal"`` (``mean``, ``std``, ``low``, ``high``), ``"choice"``
            (``values``, ``probs``).
        **params: The distribution's keyword arguments.

    Raises:
        ValueError: If ``dist`` is unknown or a parameter is invalid.
    """
    if dist not in SIZE_DISTRIBUTIONS:
        raise ValueError(f"dist must be one of {sorted(SIZE_DISTRIBUTIONS)}, got {dist!r}")
    return SIZE_DISTRIBUTIONS[dist](**params)


# --------------------------------------------------------------------------- checks


def _check_vector(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 1-D sequence of numbers, got {value!r}") from None
    if arr.ndim != 1 or arr.size == 0 or not np.isfinite(arr).all():
        raise ValueError(f"{name} must be a non-empty 1-D sequence of finite numbers, "
                         f"got {value!r}")
    return arr


def _check_probs(probs: Any, size: int) -> np.ndarray:
    p = _check_vector("probs", probs)
    if p.size != size:
        raise ValueError(f"probs must have {size} entries (one per value), got {p.size}")
    if (p < 0.0).any() or abs(p.sum() - 1.0) > 1e-9:
        raise ValueError(f"probs must be >= 0 and sum to 1, got {p.tolist()}")
    return p / p.sum()


def _check_count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def _check_rng(rng: np.random.Generator) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _check_real(name: str, value: float, *, low: float = -np.inf, high: float = np.inf,
                low_open: bool = False, allow_inf: bool = False) -> float:
    """Return ``value`` as a float in the interval (finite unless ``allow_inf``)."""
    if isinstance(value, bool) or np.ndim(value) != 0:
        raise ValueError(f"{name} must be a real number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    too_low = x <= low if low_open else x < low
    finite_ok = np.isfinite(x) or (allow_inf and x == np.inf)
    if np.isnan(x) or not finite_ok or too_low or x > high:
        bracket = "(" if low_open else "["
        kind = "a number" if allow_inf else "a finite number"
        raise ValueError(f"{name} must be {kind} in {bracket}{low:g}, {high:g}], got {value!r}")
    return x
