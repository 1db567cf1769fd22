"""mecsim: a discrete-event simulator of mobile-edge-computing networks.

``mecsim.run(...)`` and ``mecsim.load_results(...)`` are the Python API of a run
(:mod:`mecsim.api`, ``docs/api.md``); they are imported on first use.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_results", "run"]


def __getattr__(name: str) -> Any:
    if name in ("run", "load_results", "Results"):
        from mecsim import api

        return getattr(api, name)
    raise AttributeError(f"module 'mecsim' has no attribute {name!r}")
