"""Lava / Loihi 2 backends: `loihi` (the fast path), `loihi-engine` (the chip path, float learning
engine), `loihi-fixed` (the chip path, Loihi 2 fixed point), `loihi-lif` (the chip path, spiking)."""
from .backend import LoihiBackend
from .engine import LoihiEngineBackend
from .fixed import LoihiFixedBackend
from .lif import LoihiLifBackend

__all__ = ["LoihiBackend", "LoihiEngineBackend", "LoihiFixedBackend", "LoihiLifBackend"]
