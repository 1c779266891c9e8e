"""Conserved quantities of gradient flow on resistor circuits (McGinnis, Kline, Mori 2026).

When every boundary node is a voltage source and the cost depends only on node voltages,
C(λk) = C(k), so Σ k_e ∂C/∂k_e = 0. For a parametrisation k = f(θ), gradient flow in θ then
conserves Σ ∫ f/f′ dθ: Σθ²/2 = Σk²/2 for `linear`, Σθ = Σ log k for `log`. Its drift is a cheap
health signal: current sources, clipping, sign-only or finite steps all break it.
"""
from __future__ import annotations

import numpy as np

from .ir.graph import Graph


def invariant(graph: Graph, params: dict[str, np.ndarray] | None = None) -> float | None:
    """Σ∫f/f′ over the trainable conductances (the graph's own, or `params` by name where given:
    no copy of the graph for another θ), or None for graphs without conductances."""
    total, found = 0.0, False
    for c in graph.couplings:
        if c.kind != "conductance" or not c.trainable:
            continue
        found = True
        k = c.conductance if params is None else np.asarray(params[c.name], float)
        if c.parametrisation == "log":
            total += float(np.sum(np.log(k)))
        else:
            total += 0.5 * float(k @ k)
    return total if found else None


def formula(graph: Graph) -> str:
    """What `invariant` sums, in symbols, for a caption."""
    kinds = {c.parametrisation for c in graph.couplings if c.kind == "conductance" and c.trainable}
    terms = {"linear": "Σ k²/2", "log": "Σ log k"}
    body = " + ".join(terms.get(p, "Σ ∫ f/f′ dθ") for p in sorted(kinds))
    return f"{body} over the trainable conductances k"


def relative_drift(before: float | None, after: float | None) -> float | None:
    if before is None or after is None:
        return None
    return abs(after - before) / max(abs(before), 1e-300)
