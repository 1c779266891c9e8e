"""Crossbar backend: graphs on an analog crossbar board (real or emulated) that learns by itself."""
from .backend import CrossbarBackend

__all__ = ["CrossbarBackend"]
