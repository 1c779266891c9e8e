"""Augmented-Lagrangian predictive coding (PC-ALM, Seely & Gould 2026).

Each free population p holds a state x_p (its pre-activation) and a multiplier λ_p for its
constraint c_p = x_p − Σ_in W ρ(x_src) − b_p = 0, in
    L_ρ(x, λ) = C(ρ(x_out)) + Σ_p λ_pᵀ c_p + (ρ/2) Σ_p ‖c_p‖².
One iteration of the rule, every step layer-local:
  1. states relax (forward sweep): x_p ← x_p + dt·(x̂_p − x_p), where x̂_p = Σ_in W ρ(x_src) + b_p +
     (g_p − λ_p)/ρ solves ∂L_ρ/∂x_p = 0 for the population's own constraint, given the message
     g_p = ρ′(x_p) ⊙ Σ_out Wᵀ(λ_dst + ρ c_dst) from downstream (g_out = −ρ′ ⊙ ∂C/∂a_out);
  2. messages flow back (backward sweep) over the same couplings;
  3. multipliers do dual ascent: λ_p ← λ_p + dual_lr · c_p.
At the saddle point c = 0 (states = the forward pass) and λ_p = g_p = −∂C/∂x_p, so the local update
    ΔW = lr · λ_dst ρ(x_src)ᵀ,  Δb = lr · λ
is backprop's −lr·∂C/∂θ. The rule's relaxation (`euler`: dt, max_steps iterations, stop at residual
tol) decides how close it gets; the network is the least-action one, whose backprop is the oracle.
"""
from __future__ import annotations

import numpy as np

from .. import activations as act
from .. import costs
from ..ir.graph import Graph
from .least_action import DoubledField, exact_gradient, loss, outputs

COSTS = ("task",)
__all__ = ["relax", "local_update", "exact_gradient", "loss", "outputs", "descended"]


def relax(graph: Graph, x, y) -> tuple[dict, dict, dict]:
    """Run the PC-ALM iterations from rest; returns (ρ(x) by population, λ by population, info)."""
    net = DoubledField(graph)  # the feed-forward topology (incoming/outgoing couplings, clamped inputs)
    r, rx = graph.rule, graph.rule.relaxation
    a = net.inputs(x)
    B = len(next(iter(a.values())))
    xs = {p.name: np.zeros((B, p.size)) for p in net.free}
    lam = {p.name: np.zeros((B, p.size)) for p in net.free}
    msg = {p.name: np.zeros((B, p.size)) for p in net.free}
    out = graph.cost.output
    steps, res = 0, np.inf
    while steps < rx.max_steps:
        for p in net.free:  # 1. forward sweep: each population settles on its own constraint
            a_in = net.preact(p, a)
            xs[p.name] = xs[p.name] + rx.dt * (a_in + (msg[p.name] - lam[p.name]) / r.rho - xs[p.name])
            a[p.name] = act.rho(p.activation, xs[p.name])
        c = {p.name: xs[p.name] - net.preact(p, a) for p in net.free}
        aug = {n: lam[n] + r.rho * c[n] for n in lam}
        new = {}
        for p in reversed(net.free):  # 2. backward sweep of messages along the same couplings
            e = sum((aug[k.dst] @ k.weight for k in net.outgoing[p.name]), np.zeros((B, p.size)))
            if p.name == out:
                e = e - costs.grad(graph.cost.kind, a[out], y)
            new[p.name] = act.drho(p.activation, xs[p.name]) * e
        res = max(max(float(np.max(np.abs(c[n]))), float(np.max(np.abs(new[n] - lam[n]))) / r.rho) for n in lam)
        msg = new
        lam = {n: lam[n] + r.dual_lr * c[n] for n in lam}  # 3. dual ascent
        steps += 1
        if rx.tol > 0 and res <= rx.tol:
            break
    return a, lam, {"steps": steps, "residual": res}


def local_update(graph: Graph, x, y) -> dict[str, np.ndarray]:
    a, lam, _ = relax(graph, x, y)
    lr, out = graph.rule.lr, {}
    B = len(next(iter(lam.values())))
    for c in graph.couplings:
        if c.trainable:
            out[c.name] = lr * lam[c.dst].T @ a[c.src] / B
    for p in graph.populations:
        if p.bias is not None and p.trainable_bias:
            out[f"{p.name}.bias"] = lr * lam[p.name].mean(axis=0)
    return out


def descended(graph: Graph) -> tuple[str, float]:
    return "task", graph.rule.lr
