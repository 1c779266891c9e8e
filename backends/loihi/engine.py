"""The `loihi-engine` backend: the chip path in floating point — learning done by Lava's LearningDense
(the Loihi 2 learning engine's rule, Lava's float learning model), samples one after another, the
minibatch accumulated in the tag and applied once (network.py, numerics.py).

It is the float twin of `loihi-fixed`: the same processes and rule, float arithmetic. Against the
reference update it differs only by the learning engine's one-step trace decay (τ = 65535), a
factor e^(−3/65535) ≈ 1 − 4.6e-5 on every update.
"""
from __future__ import annotations

from neurophys.ir.graph import Graph

from .backend import LavaBackend
from .network import ChipNet
from .numerics import FloatNumerics


class LoihiEngineBackend(LavaBackend):
    name = "loihi-engine"
    families = ("ep", "least_action")

    def _net(self, graph: Graph) -> ChipNet:
        return ChipNet(graph, self._numerics(graph), self.options["hw"])

    def _numerics(self, graph: Graph):
        return FloatNumerics()

    def _build(self, graph: Graph) -> None:
        params = graph.params()
        super()._build(graph)
        self.net.set_params(params)  # after the first run: Lava's first step truncates fixed-point weights
        self._params = self.net.get_params()
        graph.set_params(self._params)

    def info(self):
        return {**super().info(), "path": "chip",
                "update": "LearningDense with Loihi3FLearningRule on every coupling (both directions) and on every "
                          "trainable bias (from an always-on unit): the post neurons send the phase-end contrast "
                          "factors y2/y3, the tag accumulates the minibatch, y1 applies it once",
                "residual": "each trace the learning engine reads is one step old at τ = 65535: the float update is "
                            "the reference update × e^(−3/65535) ≈ 1 − 4.6e-5",
                "transpose_mismatch": self.net.transpose_mismatch() if self.net else None}
