"""Kirchhoff's laws on the bipartite row/column graph of the crossbar.

Lines are nodes (rows 0..R-1, columns R..R+C-1), devices are edges. Driven and sensing lines
have fixed voltages (sensing = virtual ground, 0 V); floating lines settle so that no current
leaves them. An optional nudge ties chosen floating lines to target voltages through a
conductance β (circuit EP), which keeps the network linear.

Every device conducts, so the graph is complete bipartite and the reduced Laplacian is about half
dense: a sparse LU (scipy.sparse ``spsolve``, the first version) spent 3.5 ms of CPU on a 128×128
network. The floating rows only couple to columns, so their block is diagonal; eliminating them
exactly leaves a dense symmetric positive definite system over the floating columns (its Schur
complement), solved by Cholesky in well under a millisecond (``bench/serial_link.py``).
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from ..protocol import LineMode


class NoReference(ValueError):
    """All lines float and nothing is nudged: the voltages are undetermined."""


def solve(G: np.ndarray, modes: np.ndarray, volts: np.ndarray,
          nudge_lines: np.ndarray | None = None, nudge_g: float = 0.0,
          nudge_v: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Line voltages and, per line, the current flowing from the network into the line's circuit.

    ``volts`` gives the voltage of DRIVE lines (SENSE lines are held at 0 V). Returns
    ``(V, I)`` of length R + C; ``I`` is zero on floating lines (up to round-off).
    """
    R, C = G.shape
    modes = np.asarray(modes)
    V = np.where(modes == LineMode.DRIVE, np.asarray(volts, dtype=float), 0.0)
    floating = modes == LineMode.FLOAT
    fr, fc = np.flatnonzero(floating[:R]), np.flatnonzero(floating[R:])
    if fr.size + fc.size:
        extra = np.zeros(R + C)
        rhs_extra = np.zeros(R + C)
        if nudge_lines is not None and len(nudge_lines):
            extra[nudge_lines] = nudge_g
            rhs_extra[nudge_lines] = nudge_g * np.asarray(nudge_v, dtype=float)
        if floating.all() and not extra.any():
            raise NoReference("all lines float: connect at least one line to a driver or sense amp")
        g_row, g_col = G.sum(axis=1), G.sum(axis=0)
        fixed_r, fixed_c = ~floating[:R], ~floating[R:]
        B = G[np.ix_(fr, fc)]  # devices between floating rows and floating columns
        b_r = G[fr][:, fixed_c] @ V[R:][fixed_c] + rhs_extra[fr]
        b_c = G[:, fc][fixed_r].T @ V[:R][fixed_r] + rhs_extra[R + fc]
        d_r = g_row[fr] + extra[fr]  # the floating rows' block of the Laplacian is diagonal
        W = B / d_r[:, None]
        if fc.size:
            S = -(B.T @ W)  # Schur complement: Dc − Bᵀ Dr⁻¹ B
            S[np.diag_indices_from(S)] += g_col[fc] + extra[R + fc]
            try:
                factor = cho_factor(S, check_finite=False)
            except np.linalg.LinAlgError:
                raise NoReference("the floating lines have no path to a driven or sensing line") from None
            V[R + fc] = cho_solve(factor, b_c + W.T @ b_r, check_finite=False)
        V[fr] = (b_r + B @ V[R + fc]) / d_r
    Vr, Vc = V[:R], V[R:]
    I = np.concatenate([G @ Vc - G.sum(axis=1) * Vr, Vr @ G - G.sum(axis=0) * Vc])
    I[floating] = 0.0
    return V, I
