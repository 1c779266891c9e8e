"""Linear resistor networks: Kirchhoff's laws solved with scipy.sparse.

Node voltages V over all circuit populations (in graph order). Source nodes (input, ground) are
voltage sources; the rest float. With `input_mode="current"`, input nodes instead float with the
data injected as currents (the case where the conservation law breaks). The Laplacian
L = Σ_e k_e (e_u − e_v)(e_u − e_v)ᵀ is assembled from the graph's conductances on every solve, so
parameter updates are always seen.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..ir.graph import Graph


class Circuit:
    def __init__(self, graph: Graph, input_mode: str = "voltage"):
        if input_mode not in ("voltage", "current"):
            raise ValueError(f"input_mode: {input_mode!r} is not 'voltage' or 'current'")
        self.graph = graph
        self.input_mode = input_mode
        off, self.offset = 0, {}
        for p in graph.populations:
            self.offset[p.name] = off
            off += p.size
        self.n = off
        idx = lambda names: np.concatenate([np.arange(self.offset[p.name], self.offset[p.name] + p.size)
                                            for p in graph.populations if p.name in names] or [np.zeros(0, int)])
        roles = {p.name: p.role for p in graph.populations}
        fixed_roles = ("input", "ground") if input_mode == "voltage" else ("ground",)
        self.inputs = idx([n for n, r in roles.items() if r == "input"])
        self.ground = idx([n for n, r in roles.items() if r == "ground"])
        self.src = idx([n for n, r in roles.items() if r in fixed_roles])
        self.free = idx([n for n, r in roles.items() if r not in fixed_roles])
        self.out = idx([graph.cost.output])
        self.couplings = graph.couplings
        self.u = np.concatenate([self.offset[c.src] + c.edges[:, 0] for c in graph.couplings])
        self.v = np.concatenate([self.offset[c.dst] + c.edges[:, 1] for c in graph.couplings])
        self.sizes = [len(c.edges) for c in graph.couplings]
        pos = {n: i for i, n in enumerate(self.free)}
        self.out_in_free = np.array([pos[i] for i in self.out])

    @property
    def k(self) -> np.ndarray:
        return np.concatenate([c.conductance for c in self.couplings])

    def laplacian(self) -> sp.csc_matrix:
        k, u, v = self.k, self.u, self.v
        rows = np.concatenate([u, v, u, v])
        cols = np.concatenate([u, v, v, u])
        vals = np.concatenate([k, k, -k, -k])
        return sp.csc_matrix((vals, (rows, cols)), shape=(self.n, self.n))

    def source_voltages(self, x) -> np.ndarray:
        """(B, n) voltages with the sources set (inputs = x, ground = 0) and free nodes 0."""
        x = np.atleast_2d(np.asarray(x, float))
        V = np.zeros((len(x), self.n))
        if self.input_mode == "voltage":
            V[:, self.inputs] = x
        return V

    def solve(self, x, *, clamp: np.ndarray | None = None, nudge: tuple[float, np.ndarray] | None = None) -> np.ndarray:
        """Node voltages (B, n). `clamp`: output voltages held (B, n_out) (coupled learning's
        clamped state); `nudge`: (β, V_T) — current β(V_T − V_O) injected at each output (EP)."""
        L = self.laplacian()
        V = self.source_voltages(x)
        fixed = self.src if clamp is None else np.concatenate([self.src, self.out])
        if clamp is not None:
            V[:, self.out] = clamp
        free = np.setdiff1d(np.arange(self.n), fixed) if clamp is not None else self.free
        if free.size == 0:
            return V
        A = L[free][:, free]
        rhs = -(L[free][:, fixed] @ V[:, fixed].T)
        if self.input_mode == "current":
            inj = np.zeros((self.n, len(V)))
            inj[self.inputs] = np.atleast_2d(np.asarray(x, float)).T
            rhs += inj[free]
        if nudge is not None:
            beta, target = nudge
            pos = np.searchsorted(free, self.out)
            A = A + sp.csc_matrix((np.full(len(pos), beta), (pos, pos)), shape=A.shape)
            rhs[pos] += beta * np.atleast_2d(target).T
        if self.input_mode == "current" and self.src.size == 0:
            raise ValueError("a current-driven circuit needs a ground node")
        V[:, free] = spla.splu(sp.csc_matrix(A)).solve(np.ascontiguousarray(rhs)).T
        return V

    def edge_drops(self, V: np.ndarray) -> np.ndarray:
        """ΔV_e = V_u − V_v per sample, shape (B, E)."""
        return V[:, self.u] - V[:, self.v]

    def split(self, per_edge: np.ndarray) -> dict[str, np.ndarray]:
        """A per-edge vector back to per-coupling arrays, keyed by coupling name (trainable only)."""
        parts = np.split(per_edge, np.cumsum(self.sizes)[:-1])
        return {c.name: p for c, p in zip(self.couplings, parts) if c.trainable}

    def adjoint(self, V: np.ndarray, g_out: np.ndarray) -> np.ndarray:
        """dL/dk per edge, averaged over the batch, for L whose ∂L/∂V_out per sample is g_out."""
        L = self.laplacian()
        A = L[self.free][:, self.free]
        g = np.zeros((len(self.free), len(V)))
        g[self.out_in_free] = g_out.T
        lam = np.zeros_like(V)
        lam[:, self.free] = spla.splu(sp.csc_matrix(A)).solve(g).T
        return -np.mean((lam[:, self.u] - lam[:, self.v]) * (V[:, self.u] - V[:, self.v]), axis=0)

    def output_conductance(self) -> np.ndarray:
        """S: the Kron-reduced conductance matrix seen from the outputs with every source held."""
        L = self.laplacian().toarray()
        hid = np.setdiff1d(self.free, self.out)
        S = L[np.ix_(self.out, self.out)]
        if hid.size:
            S = S - L[np.ix_(self.out, hid)] @ np.linalg.solve(L[np.ix_(hid, hid)], L[np.ix_(hid, self.out)])
        return S
