"""Builders for the graphs people start from: a layered EP net, a resistor network, a
feed-forward net for the least-action rule. Initial values are drawn from `seed`."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .cost import Cost
from .coupling import Coupling
from .dataset import Dataset
from .graph import Graph
from .population import Population
from .rule import Relaxation, Rule
from .training import Training


def _glorot(rng, n_out, n_in, gain=1.0):
    return rng.uniform(-1, 1, size=(n_out, n_in)) * gain * np.sqrt(6.0 / (n_in + n_out))


def layered_ep(sizes: Sequence[int], *, activation="hard_sigmoid", beta=0.1, lr=0.1, estimator="symmetric",
               relaxation: Relaxation | None = None, cost="mse", dataset: Dataset | None = None,
               training: Training | None = None, seed=0, gain=1.0, bias_scale=0.0, name="ep") -> Graph:
    """x → h1 → … → out with symmetric couplings and biases; sizes = [n_in, n_h1, …, n_out].
    `bias_scale` > 0 draws biases from U(−scale, scale): with clip units and zero bias, a zero
    input puts units exactly on the kink, where the loss has no derivative."""
    rng = np.random.default_rng(seed)
    names = ["x"] + [f"h{i}" for i in range(1, len(sizes) - 1)] + ["out"]
    pops = [Population("x", sizes[0], kind="input", role="input", activation="linear")]
    for i, (n, size) in enumerate(zip(names[1:], sizes[1:]), 1):
        pops.append(Population(n, size, kind="rate", activation=activation,
                               role="output" if i == len(sizes) - 1 else "hidden", bias=np.zeros(size)))
    coups = [Coupling(f"W{i}", names[i - 1], names[i], weight=_glorot(rng, sizes[i], sizes[i - 1], gain))
             for i in range(1, len(sizes))]
    for p in pops[1:]:
        p.bias[:] = rng.uniform(-bias_scale, bias_scale, size=p.size)
    rule = Rule("ep", lr=lr, beta=beta, estimator=estimator, relaxation=relaxation or Relaxation("anderson", tol=1e-10))
    return Graph(pops, coups, Cost(cost, "out"), rule, dataset, training or Training(), name)


def feedforward(sizes: Sequence[int], *, activation="tanh", out_activation="linear", lr=0.1, cost="cross_entropy",
                dt=1.0, steps: int | None = None, dataset: Dataset | None = None, training: Training | None = None,
                seed=0, name="least_action") -> Graph:
    """A directed MLP for the least-action rule; default discretisation: unit steps, 2L of them."""
    rng = np.random.default_rng(seed)
    L = len(sizes) - 1
    names = ["x"] + [f"h{i}" for i in range(1, L)] + ["out"]
    pops = [Population("x", sizes[0], kind="input", role="input")]
    for i in range(1, L + 1):
        pops.append(Population(names[i], sizes[i], kind="rate", activation=out_activation if i == L else activation,
                               role="output" if i == L else "hidden", bias=np.zeros(sizes[i])))
    coups = [Coupling(f"W{i}", names[i - 1], names[i], weight=_glorot(rng, sizes[i], sizes[i - 1]), symmetric=False)
             for i in range(1, L + 1)]
    steps = steps if steps is not None else (2 * L if dt == 1.0 else int(np.ceil(60 * L / dt)))
    rule = Rule("least_action", lr=lr, relaxation=Relaxation("euler", dt=dt, max_steps=steps, tol=0.0))
    return Graph(pops, coups, Cost(cost, "out"), rule, dataset, training or Training(), name)


def resistor_network(n_inputs: int, n_outputs: int, n_hidden: int = 0, *, edges=None, density: float = 1.0,
                     ground: bool = True, family="coupled_learning", eta=0.1, beta=None, lr=0.05,
                     k_range=(0.2, 1.0), bounds=(1e-3, 10.0), dataset: Dataset | None = None,
                     training: Training | None = None, seed=0, name="circuit") -> Graph:
    """Voltage-source inputs (+ a ground node), free hidden and output nodes, resistive edges.

    `edges` is a list of ``(src_pop, src_index, dst_pop, dst_index)``; if omitted, the network is
    layered — sources (inputs, ground) to hidden nodes and hidden nodes to outputs, or sources to
    outputs when there are no hidden nodes — each edge kept with probability `density`. Layered
    means bipartite, so it fits a crossbar (one side on rows, the other on columns)."""
    rng = np.random.default_rng(seed)
    pops = [Population("in", n_inputs, kind="circuit_node", role="input")]
    if ground:
        pops.append(Population("gnd", 1, kind="circuit_node", role="ground"))
    if n_hidden:
        pops.append(Population("hid", n_hidden, kind="circuit_node", role="hidden"))
    pops.append(Population("out", n_outputs, kind="circuit_node", role="output"))
    size = {p.name: p.size for p in pops}
    if edges is None:
        edges = []
        sources = ["in"] + (["gnd"] if ground else [])
        layers = [(s, "hid" if n_hidden else "out") for s in sources] + ([("hid", "out")] if n_hidden else [])
        for s, f in layers:
            edges += [(s, i, f, j) for i in range(size[s]) for j in range(size[f])]
        if density < 1.0:
            keep = rng.random(len(edges)) < density
            edges = [e for e, k in zip(edges, keep) if k]
    groups: dict[tuple[str, str], list] = {}
    for s, i, d, j in edges:
        groups.setdefault((s, d), []).append((i, j))
    coups = []
    for (s, d), pairs in groups.items():
        pairs = np.array(pairs, dtype=np.int64)
        coups.append(Coupling(f"k_{s}_{d}", s, d, kind="conductance", edges=pairs,
                              conductance=rng.uniform(*k_range, size=len(pairs)), bounds=bounds))
    if family == "coupled_learning":
        rule = Rule("coupled_learning", lr=lr, eta=eta, relaxation=Relaxation("direct"))
    else:
        rule = Rule("circuit_ep", lr=lr, beta=beta if beta is not None else eta, relaxation=Relaxation("direct"))
    return Graph(pops, coups, Cost("mse", "out"), rule, dataset, training or Training(), name)


def lse_network(sizes: Sequence[int], *, epsilon=0.1, lr=0.1, cost="mse", bias=True, dataset: Dataset | None = None,
                training: Training | None = None, seed=0, name="lse") -> Graph:
    """x → l1 → … → out of log-sum-exp (Hamilton–Jacobi) populations at temperature `epsilon`."""
    rng = np.random.default_rng(seed)
    L = len(sizes) - 1
    names = ["x"] + [f"l{i}" for i in range(1, L)] + ["out"]
    pops = [Population("x", sizes[0], kind="input", role="input")]
    for i in range(1, L + 1):
        pops.append(Population(names[i], sizes[i], kind="lse", epsilon=epsilon, role="output" if i == L else "hidden",
                               bias=np.zeros(sizes[i]) if bias else None))
    coups = [Coupling(f"W{i}", names[i - 1], names[i], weight=rng.normal(0.0, 1.0, size=(sizes[i], sizes[i - 1])),
                      symmetric=False) for i in range(1, L + 1)]
    rule = Rule("lse", lr=lr, relaxation=Relaxation("direct"))
    return Graph(pops, coups, Cost(cost, "out"), rule, dataset, training or Training(), name)


def _orthogonal(rng, n_out, n_in, gain=1.0):
    """Orthonormal rows or columns: deep products neither explode nor vanish."""
    q, r = np.linalg.qr(rng.normal(size=(max(n_out, n_in), min(n_out, n_in))))
    q = q * np.sign(np.diag(r))
    return gain * (q if n_out >= n_in else q.T)


def pc_alm(sizes: Sequence[int], *, activation="linear", out_activation="linear", rho=100.0, dual_lr=None, lr=0.1,
           cost="mse", dt=1.0, steps=None, tol=1e-12, gain=1.0, dataset: Dataset | None = None,
           training: Training | None = None, seed=0, name="pc_alm") -> Graph:
    """A directed MLP for augmented-Lagrangian predictive coding, orthogonally initialised so that
    depths of 100+ stay well conditioned; dual_lr defaults to rho (the method of multipliers)."""
    g = feedforward(sizes, activation=activation, out_activation=out_activation, cost=cost, dataset=dataset,
                    training=training, seed=seed, name=name)
    rng = np.random.default_rng(seed)
    for c in g.couplings:
        c.weight = _orthogonal(rng, *c.weight.shape, gain=gain)
    steps = steps if steps is not None else 100 + 20 * (len(sizes) - 1)  # the multipliers' wave needs ≥ depth
    rule = Rule("pc_alm", lr=lr, rho=rho, dual_lr=dual_lr if dual_lr is not None else rho,
                relaxation=Relaxation("euler", dt=dt, max_steps=steps, tol=tol))
    return Graph(g.populations, g.couplings, g.cost, rule, g.dataset, g.training, name)


def holomorphic_ep(sizes: Sequence[int], *, activation="sigmoid", beta=0.5, n_nudges=8, lr=0.1,
                   relaxation: Relaxation | None = None, cost="mse", dataset: Dataset | None = None,
                   training: Training | None = None, seed=0, gain=1.0, name="holo_ep") -> Graph:
    """A layered EP net (see `layered_ep`) learning with N complex nudges on the circle |β| = beta."""
    g = layered_ep(sizes, activation=activation, cost=cost, dataset=dataset, training=training, seed=seed,
                   gain=gain, name=name)
    rule = Rule("holomorphic_ep", lr=lr, beta=beta, n_nudges=n_nudges,
                relaxation=relaxation or Relaxation("anderson", tol=1e-12, max_steps=5000))
    return Graph(g.populations, g.couplings, g.cost, rule, g.dataset, g.training, name)


def stlp_cycle(n_in: int, n_hidden: int, n_out: int, *, steps=200, dt=0.5, activation="tanh", lr=0.1, cost="mse",
               gain=0.5, dataset: Dataset | None = None, training: Training | None = None, seed=0,
               name="stlp_cycle") -> Graph:
    """A recurrent digraph with cycles for STLP: x → a ⇄ b → out, out → a, a → a (self-recurrence);
    `gain` scales the weights (small: contractive dynamics that settle within a few τ)."""
    rng = np.random.default_rng(seed)
    pops = [Population("x", n_in, kind="input", role="input"),
            Population("a", n_hidden, activation=activation, bias=np.zeros(n_hidden)),
            Population("b", n_hidden, activation=activation, bias=np.zeros(n_hidden)),
            Population("out", n_out, role="output", bias=np.zeros(n_out))]
    size = {p.name: p.size for p in pops}
    edges = [("x", "a"), ("a", "b"), ("b", "a"), ("b", "out"), ("out", "a"), ("a", "a")]
    coups = [Coupling(f"W_{s}_{d}", s, d, weight=_glorot(rng, size[d], size[s], gain), symmetric=False)
             for s, d in edges]
    rule = Rule("stlp", lr=lr, relaxation=Relaxation("euler", dt=dt, max_steps=steps, tol=0.0))
    return Graph(pops, coups, Cost(cost, "out"), rule, dataset, training or Training(), name)
