"""How the reference engine trains a graph: minibatch size, epochs and the shuffling seed."""
from __future__ import annotations

from dataclasses import dataclass

from . import checks
from .errors import ValidationError


@dataclass
class Training:
    batch_size: int = 16
    epochs: int = 10
    seed: int = 0

    def __post_init__(self):
        self.batch_size = checks.positive_int("batch_size", self.batch_size)
        self.epochs = checks.positive_int("epochs", self.epochs)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValidationError("seed", f"{self.seed!r} must be a non-negative integer")
