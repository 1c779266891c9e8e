"""The EP network with spiking units (procs/spiking_unit.py) in place of rate units.

Same wiring as LavaNet, different carriers: Dense connections carry binary spikes
(num_message_bits = 0), inputs arrive as spike trains from source RingBuffers, and the plasticity
multiplies measured rates (spike counts over each phase's last `window` steps) instead of ρ(s).
Each phase runs max_steps·substeps relaxation steps of dt/substeps, then `window` measuring steps.
Input spike trains are generated on the host by the same integrate-and-fire (a sigma-delta code of
ρ(x)); the input coupling's rule uses the programmed input rate ρ(x) as its pre-synaptic rate.
"""
from __future__ import annotations

import numpy as np
from lava.proc.dense.process import Dense
from lava.proc.io.source import RingBuffer as Source

from neurophys.backend import UnsupportedGraph
from neurophys.ir.graph import Graph

from .network import LavaNet
from .numerics import FloatNumerics
from .procs.spiking_unit import SpikingUnit

RATE_ACTIVATIONS = ("hard_sigmoid", "sigmoid")  # ρ ∈ [0, 1]: at most one spike per step codes it


class SpikeNumerics(FloatNumerics):
    """Floating-point weights, binary spikes on every Dense."""

    def dense(self, coupling, weights, name):
        return Dense(weights=np.asarray(weights, float).copy(), num_message_bits=0, name=name)


def check_spiking(graph: Graph) -> None:
    for i, p in enumerate(graph.populations):
        if not p.clamped and p.activation not in RATE_ACTIVATIONS:
            raise UnsupportedGraph(f"populations[{i}]", f"{p.name!r} has activation {p.activation!r}; a firing rate "
                                   f"codes only ρ ∈ [0, 1] ({', '.join(RATE_ACTIVATIONS)})")


def if_spikes(rates: np.ndarray, n: int) -> np.ndarray:
    """(units, n) spike train of a non-leaky integrate-and-fire driven by `rates`, v₀ = ½, reset by subtraction."""
    t = np.arange(n + 1)[None, :]
    v = rates[:, None] * t + 0.5
    return np.diff(np.floor(v), axis=1)


class SpikingNet(LavaNet):
    def __init__(self, graph: Graph, substeps: int, window: int, hw: bool = False):
        check_spiking(graph)
        self.substeps, self.window = substeps, window
        super().__init__(graph, SpikeNumerics(), hw)

    def _phase_steps(self, rx) -> int:
        return rx.max_steps * self.substeps + self.window

    def _make_inputs(self):
        T = self.T
        self.inputs = {p.name: Source(data=np.zeros((p.size, T))) for p in self.graph.inputs}
        self.input_rates = {p.name: Source(data=np.zeros((p.size, T))) for p in self.graph.inputs}

    def _neuron(self, p, common):
        return SpikingUnit(dt=self.graph.rule.relaxation.dt / self.substeps, window=self.window, **common)

    def _src_ports(self, name):
        if name in self.inputs:
            return self.inputs[name].s_out, self.input_rates[name].s_out
        return self.neurons[name].s_out, self.neurons[name].r_out

    def _dst_ports(self, n):
        return n.s_out, n.r_out

    def _set_input(self, name, x_rho, per_sample):
        if np.any((x_rho < 0) | (x_rho > 1)):
            raise UnsupportedGraph(f"inputs.{name}", "input rates ρ(x) must lie in [0, 1] to be coded as spikes")
        spikes = np.zeros((x_rho.shape[1], self.T))
        for k, row in enumerate(x_rho):
            spikes[:, k * per_sample:(k + 1) * per_sample] = if_spikes(row, per_sample)
        self.inputs[name].data.set(spikes)
        self.input_rates[name].data.set(self._ring(x_rho, per_sample))

    def processes(self):
        return [*super().processes(), *self.input_rates.values()]
