"""Checks before a run: the schedulers, and the run's memory and time.

:func:`check_schedulers` resolves every scheduler of a run in the registry and constructs it
with its ``params`` (cheap: no network, no world), so an unknown name or a parameter the
scheduler rejects is bad input, reported before anything runs.

:func:`estimate` predicts a run's peak memory and wall time from the scenario alone, and
:func:`preflight` refuses a run whose memory cannot fit this machine
(:class:`PreflightError`) and flags one that will take longer than :data:`LONG_RUN_S`.

The model
---------
A run simulates each scheduler on the same world, in turn or ``workers`` at once in worker
processes (:mod:`mecsim.engine.workers`; :func:`auto_workers` picks ``--workers auto``'s number
from the CPUs and the memory). Per scheduler and slot it
generates the world (per link: distance, gains, fading and shadowing at each fading step),
asks the scheduler, and simulates the slot's tasks in SimPy. With ``L = N M`` links,
``S`` fading steps per slot, ``Q`` sinusoids and ``n`` tasks per slot (``N`` per-slot
arrivals, ``N p`` Bernoulli, ``N rate slot_s`` Poisson; the peak slot is taken as
``n + 4 sqrt(n)``):

- memory = interpreter and libraries (200 MB, 400 MB when a torch scheduler runs)
  + links ``L (160 + S (32 + 24 if AR(1)) + 60 Q if sum of sinusoids)`` bytes
  + tasks alive ``(2500 + 160 M)`` bytes each (twice a slot's tasks, plus the backlog that
  grows when the CPUs are overloaded, ``n (1 - 1/load)`` a slot up to the deadline; the
  local CPUs' load when ``local`` runs, else all CPUs')
  + ``250`` bytes of records per slot + the largest scheduler's own working memory.
- with ``channel.candidate_mecs: K`` the fading and shadowing terms count ``N K`` links;
  each of the other ``N (M - K)`` costs ``8`` bytes and ``0.01 us`` (its gain 0 in the
  ``(N, M)`` matrix) and each task ``16`` bytes per MEC off its candidates instead of
  ``160``.
- time = ``1.5 s`` + per scheduler and slot ``0.6 ms`` + ``L (0.2 + 0.05 Q if SoS) us`` +
  ``L S (0.07 us AR(1), 0.025 us SoS)`` + ``10 us`` per task + ``3 us`` per random-waypoint
  leg + the scheduler's own decision time.
- schedulers: ``local``, ``random``, ``greedy``: nothing beyond the engine. ``optimal``:
  equal cycles, a dense ``n x (n + sum K_j)`` assignment (``32`` bytes and ``50 ns`` an
  entry; ``K_j`` the MEC's useful units, ``(Fmax_j / f0 (1 + phi_E P_local / phi_T) + 1) /
  2``); unequal cycles, local search ``0.28 us n^2 sqrt(M + 1) (starts + 1) / 9`` or
  exhaustive search (``1 s`` a slot at ``exhaustive_limit = 2e6``). ``dirs``: ``34 kB n +
  30 n^2`` bytes, ``50 us n + 45 ns n^2``; ``droo``: ``100 kB n`` bytes, ``15 us n``;
  ``ddpg``, ``actor_critic``: ``2 kB n`` bytes, ``30 us n`` (the per-task peers of issue
  13, from their benchmarks' decision times, not yet recalibrated). A scheduler
  the model does not know (a plug-in) counts as the engine alone.

The coefficients were measured on the development machine (2 cores, 24 GiB) by running
one scheduler on ``scenarios/paper.yaml`` with one factor scaled at a time (``N`` up to
3e5 tasks per slot, ``N M`` up to 3e6 links, 100 fading steps, ``Q`` 8 and 32, 20,000
slots, random-waypoint legs at 1000 m/s in a 2 m area) and reading the wall time and the
peak resident memory (``ru_maxrss``); ``python benchmarks/bench_fuzz.py --calibrate``
repeats such runs and prints the estimate next to what was measured (within a factor of
about 2 either way, which is what a preflight needs).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Estimate",
    "FIT_SHARE",
    "LONG_RUN_S",
    "PreflightError",
    "available_memory_bytes",
    "check_schedulers",
    "estimate",
    "preflight",
]

#: A run estimated to take longer than this [s] gets a warning.
LONG_RUN_S = 3600.0

#: A run is refused when its estimated peak memory exceeds this share of the available.
FIT_SHARE = 0.9

#: [s] estimated work (start-up left out) below which ``--workers auto`` runs the
#: schedulers one after the other: forking a worker and gathering its results cost more
#: than they save (``tiny`` for 1 slot: 0.60 s serial, 0.66-0.76 s in 2 workers)
AUTO_MIN_WORK_S = 1.0

_GIB = 1024.0**3
_BASE_BYTES = 200e6  # interpreter, numpy, scipy, pydantic, simpy
_TORCH_BYTES = 200e6  # torch, when a learning scheduler runs
_LINK_BYTES = 160.0
_LINK_STEP_BYTES = 32.0
_AR1_STEP_BYTES = 24.0
_SOS_SINUSOID_BYTES = 60.0
_TASK_BYTES = 2500.0
_TASK_MEC_BYTES = 160.0
_DENSE_LINK_BYTES = 8.0  # a link off the candidates: its gain 0 in the (N, M) matrix
_DENSE_TASK_MEC_BYTES = 16.0  # a task's gain 0 to a MEC off its candidates, (n, M)
_DENSE_LINK_S = 0.01e-6  # writing that 0
_SLOT_BYTES = 250.0
_START_S = 1.5
_SLOT_S = 0.6e-3
_LINK_S = 0.2e-6
_SOS_SINUSOID_S = 0.05e-6
_AR1_STEP_S = 0.07e-6
_SOS_STEP_S = 0.025e-6
_TASK_S = 10e-6
_LEG_S = 3e-6


class PreflightError(Exception):
    """A run refused before it starts: bad scheduler or too big for this machine.

    ``str(error)`` is one line, naming the scenario keys behind the problem.
    """


@dataclass(frozen=True)
class Estimate:
    """A run's predicted peak memory and wall time.

    Attributes:
        memory_bytes: Peak resident memory [bytes].
        seconds: Wall time, every scheduler included [s].
        links: ``N M``.
        fading_steps: Fading steps per slot.
        tasks_per_slot: Mean tasks decided per slot.
        slots: Slots per scheduler.
        schedulers: The schedulers' labels.
        memory_parts: Memory by part [bytes] (``base``, ``links``, ``tasks``, ``records``,
            and the largest scheduler's, under its label).
        seconds_parts: Work by part [s] (``start``, ``slots``, ``world``, ``tasks``,
            ``mobility``, and each scheduler's own, under its label), summed over the
            schedulers: with ``workers`` > 1 they overlap, and ``seconds`` is less than the sum.
        task_keys: The keys that set the tasks per slot, for messages.
        workers: Schedulers simulated at once (``mecsim run --workers``).
    """

    memory_bytes: float
    seconds: float
    links: int
    fading_steps: int
    tasks_per_slot: float
    slots: int
    schedulers: tuple[str, ...]
    memory_parts: dict[str, float] = field(default_factory=dict)
    seconds_parts: dict[str, float] = field(default_factory=dict)
    task_keys: str = ""
    workers: int = 1

    @property
    def long(self) -> bool:
        """Whether the run is expected to take longer than :data:`LONG_RUN_S`."""
        return self.seconds > LONG_RUN_S

    def line(self) -> str:
        """One line: ``estimate: peak memory 1.2 GiB, time 3 min (...)``."""
        return (f"estimate: peak memory {_bytes_text(self.memory_bytes)}, time "
                f"{_seconds_text(self.seconds)} ({self.links:,} links, {self.fading_steps:,} "
                f"fading step{'s' if self.fading_steps != 1 else ''} per slot, "
                f"{_count_text(self.tasks_per_slot)} tasks per slot, {self.slots:,} slots x "
                f"{len(self.schedulers)} scheduler{'s' if len(self.schedulers) != 1 else ''}"
                + (f", {self.workers} at once)" if self.workers > 1 else ")"))

    def warning(self) -> str:
        """One line warning of a long run, naming what takes the time."""
        part = max(self.seconds_parts, key=self.seconds_parts.get)
        why = _TIME_WHY.get(part, f"scheduler {part!r} deciding each slot's tasks ({{tasks}})")
        why = why.replace("{tasks}", self.task_keys or "iotds.count")
        return f"this run will take about {_seconds_text(self.seconds)} (estimate; most of it " \
               f"is {why})"


_TIME_WHY = {
    "start": "starting up",
    "world": "generating the world: links (iotds.count x mecs.count) x fading steps "
             "(channel.fading.step_s) x slots",
    "tasks": "simulating the tasks: tasks per slot ({tasks}) x slots",
    "mobility": "moving the devices: random-waypoint legs (speed_range_mps x slot_s / area_m) "
                "x slots",
    "slots": "the work of every slot: slots",
}

_MEMORY_WHY = {
    "base": "the interpreter and its libraries",
    "links": "the world's per-link state: iotds.count x mecs.count links x fading steps "
             "per slot (slot_s / channel.fading.step_s)",
    "tasks": "the tasks in flight: tasks per slot ({tasks}) and their backlog",
    "records": "per-slot records: slots",
}


# --------------------------------------------------------------------------- schedulers


def check_schedulers(specs: Sequence[Any], where: Sequence[str] | None = None,
                     scenario: Any = None) -> None:
    """Resolve and construct every scheduler, so that bad names and params fail now.

    With ``scenario``, a scheduler given a ``checkpoint`` parameter is also reset on the
    scenario's network, which loads the checkpoint: one made for another network (other
    ``N``, ``M`` or layers), a missing or unreadable file, is refused before any scheduler
    runs.

    Args:
        specs: :class:`mecsim.config.SchedulerSpec` items.
        where: Where each spec comes from, for messages: ``schedulers.<k>`` (the default;
            ``.name``, ``.params`` or ``.params.checkpoint`` is appended) or e.g.
            ``--scheduler NAME`` or ``--checkpoint PATH`` (used as it is).
        scenario: The validated scenario the schedulers will run on (optional).

    Raises:
        PreflightError: For the first unknown name, unimportable class, rejected parameter
            or checkpoint that does not fit; the message names the key
            (``schedulers.1.name``, ``.params``, ``.params.checkpoint``).
    """
    from mecsim.registry import checkpoint_params, load_checkpoint, make, scheduler_class

    network = None

    for k, spec in enumerate(specs):
        key = where[k] if where is not None else f"schedulers.{k}"
        sub = (lambda part, key=key: f"{key}.{part}") if key.startswith("schedulers.") else (
            lambda part, key=key: key)
        try:
            scheduler_class(spec.name)
        except ValueError as exc:
            raise PreflightError(f"{sub('name')}: {_one_line(exc)}") from None
        try:
            scheduler = make(spec.name, **checkpoint_params(spec.name, dict(spec.params))[0])
        except (ValueError, TypeError, OverflowError) as exc:
            raise PreflightError(f"{sub('params')}: {_one_line(exc)}") from None
        if scenario is None or not spec.params.get("checkpoint"):
            continue
        if network is None:
            from mecsim.engine.simulation import network_of
            from mecsim.engine.world import World

            network = network_of(scenario, World(scenario, scenario.seed))
        try:
            scheduler.reset(0, network)
            load_checkpoint(scheduler, spec.params["checkpoint"])  # any save/load scheduler
        except (ValueError, OSError, RuntimeError, KeyError) as exc:
            raise PreflightError(f"{sub('params.checkpoint')}: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 400 else text[:397] + "..."


def _class_path(name: str) -> str:
    """``module:Class`` of a registered name (without importing it), or the name itself."""
    if ":" in name:
        return name
    from mecsim.registry import spec

    try:
        return spec(name).entry_point_str
    except ValueError:
        return name


# --------------------------------------------------------------------------- the model


def tasks_per_slot(scenario: Any) -> float:
    """Mean tasks that arrive per slot, ``N x`` the arrival model's rate ``x slot_s``."""
    rate = scenario.tasks.arrival.tasks_per_s(scenario.slot_s)
    return scenario.iotds.count * rate * scenario.slot_s


def _peak(n: float) -> float:
    """A slot's task count to size memory for: the mean plus 4 standard deviations."""
    return n + 4.0 * math.sqrt(n) if n > 0 else 0.0


def _equal_cycles(dist: Any) -> bool:
    if dist.dist == "constant":
        return True
    if dist.dist == "uniform":
        return dist.low == dist.high
    if dist.dist == "choice":
        return len(set(dist.values)) == 1
    return False


def _useful_units(scenario: Any, n: float) -> float:
    """``sum_j K_j``: the MEC units the optimal assignment can use (``K_j <= n``)."""
    iot, w = scenario.iotds, scenario.weights
    gain = 1.0 + w.energy_per_j * iot.local_power_w / w.latency_per_s
    return sum(min(n, (f / iot.cpu_hz * gain + 1.0) / 2.0) for f in scenario.mecs.cpu_hz)


def _optimal_cost(scenario: Any, params: dict, n: float) -> tuple[float, float]:
    m = scenario.mecs.count
    if n <= 0:
        return 0.0, 0.0
    if _equal_cycles(scenario.tasks.cycles):  # the dense assignment
        cells = n * (n + _useful_units(scenario, n))
        return 32.0 * cells, 50e-9 * cells
    limit = _param(params, "exhaustive_limit", 2e6)
    if n * math.log(m + 1) <= math.log(max(limit, 1.0)):
        return 0.0, limit / 2e6
    starts = _param(params, "starts", 8.0)
    return 0.0, 0.28e-6 * n * n * math.sqrt(m + 1) * (starts + 1) / 9.0


def _param(params: dict, key: str, default: float) -> float:
    """A numeric scheduler parameter, or its default when absent or not a number."""
    try:
        value = float(params.get(key, default))
    except (TypeError, ValueError, OverflowError):
        return default
    return value if math.isfinite(value) and value >= 0 else default


#: Per-slot working memory [bytes] and decision time [s] of the built-in schedulers, as
#: ``(bytes per task, bytes per task^2, seconds per task, seconds per task^2)``.
_LEARNERS: dict[str, tuple[float, float, float, float]] = {
    "schedulers.dirs:Dirs": (34e3, 30.0, 50e-6, 45e-9),
    # since issue 13 the peers read one task at a time (helpers' measurements, not
    # recalibrated with bench_fuzz): replay rows per task, decisions linear in n
    "schedulers.droo:Droo": (100e3, 0.0, 15e-6, 0.0),
    "schedulers.ddpg:Ddpg": (2e3, 0.0, 30e-6, 0.0),
    "schedulers.actor_critic:ActorCritic": (2e3, 0.0, 30e-6, 0.0),
}


def _scheduler_cost(scenario: Any, spec: Any, n: float) -> tuple[float, float, bool]:
    """``(working bytes at the peak slot, seconds per mean slot, needs torch)``."""
    path = _class_path(spec.name)
    peak = _peak(n)
    if path == "schedulers.optimal:Optimal":
        memory, _ = _optimal_cost(scenario, spec.params, peak)
        _, seconds = _optimal_cost(scenario, spec.params, n)
        return memory, seconds + 1e-3, False
    if path in _LEARNERS:
        b1, b2, s1, s2 = _LEARNERS[path]
        return b1 * peak + b2 * peak * peak, s1 * n + s2 * n * n + 2e-3, True
    return 0.0, 0.0, False


def _backlog(scenario: Any, n: float, local_only: bool) -> float:
    """Tasks the CPUs cannot keep up with, accumulated over the run (0 if they can).

    ``local_only``: a scheduler keeps every task on its IoTD (``local``), so the local CPUs'
    load counts; else that of all CPUs, MECs included.
    """
    capacity = scenario.iotds.count * scenario.iotds.cpu_hz
    if not local_only:
        capacity += sum(scenario.mecs.cpu_hz)
    load = n / scenario.slot_s * scenario.tasks.cycles.expected / capacity
    if load <= 1.0:
        return 0.0
    slots = float(scenario.slots)
    deadline = scenario.tasks.deadline_s
    if deadline is not None:
        slots = min(slots, deadline.support[1] / scenario.slot_s + 1.0)
    return n * (1.0 - 1.0 / load) * slots


def _legs_per_slot(scenario: Any) -> float:
    """Random-waypoint legs all devices start in one slot (0 for other mobility)."""
    mob = scenario.iotds.mobility
    if mob.model != "random_waypoint":
        return 0.0
    width, height = scenario.area_m
    leg_m = 0.37 * math.hypot(width, height)  # mean distance of two uniform points, about
    speed = 0.5 * (mob.speed_range_mps[0] + mob.speed_range_mps[1])
    per_device = scenario.slot_s / (leg_m / speed + mob.pause_s)
    return scenario.iotds.count * per_device


def estimate(scenario: Any, schedulers: Sequence[Any] | None = None,
             workers: int = 1) -> Estimate:
    """Predict the peak memory and the wall time of running ``scenario``.

    With ``workers`` > 1, each worker holds its own world, tasks and records
    and the ``workers`` largest scheduler working memories add up (the interpreter's pages are
    shared by the forks); the wall time is the larger of the work over ``workers`` and the
    longest scheduler's share.

    Args:
        scenario: A validated :class:`mecsim.config.Scenario` (its ``slots`` are the run's).
        schedulers: The :class:`~mecsim.config.SchedulerSpec` items that will run (default:
            the scenario's).
        workers: Schedulers simulated at once (at most the schedulers' number counts).

    Returns:
        The :class:`Estimate` (see the module docstring for the model).
    """
    specs = list(scenario.schedulers if schedulers is None else schedulers)
    fad = scenario.channel.fading
    n_dev, m = scenario.iotds.count, scenario.mecs.count
    links, steps, slots = n_dev * m, scenario.fading_steps, scenario.slots
    k = scenario.channel.candidate_mecs
    linked = links if k is None else n_dev * min(k, m)  # links with fading and shadowing
    task_mecs = m if k is None else min(k, m)  # a task's links priced beyond the dense gains
    sos = fad.sum_of_sinusoids
    n = tasks_per_slot(scenario)

    per_link = _LINK_BYTES + steps * (_LINK_STEP_BYTES + (0.0 if sos else _AR1_STEP_BYTES))
    per_link += _SOS_SINUSOID_BYTES * fad.sinusoids if sos else 0.0
    local = any(_class_path(spec.name) == "schedulers.local:Local" for spec in specs)
    alive = 2.0 * _peak(n) + _backlog(scenario, n, local)
    costs = [_scheduler_cost(scenario, spec, n) for spec in specs]
    torch = any(c[2] for c in costs)
    workers = max(1, min(workers, len(specs)))
    memory = {
        "base": _BASE_BYTES + (_TORCH_BYTES if torch else 0.0),
        "links": workers * (linked * per_link + (links - linked) * _DENSE_LINK_BYTES),
        "tasks": workers * alive * (_TASK_BYTES + _TASK_MEC_BYTES * task_mecs
                                 + _DENSE_TASK_MEC_BYTES * (m - task_mecs)),
        "records": workers * _SLOT_BYTES * slots,
    }
    for k in sorted(range(len(specs)), key=lambda i: -costs[i][0])[:workers]:
        memory[specs[k].label] = costs[k][0]

    world_slot = linked * (_LINK_S + (_SOS_SINUSOID_S * fad.sinusoids if sos else 0.0))
    world_slot += linked * steps * (_SOS_STEP_S if sos else _AR1_STEP_S)
    world_slot += (links - linked) * _DENSE_LINK_S
    runs = len(specs) * slots
    seconds = {
        "start": _START_S,
        "slots": _SLOT_S * runs,
        "world": world_slot * runs,
        "tasks": _TASK_S * n * runs,
        "mobility": _LEG_S * _legs_per_slot(scenario) * runs,
    }
    for spec, cost in zip(specs, costs, strict=True):
        seconds[spec.label] = cost[1] * slots
    engine = sum(v for k, v in seconds.items() if k != "start") - sum(c[1] for c in costs) * slots
    each = [engine / max(len(specs), 1) + c[1] * slots for c in costs]  # [s] per scheduler
    wall = seconds["start"] + max(sum(each) / workers, max(each, default=0.0))
    return Estimate(sum(memory.values()), wall, links, steps, n, slots,
                    tuple(s.label for s in specs), memory, seconds, _task_keys(scenario), workers)


def longest_first(scenario: Any, schedulers: Sequence[Any]) -> list[int]:
    """The order to start ``schedulers`` in workers: the longest expected decisions first.

    Each scheduler's own time over the run as :func:`estimate` predicts it (the engine's
    work, about the same for every scheduler, left out); ties keep the run order. On 2
    cores ``dense_100``'s ``optimal`` then runs beside ``local``, ``random`` and ``greedy``
    in turn instead of starting last, alone.

    Args:
        scenario: A validated scenario.
        schedulers: The :class:`~mecsim.config.SchedulerSpec` items to run.

    Returns:
        Indices into ``schedulers``.
    """
    n = tasks_per_slot(scenario)
    own = [_scheduler_cost(scenario, spec, n)[1] for spec in schedulers]
    return sorted(range(len(own)), key=lambda k: -own[k])


def auto_workers(scenario: Any, schedulers: Sequence[Any] | None = None, *,
              available_bytes: float | None = None) -> int:
    """The schedulers to simulate at once for ``--workers auto``.

    One per usable CPU, at most one per scheduler, and no more than fit in
    :data:`FIT_SHARE` of the available memory (:func:`estimate`); 1 where runs do not fork
    workers (not Linux) and for a run whose estimated work is under
    :data:`AUTO_MIN_WORK_S`.

    Args:
        scenario: A validated scenario.
        schedulers: The specs that will run (default: the scenario's).
        available_bytes: Memory available [bytes] (default: :func:`available_memory_bytes`).
    """
    specs = list(scenario.schedulers if schedulers is None else schedulers)
    if not can_fork() or len(specs) < 2:
        return 1
    serial = estimate(scenario, specs, 1)
    if serial.seconds - serial.seconds_parts["start"] < AUTO_MIN_WORK_S:
        return 1
    workers = max(1, min(usable_cpus(), len(specs)))
    available = available_memory_bytes() if available_bytes is None else available_bytes
    while (workers > 1 and available is not None
           and estimate(scenario, specs, workers).memory_bytes > FIT_SHARE * available):
        workers -= 1
    return workers


def can_fork() -> bool:
    """Whether runs fork worker processes here (Linux; elsewhere ``fork`` is unsafe or absent)."""
    return sys.platform.startswith("linux")


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _task_keys(scenario: Any) -> str:
    """The keys that set the tasks per slot, as a product."""
    process = scenario.tasks.arrival.process
    return {"per_slot": "iotds.count",
            "bernoulli": "iotds.count x tasks.arrival.probability",
            "poisson": "iotds.count x tasks.arrival.rate_per_s x slot_s"}[process]


# --------------------------------------------------------------------------- the machine


def available_memory_bytes() -> float | None:
    """Memory a new run can use now [bytes]: ``MemAvailable``, within a cgroup's limit.

    Returns ``None`` where neither ``/proc/meminfo`` nor ``os.sysconf`` tells.
    """
    available = _meminfo_available()
    if available is None:
        try:
            available = float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            available = None
    limit = _cgroup_room()
    if limit is not None:
        available = limit if available is None else min(available, limit)
    return available


def _meminfo_available() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> float | None:
    """``memory.max - memory.current`` of this process's cgroup (v2), if limited."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return None
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        return float(limit) - float(used)
    except (OSError, ValueError):
        return None


def preflight(scenario: Any, schedulers: Sequence[Any] | None = None, *, workers: int = 1,
              available_bytes: float | None = None) -> Estimate:
    """Estimate a run and refuse it when its memory cannot fit this machine.

    Args:
        scenario: A validated scenario.
        schedulers: The specs that will run (default: the scenario's).
        workers: Schedulers simulated at once.
        available_bytes: Memory available [bytes] (default: :func:`available_memory_bytes`;
            no memory check when unknown).

    Returns:
        The :class:`Estimate`; ``estimate.long`` says the caller should warn.

    Raises:
        PreflightError: When the estimated peak memory exceeds :data:`FIT_SHARE` of the
            available memory; the message names the part that takes most and its keys.
    """
    est = estimate(scenario, schedulers, workers)
    available = available_memory_bytes() if available_bytes is None else available_bytes
    if available is not None and est.memory_bytes > FIT_SHARE * available:
        part = max(est.memory_parts, key=est.memory_parts.get)
        why = _MEMORY_WHY.get(part) or (
            f"the working memory of scheduler {part!r} for "
            f"{_count_text(_peak(est.tasks_per_slot))} tasks in a slot ({_task_keys(scenario)})")
        why = why.replace("{tasks}", _task_keys(scenario))
        raise PreflightError(
            f"refused: the run needs about {_bytes_text(est.memory_bytes)} of memory and "
            f"{_bytes_text(available)} is available; most of it "
            f"({_bytes_text(est.memory_parts[part])}) is {why}"
            + (f" ({est.workers} schedulers at once: --workers 1 needs less)"
               if est.workers > 1 else ""))
    return est


# --------------------------------------------------------------------------- text


def _bytes_text(value: float) -> str:
    for unit, size in (("TiB", _GIB * 1024.0), ("GiB", _GIB), ("MiB", 1024.0**2)):
        if value >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value / 1024.0:.3g} KiB"


def _seconds_text(value: float) -> str:
    for unit, size in (("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if value >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value:.2g} s"


def _count_text(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.3g}"
