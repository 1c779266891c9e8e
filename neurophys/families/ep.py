"""Equilibrium propagation (Scellier & Bengio 2017) on symmetric Hopfield graphs.

Local rule: Δθ = −(lr/β)(∂E/∂θ(s^β) − ∂E/∂θ(s⁰)) — for a coupling, (lr/β)(ρ_dst ρ_srcᵀ|β − |0);
the symmetric estimator uses ±β (bias O(β²) instead of O(β), Laborieux et al. 2021).
Exact oracle: L(θ) = C(s⁰(θ)), differentiated by the implicit function theorem at s⁰.
"""
from __future__ import annotations

import numpy as np

from .. import costs
from ..ir.graph import Graph
from ..physics.hopfield import Hopfield

COSTS = ("task",)


def energy_grads(net: Hopfield, s: np.ndarray, x_rho: np.ndarray) -> dict[str, np.ndarray]:
    """∂E/∂θ averaged over the batch, for every trainable parameter (local: pre × post)."""
    B = len(s)
    r = net.rho(s)
    out = {}
    for b in net.blocks:
        c = b.coupling
        if not c.trainable:
            continue
        if b.lateral:
            g = -0.5 * r[:, b.dst].T @ r[:, b.dst] / B
            np.fill_diagonal(g, 0.0)
        else:
            pre = r[:, b.src] if b.src is not None else x_rho[:, b.src_in]
            g = -r[:, b.dst].T @ pre / B
        out[c.name] = g
    for p in net.free:
        if p.bias is not None and p.trainable_bias:
            out[f"{p.name}.bias"] = -r[:, net.slices[p.name]].mean(axis=0)
    return out


def phases(graph: Graph, x, y, net: Hopfield | None = None) -> dict[str, np.ndarray]:
    """The relaxed states the rule contrasts: free, and nudged at +β (and −β if symmetric)."""
    net = net or Hopfield(graph)
    beta = graph.rule.beta
    s0, _ = net.relax(x)
    states = {"free": s0, "plus": net.relax(x, y, beta, s0)[0]}
    if graph.rule.estimator == "symmetric":
        states["minus"] = net.relax(x, y, -beta, s0)[0]
    return states


def update_from_phases(graph: Graph, net: Hopfield, x, states) -> dict[str, np.ndarray]:
    beta, lr = graph.rule.beta, graph.rule.lr
    x_rho = net.rho_in(np.asarray(x, float))
    hi = energy_grads(net, states["plus"], x_rho)
    if "minus" in states:
        lo, scale = energy_grads(net, states["minus"], x_rho), lr / (2 * beta)
    else:
        lo, scale = energy_grads(net, states["free"], x_rho), lr / beta
    return {k: -scale * (hi[k] - lo[k]) for k in hi}


def local_update(graph: Graph, x, y) -> dict[str, np.ndarray]:
    net = Hopfield(graph)
    return update_from_phases(graph, net, x, phases(graph, x, y, net))


def outputs(graph: Graph, x) -> np.ndarray:
    net = Hopfield(graph)
    return net.relax(x)[0][:, net.out]


def loss(graph: Graph, x, y, cost: str = "task", at: Graph | None = None) -> float:
    net = Hopfield(graph)
    s, _ = net.solve_free(x)
    return float(np.mean(costs.value(graph.cost.kind, s[:, net.out], y)))


def exact_gradient(graph: Graph, x, y, cost: str = "task") -> dict[str, np.ndarray]:
    net = Hopfield(graph)
    x_rho = net.rho_in(np.asarray(x, float))
    s, _ = net.solve_free(x)
    H = net.hessian(s, x_rho)
    lam = np.linalg.solve(H, net.cost_grad(s, y)[..., None])[..., 0]  # adjoint, per sample
    lr_ = lam * net.drho(s)                                          # λ ⊙ ρ'
    r = net.rho(s)
    B = len(s)
    out = {}
    for b in net.blocks:
        c = b.coupling
        if not c.trainable:
            continue
        if b.lateral:
            g = 0.5 * (lr_[:, b.dst].T @ r[:, b.dst] + r[:, b.dst].T @ lr_[:, b.dst]) / B
            np.fill_diagonal(g, 0.0)
        else:
            pre = r[:, b.src] if b.src is not None else x_rho[:, b.src_in]
            g = lr_[:, b.dst].T @ pre / B
            if b.src is not None:
                g += r[:, b.dst].T @ lr_[:, b.src] / B
        out[c.name] = g
    for p in net.free:
        if p.bias is not None and p.trainable_bias:
            out[f"{p.name}.bias"] = lr_[:, net.slices[p.name]].mean(axis=0)
    return out


def descended(graph: Graph) -> tuple[str, float]:
    """The cost the rule descends and the learning rate it descends it with."""
    return "task", graph.rule.lr
