"""Holomorphic equilibrium propagation (Laborieux & Zenke 2022).

With a holomorphic activation the nudged fixed point s^β — and g(β) = ∂E/∂θ(s^β) — is analytic in a
complex β. EP's identity dL/dθ = g′(0) then follows from Cauchy's formula on the circle |β| = r:
    g′(0) = (1/2π) ∫ g(r e^{iφ}) e^{−iφ}/r dφ ≈ (1/(N r)) Σ_k e^{−2πik/N} g(β_k),  β_k = r e^{2πik/N}.
The N-point sum keeps the Taylor coefficients of g whose index is 1 mod N, so its error is the
aliasing a_{N+1} r^N + a_{2N+1} r^{2N} + … : exact at finite r as N grows (N = 2 is the symmetric ±β
estimator). The rule is Δθ = −lr·Re(estimate), each term a local pre × post product of one nudged
phase; physics, loss and the implicit-differentiation oracle are those of EP.
"""
from __future__ import annotations

import numpy as np

from ..ir.graph import Graph
from ..physics.hopfield import Hopfield
from . import ep
from .ep import energy_grads, exact_gradient, outputs

COSTS = ("task",)
__all__ = ["nudges", "phases", "local_update", "exact_gradient", "loss", "outputs", "descended"]


def nudges(graph: Graph) -> np.ndarray:
    """β_k = |β| e^{2πik/N}, k = 0 … N−1."""
    n = graph.rule.n_nudges
    return graph.rule.beta * np.exp(2j * np.pi * np.arange(n) / n)


def phases(graph: Graph, x, y, net: Hopfield | None = None) -> dict:
    """The free state and the N complex nudged states (each relaxed from the free state)."""
    net = net or Hopfield(graph)
    s0, _ = net.relax(x)
    return {"free": s0, "nudged": [net.relax(x, y, b, s0)[0] for b in nudges(graph)]}


def local_update(graph: Graph, x, y) -> dict[str, np.ndarray]:
    net = Hopfield(graph)
    states = phases(graph, x, y, net)
    x_rho = net.rho_in(np.asarray(x, float))
    betas = nudges(graph)
    weights = np.conj(betas / abs(betas[0])) / (len(betas) * abs(betas[0]))  # e^{−2πik/N} / (N r)
    est: dict[str, np.ndarray] = {}
    for w, s in zip(weights, states["nudged"]):
        for k, v in energy_grads(net, s, x_rho).items():
            est[k] = est.get(k, 0) + w * v
    return {k: -graph.rule.lr * v.real for k, v in est.items()}


def loss(graph: Graph, x, y, cost: str = "task", at: Graph | None = None) -> float:
    """EP's loss C(s⁰(θ)) (`at` is part of the family interface; the task cost does not use it)."""
    return ep.loss(graph, x, y, cost)


def descended(graph: Graph) -> tuple[str, float]:
    return "task", graph.rule.lr
