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
from ..blas import small_matrices
from ..ir.graph import Graph
from ..ir.rule import Relaxation
from .anderson import anderson
from .block_relax import BlockRelaxation


# how the exact oracle finds the free fixed point, whatever the rule's own discretisation
EXACT = Relaxation(method="newton", tol=1e-13, max_steps=5000)
NEWTON_SWITCH = 1e-3  # residual below which Newton takes over from Gauss–Seidel sweeps


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
        self.pops = graph.pop_index
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
        self.classes = self._two_classes()
        if self.classes is not None:
            self.out_in_b = np.searchsorted(self.classes[1], np.arange(self.out.start, self.out.stop))
        # layered clip units with a quadratic cost: whole classes at a time (see block_relax)
        self.block = (BlockRelaxation(self, self.classes)
                      if self.classes is not None and self.boxed and graph.cost.kind == "mse" else None)

    def _two_classes(self):
        """Unit indices of a 2-colouring of the free populations (output's class second), or
        None when the couplings among free populations are not bipartite (lateral, odd cycles)."""
        colour = {self.graph.cost.output: 1}
        edges = [(b.coupling.src, b.coupling.dst) for b in self.blocks if b.src is not None]
        if any(b.lateral for b in self.blocks):
            return None
        changed = True
        while changed:
            changed = False
            for u, v in edges:
                for p, q in ((u, v), (v, u)):
                    if p in colour and q not in colour:
                        colour[q] = 1 - colour[p]
                        changed = True
                    elif p in colour and colour[q] == colour[p]:
                        return None
        for p in self.free:
            colour.setdefault(p.name, 0)
        idx = [np.concatenate([np.arange(self.slices[p.name].start, self.slices[p.name].stop)
                               for p in self.free if colour[p.name] == c] or [np.zeros(0, int)]) for c in (0, 1)]
        return (idx[0], idx[1]) if len(idx[0]) else None

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
        h += self.drive(x_rho)
        for b in self.blocks:
            if b.src is None:
                continue
            W = b.coupling.weight
            if b.lateral:
                h[:, b.dst] += r[:, b.dst] @ W.T
                continue
            h[:, b.dst] += r[:, b.src] @ W.T
            h[:, b.src] += r[:, b.dst] @ W
        return h

    def drive(self, x_rho) -> np.ndarray:
        """The part of the field the free state does not touch: inputs and biases, (B, n)."""
        h = np.zeros((len(x_rho), self.n))
        for b in self.blocks:
            if b.src is None:
                h[:, b.dst] += x_rho[:, b.src_in] @ b.coupling.weight.T
        for p in self.free:
            if p.bias is not None:
                h[:, self.slices[p.name]] += p.bias
        return h

    def _field_of(self, name, s, x_rho):
        p = self.pops[name]
        h = np.zeros((len(s), p.size), dtype=s.dtype)
        for b in self.blocks:
            c = b.coupling
            if c.dst == name:
                pre = act.rho(self.pops[c.src].activation, s[:, b.src]) if b.src is not None else x_rho[:, b.src_in]
                h += pre @ c.weight.T
            elif c.src == name and b.src is not None:
                h += act.rho(self.pops[c.dst].activation, s[:, b.dst]) @ c.weight
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
                if rx.tol > 0:  # the drift at s gives s's residual too: no second field evaluation
                    res = float(np.max(np.abs(self.project(s + d) - s)))
                    if res <= rx.tol:
                        break
                s = self.project(s + rx.dt * d)
                steps += 1
            return s, {"steps": steps, "residual": res if res <= rx.tol else self.residual(s, x_rho, y, beta)}
        if rx.method == "newton":
            with small_matrices():  # batches of small solves: BLAS threads only get in the way
                if self.block is not None and np.isrealobj(s) and 1.0 + beta > 0.0:
                    return self.block.relax(s, x_rho, y, beta, rx.tol, rx.max_steps)
                return self.newton(s, x_rho, y, beta, rx.tol, rx.max_steps)
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
            d = h if act.box(p.activation) else act.drho(p.activation, s[:, sl]) * h
            if beta and sl == self.out:
                d -= beta * costs.grad(self.graph.cost.kind, s[:, sl], y)
            s[:, sl] = d
        return self.project(s)

    def solve_free(self, x) -> tuple[np.ndarray, dict]:
        """The free fixed point to float64 precision (for the exact oracle and finite differences)."""
        return self.relax(x, relaxation=EXACT)

    def fixed_point_residual(self, s, x_rho, y, beta):
        """(F, pre, h, g): F = s − T(s) with T(s) = P(g⊙h(s) − βC′(s)), per sample."""
        h = self.field(s, x_rho)
        g = self.gain(s)
        pre = g * h
        if beta:
            pre = pre - beta * self.cost_grad(s, y)
        return s - self.project(pre.copy()), pre, h, g

    def newton_step(self, s, x_rho, y, beta, A):
        """One (semismooth) Newton step on F(s) = 0. For boxed units the Jacobian of the clip is
        the indicator of its active range, so on a piecewise-linear net the iteration ends as soon
        as the set of saturated units is right. A layered (bipartite) net is solved through the
        Schur complement on the class holding the output: a (B, n_b, n_b) system, not (B, n, n)."""
        F, pre, h, g = self.fixed_point_residual(s, x_rho, y, beta)
        dP = np.ones(s.shape)
        d2 = np.zeros_like(s)
        for sl, a in self.acts:
            if act.box(a):
                dP[:, sl] = (pre[:, sl].real > 0.0) & (pre[:, sl].real < 1.0)
            else:
                d2[:, sl] = act.d2rho(a, s[:, sl]) * h[:, sl]
        dr = self.drho(s)
        for sl, a in self.acts:  # a clip unit's slope follows the active set the step aims at
            if act.box(a):
                dr[:, sl] = dP[:, sl]
        hess_out = beta * costs.hess(self.graph.cost.kind, s[:, self.out], y) if beta else None
        if self.classes is None:
            eye = np.eye(self.n)
            JT = g[:, :, None] * A[None] * dr[:, None, :] + d2[:, :, None] * eye
            if beta:
                JT[:, self.out, self.out] -= hess_out
            delta = np.linalg.solve(eye - dP[:, :, None] * JT, F[..., None])[..., 0]
            return self.project(s - delta)
        a, b = self.classes
        Px = dP[:, a, None] * g[:, a, None] * A[np.ix_(a, b)][None] * dr[:, None, b]
        Py = dP[:, b, None] * g[:, b, None] * A[np.ix_(b, a)][None] * dr[:, None, a]
        Ma = 1.0 - dP[:, a] * d2[:, a]
        Mb = np.broadcast_to(np.eye(len(b)), (len(s), len(b), len(b))) - dP[:, b, None] * (d2[:, b, None] * np.eye(len(b)))
        if beta:
            o = self.out_in_b
            Mb = Mb.copy()
            Mb[:, o[:, None], o[None, :]] += dP[:, b][:, o, None] * hess_out
        Sch = Mb - Py @ (Px / Ma[:, :, None])
        db = np.linalg.solve(Sch, (F[:, b] + np.einsum("bij,bj->bi", Py, F[:, a] / Ma))[..., None])[..., 0]
        delta = np.empty_like(s)
        delta[:, b] = db
        delta[:, a] = (F[:, a] + np.einsum("bij,bj->bi", Px, db)) / Ma
        return self.project(s - delta)

    def newton(self, s, x_rho, y, beta, tol: float, max_steps: int) -> tuple[np.ndarray, dict]:
        """Gauss–Seidel sweeps (always downhill in energy), each sample until its residual is below
        NEWTON_SWITCH — by then its saturated units are known — then Newton steps on the samples
        not yet converged, safeguarded per sample: where a step does not lower the residual, that
        sample takes a sweep instead. While sweeping, a sweep's own step size stands in for the
        residual (each full residual is one more field evaluation); the switch and the stop are
        always decided on the true residual."""
        A = self.coupling_matrix()
        pick = lambda idx: (x_rho[idx], None if y is None else y[idx])
        res = self._residuals(s, x_rho, y, beta)
        switch = max(tol, NEWTON_SWITCH)
        n_newton = n_sweeps = 0
        while res.max() > switch and n_sweeps < max_steps:
            live = np.flatnonzero(res > switch)
            xl, yl = pick(live)
            new = self.sweep(s[live], xl, yl, beta)
            res[live] = np.max(np.abs(new - s[live]), axis=1)  # step size until small, then the true residual
            s[live] = new
            n_sweeps += 1
            near = live[res[live] <= switch]
            if len(near):
                res[near] = self._residuals(s[near], *pick(near), beta)
        stale = np.flatnonzero(res > switch)
        if len(stale):
            res[stale] = self._residuals(s[stale], *pick(stale), beta)
        while res.max() > tol and n_newton + n_sweeps < max_steps:
            live = np.flatnonzero(res > tol)
            xa, ya = pick(live)
            cand = self.newton_step(s[live], xa, ya, beta, A)
            rc = self._residuals(cand, xa, ya, beta)
            bad = ~(rc < res[live])
            if bad.any():
                xb, yb = pick(live[bad])
                cand[bad] = self.sweep(s[live[bad]], xb, yb, beta)
                rc[bad] = self._residuals(cand[bad], xb, yb, beta)
            s[live], res[live] = cand, rc  # s is relax()'s own copy
            n_newton += 1
        return s, {"steps": n_sweeps, "newton": n_newton, "residual": float(res.max())}

    def _residuals(self, s, x_rho, y, beta) -> np.ndarray:
        """Per-sample max-norm of the fixed-point residual."""
        return np.max(np.abs(self.fixed_point_residual(s, x_rho, y, beta)[0]), axis=1)

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
