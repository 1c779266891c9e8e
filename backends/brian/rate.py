"""`brian`: the rate twin — the reference engine's dynamics in Brian2, to be matched to float error
(EP on a Hopfield network, coupled learning and circuit EP on a resistor circuit, least action on
the doubled field)."""
from __future__ import annotations

import numpy as np

from neurophys.backend import UnsupportedGraph
from neurophys.ir.errors import ValidationError
from neurophys.ir.graph import Graph

from .circuit_net import CircuitNet
from .ep_rate_net import EPRateNet, replicas_note
from .least_action_net import LeastActionNet, check as check_least_action
from .twin import BrianTwin, check_ep, replicas

JACOBI_TOL = 1e-14  # circuits settle until the Jacobi contraction has shrunk the error by this


def settle_steps(graph: Graph, tol: float = JACOBI_TOL, limit: int = 100_000) -> int:
    """Jacobi sweeps for a circuit to settle to `tol` (relative), from the spectral radius of the
    iteration at the graph's conductances (the worst of the free and clamped configurations)."""
    from neurophys.physics.circuit import Circuit

    c = Circuit(graph)
    L = c.laplacian().toarray()
    radius = 0.0
    for fixed in (c.src, np.concatenate([c.src, c.out])):
        free = np.setdiff1d(np.arange(c.n), fixed)
        if free.size == 0:
            continue
        A = L[np.ix_(free, free)]
        D = np.diag(A).copy()
        D[D == 0] = 1.0
        J = np.eye(len(free)) - A / D[:, None]
        radius = max(radius, float(np.max(np.abs(np.linalg.eigvals(J)))))
    if radius >= 1.0:
        raise UnsupportedGraph("couplings", f"the circuit's node dynamics do not settle (Jacobi radius {radius:.3g} ≥ 1)")
    if radius < 1e-12:
        return 2
    return int(min(limit, np.ceil(np.log(tol) / np.log(radius)) + 2))


class BrianRateBackend(BrianTwin):
    """Rate twin. Options: `codegen` ('numpy' default, 'cython', or 'cpp_standalone': compiled once,
    re-run with run_args every step), `build_dir` (standalone build folder; default a temporary one
    removed on close), `batch` (network batch
    capacity; default the graph's training.batch_size), `circuit_steps` (Jacobi sweeps per circuit
    phase; default from the circuit's spectral radius so the settle error is ≤ 1e-14 relative)."""

    name = "brian"
    families = ("ep", "coupled_learning", "circuit_ep", "least_action")

    def __init__(self, codegen: str = "numpy", batch: int | None = None, circuit_steps: int | None = None,
                 build_dir: str | None = None):
        super().__init__(codegen=codegen, batch=batch, build_dir=build_dir)
        if circuit_steps is not None and (isinstance(circuit_steps, bool) or not isinstance(circuit_steps, int)
                                          or circuit_steps < 1):
            raise ValidationError("circuit_steps", f"{circuit_steps!r} must be a positive integer")
        self.circuit_steps = circuit_steps

    def _make_net(self, b, target, graph: Graph):
        if graph.rule.family == "ep":
            check_ep(graph)
            return EPRateNet(b, target, graph, self.capacity)
        if graph.rule.family == "least_action":
            check_least_action(graph)
            return LeastActionNet(b, target, graph, replicas(graph), self.capacity)
        return CircuitNet(b, target, graph, replicas(graph), self.capacity, self.circuit_steps or settle_steps(graph))

    def info(self):
        info = super().info()
        if self.graph.rule.family == "ep":
            info["replicas_note"] = replicas_note(self.graph)
            info["update_from"] = "phase-end states (one read of s per step; nothing accumulated on the target)"
        return info
