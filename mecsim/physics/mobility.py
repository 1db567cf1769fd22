"""Movement of IoT devices inside a rectangle: static, random waypoint and Gauss-Markov.

Every model moves ``n`` devices inside ``[0, width] x [0, height]`` (metres) and is advanced
with ``step(dt_s)``. Positions and speeds are numpy arrays with one row per device, so the
engine computes all device-MEC distances at once.

Example:
    >>> rng = np.random.default_rng(0)
    >>> walk = make_mobility("random_waypoint", 3, (50.0, 50.0), rng, speed_range_mps=(0.5, 2.0))
    >>> walk.step(1.0)
    >>> walk.positions_m.shape
    (3, 2)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

__all__ = ["Mobility", "Static", "RandomWaypoint", "GaussMarkov", "MOBILITY_MODELS",
           "make_mobility"]


class Mobility(ABC):
    """Base class: positions of ``n`` devices moving inside a rectangle.

    Args:
        n: Number of devices, >= 0.
        area_m: ``(width, height)`` of the area [m], both > 0.
        rng: Generator of every random draw of the model.
        initial_positions_m: ``(n, 2)`` starting positions [m] inside the area; uniform in
            the area when ``None``.

    Raises:
        ValueError: If an argument is invalid (the message names it).
    """

    def __init__(self, n: int, area_m: tuple[float, float], rng: np.random.Generator, *,
                 initial_positions_m: np.ndarray | None = None) -> None:
        self._n = _check_count("n", n)
        self._area_m = _check_area(area_m)
        self._rng = _check_rng(rng)
        if initial_positions_m is None:
            self._positions_m = self._uniform_points(self._n)
        else:
            self._positions_m = _check_positions(initial_positions_m, self._n, self._area_m)

    @property
    def n(self) -> int:
        """Number of devices."""
        return self._n

    @property
    def area_m(self) -> tuple[float, float]:
        """``(width, height)`` of the area [m]."""
        return self._area_m

    @property
    def positions_m(self) -> np.ndarray:
        """Current positions, shape ``(n, 2)`` [m] (a copy)."""
        return self._positions_m.copy()

    @property
    @abstractmethod
    def speeds_mps(self) -> np.ndarray:
        """Current speed of every device, shape ``(n,)`` [m/s] (drives the Doppler spread)."""

    @abstractmethod
    def step(self, dt_s: float) -> None:
        """Advance every device by ``dt_s`` seconds (``dt_s >= 0``; 0 is a no-op)."""

    def _uniform_points(self, count: int) -> np.ndarray:
        return self._rng.random((count, 2)) * np.asarray(self._area_m)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self._n}, area_m={self._area_m})"


class Static(Mobility):
    """Devices that never move (speed 0).

    Args:
        n: Number of devices, >= 0.
        area_m: ``(width, height)`` of the area [m].
        rng: Generator of the initial positions.
        initial_positions_m: ``(n, 2)`` positions [m]; uniform in the area when ``None``.
    """

    @property
    def speeds_mps(self) -> np.ndarray:
        """Zeros, shape ``(n,)`` [m/s]."""
        return np.zeros(self._n)

    def step(self, dt_s: float) -> None:
        """Check ``dt_s`` and leave every position unchanged."""
        _check_dt(dt_s)


class RandomWaypoint(Mobility):
    """Random waypoint: straight legs to uniform waypoints at uniform speeds, with pauses.

    Each device walks in a straight line to a waypoint drawn uniformly in the area, at a
    speed drawn uniformly in ``speed_range_mps``, pauses ``pause_s`` seconds there, and
    repeats. Devices start moving at once (no initial pause) from their initial positions.
    A step may cover several legs and pauses; the result is exact. Each device draws its
    legs from its own child generator (spawned from ``rng``), so a trajectory does not
    depend on how time is cut into steps: ``step(10.0)`` equals ten ``step(1.0)``, up to
    rounding.

    Args:
        n: Number of devices, >= 0.
        area_m: ``(width, height)`` of the area [m].
        rng: Generator of the initial positions and (through spawned children) the legs.
        initial_positions_m: ``(n, 2)`` positions [m]; uniform in the area when ``None``.
        speed_range_mps: ``(vmin, vmax)`` with ``0 < vmin <= vmax`` [m/s]. ``vmin > 0``
            avoids the model's known speed decay towards 0.
        pause_s: Pause at each waypoint [s], >= 0.
    """

    def __init__(self, n: int, area_m: tuple[float, float], rng: np.random.Generator, *,
                 initial_positions_m: np.ndarray | None = None,
                 speed_range_mps: tuple[float, float] = (0.5, 1.5),
                 pause_s: float = 0.0) -> None:
        self._speed_range_mps = _check_speed_range(speed_range_mps)
        self._pause_s = _check_real("pause_s", pause_s, low=0.0)
        super().__init__(n, area_m, rng, initial_positions_m=initial_positions_m)
        self._leg_rngs = self._rng.spawn(self._n)
        self._waypoints_m = np.empty((self._n, 2))
        self._leg_speeds_mps = np.empty(self._n)
        self._pause_left_s = np.zeros(self._n)
        self._new_legs(np.arange(self._n))

    @property
    def speed_range_mps(self) -> tuple[float, float]:
        """``(vmin, vmax)`` [m/s]."""
        return self._speed_range_mps

    @property
    def pause_s(self) -> float:
        """Pause at each waypoint [s]."""
        return self._pause_s

    @property
    def waypoints_m(self) -> np.ndarray:
        """The waypoint each device walks to (or pauses before leaving for), ``(n, 2)`` [m]."""
        return self._waypoints_m.copy()

    @property
    def speeds_mps(self) -> np.ndarray:
        """Speed of the current leg, 0 while pausing, shape ``(n,)`` [m/s]."""
        return np.where(self._pause_left_s > 0.0, 0.0, self._leg_speeds_mps)

    def step(self, dt_s: float) -> None:
        """Advance every device by ``dt_s`` seconds, through as many legs as it takes."""
        time_left_s = np.full(self._n, _check_dt(dt_s))
        active = np.flatnonzero(time_left_s > 0.0)
        while active.size:  # each pass ends a pause or a leg, or uses up the time left
            self._wait(active, time_left_s)
            self._walk(active[self._pause_left_s[active] == 0.0], time_left_s)
            active = active[time_left_s[active] > 0.0]

    def _wait(self, idx: np.ndarray, time_left_s: np.ndarray) -> None:
        waited_s = np.minimum(self._pause_left_s[idx], time_left_s[idx])
        self._pause_left_s[idx] -= waited_s
        time_left_s[idx] -= waited_s

    def _walk(self, idx: np.ndarray, time_left_s: np.ndarray) -> None:
        idx = idx[time_left_s[idx] > 0.0]
        to_go_m = self._waypoints_m[idx] - self._positions_m[idx]
        distance_m = np.hypot(to_go_m[:, 0], to_go_m[:, 1])
        needed_s = distance_m / self._leg_speeds_mps[idx]
        arrive = needed_s <= time_left_s[idx]
        # Devices that reach their waypoint: snap onto it, pause, draw the next leg.
        done = idx[arrive]
        self._positions_m[done] = self._waypoints_m[done]
        time_left_s[done] -= needed_s[arrive]
        self._pause_left_s[done] = self._pause_s
        self._new_legs(done)
        # Devices still on their leg: move along it for the whole time left.
        going = idx[~arrive]
        fraction = time_left_s[going] / needed_s[~arrive]  # in (0, 1)
        moved_m = self._positions_m[going] + fraction[:, None] * to_go_m[~arrive]
        self._positions_m[going] = np.clip(moved_m, 0.0, self._area_m)
        time_left_s[going] = 0.0

    def _new_legs(self, idx: np.ndarray) -> None:
        vmin, vmax = self._speed_range_mps
        for i in idx:  # only the few devices that just reached a waypoint
            u = self._leg_rngs[i].random(3)
            self._waypoints_m[i] = u[:2] * self._area_m
            self._leg_speeds_mps[i] = vmin + (vmax - vmin) * u[2]


class GaussMarkov(Mobility):
    """Gauss-Markov mobility (Liang and Haas, 1999), reflecting at the border.

    Once per step, every device moves with its current velocity, then its speed ``s`` and
    direction ``d`` are updated::

        s <- alpha s + (1 - alpha) s_mean + sqrt(1 - alpha^2) speed_std z1
        d <- alpha d + (1 - alpha) d_mean + sqrt(1 - alpha^2) direction_std z2

    with ``z1, z2 ~ N(0, 1)``. ``speed_std`` and ``direction_std`` are the stationary
    standard deviations. Each device's mean direction ``d_mean`` is drawn uniformly in
    ``[0, 2 pi)``; initial speed and direction are drawn from the stationary law. A device
    that crosses the border is mirrored back, and its direction *and* mean direction are
    mirrored too (so the process is the free one folded into the rectangle, and a device
    is not pulled back into the wall). ``s`` is not clipped: a negative ``s`` moves the
    device backwards, and ``speeds_mps`` reports ``|s|``.

    ``memory`` is per step: the time scale of the process is that of the steps, so step the
    model with a constant ``dt_s`` (e.g. the slot length).

    Args:
        n: Number of devices, >= 0.
        area_m: ``(width, height)`` of the area [m].
        rng: Generator of the initial state and every update.
        initial_positions_m: ``(n, 2)`` positions [m]; uniform in the area when ``None``.
        mean_speed_mps: Mean speed ``s_mean`` [m/s], >= 0.
        memory: ``alpha`` in ``[0, 1]``: 0 is memoryless, 1 is constant velocity.
        speed_std_mps: Stationary standard deviation of the speed [m/s], >= 0.
        direction_std_rad: Stationary standard deviation of the direction [rad], >= 0.
    """

    def __init__(self, n: int, area_m: tuple[float, float], rng: np.random.Generator, *,
                 initial_positions_m: np.ndarray | None = None,
                 mean_speed_mps: float = 1.0, memory: float = 0.85,
                 speed_std_mps: float = 0.3, direction_std_rad: float = 0.5) -> None:
        self._mean_speed_mps = _check_real("mean_speed_mps", mean_speed_mps, low=0.0)
        self._memory = _check_real("memory", memory, low=0.0, high=1.0)
        self._speed_std_mps = _check_real("speed_std_mps", speed_std_mps, low=0.0)
        self._direction_std_rad = _check_real("direction_std_rad", direction_std_rad, low=0.0)
        super().__init__(n, area_m, rng, initial_positions_m=initial_positions_m)
        self._mean_direction_rad = self._rng.uniform(0.0, 2.0 * np.pi, self._n)
        z = self._rng.standard_normal((2, self._n))
        self._speed_mps = self._mean_speed_mps + self._speed_std_mps * z[0]
        self._direction_rad = self._mean_direction_rad + self._direction_std_rad * z[1]

    @property
    def speeds_mps(self) -> np.ndarray:
        """Current speed ``|s|``, shape ``(n,)`` [m/s]."""
        return np.abs(self._speed_mps)

    @property
    def velocities_mps(self) -> np.ndarray:
        """Current velocity vectors ``s (cos d, sin d)``, shape ``(n, 2)`` [m/s]."""
        return self._speed_mps[:, None] * _unit(self._direction_rad)

    def step(self, dt_s: float) -> None:
        """Move every device with its velocity for ``dt_s`` seconds, then update it."""
        if _check_dt(dt_s) == 0.0:
            return
        self._move(dt_s)
        self._update_velocity()

    def _move(self, dt_s: float) -> None:
        free_m = self._positions_m + self.velocities_mps * dt_s
        width_m, height_m = self._area_m
        x_m, flip_x = _fold(free_m[:, 0], width_m)
        y_m, flip_y = _fold(free_m[:, 1], height_m)
        self._positions_m = np.column_stack([x_m, y_m])
        for angles in (self._direction_rad, self._mean_direction_rad):
            angles[flip_x] = np.pi - angles[flip_x]  # mirror in a vertical wall
            angles[flip_y] = -angles[flip_y]  # mirror in a horizontal wall
        # Keep the angles bounded; shift both by the same turns so d - d_mean is unchanged.
        turns = np.round(self._mean_direction_rad / (2.0 * np.pi))
        self._mean_direction_rad -= 2.0 * np.pi * turns
        self._direction_rad -= 2.0 * np.pi * turns

    def _update_velocity(self) -> None:
        alpha = self._memory
        noise = np.sqrt(1.0 - alpha**2)
        z = self._rng.standard_normal((2, self._n))
        self._speed_mps = (alpha * self._speed_mps + (1.0 - alpha) * self._mean_speed_mps
                           + noise * self._speed_std_mps * z[0])
        self._direction_rad = (alpha * self._direction_rad
                               + (1.0 - alpha) * self._mean_direction_rad
                               + noise * self._direction_std_rad * z[1])


#: The models ``make_mobility`` knows, by name.
MOBILITY_MODELS: dict[str, type[Mobility]] = {
    "static": Static,
    "random_waypoint": RandomWaypoint,
    "gauss_markov": GaussMarkov,
}


def make_mobility(model: str, n: int, area_m: tuple[float, float], rng: np.random.Generator,
                  **params: Any) -> Mobility:
    """Build a mobility model by name.

    Args:
        model: One of ``"static"``, ``"random_waypoint"``, ``"gauss_markov"``.
        n: Number of devices.
        area_m: ``(width, height)`` of the area [m].
        rng: Generator of the model's randomness.
        **params: The model's keyword arguments (``initial_positions_m`` and its own).

    Returns:
        The model.

    Raises:
        ValueError: If ``model`` is unknown or an argument is invalid.
    """
    if model not in MOBILITY_MODELS:
        raise ValueError(f"model must be one of {sorted(MOBILITY_MODELS)}, got {model!r}")
    return MOBILITY_MODELS[model](n, area_m, rng, **params)


def _fold(coord_m: np.ndarray, length_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Reflect free coordinates into ``[0, length]``; also say which ones are mirrored.

    A coordinate that crossed the walls an odd number of times ends up mirrored, so the
    velocity component along this axis must change sign.
    """
    mirrored = np.floor(coord_m / length_m) % 2 == 1
    folded = np.mod(coord_m, 2.0 * length_m)
    folded = np.where(folded > length_m, 2.0 * length_m - folded, folded)
    return np.clip(folded, 0.0, length_m), mirrored


def _unit(angle_rad: np.ndarray) -> np.ndarray:
    return np.column_stack([np.cos(angle_rad), np.sin(angle_rad)])


def _check_dt(dt_s: float) -> float:
    return _check_real("dt_s", dt_s, low=0.0)


def _check_speed_range(speed_range_mps: tuple[float, float]) -> tuple[float, float]:
    if np.shape(speed_range_mps) != (2,):
        raise ValueError(f"speed_range_mps must be a pair (vmin, vmax), got {speed_range_mps!r}")
    vmin = _check_real("speed_range_mps[0]", speed_range_mps[0], low=0.0, low_open=True)
    vmax = _check_real("speed_range_mps[1]", speed_range_mps[1], low=vmin)
    return vmin, vmax


def _check_area(area_m: tuple[float, float]) -> tuple[float, float]:
    if np.shape(area_m) != (2,):
        raise ValueError(f"area_m must be a pair (width, height), got {area_m!r}")
    width_m = _check_real("area_m[0]", area_m[0], low=0.0, low_open=True)
    height_m = _check_real("area_m[1]", area_m[1], low=0.0, low_open=True)
    return width_m, height_m


def _check_positions(positions_m: np.ndarray, n: int, area_m: tuple[float, float]) -> np.ndarray:
    pos = np.array(positions_m, dtype=float)  # a copy: the caller's array stays theirs
    if pos.shape != (n, 2):
        raise ValueError(f"initial_positions_m must have shape ({n}, 2), got {pos.shape}")
    inside = np.isfinite(pos).all(axis=1) & (pos >= 0.0).all(axis=1) & (pos <= area_m).all(axis=1)
    if not inside.all():
        i = int(np.flatnonzero(~inside)[0])
        raise ValueError(f"initial_positions_m must lie inside the area {area_m}, "
                         f"got {pos[i].tolist()} at row {i}")
    return pos


def _check_count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def _check_rng(rng: np.random.Generator) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _check_real(name: str, value: float, *, low: float = -np.inf, high: float = np.inf,
                low_open: bool = False) -> float:
    """Return ``value`` as a finite float in the interval, or raise ``ValueError``."""
    if isinstance(value, bool) or np.ndim(value) != 0:
        raise ValueError(f"{name} must be a real number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    too_low = x <= low if low_open else x < low
    if not np.isfinite(x) or too_low or x > high:
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be a finite number in {bracket}{low:g}, {high:g}], "
                         f"got {value!r}")
    return x
