"""Hopfield energy over symmetric couplings — the physics of equilibrium propagation.

    E(s) = ½Σ s² − Σ_c ρ(s_dst)ᵀ W_c ρ(s_src) − Σ_lateral ½ρᵀWρ − Σ bᵀρ(s),   F = E + β C(s_out)

Inputs are clamped. States relax along ds/dt = −∂F/∂s; `hard_sigmoid` units are kept in the box
[0, 1] (projected dynamics). The net reads the graph's arrays by reference, so parameter updates
written into the graph are seen at once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import activations as act
from .. import costs
from ..ir.graph import Graph
from ..ir.rule import Relaxation
from .anderson import anderson


# how the exact oracle finds the free fixed point, whatever the rule's own discretisation
EXACT = Relaxation(method="newton", tol=1e-13, max_steps=5000)
NEWTON_SWITCH = 1e-3  # Gauss–Seidel sweeps until the residual is this small, then Newton


@dataclass
class _Block:
    coupling: object
    dst: slice
    src: slice | None      # slice into the free state, or None if the source is an input
    src_in: slice | None   # slice into the input vector
    lateral: bool


class Hopfield:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.free = [p for p in graph.populations if not p.clamped]
        self.slices, off = {}, 0
        for p in self.free:
            self.slices[p.name] = slice(off, off + p.size)
            off += p.size
        self.n = off
        self.in_slices, off = {}, 0
        for p in graph.inputs:
            self.in_slices[p.name] = slice(off, off + p.size)
            off += p.size
        self.n_in = off
        self.blocks = []
        for c in graph.couplings:
            self.blocks.append(_Block(c, self.slices[c.dst], self.slices.get(c.src), self.in_slices.get(c.src),
                                      c.src == c.dst))
        self.out = self.slices[graph.cost.output]
        self.acts = [(self.slices[p.name], p.activation) for p in self.free]
        self.in_acts = [(self.in_slices[p.name], p.activation) for p in graph.inputs]
        self.boxed = all(act.box(a) == (0.0, 1.0) for _, a in self.acts)
        self.smooth_units = [(sl, a) for sl, a in self.acts if act.box(a) is None]

    # ---------------------------------------------------------------- elementwise maps
    def _map(self, fn, s):
        out = np.empty_like(s)
        for sl, a in self.acts:
            out[:, sl] = fn(a, s[:, sl])
        return out

    def rho(self, s):
        return self._map(act.rho, s)

    def drho(self, s):
        return self._map(act.drho, s)

    def rho_in(self, x):
        out = np.empty_like(x)
        for sl, a in self.in_acts:
            out[:, sl] = act.rho(a, x[:, sl])
        return out

    def project(self, s):
        for sl, a in self.acts:
            if act.box(a):
                np.clip(s[:, sl], 0.0, 1.0, out=s[:, sl])
        return s

    # ---------------------------------------------------------------- energy terms
    def field(self, s, x_rho, only: str | None = None):
        """h = −∂(interaction energy)/∂ρ(s): what each free unit is driven by (all units, or
        just population `only`, returned as its own block)."""
        if only is not None:
            return self._field_of(only, s, x_rho)
        r = self.rho(s)
        h = np.zeros_like(s)
        for b in self.blocks:
            W = b.coupling.weight
            if b.lateral:
                h[:, b.dst] += r[:, b.dst] @ W.T
                continue
            pre = r[:, b.src] if b.src is not None else x_rho[:, b.src_in]
            h[:, b.dst] += pre @ W.T
            if b.src is not None:
                h[:, b.src] += r[:, b.dst] @ W
        for p in self.free:
            if p.bias is not None:
                h[:, self.slices[p.name]] += p.bias
        return h

    def _field_of(self, name, s, x_rho):
        p = self.graph.population(name)
        sl = self.slices[name]
        h = np.zeros((len(s), p.size), dtype=s.dtype)
        for b in self.blocks:
            c = b.coupling
            if c.dst == name:
                src = s[:, b.src] if b.src is not None else None
                pre = act.rho(self.graph.population(c.src).activation, src) if src is not None else x_rho[:, b.src_in]
                h += pre @ c.weight.T
            elif c.src == name and b.src is not None:
                h += act.rho(self.graph.population(c.dst).activation, s[:, b.dst]) @ c.weight
        if p.bias is not None:
            h += p.bias
        return h

    def energy(self, s, x_rho):
        r = self.rho(s)
        e = 0.5 * np.sum(s ** 2, axis=1)
        for b in self.blocks:
            W = b.coupling.weight
            if b.lateral:
                e -= 0.5 * np.einsum("bi,ij,bj->b", r[:, b.dst], W, r[:, b.dst])
            else:
                pre = r[:, b.src] if b.src is not None else x_rho[:, b.src_in]
                e -= np.einsum("bi,ij,bj->b", r[:, b.dst], W, pre)
        for p in self.free:
            if p.bias is not None:
                e -= r[:, self.slices[p.name]] @ p.bias
        return e

    def cost_grad(self, s, y):
        g = np.zeros_like(s)
        g[:, self.out] = costs.grad(self.graph.cost.kind, s[:, self.out], y)
        return g

    def drift(self, s, x_rho, y, beta):
        """−∂F/∂s (for boxed units the box is handled by projection, so the gain is 1)."""
        h = self.field(s, x_rho)
        d = self.gain(s) * h - s
        if beta:
            d -= beta * self.cost_grad(s, y)
        return d

    def gain(self, s):
        """ρ'(s) for smooth units; 1 for boxed ones, whose box is enforced by projection."""
        g = np.ones_like(s) if self.boxed else self.drho(s)
        if not self.boxed:
            for sl, a in self.acts:
                if act.box(a):
                    g[:, sl] = 1.0
        return g

    # ---------------------------------------------------------------- relaxation
    def relax(self, x, y=None, beta: float = 0.0, s0=None, relaxation=None) -> tuple[np.ndarray, dict]:
        """Minimise F = E + βC from s0 with the graph's integrator (or `relaxation`). Returns (s, info)."""
        rx = relaxation or self.graph.rule.relaxation
        x_rho = self.rho_in(np.asarray(x, dtype=float))
        # a complex nudge (holomorphic EP) relaxes in complex state space; real nudges stay float64
        s = (np.zeros((len(x_rho), self.n)) if s0 is None else s0).astype(np.result_type(float, beta))
        if rx.method == "euler":
            steps, res = 0, np.inf
            while steps < rx.max_steps:
                d = self.drift(s, x_rho, y, beta)
                s = self.project(s + rx.dt * d)
                steps += 1
                if rx.tol > 0:
                    res = self.residual(s, x_rho, y, beta)
                    if res <= rx.tol:
                        break
            return s, {"steps": steps, "residual": res if rx.tol > 0 else self.residual(s, x_rho, y, beta)}
        if rx.method == "newton":
            steps, res = 0, np.inf
            while steps < rx.max_steps:
                s = self.sweep(s, x_rho, y, beta)
                steps += 1
                res = self.residual(s, x_rho, y, beta)
                if res <= max(NEWTON_SWITCH, rx.tol):
                    break
            s, it, res = self.newton(s, x_rho, y, beta, rx.tol)
            return s, {"steps": steps, "newton": it, "residual": res}
        T = lambda z: self.sweep(z, x_rho, y, beta)
        s, steps, res = anderson(T, s, tol=rx.tol, max_steps=rx.max_steps, project=self.project, row_map=False)
        return s, {"steps": steps, "residual": self.residual(s, x_rho, y, beta)}

    def sweep(self, s, x_rho, y, beta):
        """One Gauss–Seidel pass: each population in turn set to P(g⊙h − βC′) from the latest
        states. For a layered net with clip units this is exact block minimisation of F, so the
        energy never rises — unlike the Jacobi (dt = 1) map, which oscillates once ‖W‖ > 1."""
        s = s.copy()
        for p in self.free:
            sl = self.slices[p.name]
            h = self.field(s, x_rho, only=p.name)
            d = self.gain(s)[:, sl] * h
            if beta and sl == self.out:
                d -= beta * costs.grad(self.graph.cost.kind, s[:, sl], y)
            s[:, sl] = d
        return self.project(s)

    def solve_free(self, x) -> tuple[np.ndarray, dict]:
        """The free fixed point to float64 precision (for the exact oracle and finite differences)."""
        return self.relax(x, relaxation=EXACT)

    def newton(self, s, x_rho, y, beta, tol: float, max_iter: int = 50) -> tuple[np.ndarray, int, float]:
        """(Semismooth) Newton on F(s) = s − T(s), T(s) = P(g⊙h(s) − βC′(s)). For boxed units the
        Jacobian of the clip is the indicator of its active range, so on a piecewise-linear net
        the iteration ends as soon as the set of saturated units is right."""
        A = self.coupling_matrix()
        eye = np.eye(self.n)
        res = np.inf
        for it in range(max_iter + 1):
            h = self.field(s, x_rho)
            g = self.gain(s)
            pre = g * h
            if beta:
                pre = pre - beta * self.cost_grad(s, y)
            F = s - self.project(pre.copy())
            res = float(np.max(np.abs(F)))
            if res <= tol or it == max_iter:
                break
            dP = np.ones(s.shape)
            d2 = np.zeros_like(s)
            for sl, a in self.acts:
                if act.box(a):
                    dP[:, sl] = (pre[:, sl].real > 0.0) & (pre[:, sl].real < 1.0)
                else:
                    d2[:, sl] = act.d2rho(a, s[:, sl]) * h[:, sl]
            JT = g[:, :, None] * A[None] * self.drho(s)[:, None, :] + d2[:, :, None] * eye
            if beta:
                JT[:, self.out, self.out] -= beta * costs.hess(self.graph.cost.kind, s[:, self.out], y)
            J = eye - dP[:, :, None] * JT
            s = self.project(s - np.linalg.solve(J, F[..., None])[..., 0])
        return s, it, res

    def residual(self, s, x_rho, y, beta) -> float:
        """Max-norm of the projected gradient: 0 exactly at a fixed point."""
        return float(np.max(np.abs(self.project(s + self.drift(s, x_rho, y, beta)) - s)))

    # ---------------------------------------------------------------- second order (exact oracle)
    def coupling_matrix(self) -> np.ndarray:
        """A with h = A ρ(s) + (input and bias terms): the symmetric free–free interaction."""
        A = np.zeros((self.n, self.n))
        for b in self.blocks:
            W = b.coupling.weight
            if b.lateral:
                A[b.dst, b.dst] += W
            elif b.src is not None:
                A[b.dst, b.src] += W
                A[b.src, b.dst] += W.T
        return A

    def hessian(self, s, x_rho):
        """∂²E/∂s² per sample at s, shape (B, n, n); inactive (saturated) boxed units are fixed."""
        B = len(s)
        dr = self.drho(s)
        A = self.coupling_matrix()
        h = self.field(s, x_rho)
        d2 = np.zeros_like(s)
        for sl, a in self.acts:
            d2[:, sl] = act.d2rho(a, s[:, sl])
        H = np.broadcast_to(np.eye(self.n), (B, self.n, self.n)).copy()
        H -= dr[:, :, None] * A[None] * dr[:, None, :]
        H[:, np.arange(self.n), np.arange(self.n)] -= d2 * h
        return H
