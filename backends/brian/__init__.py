"""Brian2 backends: `brian` (rate twin, matches the reference engine) and `brian-spiking`
(Poisson-spiking twin learning from spike traces; its gradient agreement is measured)."""
from .rate import BrianRateBackend
from .spiking import BrianSpikingBackend

__all__ = ["BrianRateBackend", "BrianSpikingBackend"]
