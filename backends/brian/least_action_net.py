"""A least-action graph (the doubled field a, δ) as one Brian2 `NeuronGroup` + one `Synapses`.

Every unit carries its activation a and its sensitivity δ, integrated with the rule's Euler step
as `least_action.DoubledField` does (both from the previous step's values):
    τ ȧ = free·(ρ(s) − a),          s = z + b,  z = Σ w·a_pre                (summed into post)
    τ δ̇ = free·(ρ′(s)·err − δ),     err = Σ w·δ_post + [out]·(a − y)        (summed into pre)
from a = δ = 0 (inputs hold a = ρ(x)) for `max_steps` steps. The forward pass and the backward
pass ride on the same synapses: z is a summed variable of the post side, the backward field a
summed variable of the pre side, so Wᵀ is never stored. At the last step each synapse holds
δ_post·a_pre and each unit δ — the update is −lr times their batch mean. One replica ("free"),
batch copies side by side.
"""
from __future__ import annotations

import numpy as np

from neurophys.backend import UnsupportedGraph
from neurophys.ir.graph import Graph

from ._runtime import time_unit
from .hopfield_net import CODES, DRHO, RHO, DenseNet, _select
from .layout import Layout


def check(graph: Graph) -> None:
    """Refuse what the doubled-field network cannot host (the path names the culprit). The
    relaxation's tol needs no check: the reference flow always runs exactly max_steps steps."""
    if graph.cost.kind != "mse":
        raise UnsupportedGraph("cost.kind", f"{graph.cost.kind!r}: the Brian2 twin wires the cost gradient into each "
                               "output unit on its own (mse: a − y); a softmax cost couples the outputs of a sample")


class LeastActionNet(DenseNet):
    window = 1

    def __init__(self, b, target, graph, replicas, batch, name="least_action"):
        self.b, self.target, self.graph = b, target, graph
        rx = graph.rule.relaxation
        self.steps = rx.max_steps
        self.layout = L = Layout.of(graph.populations, replicas, batch)
        unit = time_unit(b)
        self.clock = b.Clock(dt=rx.dt * unit, name=f"{name}_clock*")
        used = {p.activation for p in graph.populations if not p.clamped}
        eqs = f"""
        da/dt = free*(r - a)/tau : 1
        ddelta/dt = free*(gain*err - delta)/tau : 1
        zs : 1
        es : 1
        bias : 1
        y : 1
        A : 1
        free : 1 (constant)
        nud : 1 (constant)
        tau : second (constant)
        act : integer (constant)
        t0 : second (shared)
        last : 1 (shared, constant)
        nst = (t - t0)/dt + 0.5 : 1
        s = zs + bias : 1
        err = es + nud*(a - y) : 1
        r = {_select(RHO, used)} : 1
        gain = {_select(DRHO, used)} : 1
        """
        self.group = G = b.NeuronGroup(L.N, eqs, method="euler", clock=self.clock, name=f"{name}_units*")
        G.t0 = 0 * unit
        G.last = self.steps - 1
        free = [p for p in graph.populations if not p.clamped]
        G.free = L.per_neuron({p.name: 1.0 for p in free})
        G.tau = L.per_neuron({p.name: p.tau for p in free}, default=1.0) * unit
        G.act = L.per_neuron({p.name: CODES[p.activation] for p in graph.populations}).astype(int)
        G.nud = L.per_neuron({graph.cost.output: 1.0})
        G.run_regularly("A = A + int(nst >= last)*delta", when="end", order=0, name=f"{name}_sens*")
        self.syn = S = b.Synapses(G, G, """
            w : 1
            zs_post = w*a_pre : 1 (summed)
            es_pre = w*delta_post : 1 (summed)
            C : 1
            """, clock=self.clock, name=f"{name}_syn*")
        self._connect(graph, L, S, mirror=False)
        S.run_regularly("C = C + int(nst_post >= last_post)*delta_post*a_pre", when="end", order=1,
                        name=f"{name}_corr*")
        self.net = b.Network(G, S)
        target.attach(self.net)
        self.write_params(graph)

    def run(self, x: np.ndarray, y: np.ndarray, phases: bool = True) -> None:
        """Load a (padded) batch and let a and δ flow from rest for max_steps steps. There is one
        phase, so `phases` changes nothing: the a-flow an evaluation needs never reads δ."""
        G, T = self.group, self.target
        T.set(G.a_, self._inputs(x, rho=True))
        T.set(G.delta_, np.zeros(self.layout.N))
        self._run_with_targets(y, self.steps)

    def outputs(self) -> np.ndarray:
        """(B, n_out) output activations after max_steps steps (the forward pass once the flow has
        crossed the depth: exactly, with unit steps and max_steps ≥ depth)."""
        return self.target.take(self.group.a_, self.layout.units(self.graph.cost.output)[0])
