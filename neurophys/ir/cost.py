"""The cost a graph is trained on: a function of its output population's state."""
from __future__ import annotations

from dataclasses import dataclass

from . import checks

KINDS = ("mse", "cross_entropy")


@dataclass
class Cost:
    kind: str = "mse"
    output: str = "out"

    def __post_init__(self):
        checks.one_of("kind", self.kind, KINDS)
        checks.name("output", self.output)
