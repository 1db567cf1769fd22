"""The sweep file: a base scenario, fixed overrides, a grid of overrides, schedulers, seeds.

A sweep file is a YAML mapping validated by :class:`SweepSpec` (unknown keys rejected)::

    base: ../../scenarios/paper.yaml    # relative to the sweep file, or a built-in name: paper
    set: {tasks.deadline_s: 2.0}        # fixed overrides, as with run --set (optional)
    grid:                               # cartesian product of these overrides
      iotds.count: [10, 20, 30]
    schedulers: [local, greedy, optimal]  # optional: the base scenario's by default
    seeds: [0, 1, 2]
    slots: 200                          # optional: the base scenario's by default

The grid (or ``set``) may also hold the sweep key :data:`LOAD` (``load``): the offered load
as a fraction of the network's CPU capacity (``all_cpus`` of
:func:`mecsim.engine.stability.offered_load`), turned into each cell's arrival rate
(:func:`rate_for_load`). ``load_sweep(..., quick=True)`` thins the grid and caps the slots
(:data:`QUICK_SLOTS`) for a fast, coarse first look.

Each *cell* is one grid point and one seed: the base scenario with ``set``, the grid point,
``seed``, ``slots`` and ``schedulers`` applied. :func:`load_sweep` validates every cell's
scenario up front and reports each problem as one line naming the sweep file and the key
(``sweep.yaml: grid.iotds.count: must be >= 1 (got 0) (cell iotds.count=0__seed=0)``),
through :class:`mecsim.config.ScenarioError`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mecsim.config import (
    NonNegInt,
    PosInt,
    Scenario,
    ScenarioError,
    SchedulerSpec,
    _Dumper,
    _float_text,
    _format_errors,
    _Problem,
    _read_yaml,
    _reject_unknown_keys,
    _show,
    apply_overrides,
    scenario_from_dict,
)

__all__ = ["LOAD", "QUICK_SLOTS", "Cell", "Sweep", "SweepSpec", "cell_id", "load_sweep",
           "quick_values", "rate_for_load", "value_text"]

#: Keys a sweep cannot set through ``set`` or ``grid``: they have their own sweep key.
RESERVED = {"seed": "seeds", "schedulers": "schedulers"}

_KEY = re.compile(r"^[A-Za-z_]\w*(\.\w+)*$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._+\-]+")
MAX_ID_CHARS = 120  # longer cell ids are cut and given a hash suffix
#: The sweep key (in ``grid`` or ``set``) of the offered load: ``all_cpus`` utilisation,
#: ``N lambda E[F] / (N f0 + sum_j Fmax_j)``, 1.0 = the network's CPU capacity. Each cell's
#: arrival rate is computed from it (:func:`rate_for_load`).
LOAD = "load"
#: Scenario keys that set the arrival rate: they cannot be given beside ``load``.
RATE_KEYS = ("tasks.arrival.rate_per_s", "tasks.arrival.probability")
#: ``--quick``: the most decision epochs of a cell.
QUICK_SLOTS = 200


def _non_empty(value: Any) -> Any:
    if isinstance(value, (list, tuple)) and not value:
        raise ValueError("must not be empty")
    return value


def _check_key(key: Any, section: str) -> None:
    if not isinstance(key, str) or not _KEY.match(key):
        raise _Problem((str(key),), "expected a dotted scenario key such as iotds.count",
                       show=False)
    top = key.split(".", 1)[0]
    if top in RESERVED:
        raise _Problem((key,), f"cannot be set in {section}; use the sweep's "
                               f"'{RESERVED[top]}' key", show=False)


class SweepSpec(BaseModel):
    """The sweep file as written (see the module docstring).

    Attributes:
        base: The base scenario file, relative to the sweep file.
        set: Fixed overrides ``{dotted.key: value}`` applied to every cell (as ``--set``).
        grid: ``{dotted.key: [values]}``; the cells are the cartesian product, in this order.
        schedulers: Scheduler items as in a scenario; ``None``: the base scenario's.
        seeds: The seeds; every grid point runs once per seed.
        slots: Decision epochs of every cell; ``None``: the base scenario's.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    base: str
    set: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    schedulers: Annotated[tuple[SchedulerSpec, ...] | None, BeforeValidator(_non_empty)] = None
    seeds: Annotated[tuple[NonNegInt, ...], BeforeValidator(_non_empty)] = (0,)
    slots: PosInt | None = None

    @model_validator(mode="before")
    @classmethod
    def _check_keys(cls, data: Any) -> Any:
        _reject_unknown_keys(cls, data)
        return data

    @field_validator("base")
    @classmethod
    def _base(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("expected the path of a scenario file")
        return value

    @field_validator("set", mode="before")
    @classmethod
    def _set(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            for key in value:
                _check_key(key, "set")
            if LOAD in value:
                _check_load(value[LOAD], LOAD)
        return value

    @field_validator("grid", mode="before")
    @classmethod
    def _grid(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        keys = list(value)
        for key, values in value.items():
            _check_key(key, "grid")
            if not isinstance(values, (list, tuple)):
                raise _Problem((key,), "expected a list of values", values)
            if not values:
                raise _Problem((key,), "must not be empty", show=False)
            if key == LOAD:
                for v in values:
                    _check_load(v, key)
            seen: set[str] = set()
            for v in values:
                text = value_text(v)
                if text in seen:
                    raise _Problem((key,), f"duplicate value {text}", list(values))
                seen.add(text)
            for other in keys:
                if other != key and other.startswith(key + "."):
                    raise _Problem((key,), f"overlaps grid key {other}; keep one of them",
                                   show=False)
        return value

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(value)) != len(value):
            raise ValueError("duplicate seeds")
        return value

    @model_validator(mode="after")
    def _no_conflicts(self) -> SweepSpec:
        for key in self.grid:
            if key in self.set:
                raise _Problem(("grid", key), "also given in set; keep one of them",
                               show=False)
        if LOAD in self.grid or LOAD in self.set:
            for section, keys in (("grid", self.grid), ("set", self.set)):
                for key in keys:
                    if key in RATE_KEYS:
                        raise _Problem((section, key), "sets the arrival rate, which the "
                                       "sweep's 'load' sets; keep one of them", show=False)
        if self.slots is not None and ("slots" in self.grid or "slots" in self.set):
            where = "grid" if "slots" in self.grid else "set"
            raise _Problem(("slots",), f"also given in {where}; keep one of them", show=False)
        return self


def _check_load(value: Any, key: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value <= 0:
        raise _Problem((key,), "must be a number > 0: the offered load as a fraction of the "
                               "network's CPU capacity (1.0 = all CPUs busy)", value)


@dataclass(frozen=True)
class Cell:
    """One grid point and one seed.

    Attributes:
        id: Stable, readable folder name, e.g. ``iotds.count=10__seed=0``.
        values: The grid values of this cell, ``{dotted.key: value}`` in grid order.
        seed: The scenario seed.
        scenario: The validated scenario of the cell (schedulers, seed and slots applied).
    """

    id: str
    values: dict[str, Any]
    seed: int
    scenario: Scenario = field(repr=False)


@dataclass(frozen=True)
class Sweep:
    """A loaded, validated sweep.

    Attributes:
        path: The sweep file.
        spec: Its contents.
        base: The base scenario file (resolved).
        cells: Every cell, grid points in file order (first key outermost), seeds innermost.
    """

    path: Path
    spec: SweepSpec
    base: Path
    cells: tuple[Cell, ...] = field(repr=False)

    @property
    def name(self) -> str:
        """The sweep's name: the stem of its file."""
        return self.path.stem

    @property
    def grid_keys(self) -> tuple[str, ...]:
        """The grid's dotted keys, in file order (the tidy table's value columns)."""
        return tuple(self.spec.grid)

    @property
    def labels(self) -> tuple[str, ...]:
        """Scheduler labels of every cell, in order."""
        return self.cells[0].scenario.scheduler_labels if self.cells else ()

    def resolved(self) -> dict[str, Any]:
        """Return the sweep as a loadable sweep file's data, ``base`` made absolute."""
        data = self.spec.model_dump(mode="json", exclude_none=True)
        data["base"] = str(self.base)
        if "schedulers" in data:
            data["schedulers"] = [
                {k: v for k, v in item.items()
                 if k == "name" or (k == "params" and v) or (k == "label" and v != item["name"])}
                for item in data["schedulers"]]
        return data


# --------------------------------------------------------------------------- cell ids


def value_text(value: Any) -> str:
    """Short, exact text of a grid value: ``10``, ``0.5``, ``5.0e+10``, ``true``, ``[1, 2]``."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value) if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        return value
    return yaml_text(value)


def yaml_text(value: Any) -> str:
    """One-line YAML of ``value`` that ``--set`` parses back to the same value."""
    text = yaml.dump(value, Dumper=_Dumper, default_flow_style=True, width=2**31,
                     allow_unicode=True)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_") or "_"


def _digest(values: Mapping[str, Any], seed: int) -> str:
    canon = json.dumps([[k, value_text(v)] for k, v in values.items()] + [seed])
    return hashlib.sha1(canon.encode()).hexdigest()[:8]


def cell_id(values: Mapping[str, Any], seed: int) -> str:
    """Return the folder name of a cell: ``key=value`` parts then ``seed=S``, joined by ``__``.

    Characters other than letters, digits and ``. _ + -`` become ``_``; an id longer than
    :data:`MAX_ID_CHARS` is cut and given a hash of the values.
    """
    parts = [f"{_safe(k)}={_safe(value_text(v))}" for k, v in values.items()]
    text = "__".join([*parts, f"seed={seed}"])
    if len(text) > MAX_ID_CHARS:
        text = f"{text[:MAX_ID_CHARS - 9]}-{_digest(values, seed)}"
    return text


def _unique_ids(points: Sequence[tuple[dict[str, Any], int]]) -> list[str]:
    ids = [cell_id(v, s) for v, s in points]
    counts: dict[str, int] = {}
    for i in ids:
        counts[i] = counts.get(i, 0) + 1
    return [i if counts[i] == 1 else f"{i}-{_digest(v, s)}" for i, (v, s) in zip(ids, points,
                                                                                 strict=True)]


# --------------------------------------------------------------------------- loading


def _base_file(sweep_file: Path, base: str) -> Path:
    """The base scenario: a file relative to the sweep file, else a built-in one by name.

    A file wins, as on the command line (``mecsim run tiny``); a name nothing matches is
    kept as a path, so that reading it says "no such file".
    """
    from mecsim.scenario_files import builtin_name, builtin_scenarios

    path = (sweep_file.parent / base).resolve()
    if path.is_file():
        return path
    builtins = builtin_scenarios()
    name = builtin_name(base)
    return builtins[name].resolve() if name in builtins else path


def load_sweep(path: str | Path, *, slots: int | None = None,
               seeds: Sequence[int] | None = None, quick: bool = False) -> Sweep:
    """Read a sweep file and validate the scenario of every cell.

    Args:
        path: The sweep YAML file.
        slots: Replace the file's ``slots`` (e.g. a quick run).
        seeds: Replace the file's ``seeds``.
        quick: A fast, coarse sweep (``sweep --quick``): each grid key keeps every other
            value (:func:`quick_values`: the 1st, 3rd, 5th, ... and always the last), and
            every cell runs at most :data:`QUICK_SLOTS` epochs (the ``slots`` of the file,
            of ``set`` or ``grid``, or of the base scenario, capped); seeds unchanged.

    Returns:
        The :class:`Sweep`.

    Raises:
        ScenarioError: With the sweep file as source and one line per problem, each naming
            the key (``grid.iotds.count``, ``set.mecs.cout``, ``seeds``, ...).
    """
    path = Path(path)
    source = str(path)
    data = _read_yaml(path)
    if not isinstance(data, Mapping):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise ScenarioError(source, "the top level must be a mapping of keys (base, grid, "
                                    f"schedulers, seeds, ...), the file is {kind}")
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise ScenarioError(source, f"{_show(bad[0])}: keys must be strings")
    data = dict(data)
    if slots is not None:
        data["slots"] = slots
    if seeds is not None:
        data["seeds"] = list(seeds)
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(source, _format_errors(exc)) from None

    base = _base_file(path, spec.base)
    try:
        base_data = _read_yaml(base)
    except ScenarioError as exc:
        raise ScenarioError(source, [f"base: {spec.base}: {p}" for p in exc.problems]) from None
    if not isinstance(base_data, Mapping):
        raise ScenarioError(source, f"base: {spec.base}: not a scenario (the top level must "
                                    "be a mapping of keys)")
    if "name" not in base_data:
        base_data = {"name": re.sub(r"[^\w.\-]", "_", base.stem) or "scenario", **base_data}
    if quick:
        spec = _quick_spec(spec, base_data)
    fixed = _apply(base_data, {k: v for k, v in spec.set.items() if k != LOAD}, "set")
    if isinstance(fixed, str):
        raise ScenarioError(source, fixed)
    if spec.slots is not None:
        fixed["slots"] = spec.slots
    if spec.schedulers is not None:
        fixed["schedulers"] = [{"name": s.name, "params": s.params, "label": s.label}
                               for s in spec.schedulers]

    keys = list(spec.grid)
    points = [(dict(zip(keys, combo, strict=True)), seed)
              for combo in itertools.product(*(spec.grid[k] for k in keys))
              for seed in spec.seeds]
    ids = _unique_ids(points)
    cells: list[Cell] = []
    problems: dict[str, str] = {}  # problem -> the first cell it was found in
    load_section = "grid" if LOAD in spec.grid else "set"
    for cid, (values, seed) in zip(ids, points, strict=True):
        cell_data = _apply(fixed, {k: v for k, v in values.items() if k != LOAD}, "grid")
        if isinstance(cell_data, str):
            problems.setdefault(cell_data, cid)
            continue
        cell_data["seed"] = seed
        try:
            scenario = scenario_from_dict(cell_data, source=source)
        except ScenarioError as exc:
            for p in exc.problems:
                problems.setdefault(_locate(p, spec), cid)
            continue
        load = values.get(LOAD, spec.set.get(LOAD))
        if load is not None:
            try:
                key, value = rate_for_load(scenario, load)
            except ValueError as exc:
                problems.setdefault(f"{load_section}.{LOAD}: {exc}", cid)
                continue
            arrival = {**scenario.tasks.arrival.model_dump(mode="json"), key: value}
            cell_data = apply_overrides(cell_data, [f"tasks.arrival={yaml_text(arrival)}"])
            try:
                scenario = scenario_from_dict(cell_data, source=source)
            except ScenarioError as exc:
                for p in exc.problems:
                    problems.setdefault(f"{load_section}.{LOAD}: {value_text(load)} gives {p}", cid)
                continue
        cells.append(Cell(cid, values, seed, scenario))
    if problems:
        raise ScenarioError(source, [p if p.startswith(("set.", "schedulers", "slots"))
                                     else f"{p} (cell {cid})" for p, cid in problems.items()])
    sweep = Sweep(path=path, spec=spec, base=base, cells=tuple(cells))
    _check_schedulers(sweep)
    return sweep


def rate_for_load(scenario: Scenario, load: float) -> tuple[str, float]:
    """Return the ``tasks.arrival`` field and value that make the offered load ``load``.

    The load is the ``all_cpus`` utilisation of :func:`mecsim.engine.stability.offered_load`,
    ``N lambda E[F] / (N f0 + sum_j Fmax_j)``, so the rate per IoTD is
    ``lambda = load (N f0 + sum_j Fmax_j) / (N E[F])`` [1/s], from the scenario's own
    ``N``, ``f0``, MEC CPUs and mean task cycles (rounded to 12 significant digits). A
    ``poisson`` arrival gets ``rate_per_s = lambda``; a ``bernoulli`` one
    ``probability = lambda slot_s`` (at most 1).

    Raises:
        ValueError: A ``per_slot`` arrival (its rate is fixed: one task per IoTD per slot),
            or a ``bernoulli`` one that would need a probability above 1.
    """
    n = scenario.iotds.count
    capacity = n * float(scenario.iotds.cpu_hz) + float(sum(scenario.mecs.cpu_hz))
    rate = float(f"{load * capacity / (n * float(scenario.tasks.cycles.expected)):.12g}")
    arrival = scenario.tasks.arrival
    if arrival.process == "poisson":
        return "rate_per_s", rate
    if arrival.process == "bernoulli":
        probability = float(f"{rate * scenario.slot_s:.12g}")
        if probability > 1.0:
            raise ValueError(
                f"{_float_text(float(load))} needs {probability:.4g} tasks per IoTD per slot, "
                "more than a bernoulli arrival's probability 1 allows; use "
                "tasks.arrival: {process: poisson}")
        return "probability", probability
    raise ValueError(
        f"needs a poisson or bernoulli task arrival, whose rate it sets; the cell's "
        f"tasks.arrival.process is {arrival.process} (a fixed rate of one task per IoTD per "
        "slot): add tasks.arrival: {process: poisson} to the sweep's set")


def quick_values(values: Sequence[Any]) -> list[Any]:
    """Every other value of a grid key's list, the first and the last always kept.

    ``[1, 2, 3, 4, 5] -> [1, 3, 5]``; ``[1, 2, 3, 4] -> [1, 3, 4]``; ``[1, 2] -> [1, 2]``.
    """
    kept = list(values[::2])
    if (len(values) - 1) % 2:
        kept.append(values[-1])
    return kept


def _quick_spec(spec: SweepSpec, base_data: Mapping[str, Any]) -> SweepSpec:
    """The sweep of ``--quick``: every other grid value, at most :data:`QUICK_SLOTS` slots."""
    def cap(v: Any) -> Any:
        return min(v, QUICK_SLOTS) if isinstance(v, int) and not isinstance(v, bool) else v

    grid = {k: quick_values(v) for k, v in spec.grid.items()}
    update: dict[str, Any] = {"grid": grid}
    if "slots" in grid:
        capped: dict[str, Any] = {}
        for v in grid["slots"]:
            capped.setdefault(value_text(cap(v)), cap(v))
        grid["slots"] = list(capped.values())
    elif "slots" in spec.set:
        update["set"] = {**spec.set, "slots": cap(spec.set["slots"])}
    else:
        slots = spec.slots if spec.slots is not None else \
            base_data.get("slots", Scenario.model_fields["slots"].default)
        update["slots"] = cap(slots) if isinstance(cap(slots), int) else spec.slots
    return spec.model_copy(update=update)


def _check_schedulers(sweep: Sweep) -> None:
    """Every scheduler must be registered or importable, before any cell starts."""
    from mecsim.registry import scheduler_class

    if not sweep.cells:
        return
    key = "schedulers" if sweep.spec.schedulers is not None else \
        f"base {sweep.spec.base}: schedulers"
    for index, spec in enumerate(sweep.cells[0].scenario.schedulers):
        try:
            scheduler_class(spec.name)
        except ValueError as exc:
            raise ScenarioError(str(sweep.path), f"{key}.{index}: {exc}") from None


def _apply(data: Mapping[str, Any], overrides: Mapping[str, Any],
           section: str) -> dict[str, Any] | str:
    """Apply ``{dotted.key: value}`` as ``--set`` does; a problem is returned as its line."""
    out = dict(data)
    for key, value in overrides.items():
        item = f"{key}={yaml_text(value)}"
        try:
            out = apply_overrides(out, [item])
        except ScenarioError as exc:
            return f"{section}.{key}: {exc.problems[0].removeprefix(repr(item) + ': ')}"
    return out


def _locate(problem: str, spec: SweepSpec) -> str:
    """Name the sweep key a cell's scenario problem comes from (``grid.K``, ``set.K``, ...)."""
    key = problem.split(": ", 1)[0]

    def hits(k: str) -> bool:
        return key == k or key.startswith(k + ".") or k.startswith(key + ".")

    for k in spec.grid:
        if hits(k):
            return f"grid.{problem}"
    for k in spec.set:
        if hits(k):
            return f"set.{problem}"
    if spec.schedulers is not None and hits("schedulers"):
        return problem
    if spec.slots is not None and key == "slots":
        return problem
    return f"base {spec.base}: {problem}"
