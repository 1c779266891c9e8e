"""A population: a group of units of one kind (a layer, a set of circuit nodes)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import checks
from .errors import ValidationError

KINDS = ("input", "rate", "lif", "lse", "circuit_node")
ACTIVATIONS = ("hard_sigmoid", "sigmoid", "tanh", "relu", "linear")
ROLES = ("input", "hidden", "output", "ground")


@dataclass
class Population:
    name: str
    size: int
    kind: str = "rate"
    activation: str = "linear"
    role: str = "hidden"
    tau: float = 1.0
    bias: np.ndarray | None = None
    trainable_bias: bool = True
    metadata: dict = field(default_factory=dict)
    epsilon: float | None = None  # temperature of an `lse` population (0: the max-plus limit)

    def __post_init__(self):
        checks.name("name", self.name)
        self.size = checks.positive_int("size", self.size)
        checks.one_of("kind", self.kind, KINDS)
        checks.one_of("activation", self.activation, ACTIVATIONS)
        checks.one_of("role", self.role, ROLES)
        self.tau = checks.number("tau", self.tau, positive=True)
        if (self.kind == "input") != (self.role == "input") and self.kind != "circuit_node":
            raise ValidationError("role", f"{self.role!r} does not fit kind {self.kind!r} (input kind ⇔ input role)")
        if self.kind == "circuit_node" and self.activation != "linear":
            raise ValidationError("activation", f"circuit nodes are linear (node voltages), got {self.activation!r}")
        if self.bias is not None:
            if self.role in ("input", "ground"):
                raise ValidationError("bias", f"a {self.role} population cannot have a bias")
            self.bias = checks.array("bias", self.bias, ndim=1)
            if self.bias.shape != (self.size,):
                raise ValidationError("bias", f"shape {self.bias.shape} does not match size {self.size}")
        if not isinstance(self.trainable_bias, bool):
            raise ValidationError("trainable_bias", f"{self.trainable_bias!r} must be true or false")
        if not isinstance(self.metadata, dict):
            raise ValidationError("metadata", "must be an object")
        if self.kind == "lse":
            if self.epsilon is None:
                raise ValidationError("epsilon", "an 'lse' population needs a temperature epsilon >= 0")
            self.epsilon = checks.number("epsilon", self.epsilon, nonneg=True)
        elif self.epsilon is not None:
            raise ValidationError("epsilon", f"only 'lse' populations have a temperature; {self.name!r} is {self.kind!r}")

    @property
    def clamped(self) -> bool:
        """Held by the outside world (data or a voltage source), not relaxed by the physics."""
        return self.role in ("input", "ground")
