"""Costs on an output state, per sample: value and gradient (float64)."""
from __future__ import annotations

import numpy as np


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def value(kind: str, out: np.ndarray, y: np.ndarray) -> np.ndarray:
    """C per sample, shape (batch,)."""
    if kind == "mse":
        return 0.5 * np.sum((out - y) ** 2, axis=-1)
    z = out - out.max(axis=-1, keepdims=True)
    return -np.sum(y * (z - np.log(np.exp(z).sum(axis=-1, keepdims=True))), axis=-1)


def grad(kind: str, out: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∂C/∂out per sample."""
    if kind == "mse":
        return out - y
    return _softmax(out) * y.sum(axis=-1, keepdims=True) - y


def predict(kind: str, out: np.ndarray) -> np.ndarray:
    return np.argmax(out, axis=-1)


def hess(kind: str, out: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∂²C/∂out² per sample, (B, n, n) — for Newton relaxation of the nudged phase."""
    B, n = out.shape
    if kind == "mse":
        return np.broadcast_to(np.eye(n), (B, n, n))
    p = _softmax(out) * y.sum(axis=-1, keepdims=True)
    return p[:, :, None] * np.eye(n) - p[:, :, None] * p[:, None, :] / np.maximum(y.sum(axis=-1), 1e-300)[:, None, None]
