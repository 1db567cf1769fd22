"""Named random streams derived from one scenario seed.

Every random process draws from its own generator, spawned from one
``numpy.random.SeedSequence`` so that results are reproducible and every scheduler of a
run sees the same mobility, channels and arrivals (common random numbers).
"""

from __future__ import annotations

import numpy as np

#: The world's streams, in a fixed order: appending a name keeps the others unchanged.
WORLD_STREAMS: tuple[str, ...] = (
    "placement", "mobility", "fading", "shadowing", "arrivals", "sizes", "deadlines")


def streams(seed: int, names: tuple[str, ...] = WORLD_STREAMS) -> dict[str, np.random.Generator]:
    """Return one independent generator per name, all derived from ``seed``.

    Args:
        seed: The scenario seed (a non-negative integer).
        names: Stream names; the i-th name always gets the i-th spawned child.

    Returns:
        A dict mapping each name to its ``numpy.random.Generator``.

    Raises:
        ValueError: If ``seed`` is negative.
    """
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {name: np.random.default_rng(child) for name, child in zip(names, children, strict=True)}


def scheduler_seed(seed: int, index: int) -> int:
    """Return the seed of the ``index``-th scheduler of a run, derived from the scenario seed.

    Scheduler streams are spawned from a child of the scenario seed that the world streams
    never use, so a scheduler's randomness never perturbs the world.
    """
    if index < 0:
        raise ValueError(f"index must be non-negative, got {index!r}")
    root = np.random.SeedSequence([seed, 0x5C4ED])
    child = root.spawn(index + 1)[index]
    return int(child.generate_state(1, dtype=np.uint32)[0])


def training_seed(seed: int) -> int:
    """Return the world seed that ``mecsim train`` uses for the scenario seed ``seed``.

    Training must not see the world a policy is evaluated on: ``train`` simulates the world
    of this seed, ``run`` that of ``seed`` itself, so the two never share IoTD placements,
    mobility, channels or arrivals. It is spawned from a child of the scenario seed that
    neither the world streams (:func:`streams`) nor the scheduler streams
    (:func:`scheduler_seed`) use, and it is never ``seed`` itself.

    Args:
        seed: The scenario seed (a non-negative integer).

    Returns:
        A non-negative 63-bit integer, a valid scenario seed.

    Raises:
        ValueError: If ``seed`` is negative.
    """
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    state = np.random.SeedSequence([seed, 0x7EA1]).generate_state(1, dtype=np.uint64)
    world = int(state[0]) >> 1  # scenario seeds are signed 64-bit
    return world if world != seed else world ^ 1
