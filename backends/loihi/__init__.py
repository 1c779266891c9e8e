"""Lava / Loihi 2 backends: `loihi` (floating point), `loihi-fixed`, `loihi-lif`."""
from .backend import LoihiBackend
from .fixed import LoihiFixedBackend
from .lif import LoihiLifBackend

__all__ = ["LoihiBackend", "LoihiFixedBackend", "LoihiLifBackend"]
