"""mecsim: a discrete-event simulator of mobile-edge-computing networks."""

__version__ = "0.1.0"
