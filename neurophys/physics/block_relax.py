"""Block Gauss–Seidel with an active-set Newton finish, for layered nets of clip units — why: on a
two-colourable net of hard-sigmoid units each colour class, given the other, has its exact
minimiser in closed form (one matrix product and a clip, nudge included), so a sweep costs what a
hand-written alternating-layer loop costs, with no per-population work. The fixed-point map is
piecewise linear: once the saturated units are known, one linear solve on the smaller class (its
Schur complement) lands on the fixed point, long before the sweeps' geometric convergence would.

Classes: P (the smaller, solved by Newton), Q (the other). State s = (s_P, s_Q); with the nudge's
factor λ = 1/(1+β) on output units (mse cost) and the input drive c (inputs and biases, βy added
on the output):  s_P ← clip(λ_P (c_P + A_PQ s_Q)),  s_Q ← clip(λ_Q (c_Q + A_QP s_P)),  A_QP = A_PQᵀ.
"""
from __future__ import annotations

import numpy as np

NEWTON_EVERY = 8  # block sweeps between active-set Newton trials


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
        """Sweeps from s (P then Q, each exact given the other); every NEWTON_EVERY sweeps a Newton
        trial on the samples not yet converged, kept for those it brings below tol. Stops when the max-norm
        fixed-point residual max|s − P(h − βC′(s))| — the general path's measure — is ≤ tol."""
        A = self.coupling_block()
        drive = self.net.drive(x_rho)
        c = {"P": drive[:, self.P], "Q": drive[:, self.Q]}
        lam = {"P": np.ones(len(self.P)), "Q": np.ones(len(self.Q))}
        if beta:
            c[self.out_cls][:, self.out] += beta * y
            lam[self.out_cls][self.out] = 1.0 / (1.0 + beta)
        cP, cQ, lP, lQ = c["P"], c["Q"], lam["P"], lam["Q"]
        # the sweep's step on P bounds the residual: on an output unit the residual is (1+β)× the
        # step (or less, where the box cuts both), elsewhere it equals it; Q's residual is zero
        to_residual = max(1.0, 1.0 + beta)
        step_tol = tol / to_residual
        result = np.empty_like(s, dtype=float)
        live = np.arange(len(s))  # the samples still relaxing, in the order of the working arrays
        sP, sQ = s[:, self.P].copy(), s[:, self.Q].copy()
        AT, AA = np.ascontiguousarray(A.T), self._pair_products(A)
        nudged_P, nudged_Q = bool(beta) and self.out_cls == "P", bool(beta) and self.out_cls == "Q"

        def sweep(s_from, M, c, lam, nudged, z, s_to=None):  # s_to ← clip(λ (c + s_from M)); z: pre-activation
            np.matmul(s_from, M, out=z)
            np.add(z, c, out=z)
            if nudged:
                np.multiply(z, lam, out=z)
            return np.clip(z, 0.0, 1.0, out=s_to)

        def retire(which, state_P, state_Q):
            rows = live[which][:, None]
            result[rows, self.P], result[rows, self.Q] = state_P, state_Q

        zP, zQ, newP, diff = np.empty_like(sP), np.empty_like(sQ), np.empty_like(sP), np.empty_like(sP)
        sweep(sP, A, cQ, lQ, nudged_Q, zQ, sQ)
        steps = n_newton = since_trial = 0
        worst = 0.0
        while len(live):
            sweep(sQ, AT, cP, lP, nudged_P, zP, newP)
            np.subtract(newP, sP, out=diff)
            worst = np.abs(diff, out=diff).max()
            if worst <= step_tol or steps + n_newton >= max_steps:
                retire(slice(None), sP, sQ)
                break
            if since_trial >= NEWTON_EVERY:
                since_trial, n_newton = 0, n_newton + 1
                keep = self._finish(diff.max(axis=1) <= step_tol, sP, sQ, zP, zQ, cP, cQ, lP, lQ, A, AT, AA,
                                    nudged_P, nudged_Q, step_tol, retire, sweep)
                if not keep.all():  # the working arrays shrink to the samples still relaxing
                    live, sP, sQ, newP, cP, cQ = live[keep], sP[keep], sQ[keep], newP[keep], cP[keep], cQ[keep]
                    zP, zQ, diff = zP[keep], zQ[keep], diff[keep]
                    if not len(live):
                        break
            sP, newP = newP, sP
            sweep(sP, A, cQ, lQ, nudged_Q, zQ, sQ)
            steps += 1
            since_trial += 1
        return result, {"steps": steps, "newton": n_newton, "residual": float(worst * to_residual)}

    def _finish(self, done, sP, sQ, zP, zQ, cP, cQ, lP, lQ, A, AT, AA, nudged_P, nudged_Q, step_tol, retire, sweep):
        """Retire the converged samples and those a Newton step finishes; returns which stay."""
        retire(done, sP[done], sQ[done])
        todo = np.flatnonzero(~done)
        cand, ok = self._newton(A, AA, zP[todo], zQ[todo], cP[todo], cQ[todo], lP, lQ)
        cand_Q = sweep(cand, A, cQ[todo], lQ, nudged_Q, np.empty((len(cand), len(self.Q))))
        again = sweep(cand_Q, AT, cP[todo], lP, nudged_P, np.empty_like(cand))
        ok &= np.max(np.abs(again - cand), axis=1) <= step_tol
        done[todo[ok]] = True
        retire(todo[ok], cand[ok], cand_Q[ok])
        return ~done

    @staticmethod
    def _pair_products(A):
        """A[p, q]·A[r, q] laid out (n_P², n_Q), so that every sample's A diag(w) Aᵀ is one GEMM —
        when that table is small; else None (then a batched product per trial)."""
        nP, nQ = A.shape
        return (A[:, None, :] * A[None, :, :]).reshape(nP * nP, nQ) if nP * nP * nQ <= 1 << 22 else None

    @staticmethod
    def _newton(A, AA, zP, zQ, cP, cQ, lP, lQ):
        """The fixed point if the saturated units are those of the pre-activations zP, zQ, kept only
        where it is a strict local minimum of F (a sweep, which descends F, never settles on a
        saddle; Newton would): on the free units s = λ(c + A s), the saturated ones held, Q
        eliminated. The Schur complement S = Λ_P⁻¹ − A diag(w) Aᵀ (w = λ_Q on free Q units) is the
        Hessian of F on P with Q optimal: positive definite on the free P units, or no candidate.
        Returns (candidate, ok)."""
        nP = len(lP)
        free = (zP > 0.0) & (zP < 1.0)
        up = (zP >= 1.0).astype(float)
        w = ((zQ > 0.0) & (zQ < 1.0)) * lQ
        K = (w @ AA.T).reshape(-1, nP, nP) if AA is not None else (A * w[:, None, :]) @ A.T
        rhs = (cP + (w * cQ + (zQ >= 1.0)) @ A.T + (K @ up[..., None])[..., 0]) * free
        S = -K * (free[:, :, None] & free[:, None, :])
        S[:, np.arange(nP), np.arange(nP)] += np.where(free, 1.0 / lP, 1.0)
        e, V = np.linalg.eigh(S)
        ok = e[:, 0] > 0.0
        sol = np.einsum("bij,bj->bi", V, np.einsum("bji,bj->bi", V, rhs) / np.where(ok[:, None], e, 1.0)) + up
        return np.clip(sol, 0.0, 1.0, out=sol), ok
