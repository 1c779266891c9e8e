"""Stateless NIR nodes between neuron populations: Affine/Linear, Scale, Threshold, and the Input.

They act within a time step (no state): y = W x + b, y = s ⊙ x, y = [x > θ]. Flatten has no node
here: populations are flat vectors, so a Flatten joins its neighbours directly (the importer checks
that the sizes agree).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import checks
from .errors import ValidationError


def _meta(value):
    if not isinstance(value, dict):
        raise ValidationError("metadata", "must be an object")


@dataclass
class Input:
    """Where the outside world's values enter: `size` columns of the run's input array."""
    name: str
    size: int
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        checks.node_name("name", self.name)
        self.size = checks.positive_int("size", self.size)
        _meta(self.metadata)

    @property
    def in_size(self):
        return 0

    @property
    def out_size(self):
        return self.size


@dataclass
class Affine:
    """y = W x (+ b): NIR's Affine, or its Linear when `bias` is None. W is [out, in]."""
    name: str
    weight: np.ndarray
    bias: np.ndarray | None = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        checks.node_name("name", self.name)
        self.weight = checks.array("weight", self.weight, ndim=2)
        if self.bias is not None:
            b = np.asarray(self.bias, float)
            self.bias = checks.array("bias", np.full(self.weight.shape[0], float(b)) if b.ndim == 0 else b, ndim=1)
            if self.bias.shape != (self.weight.shape[0],):
                raise ValidationError("bias", f"shape {self.bias.shape} does not match the weight's {self.weight.shape[0]} outputs")
        _meta(self.metadata)

    @property
    def in_size(self):
        return self.weight.shape[1]

    @property
    def out_size(self):
        return self.weight.shape[0]


@dataclass
class Scale:
    """y = s ⊙ x (elementwise)."""
    name: str
    scale: np.ndarray
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        checks.node_name("name", self.name)
        self.scale = checks.array("scale", np.atleast_1d(np.asarray(self.scale, float)), ndim=1)
        _meta(self.metadata)

    @property
    def in_size(self):
        return self.scale.size

    out_size = in_size


@dataclass
class Threshold:
    """y = [x > θ]: a spike wherever the input exceeds θ, with no state."""
    name: str
    threshold: np.ndarray
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        checks.node_name("name", self.name)
        self.threshold = checks.array("threshold", np.atleast_1d(np.asarray(self.threshold, float)), ndim=1)
        _meta(self.metadata)

    @property
    def in_size(self):
        return self.threshold.size

    out_size = in_size
