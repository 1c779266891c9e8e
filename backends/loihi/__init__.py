"""Lava / Loihi 2 backends: `loihi` (floating point), `loihi-fixed`, `loihi-lif`."""
from .backend import LoihiBackend

__all__ = ["LoihiBackend"]
