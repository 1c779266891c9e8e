"""The `loihi` backend: EP and least-action graphs as Lava processes (floating point)."""
from __future__ import annotations

import numpy as np

from neurophys.backend import Backend
from neurophys.ir.graph import Graph

from .network import LavaNet
from .numerics import FloatNumerics
from .runcfg import check_hw, hardware_available


class LoihiBackend(Backend):
    name = "loihi"
    families = ("ep", "least_action")

    def __init__(self, hw: bool = False, **options):
        super().__init__(hw=hw, **options)
        check_hw(hw)
        self.net: LavaNet | None = None

    def _build(self, graph: Graph) -> None:
        with self.timed("host"):
            self.net = self._net(graph)
        with self.timed("device"):
            self.net.start()
        self._params = self.net.get_params()
        graph.set_params(self._params)  # the graph holds what the target holds (fixed point: the quantised θ)

    def _net(self, graph: Graph) -> LavaNet:
        return LavaNet(graph, self._numerics(graph), self.options["hw"])

    def _numerics(self, graph: Graph):
        return FloatNumerics()

    def _trainable(self):
        g = self.graph
        keys = [c.name for c in g.couplings if c.trainable]
        return keys + [f"{p.name}.bias" for p in g.populations if p.bias is not None and p.trainable_bias]

    def step(self, x, y):
        x, y = np.atleast_2d(np.asarray(x, float)), np.atleast_2d(np.asarray(y, float))
        before = self._params
        with self.timed("device"):
            self.net.learn(x, y)
        with self.timed("link"):
            self._params = self.net.get_params()
        self.graph.set_params(self._params)
        return {k: self._params[k] - before[k] for k in self._trainable()}

    def get_params(self):
        with self.timed("link"):
            self._params = self.net.get_params()
        return {k: v.copy() for k, v in self._params.items()}

    def set_params(self, params):
        with self.timed("link"):
            self.net.set_params(params)
            self._params = self.net.get_params()
        self.graph.set_params(self._params)

    def outputs(self, x):
        with self.timed("device"):
            return self.net.outputs(np.atleast_2d(np.asarray(x, float)))

    def info(self):
        return {"backend": self.name, "run_config": type(self.net.run_cfg).__name__ if self.net else None, "select_tag": self.net.num.select_tag if self.net else None,
                "hardware_stack": hardware_available(),
                "processes": len(self.net.processes()) if self.net else 0,
                "ring_steps": self.net.T if self.net else 0,
                "off_chip": ["Plasticity (per-coupling phase contrast → Dense weights) runs as a CPU ProcessModel: "
                             "the EP/least-action update needs graded states at a phase's end with a phase-dependent "
                             "sign, which Loihi 2 learning-rule strings (decaying spike traces) cannot express",
                             "bias updates are computed in the neuron ProcessModel (CPU)"]}

    def close(self):
        if self.net is not None:
            self.net.stop()
            self.net = None
