"""Block Gauss–Seidel with an active-set Newton finish, for layered nets of clip units — why: on a
two-colourable net of hard-sigmoid units each colour class, given the other, has its exact
minimiser in closed form (one matrix product and a clip, nudge included), so a sweep costs what a
hand-written alternating-layer loop costs, with no per-population work. The fixed-point map is
piecewise linear: once the saturated units are known, one linear solve on the smaller class (its
Schur complement) lands on the fixed point, long before the sweeps' geometric convergence would.

Classes: P (the smaller, solved by Newton), Q (the other). State s = (s_P, s_Q); with the nudge's
factor λ = 1/(1+β) on output units (mse cost) and the drive c (inputs and biases, βy added on the
output):  s_P ← clip(λ_P (c_P + A_PQ s_Q)),  s_Q ← clip(λ_Q (c_Q + A_QP s_P)),  A_QP = A_PQᵀ.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.core.umath import clip  # the ufunc: np.clip's Python wrapper costs more than a small clip

# Sweeps between convergence tests (a test costs a third of a sweep), before the first checkpoint
# and between checkpoints (converged samples retire, the others try a Newton step, which costs about
# ten sweeps at small batches). Most digits' saturation patterns settle within 8 sweeps, 90 % within 30.
STOP_EVERY, FIRST_CHECK, CHECK_EVERY = 3, 8, 20


@dataclass
class _Class:
    """One colour class's fixed data for one relaxation: drive c, nudge factor λ, nudged or not."""
    c: np.ndarray
    lam: np.ndarray
    nudged: bool

    def update(self, s_from, M, z, out=None):
        """clip(λ (c + s_from M)), the pre-activation left in z."""
        np.matmul(s_from, M, out=z)
        np.add(z, self.c, out=z)
        if self.nudged:
            np.multiply(z, self.lam, out=z)
        return clip(z, 0.0, 1.0, out=out)

    def take(self, rows):
        return _Class(self.c[rows], self.lam, self.nudged)


class BlockRelaxation:
    """The structure of one net (fixed), read against its current weights at every `relax`."""

    def __init__(self, net, classes: tuple[np.ndarray, np.ndarray]):
        self.net = net
        a, b = classes
        self.P, self.Q = (a, b) if len(a) <= len(b) else (b, a)
        # where each free population sits inside its class (populations are contiguous there)
        self.where = {}
        for name, sl in net.slices.items():
            for cls, idx in (("P", self.P), ("Q", self.Q)):
                pos = np.searchsorted(idx, sl.start)
                if pos < len(idx) and idx[pos] == sl.start:
                    self.where[name] = (cls, slice(pos, pos + sl.stop - sl.start))
        self.out_cls, self.out = self.where[net.graph.cost.output]

    def coupling_block(self) -> np.ndarray:
        """A_PQ (n_P × n_Q) from the graph's current weights, without the full n × n matrix."""
        A = np.zeros((len(self.P), len(self.Q)))
        for blk in self.net.blocks:
            if blk.src is None:
                continue
            c = blk.coupling
            (cd, sd), (_, ss) = self.where[c.dst], self.where[c.src]
            if cd == "P":
                A[sd, ss] += c.weight
            else:
                A[ss, sd] += c.weight.T
        return A

    def relax(self, s, x_rho, y, beta: float, tol: float, max_steps: int) -> tuple[np.ndarray, dict]:
        """Sweeps from s, P then Q, each exact given the other. Every CHECK_EVERY sweeps, samples
        already converged retire and the others try a Newton step, kept (and retired) where it is
        a fixed point; the working arrays shrink to the samples still relaxing. Every sample stops
        at a fixed-point residual max|s − P(h − βC′(s))| ≤ tol, the general path's measure."""
        A = self.coupling_block()
        AT = np.ascontiguousarray(A.T)
        K = _schur_products(A, AT)
        drive = self.net.drive(x_rho)
        c = {"P": drive[:, self.P], "Q": drive[:, self.Q]}
        lam = {"P": np.ones(len(self.P)), "Q": np.ones(len(self.Q))}
        if beta:
            c[self.out_cls][:, self.out] += beta * y
            lam[self.out_cls][self.out] = 1.0 / (1.0 + beta)
        P = _Class(c["P"], lam["P"], bool(beta) and self.out_cls == "P")
        Q = _Class(c["Q"], lam["Q"], bool(beta) and self.out_cls == "Q")
        # The step on P bounds the residual: on an output unit the residual is (1+β)× the step (or
        # less, where the box cuts both), elsewhere it equals it; Q, just updated, has none.
        to_residual = max(1.0, 1.0 + beta) if P.nudged else 1.0
        step_tol = tol / to_residual
        nP = len(self.P)
        by_class = np.empty(s.shape)  # the result, columns in class order (P, then Q)
        live = np.arange(len(s))      # the samples still relaxing, in the order of the working arrays
        worst = 0.0                   # the largest residual of a retired sample

        def retire(which, sP, sQ, res):
            nonlocal worst
            rows = live[which]
            by_class[rows, :nP], by_class[rows, nP:] = sP, sQ
            worst = max(worst, float(res.max(initial=0.0)) * to_residual)

        sP = s[:, self.P].astype(float)
        zP, zQ, newP, diff = np.empty_like(sP), np.empty((len(s), len(self.Q))), np.empty_like(sP), np.empty_like(sP)
        sQ = Q.update(sP, A, zQ, np.empty_like(zQ))
        steps = n_newton = 0
        since, gap = 0, FIRST_CHECK
        while True:
            P.update(sQ, AT, zP, newP)
            if since % STOP_EVERY == 0 or since == gap or steps + n_newton >= max_steps:
                np.subtract(newP, sP, out=diff)
                if np.abs(diff, out=diff).max() <= step_tol or steps + n_newton >= max_steps:
                    retire(slice(None), sP, sQ, diff)
                    break
            if since == gap:
                since, gap = 0, CHECK_EVERY
                step = diff.max(axis=1)
                done = step <= step_tol
                if done.any():
                    retire(done, sP[done], sQ[done], step[done])
                    live, sP, sQ, newP, zP, zQ, P, Q = _keep(~done, live, sP, sQ, newP, zP, zQ, P, Q)
                    if not len(live):
                        break
                n_newton += 1
                cand_P, cand_Q, res, ok = self._newton(A, AT, K, P, Q, zP, zQ, step_tol)
                if ok.any():
                    retire(ok, cand_P[ok], cand_Q[ok], res[ok])
                    live, sP, sQ, newP, zP, zQ, P, Q = _keep(~ok, live, sP, sQ, newP, zP, zQ, P, Q)
                    if not len(live):
                        break
                diff = np.empty_like(sP)
            sP, newP = newP, sP
            Q.update(sP, A, zQ, sQ)
            steps += 1
            since += 1
        result = np.empty(s.shape)
        result[:, self.P], result[:, self.Q] = by_class[:, :nP], by_class[:, nP:]
        return result, {"steps": steps, "newton": n_newton, "residual": worst}

    @staticmethod
    def _newton(A, AT, K, P: _Class, Q: _Class, zP, zQ, step_tol):
        """The fixed point if the saturated units are those of the pre-activations zP, zQ: on the
        free units s = λ(c + A s), saturated ones held, Q eliminated — the Schur complement
        S = Λ_P⁻¹ − A diag(w) Aᵀ (w = λ_Q on free Q units) on the free P units. Kept where it is a
        fixed point and a strict local minimum of F (S positive definite there: a sweep, which
        descends F, never settles on a saddle; Newton would). Returns (s_P, s_Q, residual, ok)."""
        nP = len(P.lam)
        cand_P, cand_Q = np.empty_like(zP), np.empty_like(zQ)
        free = (zP > 0.0) & (zP < 1.0)
        up = (zP >= 1.0).astype(float)
        w = ((zQ > 0.0) & (zQ < 1.0)) * Q.lam
        Kw = K(w)
        rhs = (P.c + (w * Q.c + (zQ >= 1.0)) @ AT + (Kw @ up[..., None])[..., 0]) * free
        S = -Kw * (free[:, :, None] & free[:, None, :])
        S[:, np.arange(nP), np.arange(nP)] += np.where(free, 1.0 / P.lam, 1.0)
        try:
            np.add(np.linalg.solve(S, rhs[..., None])[..., 0], up, out=cand_P)
        except np.linalg.LinAlgError:  # some sample's S is singular: no candidates this time
            return cand_P, cand_Q, np.full(len(S), np.inf), np.zeros(len(S), bool)
        clip(cand_P, 0.0, 1.0, out=cand_P)
        Q.update(cand_P, A, np.empty_like(zQ), cand_Q)
        res = np.abs(P.update(cand_Q, AT, np.empty_like(cand_P)) - cand_P).max(axis=1)
        ok = res <= step_tol
        if ok.any():
            ok[ok] = _positive_definite(S[ok])
        return cand_P, cand_Q, res, ok


def _keep(rows, *items):
    """The working arrays (and classes' per-sample data) for the samples still relaxing."""
    return [item.take(rows) if isinstance(item, _Class) else item[rows] for item in items]


def _schur_products(A, AT):
    """w ↦ A diag(w) Aᵀ for each sample's w. For a small P, the table of pair products
    A[p, q]·A[r, q] (n_Q × n_P², built on first use) makes that one GEMM for the whole batch."""
    nP, nQ = A.shape
    if nP * nP * nQ > 1 << 22:
        return lambda w: (A * w[:, None, :]) @ AT
    table = []

    def K(w):
        if not table:
            table.append(np.ascontiguousarray((A[:, None, :] * A[None, :, :]).reshape(nP * nP, nQ).T))
        return (w @ table[0]).reshape(-1, nP, nP)
    return K


def _positive_definite(S) -> np.ndarray:
    """Per matrix of a stack: one batched Cholesky, eigenvalues only if some matrix is not."""
    try:
        np.linalg.cholesky(S)
        return np.ones(len(S), bool)
    except np.linalg.LinAlgError:
        return np.linalg.eigvalsh(S)[:, 0] > 0.0
