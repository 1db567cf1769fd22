"""Reading a learning scheduler's checkpoint: one set of checks and clear errors for all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from mecsim.scheduler import Network

CHECKPOINT_FORMAT = 1


def read_checkpoint(path: str | Path, name: str, network: Network, hidden: tuple[int, ...],
                    *, scheduler: str | None = None, any_n: bool = False) -> dict[str, Any]:
    """Load a checkpoint with ``torch.load(weights_only=True)`` and check it fits.

    Args:
        path: The file.
        name: The scheduler's name in error messages.
        network: The run's network: the checkpoint must be for the same ``N`` and ``M``.
        hidden: The configured hidden layers: the checkpoint's must be the same.
        scheduler: If given, the checkpoint's ``"scheduler"`` entry must equal it.
        any_n: The networks have no per-IoTD weight: only ``M`` must match, not ``N``.

    Returns:
        The checkpoint's dict.

    Raises:
        ValueError: If the file is missing, unreadable, of another format or scheduler, or
            for another network size or hidden layers; the message names ``name`` and
            ``path``.
    """
    try:
        state = torch.load(Path(path), weights_only=True)
    except FileNotFoundError as exc:
        raise ValueError(f"{name} checkpoint {path} does not exist") from exc
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same error
        raise ValueError(f"{name} checkpoint {path} is not readable: {exc}") from exc
    found = state.get("scheduler") if isinstance(state, dict) else None
    if (not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT
            or (scheduler is not None and found != scheduler)):
        raise ValueError(f"{path} is not a checkpoint of {name} (format {CHECKPOINT_FORMAT})"
                         + (f": it holds {found}" if found else ""))
    try:
        have = (state["n_iotds"], state["n_mecs"])
        layers = list(state["config"]["hidden"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{name} checkpoint {path} lacks {exc}") from exc
    want = (network.n_iotds, network.n_mecs)
    if have != want and not (any_n and have[1] == want[1]):
        raise ValueError(f"{name} checkpoint {path} is for N={have[0]} IoTDs and M={have[1]} "
                         f"MECs, this network has N={want[0]}, M={want[1]}")
    if layers != list(hidden):
        raise ValueError(f"{name} checkpoint {path} has hidden layers {layers}, the config "
                         f"asks for {list(hidden)}")
    return state
