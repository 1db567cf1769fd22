"""Local tasks computed in bulk (``LOCAL_IN_BULK``) give exactly the event-by-event run.

Each scenario runs twice in one process, once with the local CPUs as :class:`LocalCpus`
(finish times computed when tasks are placed, no SimPy event each) and once with one SimPy
timeout per local task (the reference); the tasks table (rows in the order written), the
slot records, the counters and the backlog series must be identical, bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mecsim.config import load_scenario
from mecsim.engine import simulation
from mecsim.engine.simulation import Simulation
from mecsim.registry import make
from mecsim.rng import scheduler_seed

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def _run(path: Path, overrides: list[str], name: str, bulk: bool, monkeypatch) -> dict:
    """Run scheduler ``name`` on a scenario; return everything the run wrote or counts."""
    monkeypatch.setattr(simulation, "LOCAL_IN_BULK", bulk)
    scenario = load_scenario(path, overrides)
    rows, slots = [], []
    scheduler = make(name)
    sim = Simulation(scenario, scheduler, name, scenario.seed, on_tasks=rows.append,
                     on_slot=slots.append)
    scheduler.reset(scheduler_seed(scenario.seed, 0), sim.network)
    sim.run(scenario.slots)
    events = next(sim.env._eid) - len(sim.env._queue)
    sim.close()
    tasks = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]} if rows else {}
    for record in slots:
        del record["decision_s"]  # wall-clock time of the decision, never the same
    return {"tasks": tasks, "slots": slots, "counts": sim.counts(),
            "counters": vars(sim.counters), "ended": sim.ended,
            "backlog": sim.backlog_series(), "model_costs": sim.model_costs,
            "in_flight_at_end": sim.in_flight_at_end, "events": events}


def _same(a, b) -> bool:
    """Bit-identical (NaN equal to NaN), through dicts and lists."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "f":
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    if a.dtype == object:
        return a.shape == b.shape and all(x == y or (x != x and y != y)
                                          for x, y in zip(a.ravel(), b.ravel(), strict=True))
    return a.shape == b.shape and np.array_equal(a, b)


def _compare(path: Path, overrides: list[str], name: str, monkeypatch) -> tuple[dict, dict]:
    bulk = _run(path, overrides, name, True, monkeypatch)
    each = _run(path, overrides, name, False, monkeypatch)
    for key in each:
        if key != "events":
            assert _same(bulk[key], each[key]), key
    return bulk, each
