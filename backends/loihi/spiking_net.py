"""The chip path with spiking units (procs/spiking_unit.py) in place of rate units.

Same wiring and the same learning engine as ChipNet, different carriers: (Learning)Dense connections
carry binary spikes (num_message_bits = 0), inputs arrive as spike trains from source RingBuffers,
and the learning engine reads the pre-synaptic rate from an exponential spike trace x1
(impulse 1 − e^(−1/τ), so x1 ≈ the rate; the u0 dependency reads it every step) against the post
unit's measured rate (spike count over each phase's last `window` steps) as y2 / y3.
Each phase runs max_steps·substeps relaxation steps of dt/substeps, then `window` measuring steps.
Input spike trains are generated on the host by the same integrate-and-fire (a sigma-delta code of
ρ(x)).
"""
from __future__ import annotations

import math

import numpy as np
from lava.magma.core.learning.learning_rule import Loihi3FLearningRule
from lava.proc.dense.process import Dense, LearningDense
from lava.proc.io.source import RingBuffer as Source

from neurophys.backend import UnsupportedGraph
from neurophys.ir.graph import Graph

from .network import ChipNet
from .numerics import SEED, FloatNumerics
from .procs.spiking_unit import SpikingUnit

RATE_ACTIVATIONS = ("hard_sigmoid", "sigmoid")  # ρ ∈ [0, 1]: at most one spike per step codes it


class SpikeNumerics(FloatNumerics):
    """Floating-point weights, binary spikes on every Dense, the pre-synaptic rate as a spike trace."""

    def __init__(self, tau: float):
        super().__init__()
        self.tau = tau

    def rule(self, name: str) -> Loihi3FLearningRule:
        return Loihi3FLearningRule(dt="u0*x1*y2 - u0*x1*y3 - y0*t", dw="u0*t*y1", x1_tau=self.tau,
                                   x1_impulse=1 - math.exp(-1 / self.tau), t_epoch=1, rng_seed=SEED)

    def dense(self, name: str, weights, label: str, learning: bool):
        w = np.array(weights, float)
        if not learning:
            return Dense(weights=w, num_message_bits=0, name=label)
        return LearningDense(weights=w, num_message_bits=0, learning_rule=self.rule(name), name=label)


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


class SpikingNet(ChipNet):
    def __init__(self, graph: Graph, substeps: int, window: int, tau: float, hw: bool = False):
        check_spiking(graph)
        self.substeps, self.window = substeps, window
        super().__init__(graph, SpikeNumerics(tau), hw)

    def _phase_steps(self, rx) -> int:
        return rx.max_steps * self.substeps + self.window

    def _make_inputs(self):
        self.inputs = {p.name: Source(data=np.zeros((p.size, self.T))) for p in self.graph.inputs}

    def _neuron(self, p, common):
        return SpikingUnit(dt=self.graph.rule.relaxation.dt / self.substeps, window=self.window, **common)

    def _set_input(self, name, x_rho, per_sample):
        if np.any((x_rho < 0) | (x_rho > 1)):
            raise UnsupportedGraph(f"inputs.{name}", "input rates ρ(x) must lie in [0, 1] to be coded as spikes")
        spikes = np.zeros((x_rho.shape[1], self.T))
        for k, row in enumerate(x_rho):
            spikes[:, k * per_sample:(k + 1) * per_sample] = if_spikes(row, per_sample)
        self.inputs[name].data.set(spikes)
