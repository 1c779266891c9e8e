"""Linear resistor networks: Kirchhoff's laws.

Node voltages V over all circuit populations (in graph order). Source nodes (input, ground) are
voltage sources; the rest float. With `input_mode="current"`, input nodes instead float with the
data injected as currents (the case where the conservation law breaks). The Laplacian
L = Σ_e k_e (e_u − e_v)(e_u − e_v)ᵀ is built from the graph's conductances as they are at each
solve, so parameter updates are always seen; the reduced system of one set of held nodes is
factored once and reused (the free state and the adjoint share it, a batch is one solve).

Layered networks are dense bipartite blocks, so below a few thousand nodes the Laplacian is held
dense (numpy/LAPACK); scipy.sparse is used only where the size and sparsity call for it. When no
edge joins two free nodes (sources wired straight to the outputs) the reduced system is diagonal.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
import scipy.sparse.linalg as spla

DENSE_NODES = 2048  # below this, or when at least 1/32 of the node pairs are edges, solve dense


def holds_dense(n_nodes: int, n_edges: int) -> bool:
    """Whether a network of this size is solved with a dense n×n Laplacian (see DENSE_NODES)."""
    return n_nodes <= DENSE_NODES or 32 * 2 * n_edges >= n_nodes * n_nodes


class _Reduced:
    """L[free, free] (+ a diagonal nudge), factored: the cheapest exact solver its structure allows.
    A diagonal system (no edge joins two free nodes) needs only the node degrees, no Laplacian."""

    def __init__(self, laplacian, degree: np.ndarray, free: np.ndarray, diag_only: bool, nudge: np.ndarray | None):
        self.free = free
        if diag_only:
            self.diag = degree[free] + (0.0 if nudge is None else nudge)
            self.kind = "diag"
            return
        L = laplacian()
        if isinstance(L, np.ndarray):
            A = L[np.ix_(free, free)]
            A = A + np.diag(nudge) if nudge is not None else A
            try:
                self.factor, self.kind = la.cho_factor(A, check_finite=False), "cho"
            except np.linalg.LinAlgError:  # a negative nudge (symmetric EP's −β phase) may leave it indefinite
                self.factor, self.kind = la.lu_factor(A, check_finite=False), "lu"
        else:
            A = L[free][:, free]
            if nudge is not None:
                A = A + sp.diags(nudge)
            self.factor, self.kind = spla.splu(sp.csc_matrix(A)), "splu"

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """A⁻¹ rhs for rhs (n_free, B)."""
        if self.kind == "diag":
            return rhs / self.diag[:, None]
        if self.kind == "cho":
            return la.cho_solve(self.factor, rhs, check_finite=False)
        if self.kind == "lu":
            return la.lu_solve(self.factor, rhs, check_finite=False)
        return self.factor.solve(np.ascontiguousarray(rhs))

from ..ir.graph import Graph


class _Topology:
    """Node numbering, edge endpoints and population blocks: fixed by the populations and the edge
    lists, so the twins of one graph (which share its edge arrays, hil.measure.at) share one."""

    def __init__(self, graph: Graph, input_mode: str):
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
        self.u = np.concatenate([self.offset[c.src] + c.edges[:, 0] for c in graph.couplings])
        self.v = np.concatenate([self.offset[c.dst] + c.edges[:, 1] for c in graph.couplings])
        self.sizes = [len(c.edges) for c in graph.couplings]
        self.uv, self.vu = self.u * self.n + self.v, self.v * self.n + self.u  # edges' flat positions in n×n
        self.blocks, start = [], 0  # per coupling: its population blocks and where its edges sit in them
        sizes = {p.name: p.size for p in graph.populations}
        for c in graph.couplings:
            ns, nd = sizes[c.src], sizes[c.dst]
            src = slice(self.offset[c.src], self.offset[c.src] + ns)
            dst = slice(self.offset[c.dst], self.offset[c.dst] + nd)
            edges = slice(start, start + len(c.edges))
            flat = c.edges[:, 0] * nd + c.edges[:, 1]
            full = len(flat) == ns * nd and np.array_equal(flat, np.arange(ns * nd))  # every pair, row-major
            self.blocks.append((src, dst, None if full else flat, edges, 4 * len(c.edges) >= ns * nd))
            start += len(c.edges)
        self._splits: dict[bytes, tuple[np.ndarray, bool]] = {}
        # edges outside the blocks held as matrices (sparse couplings, a population to itself)
        self.scattered = np.concatenate([np.arange(e.start, e.stop) for (s, d, _, e, dense) in self.blocks
                                         if not dense or s == d] or [np.zeros(0, int)])


    def split(self, fixed: np.ndarray) -> tuple[np.ndarray, bool]:
        """The free nodes when `fixed` are held, and whether no edge joins two of them (a diagonal system)."""
        key = fixed.tobytes()
        if key not in self._splits:
            held = np.zeros(self.n, bool)
            held[fixed] = True
            self._splits[key] = np.flatnonzero(~held), not (~held[self.u] & ~held[self.v]).any()
        return self._splits[key]


_RECENT_TOPOLOGIES = 8
_topologies: list[tuple[tuple, tuple, _Topology]] = []  # (key, the edge arrays, topology)


def _topology(graph: Graph, input_mode: str) -> _Topology:
    key = (input_mode, graph.cost.output, tuple((p.name, p.size, p.role) for p in graph.populations),
           tuple((c.src, c.dst) for c in graph.couplings))
    edges = tuple(c.edges for c in graph.couplings)
    for k, e, t in _topologies:
        if k == key and all(a is b for a, b in zip(e, edges)):
            return t
    t = _Topology(graph, input_mode)
    _topologies.insert(0, (key, edges, t))  # holding the arrays keeps their ids from being reused
    del _topologies[_RECENT_TOPOLOGIES:]
    return t


class Circuit:
    def __init__(self, graph: Graph, input_mode: str = "voltage"):
        if input_mode not in ("voltage", "current"):
            raise ValueError(f"input_mode: {input_mode!r} is not 'voltage' or 'current'")
        self.graph = graph
        self.input_mode = input_mode
        t = _topology(graph, input_mode)
        self.n, self.offset, self.inputs, self.ground, self.src, self.free, self.out = (
            t.n, t.offset, t.inputs, t.ground, t.src, t.free, t.out)
        self.u, self.v, self.sizes, self._blocks, self._topology = t.u, t.v, t.sizes, t.blocks, t
        self.couplings = graph.couplings
        self._k, self._L, self._systems = None, None, {}
        self._free = None  # (systems it was solved with, x, V): the last free state

    @property
    def k(self) -> np.ndarray:
        return np.concatenate([c.conductance for c in self.couplings])

    def laplacian(self) -> sp.csc_matrix:
        k, u, v = self.k, self.u, self.v
        rows = np.concatenate([u, v, u, v])
        cols = np.concatenate([u, v, v, u])
        vals = np.concatenate([k, k, -k, -k])
        return sp.csc_matrix((vals, (rows, cols)), shape=(self.n, self.n))

    def _dense_laplacian(self, k: np.ndarray) -> np.ndarray:
        n = self.n
        L = np.zeros((n, n))
        flat = L.reshape(-1)
        for (src, dst, pairs, edges, _) in self._blocks:
            if pairs is None and src != dst:  # a complete bipartite block: written, not scattered
                K = k[edges].reshape(src.stop - src.start, dst.stop - dst.start)
                L[src, dst] -= K
                L[dst, src] -= K.T
            else:  # add.at: parallel edges between one node pair add up
                np.add.at(flat, self._topology.uv[edges], -k[edges])
                np.add.at(flat, self._topology.vu[edges], -k[edges])
        L[np.diag_indices(n)] += self._degree
        return L

    def _laplacian(self):
        """The Laplacian at the present conductances, built on first need (a diagonal system has none)."""
        if self._L is None:
            k = self._k
            dense = holds_dense(self.n, len(k))
            self._L = self._dense_laplacian(k) if dense else self.laplacian()
        return self._L

    def _refresh(self) -> None:
        """Forget the Laplacian and every factorisation when the conductances changed; the node
        degrees and the blocks' conductance matrices are rebuilt at once (every solve uses them)."""
        if self._k is None or not all(np.array_equal(c.conductance, self._k[e])
                                      for c, (_, _, _, e, _) in zip(self.couplings, self._blocks)):
            k = self._k = self.k
            self._systems, self._L = {}, None
            self._matrices = []  # (src, dst, K): a block's conductances as a matrix, rows src × cols dst
            degree = np.zeros(self.n)
            for (src, dst, flat, edges, dense) in self._blocks:
                if not dense or src == dst:
                    continue
                shape = (src.stop - src.start, dst.stop - dst.start)
                K = k[edges].reshape(shape) if flat is None else np.bincount(flat, k[edges], shape[0] * shape[1]).reshape(shape)
                degree[src] += K.sum(axis=1)
                degree[dst] += K.sum(axis=0)
                self._matrices.append((src, dst, K))
            rest = self._topology.scattered
            self._scattered = None
            if rest.size:
                u, v, kr = self.u[rest], self.v[rest], k[rest]
                degree += np.bincount(u, kr, self.n) + np.bincount(v, kr, self.n)
                self._scattered = sp.csr_matrix((np.concatenate([kr, kr]), (np.concatenate([u, v]), np.concatenate([v, u]))),
                                                shape=(self.n, self.n))
            self._degree = degree

    def _adjacent(self, V: np.ndarray) -> np.ndarray:
        """(B, n): Σ_e k_e V_other at every node — the off-diagonal part of the Laplacian applied to V,
        by one matrix product per block. With V zero on the free nodes, its free entries are the
        currents the held nodes drive into them (the right-hand side of every solve)."""
        out = np.zeros_like(V)
        for src, dst, K in self._matrices:  # (a side whose voltages are all 0 — the free side — sends nothing)
            if V[:, dst].any():
                out[:, src] += V[:, dst] @ K.T
            if V[:, src].any():
                out[:, dst] += V[:, src] @ K
        if self._scattered is not None:
            out += (self._scattered @ V.T).T
        return out

    def _system(self, fixed: np.ndarray, nudge: tuple[np.ndarray, float] | None = None) -> _Reduced:
        """The reduced system for the held nodes `fixed` (and a nudge conductance on some free nodes),
        factored once per parameter state."""
        self._refresh()
        key = (fixed.tobytes(), None if nudge is None else (nudge[0].tobytes(), float(nudge[1])))
        if key not in self._systems:
            free, diag_only = self._topology.split(fixed)
            extra = None
            if nudge is not None:
                extra = np.zeros(free.size)
                extra[np.searchsorted(free, nudge[0])] = nudge[1]
            self._systems[key] = _Reduced(self._laplacian, self._degree, free, diag_only, extra)
        return self._systems[key]

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
        if self.input_mode == "current" and self.src.size == 0:
            raise ValueError("a current-driven circuit needs a ground node")
        plain = clamp is None and nudge is None
        self._refresh()
        if plain:  # the free state: a HIL step asks for it three times at one θ (gradient, task, rule)
            x_arr = np.ascontiguousarray(np.atleast_2d(np.asarray(x, float)))
            if self._free is not None and self._free[0] is self._systems and np.array_equal(self._free[1], x_arr):
                return self._free[2]
        V = self.source_voltages(x)
        fixed = self.src if clamp is None else np.sort(np.concatenate([self.src, self.out]))
        if clamp is not None:
            V[:, self.out] = clamp
        if fixed.size == self.n:
            return V
        system = self._system(fixed, None if nudge is None else (self.out, nudge[0]))
        free = system.free
        rhs = self._adjacent(V)[:, free].T  # V is 0 on the free nodes
        if self.input_mode == "current":
            inj = np.zeros((self.n, len(V)))
            inj[self.inputs] = np.atleast_2d(np.asarray(x, float)).T
            rhs += inj[free]
        if nudge is not None:
            beta, target = nudge
            rhs[np.searchsorted(free, self.out)] += beta * np.atleast_2d(target).T
        V[:, free] = system.solve(rhs).T
        if plain:
            V.flags.writeable = False  # shared by the callers at this θ
            self._free = (self._systems, x_arr.copy(), V)
        return V

    def edge_drops(self, V: np.ndarray) -> np.ndarray:
        """ΔV_e = V_u − V_v per sample, shape (B, E)."""
        return V[:, self.u] - V[:, self.v]

    def mean_drop_product(self, A: np.ndarray, B: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """scale × batch mean of (A_u − A_v)(B_u − B_v) per edge, for node arrays A, B (batch, n).

        Expanded as mean(A_u B_u) + mean(A_v B_v) − mean(A_u B_v) − mean(A_v B_u): the first two
        are per node, the cross terms of a coupling whose edges fill much of its population block
        (layered nets) come from block products AᵀB, cheaper than gathering every edge for every
        sample; a sparse coupling gathers. A complete block is written in place in the result (one
        array per call: at a few hundred lines, fresh large arrays cost more than the arithmetic)."""
        k = len(A)
        node = np.einsum("bi,bi->i", A, B) * (scale / k)
        out = np.empty(len(self.u))
        for (src, dst, flat, edges, dense) in self._blocks:
            if flat is None:  # every pair of the block, row-major: no gathers, one product for both terms
                block = out[edges].reshape(src.stop - src.start, dst.stop - dst.start)
                # (a term whose factor is all 0 — an adjoint or a phase difference on held nodes — is left out)
                terms = [(P[:, src].T, Q[:, dst]) for P, Q in ((A, B), (B, A)) if P[:, src].any() and Q[:, dst].any()]
                if terms:
                    np.matmul(np.hstack([t[0] for t in terms]), np.vstack([t[1] for t in terms]), out=block)
                    block *= -scale / k
                else:
                    block[...] = 0.0
                block += node[src][:, None]
                block += node[dst][None, :]
                continue
            u, v = self.u[edges], self.v[edges]
            if dense:
                cross = (A[:, src].T @ B[:, dst]).reshape(-1)[flat] + (B[:, src].T @ A[:, dst]).reshape(-1)[flat]
            else:
                cross = np.einsum("be,be->e", A[:, u], B[:, v]) + np.einsum("be,be->e", A[:, v], B[:, u])
            out[edges] = node[u] + node[v] - cross * (scale / k)
        return out

    def split(self, per_edge: np.ndarray) -> dict[str, np.ndarray]:
        """A per-edge vector back to per-coupling arrays, keyed by coupling name (trainable only)."""
        parts = np.split(per_edge, np.cumsum(self.sizes)[:-1])
        return {c.name: p for c, p in zip(self.couplings, parts) if c.trainable}

    def adjoint(self, V: np.ndarray, g_out: np.ndarray) -> np.ndarray:
        """dL/dk per edge, averaged over the batch, for L whose ∂L/∂V_out per sample is g_out."""
        system = self._system(self.src)
        g = np.zeros((len(system.free), len(V)))
        g[np.searchsorted(system.free, self.out)] = g_out.T
        lam = np.zeros_like(V)
        lam[:, system.free] = system.solve(g).T
        return self.mean_drop_product(lam, V, -1.0)

    def output_currents(self, D: np.ndarray) -> np.ndarray:
        """D S for output voltages D (B, n_out), S the output conductance (diagonal: a product by the
        degrees, no n_out × n_out matrix)."""
        if self._system(self.src).kind == "diag":
            return D * self._degree[self.out]
        return D @ self.output_conductance()

    def output_conductance(self) -> np.ndarray:
        """S: the Kron-reduced conductance matrix seen from the outputs with every source held. When no
        edge joins two free nodes, S is the outputs' degrees (nothing to eliminate, no Laplacian)."""
        system = self._system(self.src)  # (re)builds the degrees for the present conductances
        if system.kind == "diag":
            return np.diag(self._degree[self.out])
        L = self._laplacian()
        L = L if isinstance(L, np.ndarray) else L.toarray()
        hid = np.setdiff1d(self.free, self.out)
        S = L[np.ix_(self.out, self.out)]
        if hid.size:
            S = S - L[np.ix_(self.out, hid)] @ np.linalg.solve(L[np.ix_(hid, hid)], L[np.ix_(hid, self.out)])
        return S
