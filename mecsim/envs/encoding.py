"""The observation encoding and action checks shared by ``MecEnv`` and the PettingZoo env.

One encoding of an epoch, per IoTD slot (``N`` IoTDs, ``M`` MECs; see ``docs/envs.md``):
``tasks`` counts the IoTD's tasks to place (the mask: 0 for an IoTD without a task),
``gains`` is ``(log10(h) + 6) / 3`` of its channel gains, ``data_mbit`` and ``cycles_g`` sum
its tasks' sizes, ``backlog`` is ``ln(1 + B_j / Fmax_j)`` per MEC. :func:`encode` gives
``MecEnv``'s centralized observation, :func:`encode_view` one MEC agent's part of it (only
what :class:`~mecsim.scheduler.AgentView` holds). Every bound is finite, so Gymnasium's
checker accepts the spaces without a warning; a value beyond a bound is clipped to it (the
caps are far beyond any scenario's epoch).
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from mecsim.scheduler import AgentView, Observation

#: Tasks per IoTD per epoch the observation counts (more are still placed).
MAX_TASKS = 255.0
#: Bound of the gain level ``(log10(h) + 6) / 3`` (h from 1e-21 to 1e9).
MAX_GAIN_LEVEL = 5.0
#: Cap of ``data_mbit`` [Mbit] and ``cycles_g`` [Gcycle] (an IoTD's sum over one epoch).
MAX_SIZE = 1.0e6
#: Cap of ``backlog`` = ``ln(1 + B_j / Fmax_j)`` (e^50 s of work).
MAX_BACKLOG = 50.0


def _box(high: float, shape: tuple[int, ...], low: float = 0.0) -> spaces.Box:
    return spaces.Box(low, high, shape, dtype=np.float32)


def observation_space(n_iotds: int, n_mecs: int) -> spaces.Dict:
    """``MecEnv``'s observation space (all entries ``float32``, finite bounds)."""
    n, m = n_iotds, n_mecs
    return spaces.Dict({
        "tasks": _box(MAX_TASKS, (n,)),
        "gains": _box(MAX_GAIN_LEVEL, (n, m), -MAX_GAIN_LEVEL),
        "data_mbit": _box(MAX_SIZE, (n,)),
        "cycles_g": _box(MAX_SIZE, (n,)),
        "backlog": _box(MAX_BACKLOG, (m,)),
        "available": _box(1.0, (m,)),
    })


def agent_observation_space(n_iotds: int) -> spaces.Dict:
    """One MEC agent's observation space: its column of :func:`observation_space`."""
    n = n_iotds
    return spaces.Dict({
        "tasks": _box(MAX_TASKS, (n,)),
        "gains": _box(MAX_GAIN_LEVEL, (n,), -MAX_GAIN_LEVEL),
        "data_mbit": _box(MAX_SIZE, (n,)),
        "cycles_g": _box(MAX_SIZE, (n,)),
        "backlog": _box(MAX_BACKLOG, (1,)),
    })


def _gain_level(gains: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.clip((np.log10(gains) + 6.0) / 3.0, -MAX_GAIN_LEVEL, MAX_GAIN_LEVEL)


def _per_iotd(iotd: np.ndarray, data_bits: np.ndarray, cycles: np.ndarray,
              n_iotds: int) -> dict[str, np.ndarray]:
    """``tasks``, ``data_mbit`` and ``cycles_g`` per IoTD slot."""
    out = {"tasks": np.zeros(n_iotds), "data_mbit": np.zeros(n_iotds),
           "cycles_g": np.zeros(n_iotds)}
    np.add.at(out["tasks"], iotd, 1.0)
    np.add.at(out["data_mbit"], iotd, np.asarray(data_bits) / 1e6)
    np.add.at(out["cycles_g"], iotd, np.asarray(cycles) / 1e9)
    np.minimum(out["tasks"], MAX_TASKS, out=out["tasks"])
    np.minimum(out["data_mbit"], MAX_SIZE, out=out["data_mbit"])
    np.minimum(out["cycles_g"], MAX_SIZE, out=out["cycles_g"])
    return out


def _backlog(cycles, cpu_hz) -> np.ndarray:
    return np.minimum(np.log1p(np.asarray(cycles, dtype=float) / np.asarray(cpu_hz)),
                      MAX_BACKLOG)


def encode(obs: Observation | None, n_iotds: int, n_mecs: int) -> dict[str, np.ndarray]:
    """``MecEnv``'s observation of an engine :class:`Observation` (zeros for ``None``)."""
    out = {"tasks": np.zeros(n_iotds), "gains": np.zeros((n_iotds, n_mecs)),
           "data_mbit": np.zeros(n_iotds), "cycles_g": np.zeros(n_iotds),
           "backlog": np.zeros(n_mecs), "available": np.ones(n_mecs)}
    if obs is not None:
        p = obs.problem
        out.update(_per_iotd(obs.iotd, p.data_bits, p.cycles, n_iotds))
        out["gains"][obs.iotd] = _gain_level(p.gains)
        out["backlog"] = _backlog(obs.backlog_cycles, p.mec_cpu_hz)
        out["available"] = np.asarray(obs.available, dtype=float)
    return {k: v.astype(np.float32) for k, v in out.items()}


def encode_view(view: AgentView | None, n_iotds: int) -> dict[str, np.ndarray]:
    """One MEC agent's observation of its :class:`AgentView` (zeros for ``None``).

    Equal to that MEC's column of :func:`encode` of the full observation (``gains[:, j]``,
    ``backlog[j:j+1]``) and its per-IoTD entries: nothing an AgentView lacks.
    """
    if view is None:
        out = {"tasks": np.zeros(n_iotds), "gains": np.zeros(n_iotds),
               "data_mbit": np.zeros(n_iotds), "cycles_g": np.zeros(n_iotds),
               "backlog": np.zeros(1)}
    else:
        out = _per_iotd(view.iotd, view.data_bits, view.cycles, n_iotds)
        out["gains"] = np.zeros(n_iotds)
        out["gains"][view.iotd] = _gain_level(view.gains)
        out["backlog"] = _backlog([view.backlog_cycles], view.cpu_hz)
        out = {k: out[k] for k in ("tasks", "gains", "data_mbit", "cycles_g", "backlog")}
    return {k: v.astype(np.float32) for k, v in out.items()}


def usable(obs: Observation, placement: np.ndarray) -> tuple[np.ndarray, int]:
    """Set each entry naming a failed MEC or a MEC without a link (gain 0) to local.

    Returns:
        The placement and how many entries were set to local.
    """
    placement = np.asarray(placement, dtype=np.int64)
    if placement.size == 0:
        return placement, 0
    p = obs.problem
    mec = np.maximum(placement - 1, 0)
    ok = (placement == 0) | (np.asarray(obs.available, dtype=bool)[mec]
                             & (p.gains[np.arange(placement.size), mec] > 0))
    return np.where(ok, placement, 0), int(np.count_nonzero(~ok))


def placement_of(obs: Observation, action: np.ndarray) -> tuple[np.ndarray, int]:
    """Each task's placement from a per-IoTD action, and how many entries were invalid.

    An entry naming a failed MEC or one without a link (gain 0) becomes local.
    """
    return usable(obs, np.asarray(action, dtype=np.int64)[obs.iotd])


def per_iotd_placement(iotd: np.ndarray, placement: np.ndarray, n_iotds: int) -> np.ndarray:
    """``(N,)`` placement per IoTD for the map: -1 without a task, else its (last) task's."""
    out = np.full(n_iotds, -1, dtype=np.int64)
    out[np.asarray(iotd, dtype=np.int64)] = placement
    return out
