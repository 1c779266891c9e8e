"""Lava / Loihi 2 backends: `loihi` (floating point), `loihi-fixed`, `loihi-lif`."""
from .backend import LoihiBackend
from .fixed import LoihiFixedBackend

__all__ = ["LoihiBackend", "LoihiFixedBackend"]
