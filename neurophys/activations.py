"""Activations ρ with their first and second derivatives (the physics needs ρ' and ρ'').

`hard_sigmoid` is clip(s, 0, 1); its units live in the box [0, 1] (projected dynamics), so its
derivative is the indicator of the open interval and ρ'' = 0.
"""
from __future__ import annotations

import numpy as np


def _sig(s):
    return 0.5 * (1.0 + np.tanh(0.5 * s))


def rho(name: str, s: np.ndarray) -> np.ndarray:
    if name == "hard_sigmoid":
        return np.clip(s, 0.0, 1.0)
    if name == "sigmoid":
        return _sig(s)
    if name == "tanh":
        return np.tanh(s)
    if name == "relu":
        return np.maximum(s, 0.0)
    return s


def drho(name: str, s: np.ndarray) -> np.ndarray:
    if name == "hard_sigmoid":
        return ((s > 0.0) & (s < 1.0)).astype(s.dtype)
    if name == "sigmoid":
        g = _sig(s)
        return g * (1.0 - g)
    if name == "tanh":
        return 1.0 - np.tanh(s) ** 2
    if name == "relu":
        return (s > 0.0).astype(s.dtype)
    return np.ones_like(s)


def d2rho(name: str, s: np.ndarray) -> np.ndarray:
    if name == "sigmoid":
        g = _sig(s)
        return g * (1.0 - g) * (1.0 - 2.0 * g)
    if name == "tanh":
        t = np.tanh(s)
        return -2.0 * t * (1.0 - t ** 2)
    return np.zeros_like(s)


def box(name: str) -> tuple[float, float] | None:
    """The state box a projected dynamics keeps units in (None: unbounded)."""
    return (0.0, 1.0) if name == "hard_sigmoid" else None
