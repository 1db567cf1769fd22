"""Train a learning scheduler on a world of its own and save it with a sidecar.

The evaluation protocol of learning schedulers (``docs/training.md``): a scheduler is
trained on the *training world* of a scenario seed A (:func:`mecsim.rng.training_seed`,
never the world ``run`` simulates for any seed it is given), saved, then evaluated frozen
(``train: false``, ``checkpoint: PATH``) on other world seeds B beside ``optimal`` and the
baselines. ``python -m mecsim train`` and ``benchmarks/bench_learners.py`` both train
through :func:`train`.

Beside the checkpoint ``OUT``, :func:`train` writes ``OUT.meta.json`` (:func:`meta_path`):
the scheduler (name, label, params), the scenario (file, name, seed), the training world
seed, the slots and wall time of the training run, ``N`` and ``M``, whether the training
schedule finished (the scheduler was frozen at the end) and how many slots it needs, and
the mecsim version. ``run --checkpoint`` reads it to warn when a policy is evaluated on its
own training world.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mecsim.rng import training_seed

__all__ = [
    "META_SUFFIX",
    "Trained",
    "TrainingError",
    "meta_path",
    "read_meta",
    "schedule_slots",
    "train",
    "training_scenario",
    "training_spec",
]

#: Appended to a checkpoint's file name to name its sidecar.
META_SUFFIX = ".meta.json"


class TrainingError(Exception):
    """The training run failed (the scheduler raised or returned invalid decisions)."""


@dataclass
class Trained:
    """What :func:`train` produced.

    Attributes:
        result: The training run's :class:`mecsim.engine.runner.SchedulerResult`.
        checkpoint: The checkpoint file written.
        run_dir: The training run's folder (``training.parquet``, ``slots.parquet``, ...).
        meta: The sidecar's content (also in :func:`meta_path` of ``checkpoint``).
    """

    result: Any
    checkpoint: Path
    run_dir: Path
    meta: dict[str, Any]

    @property
    def finished(self) -> bool:
        """Whether the training schedule ended within the slots (the scheduler is frozen)."""
        return bool(self.meta["finished"])

    @property
    def slots_needed(self) -> int | None:
        """Slots (with tasks) the whole schedule takes, when the scheduler tells."""
        return self.meta["slots_needed"]


def training_spec(scenario: Any, name: str) -> Any:
    """Return the spec ``train --scheduler NAME`` trains.

    The scenario's entry of that label or name (with its params), else ``NAME`` with its
    defaults.
    """
    from mecsim.config import SchedulerSpec

    for spec in scenario.schedulers:
        if name in (spec.label, spec.name):
            return spec
    return SchedulerSpec(name=name, params={})


def training_scenario(scenario: Any) -> Any:
    """Return ``scenario`` on its training world.

    Its seed becomes :func:`mecsim.rng.training_seed` of its seed, everything else
    unchanged (the training run's ``scenario.yaml`` records that seed).
    """
    return scenario.model_copy(update={"seed": training_seed(scenario.seed)})


def schedule_slots(scheduler: Any) -> int | None:
    """Slots with tasks that ``scheduler``'s whole training schedule takes, or None.

    DIRS: its demonstrations and held-out ones (with ``imitation``) then ``train_slots``
    online slots; the DRL peers (:class:`schedulers._drl_common.DrlScheduler`):
    ``train_slots``. None for a scheduler whose config does not say.
    """
    cfg = getattr(scheduler, "config", None)
    online = getattr(cfg, "train_slots", None)
    if not isinstance(online, int):
        return None
    if getattr(cfg, "imitation", False):
        return online + int(cfg.demonstrations) + int(cfg.demo_holdout)
    return online


def meta_path(checkpoint: str | Path) -> Path:
    """The sidecar of ``checkpoint``: ``CHECKPOINT.meta.json`` beside it."""
    path = Path(checkpoint)
    return path.with_name(path.name + META_SUFFIX)


def read_meta(checkpoint: str | Path) -> dict[str, Any] | None:
    """The sidecar of ``checkpoint``, or None when it has none (or an unreadable one)."""
    try:
        meta = json.loads(meta_path(checkpoint).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def train(scenario: Any, spec: Any, checkpoint: str | Path, *,
          run_dir: str | Path | None = None, scenario_file: str | Path | None = None,
          make: Callable[..., Any] | None = None,
          progress: Callable[[str, int], Any] | None = None) -> Trained:
    """Train ``spec`` on ``scenario``'s training world; save its checkpoint and sidecar.

    Args:
        scenario: The validated scenario (its ``seed`` is the scenario seed A; the world
            simulated is that of :func:`mecsim.rng.training_seed` of it).
        spec: The :class:`mecsim.config.SchedulerSpec` to train.
        checkpoint: File to write (atomically, as its sidecar).
        run_dir: The training run's folder (default: ``CHECKPOINT.run`` beside it).
        scenario_file: The scenario's file, recorded in the sidecar.
        make: ``make(name, **params)`` (default :func:`mecsim.registry.make`).
        progress: As :func:`mecsim.engine.runner.run_scenario`'s.

    Returns:
        The :class:`Trained` run.

    Raises:
        TrainingError: If the scheduler failed during the run (nothing saved).
        KeyboardInterrupt, mecsim.engine.interrupt.Interrupted: When stopped (nothing
            saved; the run so far is in ``run_dir``).
    """
    from mecsim import __version__
    from mecsim.engine.runner import run_scenario

    out = Path(checkpoint)
    folder = Path(run_dir) if run_dir is not None else out.with_name(out.name + ".run")
    world = training_scenario(scenario)
    result, = run_scenario(world, folder, schedulers=[spec], make=make, channels=False,
                           progress=progress)
    scheduler = result.scheduler
    if result.error or scheduler is None:
        raise TrainingError(result.error or f"{spec.label}: not trained")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    scheduler.save(tmp)
    os.replace(tmp, out)
    meta = {
        "scheduler": {"name": spec.name, "label": spec.label, "params": dict(spec.params)},
        "scenario": {"file": None if scenario_file is None else str(scenario_file),
                     "name": scenario.name, "seed": scenario.seed},
        "training_world_seed": world.seed,
        "slots": result.slots,
        "training_slots": result.training_slots,
        "wall_s": result.wall_s,
        "n_iotds": scenario.iotds.count,
        "n_mecs": scenario.mecs.count,
        "phase": getattr(scheduler, "phase", None),
        "finished": not getattr(scheduler, "learning", False),
        "slots_needed": schedule_slots(scheduler),
        "run_dir": str(folder),
        "mecsim_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    _write_json_atomic(meta_path(out), meta)
    return Trained(result, out, folder, meta)


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)
