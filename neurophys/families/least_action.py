"""Least action on a doubled phase space (Scurria 2026): exact backprop by local dynamics.

Each unit carries an activation a and a sensitivity δ, evolving together over the same couplings:
    τ ȧ = −a + f(z),  z = Σ_in W a_src + b
    τ δ̇ = −δ + f′(z) ⊙ e,  e = Σ_out Wᵀ δ_dst   (output: e = ∂loss/∂a)
and ΔW = −lr δ_dst a_srcᵀ is local. With unit Euler steps (dt = τ) it equals backprop after 2L
steps (L = depth); at any dt it is exact at steady state. The oracle is ordinary backprop.
"""
from __future__ import annotations

import numpy as np

from .. import activations as act
from .. import costs
from ..ir.graph import Graph, topological_order

COSTS = ("task",)


def input_rates(graph: Graph, x) -> dict[str, np.ndarray]:
    """a = ρ(x) of each input population, by name (x holds the inputs side by side)."""
    x = np.atleast_2d(np.asarray(x, float))
    out, off = {}, 0
    for p in graph.inputs:
        out[p.name] = act.rho(p.activation, x[:, off:off + p.size])
        off += p.size
    return out


class DoubledField:
    """The (a, δ) flow of a feed-forward graph, integrated with the rule's Euler step."""

    def __init__(self, graph: Graph):
        self.graph = graph
        order = topological_order(graph)
        self.pops = [graph.population(n) for n in order]
        self.free = [p for p in self.pops if not p.clamped]
        self.incoming = {p.name: [c for c in graph.couplings if c.dst == p.name] for p in self.free}
        self.outgoing = {p.name: [c for c in graph.couplings if c.src == p.name] for p in self.pops}
        self.depth = self._depth()

    def _depth(self) -> int:
        d = {p.name: 0 for p in self.pops if p.clamped}
        for p in self.free:
            d[p.name] = 1 + max(d[c.src] for c in self.incoming[p.name])
        return max(d.values())

    def inputs(self, x) -> dict[str, np.ndarray]:
        return input_rates(self.graph, x)

    def preact(self, p, a) -> np.ndarray:
        z = sum(a[c.src] @ c.weight.T for c in self.incoming[p.name])
        return z + p.bias if p.bias is not None else z

    def feedback(self, p, d) -> np.ndarray:
        """Σ Wᵀ δ_dst over the couplings leaving p (0 where none do)."""
        return sum(d[c.dst] @ c.weight for c in self.outgoing[p.name])

    def run(self, x, y, steps: int | None = None) -> tuple[dict, dict]:
        """Integrate from rest (a = δ = 0); returns (a, δ) by population name."""
        return relax(self.graph, self.inputs(x), self.preact, self.feedback, y, steps)


def relax(graph: Graph, a: dict, preact, feedback, y, steps: int | None = None) -> tuple[dict, dict]:
    """The (a, δ) flow from rest with the rule's Euler step, given the input rates `a` and how the
    couplings are applied: `preact(p, a)` = Σ W a_src (+ b) into p, `feedback(p, d)` = Σ Wᵀ δ out
    of p (matrix products here, currents through a board's devices on the crossbar)."""
    rx, out, kind = graph.rule.relaxation, graph.cost.output, graph.cost.kind
    free = [p for p in graph.populations if not p.clamped]
    a = dict(a)
    B = len(next(iter(a.values())))
    for p in free:
        a[p.name] = np.zeros((B, p.size))
    d = {p.name: np.zeros((B, p.size)) for p in free}
    for _ in range(steps if steps is not None else rx.max_steps):
        z = {p.name: preact(p, a) for p in free}
        e = {p.name: feedback(p, d) for p in free}
        e[out] = e[out] + costs.grad(kind, a[out], y)
        new_a, new_d = dict(a), {}
        for p in free:
            k = rx.dt / p.tau
            new_a[p.name] = a[p.name] + k * (act.rho(p.activation, z[p.name]) - a[p.name])
            new_d[p.name] = d[p.name] + k * (act.drho(p.activation, z[p.name]) * e[p.name] - d[p.name])
        a, d = new_a, new_d
    return a, d


def update_from_fields(graph: Graph, a: dict, d: dict) -> dict[str, np.ndarray]:
    lr, out = graph.rule.lr, {}
    B = len(next(iter(d.values())))
    for c in graph.couplings:
        if c.trainable:
            out[c.name] = -lr * d[c.dst].T @ a[c.src] / B
    for p in graph.populations:
        if p.bias is not None and p.trainable_bias:
            out[f"{p.name}.bias"] = -lr * d[p.name].mean(axis=0)
    return out


def local_update(graph: Graph, x, y) -> dict[str, np.ndarray]:
    a, d = DoubledField(graph).run(x, y)
    return update_from_fields(graph, a, d)


def _forward(graph: Graph, x):
    net = DoubledField(graph)
    a, z = net.inputs(x), {}
    for p in net.free:
        z[p.name] = net.preact(p, a)
        a[p.name] = act.rho(p.activation, z[p.name])
    return net, a, z


def outputs(graph: Graph, x) -> np.ndarray:
    return _forward(graph, x)[1][graph.cost.output]


def loss(graph: Graph, x, y, cost: str = "task", at: Graph | None = None) -> float:
    return float(np.mean(costs.value(graph.cost.kind, outputs(graph, x), y)))


def exact_gradient(graph: Graph, x, y, cost: str = "task") -> dict[str, np.ndarray]:
    """Reverse-mode backprop in float64 (a separate code path from the doubled-field flow)."""
    net, a, z = _forward(graph, x)
    B = len(a[graph.cost.output])
    grad_a = {p.name: np.zeros_like(a[p.name]) for p in net.free}
    grad_a[graph.cost.output] += costs.grad(graph.cost.kind, a[graph.cost.output], y) / B
    out = {}
    for p in reversed(net.free):
        gz = grad_a[p.name] * act.drho(p.activation, z[p.name])
        if p.bias is not None and p.trainable_bias:
            out[f"{p.name}.bias"] = gz.sum(axis=0)
        for c in net.incoming[p.name]:
            if c.trainable:
                out[c.name] = gz.T @ a[c.src]
            if c.src in grad_a:
                grad_a[c.src] += gz @ c.weight
    return out


def descended(graph: Graph) -> tuple[str, float]:
    return "task", graph.rule.lr
