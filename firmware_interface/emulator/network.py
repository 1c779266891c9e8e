"""Kirchhoff's laws on the bipartite row/column graph of the crossbar.

Lines are nodes (rows 0..R-1, columns R..R+C-1), devices are edges. Driven and sensing lines
have fixed voltages (sensing = virtual ground, 0 V); floating lines settle so that no current
leaves them. An optional nudge ties chosen floating lines to target voltages through a
conductance β (circuit EP), which keeps the network linear.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

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
        nr, nc = fr.size, fc.size
        B = G[np.ix_(fr, fc)]
        # Reduced Laplacian over the floating lines, assembled directly in COO form.
        i_r, i_c = np.repeat(np.arange(nr), nc), np.tile(np.arange(nr, nr + nc), nr)
        diag = np.arange(nr + nc)
        L = sp.csc_matrix(
            (np.concatenate([g_row[fr] + extra[fr], g_col[fc] + extra[R + fc], -B.ravel(), -B.ravel()]),
             (np.concatenate([diag, i_r, i_c]), np.concatenate([diag, i_c, i_r]))),
            shape=(nr + nc, nr + nc))
        fixed_r, fixed_c = ~floating[:R], ~floating[R:]
        rhs = np.concatenate([
            G[fr][:, fixed_c] @ V[R:][fixed_c] + rhs_extra[fr],
            G[:, fc][fixed_r].T @ V[:R][fixed_r] + rhs_extra[R + fc],
        ])
        x = np.atleast_1d(spsolve(L, rhs))
        V[fr] = x[:fr.size]
        V[R + fc] = x[fr.size:]
    Vr, Vc = V[:R], V[R:]
    I = np.concatenate([G @ Vc - G.sum(axis=1) * Vr, Vr @ G - G.sum(axis=0) * Vc])
    I[floating] = 0.0
    return V, I
