"""Each learning family as one module with the same functions:

    local_update(graph, x, y) -> {param: Δθ}          the rule's own update, from local quantities
    exact_gradient(graph, x, y, cost) -> {param: dL/dθ}   float64 oracle
    loss(graph, x, y, cost, at=None) -> float          what the oracle differentiates
    outputs(graph, x) -> (B, n_out)                     for predictions
    descended(graph) -> (cost, lr)                      the cost the rule descends, and its rate
"""
from __future__ import annotations

from types import ModuleType

from ..ir.graph import Graph
from . import circuit, ep, holomorphic_ep, least_action, lse, pc_alm, stlp

MODULES: dict[str, ModuleType] = {
    "ep": ep,
    "coupled_learning": circuit,
    "circuit_ep": circuit,
    "least_action": least_action,
    "lse": lse,
    "pc_alm": pc_alm,
    "holomorphic_ep": holomorphic_ep,
    "stlp": stlp,
}


def family(graph: Graph) -> ModuleType:
    return MODULES[graph.rule.family]
