"""Coupled learning (Stern et al. 2021) and EP on resistor circuits.

CL: free state (sources held), clamped state (outputs held at V_F + η(V_T − V_F)),
    Δk_e = (α/η)[(ΔV_e^F)² − (ΔV_e^C)²].
Circuit EP: nudged state (current β(V_T − V_O) injected at the outputs),
    Δk_e = −(α/2β)[(ΔV_e^β)² − (ΔV_e^0)²]  (symmetric: ±β, α/4β).
Costs: "task" = ½‖V_O − V_T‖² (what circuit EP descends, with rate α); "kron" = ½DᵀS̄D with
D = V_O − V_T and S̄ the Kron-reduced output conductance frozen at the current k — what CL
descends as η → 0, with rate 2α (for one output, the task gradient up to the scale S).
"""
from __future__ import annotations

import weakref

import numpy as np

from ..ir.graph import Graph
from ..physics.circuit import Circuit

COSTS = ("task", "kron")
_RECENT = 4  # circuits kept: a HIL step asks for the gradient, the task gradient and the rule's update at one θ
_circuits: list[tuple[weakref.ref, str, Circuit]] = []


def circuit_of(graph: Graph, input_mode: str = "voltage") -> Circuit:
    """The Circuit of `graph`, shared by the calls made on the same graph object: its Laplacian
    and factorisations are rebuilt only when the conductances change (the Circuit checks)."""
    for ref, mode, c in _circuits:
        if ref() is graph and mode == input_mode and c.couplings is graph.couplings:
            return c
    c = Circuit(graph, input_mode)
    _circuits.insert(0, (weakref.ref(graph), input_mode, c))
    del _circuits[_RECENT:]
    return c


def phases(graph: Graph, x, y, circuit: Circuit | None = None) -> dict[str, np.ndarray]:
    c = circuit or circuit_of(graph)
    r = graph.rule
    free = c.solve(x)
    if r.family == "coupled_learning":
        vo = free[:, c.out]
        return {"free": free, "clamped": c.solve(x, clamp=vo + r.eta * (y - vo))}
    states = {"free": free, "plus": c.solve(x, nudge=(r.beta, y))}
    if r.estimator == "symmetric":
        states["minus"] = c.solve(x, nudge=(-r.beta, y))
    return states


def update_from_phases(graph: Graph, c: Circuit, states) -> dict[str, np.ndarray]:
    r = graph.rule
    # mean (ΔV_a)² − (ΔV_b)² per edge, as mean (ΔV_a − ΔV_b)(ΔV_a + ΔV_b): no cancellation of two squares
    diff = lambda a, b, scale: c.mean_drop_product(states[a] - states[b], states[a] + states[b], scale)
    if r.family == "coupled_learning":
        dk = diff("free", "clamped", r.lr / r.eta)
    elif "minus" in states:
        dk = diff("plus", "minus", -r.lr / (4 * r.beta))
    else:
        dk = diff("plus", "free", -r.lr / (2 * r.beta))
    return c.split(dk)


def local_update(graph: Graph, x, y, input_mode: str = "voltage") -> dict[str, np.ndarray]:
    c = circuit_of(graph, input_mode)
    return update_from_phases(graph, c, phases(graph, x, y, c))


def outputs(graph: Graph, x) -> np.ndarray:
    c = circuit_of(graph)
    return c.solve(x)[:, c.out]


def loss(graph: Graph, x, y, cost: str = "task", at: Graph | None = None, input_mode: str = "voltage") -> float:
    c = circuit_of(graph, input_mode)
    D = c.solve(x)[:, c.out] - y
    if cost == "kron":
        S = circuit_of(at or graph, input_mode).output_conductance()
        return float(np.mean(0.5 * np.einsum("bi,ij,bj->b", D, S, D)))
    return float(np.mean(0.5 * np.sum(D ** 2, axis=1)))


def exact_gradient(graph: Graph, x, y, cost: str = "task", input_mode: str = "voltage") -> dict[str, np.ndarray]:
    c = circuit_of(graph, input_mode)
    V = c.solve(x)
    D = V[:, c.out] - y
    g_out = c.output_currents(D) if cost == "kron" else D
    return c.split(c.adjoint(V, g_out))


def descended(graph: Graph) -> tuple[str, float]:
    if graph.rule.family == "coupled_learning":
        return "kron", 2 * graph.rule.lr
    return "task", graph.rule.lr
