"""Spatiotemporal local propagation / Hamiltonian learning (Betti & Gori) on any digraph.

Recurrent rate populations (cycles and self-couplings allowed) driven by a held input, integrated
with the rule's Euler step for T = max_steps steps from rest:
    a_{t+1} = a_t + (dt/τ)(−a_t + f(z_t)),  z_t = Σ_in W a_src,t + b,
and the task is the running cost L = (1/T) Σ_{t=1..T} C(a_out,t). With H = pᵀ·(dynamics) + ℓ, the
costate obeys p_t = ∂ℓ_t + J_tᵀ p_{t+1} (J_t = ∂a_{t+1}/∂a_t) — BPTT integrates it *backward* from
p_T and gives dL/dθ = Σ_t (∂a_{t+1}/∂θ)ᵀ p_{t+1} exactly (the oracle here).
STLP integrates the same costate equation *forward* in time, q_{t+1} = ∂ℓ_{t+1} + J_tᵀ q_t from
q_0 = 0, and accumulates Δθ −= lr (∂a_{t+1}/∂θ)ᵀ q_{t+1} online: every term uses only the two ends
of a coupling at the current step. It is not exact. When the state settles within a few time
constants and the horizon T is long, both costates sit at the same stationary value for most of
the trajectory and only the first/last transients differ (agreement → 1 as T grows); on short
horizons or persistently moving states they differ. Weights are held during one trajectory (the
slow-weight regime) and the accumulated update is applied after it.
"""
from __future__ import annotations

import numpy as np

from .. import activations as act
from .. import costs
from ..ir.graph import Graph

COSTS = ("task",)


class Trajectory:
    """The forward trajectory of one held input, and the local pieces of its costate equation."""

    def __init__(self, graph: Graph, x):
        self.graph = graph
        self.free = [p for p in graph.populations if not p.clamped]
        self.incoming = {p.name: [c for c in graph.couplings if c.dst == p.name] for p in self.free}
        rx = graph.rule.relaxation
        self.k = {p.name: rx.dt / p.tau for p in self.free}
        x = np.atleast_2d(np.asarray(x, float))
        a, off, B = {}, 0, len(x)
        for p in graph.inputs:  # held for the whole trajectory
            a[p.name] = act.rho(p.activation, x[:, off:off + p.size])
            off += p.size
        for p in self.free:
            a[p.name] = np.zeros((B, p.size))
        self.a, self.z = [a], []  # a_0 … a_T, z_0 … z_{T−1}
        for _ in range(rx.max_steps):
            z = {p.name: self.preact(p, a) for p in self.free}
            a = dict(a)
            for p in self.free:
                a[p.name] = a[p.name] + self.k[p.name] * (act.rho(p.activation, z[p.name]) - a[p.name])
            self.z.append(z)
            self.a.append(a)
        self.T, self.B = rx.max_steps, B

    def preact(self, p, a) -> np.ndarray:
        z = sum((a[c.src] @ c.weight.T for c in self.incoming[p.name]), np.zeros_like(a[p.name]))
        return z + p.bias if p.bias is not None else z

    def cost_grad(self, t: int, y) -> dict:
        """∂ℓ_t/∂a_t with ℓ_t = C(a_out,t)/T, batch-averaged."""
        out = self.graph.cost.output
        g = {p.name: np.zeros((self.B, p.size)) for p in self.free}
        g[out] = costs.grad(self.graph.cost.kind, self.a[t][out], y) / (self.T * self.B)
        return g

    def currents(self, t: int, p_next: dict) -> dict:
        """e_t = (dt/τ) f′(z_t) ⊙ p_{t+1}: what each population receives through ∂a_{t+1}/∂z_t."""
        return {p.name: self.k[p.name] * act.drho(p.activation, self.z[t][p.name]) * p_next[p.name] for p in self.free}

    def transpose_step(self, t: int, p_next: dict) -> dict:
        """J_tᵀ p_{t+1}: the leak keeps (1 − k) p, each coupling sends Wᵀ e back to its source."""
        e = self.currents(t, p_next)
        out = {n: (1 - self.k[n]) * v for n, v in p_next.items()}
        for p in self.free:
            for c in self.incoming[p.name]:
                if c.src in out:
                    out[c.src] = out[c.src] + e[p.name] @ c.weight
        return out

    def param_grads(self, t: int, p_next: dict) -> dict:
        """(∂a_{t+1}/∂θ)ᵀ p_{t+1}: post current × pre activity, local to each coupling."""
        e = self.currents(t, p_next)
        g = {c.name: e[c.dst].T @ self.a[t][c.src] for c in self.graph.couplings if c.trainable}
        g.update({f"{p.name}.bias": e[p.name].sum(axis=0) for p in self.free if p.bias is not None and p.trainable_bias})
        return g


def _add(acc: dict, g: dict) -> dict:
    return {k: acc.get(k, 0) + v for k, v in g.items()}


def _forward_costate(tr: Trajectory, y, upto: int | None = None) -> dict:
    """STLP: Σ_t (∂a_{t+1}/∂θ)ᵀ q_{t+1} with the costate q integrated forward in time."""
    q = {p.name: np.zeros((tr.B, p.size)) for p in tr.free}
    acc: dict = {}
    for t in range(upto or tr.T):
        q = _add(tr.transpose_step(t, q), tr.cost_grad(t + 1, y)) if t else tr.cost_grad(1, y)
        acc = _add(acc, tr.param_grads(t, q))
    return acc


def _bptt(tr: Trajectory, y, upto: int | None = None) -> dict:
    """Exact dL/dθ of the running cost up to step `upto` (default T): costate integrated backward."""
    T = upto or tr.T
    p = tr.cost_grad(T, y)
    acc: dict = {}
    for t in range(T - 1, -1, -1):
        acc = _add(acc, tr.param_grads(t, p))
        if t:
            p = _add(tr.transpose_step(t, p), tr.cost_grad(t, y))
    return acc


def local_update(graph: Graph, x, y) -> dict[str, np.ndarray]:
    return {k: -graph.rule.lr * v for k, v in _forward_costate(Trajectory(graph, x), y).items()}


def exact_gradient(graph: Graph, x, y, cost: str = "task") -> dict[str, np.ndarray]:
    return _bptt(Trajectory(graph, x), y)


def agreement(graph: Graph, x, y) -> np.ndarray:
    """Cosine between STLP's accumulated update and BPTT's gradient of the running cost so far,
    for every horizon t = 1 … T of the same trajectory (how agreement builds up in time)."""
    from ..metrics import cosine, flatten

    tr = Trajectory(graph, x)
    return np.array([cosine(flatten(_forward_costate(tr, y, t)), flatten(_bptt(tr, y, t)))
                     for t in range(1, tr.T + 1)])


def outputs(graph: Graph, x) -> np.ndarray:
    """The output population at the end of the trajectory."""
    return Trajectory(graph, x).a[-1][graph.cost.output]


def loss(graph: Graph, x, y, cost: str = "task", at: Graph | None = None) -> float:
    tr = Trajectory(graph, x)
    out = graph.cost.output
    return float(sum(np.mean(costs.value(graph.cost.kind, a[out], y)) for a in tr.a[1:]) / tr.T)


def descended(graph: Graph) -> tuple[str, float]:
    return "task", graph.rule.lr
