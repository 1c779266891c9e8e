"""The reference backend: the core engine itself, float64 — the baseline every target is held to."""
from __future__ import annotations

import numpy as np

from neurophys.backend import Backend
from neurophys.families import MODULES, family
from neurophys.ir.graph import Graph
from neurophys.train import apply_update


class ReferenceBackend(Backend):
    name = "reference"
    families = tuple(MODULES)

    def _build(self, graph: Graph) -> None:
        self.family = family(graph)

    def step(self, x, y):
        with self.timed("host"):
            before = {k: v.copy() for k, v in self.graph.params().items()}
            apply_update(self.graph, self.family.local_update(self.graph, x, y))  # clipped to bounds
            after = self.graph.params()
            return {k: after[k] - before[k] for k in before}

    def get_params(self):
        return {k: v.copy() for k, v in self.graph.params().items()}

    def set_params(self, params):
        self.graph.set_params(params)

    def outputs(self, x):
        return self.family.outputs(self.graph, np.asarray(x, float))
