"""Does the local update equal the gradient? One batch, one comparison, per parameter.

The local update u is compared with g = −lr·dL/dθ for the cost the rule actually descends (and,
where that differs, with the task cost too). With `fd=True` the exact oracle is itself checked
against central finite differences: coordinate-wise for small parameters, along the gradient and
random directions for large ones.
"""
from __future__ import annotations

import numpy as np

from . import metrics
from .families import family
from .ir.graph import Graph

COORDINATE_FD_MAX = 64  # parameters with more elements are checked along directions


def reference(graph: Graph, x, y, cost: str | None = None) -> tuple[str, dict[str, np.ndarray]]:
    fam = family(graph)
    descended, lr = fam.descended(graph)
    cost = cost or descended
    g = fam.exact_gradient(graph, x, y, cost)
    scale = lr if cost == descended else graph.rule.lr
    return cost, {k: -scale * v for k, v in g.items()}


def finite_difference(graph: Graph, x, y, cost: str = "task", eps: float = 1e-6, n_directions: int = 3,
                      seed: int = 0) -> dict[str, float]:
    """Relative error of the exact gradient vs central differences, per parameter."""
    fam = family(graph)
    exact = fam.exact_gradient(graph, x, y, cost)
    at = graph.copy()
    rng = np.random.default_rng(seed)
    out = {}
    for name, theta in graph.params().items():
        g = exact[name].ravel()
        if theta.size <= COORDINATE_FD_MAX:
            dirs = np.eye(theta.size)
        else:
            rand = rng.normal(size=(n_directions, theta.size))
            dirs = np.vstack([g / max(np.linalg.norm(g), 1e-300), rand / np.linalg.norm(rand, axis=1, keepdims=True)])
        fd = np.empty(len(dirs))
        base = theta.copy()
        for i, v in enumerate(dirs):
            theta[...] = base + eps * v.reshape(theta.shape)
            lp = fam.loss(graph, x, y, cost, at=at)
            theta[...] = base - eps * v.reshape(theta.shape)
            lm = fam.loss(graph, x, y, cost, at=at)
            fd[i] = (lp - lm) / (2 * eps)
        theta[...] = base
        proj = dirs @ g
        out[name] = float(np.linalg.norm(fd - proj) / max(np.linalg.norm(fd), 1e-300))
    return out


def gradcheck(graph: Graph, x, y, fd: bool = False) -> dict:
    fam = family(graph)
    u = fam.local_update(graph, x, y)
    cost, g = reference(graph, x, y)
    report = {"family": graph.rule.family, "cost": cost, "batch": len(x), **metrics.compare(u, g)}
    if cost != "task":
        report["vs_task"] = metrics.compare(u, reference(graph, x, y, "task")[1])
    if fd:
        report["fd_rel_error"] = finite_difference(graph, x, y, cost)
    return report
