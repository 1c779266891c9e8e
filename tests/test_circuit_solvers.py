"""The circuit twin's solver paths (diagonal, dense Cholesky/LU, sparse LU) and its edge products,
against a dense Laplacian solve and per-edge sums written out here."""
from __future__ import annotations

import numpy as np
import pytest

from neurophys.ir.builders import resistor_network
from neurophys.physics.circuit import Circuit


def _dense_solve(graph, x, clamp=None, nudge=None):
    c = Circuit(graph)
    n = c.n
    L = np.zeros((n, n))
    for u, v, k in zip(c.u, c.v, c.k):
        L[u, u] += k; L[v, v] += k; L[u, v] -= k; L[v, u] -= k
    fixed = list(c.src) + (list(c.out) if clamp is not None else [])
    free = [i for i in range(n) if i not in fixed]
    out = np.zeros((len(x), n))
    for s in range(len(x)):
        V = np.zeros(n)
        V[c.inputs] = x[s]
        if clamp is not None:
            V[c.out] = clamp[s]
        A, b = L[np.ix_(free, free)].copy(), -L[np.ix_(free, fixed)] @ V[fixed]
        if nudge is not None:
            for o in c.out:
                i = free.index(o)
                A[i, i] += nudge[0]
                b[i] += nudge[0] * nudge[1][s, list(c.out).index(o)]
        V[free] = np.linalg.solve(A, b)
        out[s] = V
    return out


@pytest.mark.parametrize("hidden, density", [(0, 1.0), (6, 1.0), (6, 0.5)])
@pytest.mark.parametrize("phase", ["free", "clamped", "nudged", "negative-nudge"])
def test_every_solver_path_is_the_dense_solve(hidden, density, phase):
    g = resistor_network(5, 3, hidden, density=density, seed=2)
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, (4, 5)), rng.uniform(0, 1, (4, 3))
    kw = {"clamped": {"clamp": y}, "nudged": {"nudge": (0.3, y)}, "negative-nudge": {"nudge": (-0.05, y)}}.get(phase, {})
    np.testing.assert_allclose(Circuit(g).solve(x, **kw), _dense_solve(g, x, **kw), atol=1e-12)


def test_sparse_path_for_a_large_sparse_net_and_parameter_updates_are_seen():
    n_in, n_hid, n_out = 1500, 800, 20
    rng = np.random.default_rng(1)
    edges = [("in", i, "hid", int(rng.integers(n_hid))) for i in range(n_in)]
    edges += [("gnd", 0, "hid", j) for j in range(n_hid)] + [("hid", j, "out", j % n_out) for j in range(n_hid)]
    g = resistor_network(n_in, n_out, n_hid, edges=edges, seed=1)
    c = Circuit(g)
    assert c.n > 2048
    x = rng.uniform(0, 1, (2, n_in))
    V = c.solve(x)
    assert c._systems and next(iter(c._systems.values())).kind == "splu"
    # Kirchhoff's current law at every free node, from the edges directly
    k = c.k
    flow = np.zeros((2, c.n))
    np.add.at(flow.T, c.u, (k * (V[:, c.v] - V[:, c.u])).T)
    np.add.at(flow.T, c.v, (k * (V[:, c.u] - V[:, c.v])).T)
    assert np.abs(flow[:, c.free]).max() < 1e-9
    g.couplings[0].conductance[:] *= 2  # written in place, as set_params does
    assert not np.allclose(c.solve(x), V)


@pytest.mark.parametrize("held_zero", [False, True])
@pytest.mark.parametrize("density", [1.0, 0.1])
def test_mean_drop_product_is_the_per_edge_mean(density, held_zero):
    """Also with A = 0 on the held nodes (an adjoint, a difference of two phases), where the
    products of a block leave that term out."""
    g = resistor_network(30, 4, 20, density=density, seed=3)
    c = Circuit(g)
    rng = np.random.default_rng(4)
    A, B = rng.normal(size=(6, c.n)), rng.normal(size=(6, c.n))
    if held_zero:
        A[:, c.src] = 0.0
    want = np.array([np.mean((A[:, u] - A[:, v]) * (B[:, u] - B[:, v])) for u, v in zip(c.u, c.v)])
    np.testing.assert_allclose(c.mean_drop_product(A, B), want, atol=1e-12)


@pytest.mark.parametrize("hidden", [0, 6])
def test_output_conductance_is_the_kron_reduction_of_the_dense_laplacian(hidden):
    """With no hidden nodes no edge joins two free nodes and S is taken from the degrees alone."""
    g = resistor_network(5, 3, hidden, seed=4)
    c = Circuit(g)
    L = np.zeros((c.n, c.n))
    for u, v, k in zip(c.u, c.v, c.k):
        L[u, u] += k; L[v, v] += k; L[u, v] -= k; L[v, u] -= k
    hid = [i for i in c.free if i not in c.out]
    S = L[np.ix_(c.out, c.out)]
    if hid:
        S = S - L[np.ix_(c.out, hid)] @ np.linalg.solve(L[np.ix_(hid, hid)], L[np.ix_(hid, c.out)])
    np.testing.assert_allclose(c.output_conductance(), S, atol=1e-12)
    D = np.random.default_rng(1).normal(size=(4, 3))
    np.testing.assert_allclose(c.output_currents(D), D @ S, atol=1e-12)
    assert (c._system(c.src).kind == "diag") == (hidden == 0)
