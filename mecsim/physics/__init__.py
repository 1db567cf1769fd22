"""What moves and changes in time: mobility, time-correlated fading, task arrivals and sizes.

Pure numpy (and scipy.special / scipy.stats), vectorised over devices; every random draw
comes from a ``numpy.random.Generator`` passed in. See ``docs/physics.md``.
"""

from mecsim.physics.arrivals import (
    ARRIVAL_PROCESSES,
    SIZE_DISTRIBUTIONS,
    ArrivalProcess,
    Bernoulli,
    Choice,
    Constant,
    PerSlot,
    Poisson,
    SizeDistribution,
    TruncNormal,
    Uniform,
    make_arrivals,
    make_distribution,
)
from mecsim.physics.fading import (
    SPEED_OF_LIGHT_MPS,
    Fading,
    Shadowing,
    SumOfSinusoids,
    gudmundson_rho,
    jakes_rho,
)
from mecsim.physics.mobility import (
    MOBILITY_MODELS,
    GaussMarkov,
    Mobility,
    RandomWaypoint,
    Static,
    make_mobility,
)

__all__ = [
    "ARRIVAL_PROCESSES",
    "MOBILITY_MODELS",
    "SIZE_DISTRIBUTIONS",
    "SPEED_OF_LIGHT_MPS",
    "ArrivalProcess",
    "Bernoulli",
    "Choice",
    "Constant",
    "Fading",
    "GaussMarkov",
    "Mobility",
    "PerSlot",
    "Poisson",
    "RandomWaypoint",
    "Shadowing",
    "SizeDistribution",
    "Static",
    "SumOfSinusoids",
    "TruncNormal",
    "Uniform",
    "gudmundson_rho",
    "jakes_rho",
    "make_arrivals",
    "make_distribution",
    "make_mobility",
]
