"""Log-sum-exp (Hamilton–Jacobi) layers (Miñoza et al. 2026).

An `lse` population computes, over all its incoming couplings' sources j,
    y_i = ε log Σ_j exp((W_ij + x_j)/ε) + b_i,
the Hopf–Cole solution of a viscous Hamilton–Jacobi equation; ε = 0 is the tropical (max-plus)
layer y_i = max_j (W_ij + x_j), and 0 ≤ y_ε − y_0 ≤ ε log N. Both derivatives are the softmax
weights π_ij = softmax_j((W_ij + x_j)/ε) (one-hot argmax at ε = 0):
    ∂y_i/∂W_ij = ∂y_i/∂x_j = π_ij,
so the rule ΔW_ij = −lr δ_i π_ij is local (δ_i = ∂C/∂y_i, passed back along π), and π is the O(N)
attribution (influence) of each input. The exact oracle is complex-step differentiation of the
forward map — a separate code path, exact to rounding.
"""
from __future__ import annotations

import numpy as np

from .. import activations as act
from .. import costs
from ..ir.graph import Graph, topological_order

COSTS = ("task",)
_H = 1e-30  # complex-step size: no subtractive cancellation, so no truncation/rounding trade-off


def _scores(graph: Graph, p, a) -> np.ndarray:
    """z[b, i, j] = W_ij + x_j over the concatenated sources of population p."""
    return np.concatenate([c.weight[None] + a[c.src][:, None, :] for c in graph.couplings if c.dst == p.name], axis=2)


def logsumexp(z: np.ndarray, eps: float) -> np.ndarray:
    """ε log Σ_j exp(z_j/ε) along the last axis (max-plus at ε = 0); holomorphic in z for ε > 0."""
    k = np.argmax(z.real, axis=-1)[..., None]
    m = np.take_along_axis(z, k, axis=-1)[..., 0]
    if eps == 0.0:
        return m
    return m + eps * np.log(np.sum(np.exp((z - m[..., None]) / eps), axis=-1))


def weights(z: np.ndarray, eps: float) -> np.ndarray:
    """π = softmax(z/ε) along the last axis (the argmax indicator at ε = 0)."""
    if eps == 0.0:
        return (np.arange(z.shape[-1]) == np.argmax(z, axis=-1)[..., None]).astype(float)
    e = np.exp((z - z.max(axis=-1, keepdims=True)) / eps)
    return e / e.sum(axis=-1, keepdims=True)


def forward(graph: Graph, x, *, keep_weights: bool = False) -> tuple[dict, dict]:
    """Values of every population (inputs through their activation) and, if asked, π per lse population."""
    x = np.atleast_2d(np.asarray(x))
    a, pis, off = {}, {}, 0
    for p in graph.inputs:
        a[p.name] = act.rho(p.activation, x[:, off:off + p.size])
        off += p.size
    for name in topological_order(graph):
        p = graph.population(name)
        if p.clamped:
            continue
        z = _scores(graph, p, a)
        a[name] = logsumexp(z, p.epsilon) + (p.bias if p.bias is not None else 0.0)
        if keep_weights:
            pis[name] = weights(z, p.epsilon)
    return a, pis


def attribution(graph: Graph, x, population: str | None = None) -> np.ndarray:
    """∂y/∂x_in, shape (B, n_population, n_inputs): the influence of every network input on every unit
    of `population` (default: the output). Each row sums to 1 — a product of stochastic matrices π."""
    a, pis = forward(graph, x, keep_weights=True)
    B = len(next(iter(a.values())))
    n_in = sum(p.size for p in graph.inputs)
    infl, off = {}, 0
    for p in graph.inputs:
        infl[p.name] = np.broadcast_to(np.eye(n_in)[off:off + p.size], (B, p.size, n_in))
        off += p.size
    for name in topological_order(graph):
        if name in infl:
            continue
        src = np.concatenate([infl[c.src] for c in graph.couplings if c.dst == name], axis=1)
        infl[name] = pis[name] @ src
    return infl[population or graph.cost.output]


def local_update(graph: Graph, x, y) -> dict[str, np.ndarray]:
    """ΔW_ij = −lr Σ_b δ_i π_ij, with δ passed back along π (δ_j ← Σ_i δ_i π_ij); batch-averaged."""
    a, pis = forward(graph, x, keep_weights=True)
    out = graph.cost.output
    B = len(a[out])
    delta = {n: np.zeros_like(v) for n, v in a.items()}
    delta[out] = costs.grad(graph.cost.kind, a[out], y) / B
    lr, upd = graph.rule.lr, {}
    for name in reversed(topological_order(graph)):
        p = graph.population(name)
        if p.clamped:
            continue
        msg = np.einsum("bi,bij->bij", delta[name], pis[name])
        off = 0
        for c in (c for c in graph.couplings if c.dst == name):
            block = msg[:, :, off:off + c.weight.shape[1]]
            off += c.weight.shape[1]
            if c.trainable:
                upd[c.name] = -lr * block.sum(axis=0)
            delta[c.src] += block.sum(axis=1)
        if p.bias is not None and p.trainable_bias:
            upd[f"{name}.bias"] = -lr * delta[name].sum(axis=0)
    return upd


def outputs(graph: Graph, x) -> np.ndarray:
    return forward(graph, x)[0][graph.cost.output].real


def _loss(graph: Graph, x, y):
    return np.mean(costs.value(graph.cost.kind, forward(graph, x)[0][graph.cost.output], y))


def loss(graph: Graph, x, y, cost: str = "task", at: Graph | None = None) -> float:
    return float(_loss(graph, x, y).real)


def exact_gradient(graph: Graph, x, y, cost: str = "task") -> dict[str, np.ndarray]:
    """dL/dθ_k = Im L(θ + i h e_k)/h per element (complex step; the max-plus branch picks the argmax)."""
    x = np.asarray(x, float)
    out = {}
    for name, theta in graph.params().items():
        g = np.empty(theta.shape)
        # the graph's arrays are float; evaluate on a complex copy of the one parameter being probed
        probe = graph.copy()
        is_weight = name in {c.name for c in graph.couplings}
        holder, attr = (probe.coupling(name), "weight") if is_weight else (probe.population(name[:-len(".bias")]), "bias")
        base = theta.astype(complex)
        for k in np.ndindex(theta.shape):
            pert = base.copy()
            pert[k] += 1j * _H
            setattr(holder, attr, pert)
            g[k] = _loss(probe, x, y).imag / _H
        out[name] = g
    return out


def descended(graph: Graph) -> tuple[str, float]:
    return "task", graph.rule.lr
