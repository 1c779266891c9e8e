"""The Lava backends' shared plumbing, and the `loihi` backend: the fast path (fast_net.py).

Every Lava backend owns one network object (`FastNet` here, `ChipNet` on the chip path) with
`start/learn/outputs/get_params/set_params/processes/stop`; the measured update is the parameters
read back after the step minus those read back before (on the fast path, where the host computes the
update, from the host's copy of the Dense it wrote: FastNet.get_params).
"""
from __future__ import annotations

import numpy as np

from neurophys.backend import Backend
from neurophys.ir.graph import Graph

from .chip_map import chip_table
from .fast_net import FastNet
from .runcfg import check_hw, hardware_available


class LavaBackend(Backend):
    """Compile once, one network, updates measured by read-back."""

    def __init__(self, hw: bool = False, **options):
        super().__init__(hw=hw, **options)
        check_hw(hw)
        self.net = None

    def _build(self, graph: Graph) -> None:
        with self.timed("host"):
            self.net = self._net(graph)
        with self.timed("device"):
            self.net.start()
        self._params = self.net.get_params()
        graph.set_params(self._params)  # the graph holds what the target holds (fixed point: the quantised θ)

    def _net(self, graph: Graph):
        raise NotImplementedError

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
        net = self.net
        return {"backend": self.name, "run_config": type(net.run_cfg).__name__ if net else None,
                "select_tag": net.run_cfg.select_tag if net else None, "hardware_stack": hardware_available(),
                "processes": chip_table(net) if net else [],
                "chip_maps": bool(net) and all(row["maps"] for row in chip_table(net))}

    def close(self):
        if self.net is not None:
            self.net.stop()
            self.net = None


class LoihiBackend(LavaBackend):
    """The fast path: the batch side by side in one neuron Process and one block-diagonal Dense, one
    run() per learning step, the update computed on the host from the phase-end states."""
    name = "loihi"
    families = ("ep", "least_action")

    def _net(self, graph: Graph) -> FastNet:
        return FastNet(graph, self.options["hw"])

    def info(self):
        return {**super().info(), "path": "fast",
                "update": "computed on the host from the graded states the units hold at each phase end "
                          "(the core's update_from_phases / update_from_fields), written back into the Dense "
                          "and the units' biases; the learning engine is not used on this path (see loihi-engine)"}
