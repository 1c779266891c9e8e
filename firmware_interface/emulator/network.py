"""Kirchhoff's laws on the bipartite row/column graph of the crossbar.

Lines are nodes (rows 0..R-1, columns R..R+C-1), devices are edges. Driven and sensing lines
have fixed voltages (sensing = virtual ground, 0 V); floating lines settle so that no current
leaves them. An optional nudge ties chosen floating lines to target voltages through a
conductance β (circuit EP), which keeps the network linear.

The system matrix depends on the conductances and the line configuration only, never on the
drive voltages, so :class:`Network` factors it once per configuration and solves a whole batch
of samples with matrix products. Its structure does the rest: a row only touches columns, so the
floating rows' block and the floating columns' block are both diagonal. Eliminating the larger
floating side leaves a dense Schur complement over the smaller one (Cholesky); when one side has
no floating line at all — the coupled-learning layout, where every row is driven and the outputs
float on the columns — the whole system is diagonal and no factorisation happens.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from ..protocol import LineMode


class NoReference(ValueError):
    """All lines float and nothing is nudged: the voltages are undetermined."""


class Network:
    """One line configuration (and optional nudge) of the array, factored for batched solves."""

    def __init__(self, G: np.ndarray, modes: np.ndarray, nudge_lines: np.ndarray | None = None,
                 nudge_g: float = 0.0):
        R, C = G.shape
        self.G, self.R, self.C = G, R, C
        self.modes = modes = np.asarray(modes)
        floating = modes == LineMode.FLOAT
        self.floating, self.drive = floating, modes == LineMode.DRIVE
        self.fr, self.fc = np.flatnonzero(floating[:R]), np.flatnonzero(floating[R:])
        self.g_row, self.g_col = G.sum(axis=1), G.sum(axis=0)
        extra = np.zeros(R + C)
        self.nudge_lines = np.zeros(0, np.int64) if nudge_lines is None else np.asarray(nudge_lines, np.int64)
        if self.nudge_lines.size:
            extra[self.nudge_lines] = nudge_g
        self.nudge_g = nudge_g
        if not (self.fr.size + self.fc.size):
            return
        if floating.all() and not extra.any():
            raise NoReference("all lines float: connect at least one line to a driver or sense amp")
        fixed_r, fixed_c = ~floating[:R], ~floating[R:]
        self.B = G[np.ix_(self.fr, self.fc)]  # devices between floating rows and floating columns
        self.G_r_fixed = G[np.ix_(self.fr, np.flatnonzero(fixed_c))]  # floating rows ← fixed columns
        self.G_c_fixed = G[np.ix_(np.flatnonzero(fixed_r), self.fc)]  # fixed rows → floating columns
        self.fixed_r, self.fixed_c = np.flatnonzero(fixed_r), R + np.flatnonzero(fixed_c)
        self.d_r = self.g_row[self.fr] + extra[self.fr]
        self.d_c = self.g_col[self.fc] + extra[R + self.fc]
        if (self.d_r <= 0).any() or (self.d_c <= 0).any():
            raise NoReference("a floating line has no conducting device")
        # eliminate the larger floating side (its block is diagonal), factor the smaller one
        self.keep_cols = self.fc.size <= self.fr.size
        self.factor = None
        if min(self.fr.size, self.fc.size):
            if self.keep_cols:
                S = -(self.B.T @ (self.B / self.d_r[:, None]))
                S[np.diag_indices_from(S)] += self.d_c
            else:
                S = -(self.B @ (self.B.T / self.d_c[:, None]))
                S[np.diag_indices_from(S)] += self.d_r
            try:
                self.factor = cho_factor(S, check_finite=False)
            except np.linalg.LinAlgError:
                raise NoReference("the floating lines have no path to a driven or sensing line") from None

    def voltages(self, volts: np.ndarray, nudge_v: np.ndarray | None = None) -> np.ndarray:
        """Line voltages (k, R + C) for k samples; ``volts`` (k, R + C) gives the voltage of DRIVE
        lines (others ignored; SENSE lines sit at 0 V), ``nudge_v`` (k, n_nudge) the nudge targets."""
        volts = np.atleast_2d(np.asarray(volts, dtype=float))
        V = np.where(self.drive, volts, 0.0)
        if not (self.fr.size + self.fc.size):
            return V
        R = self.R
        b_r = V[:, self.fixed_c] @ self.G_r_fixed.T
        b_c = V[:, self.fixed_r] @ self.G_c_fixed
        if self.nudge_lines.size:
            inj = np.zeros_like(V)
            inj[:, self.nudge_lines] = self.nudge_g * np.atleast_2d(np.asarray(nudge_v, dtype=float))
            b_r += inj[:, self.fr]
            b_c += inj[:, R + self.fc]
        if self.factor is None:  # one side has no floating line: the system is diagonal
            V[:, self.fr] = b_r / self.d_r
            V[:, R + self.fc] = b_c / self.d_c
        elif self.keep_cols:
            rhs = b_c + (b_r / self.d_r) @ self.B
            V[:, R + self.fc] = cho_solve(self.factor, rhs.T, check_finite=False).T
            V[:, self.fr] = (b_r + V[:, R + self.fc] @ self.B.T) / self.d_r
        else:
            rhs = b_r + (b_c / self.d_c) @ self.B.T
            V[:, self.fr] = cho_solve(self.factor, rhs.T, check_finite=False).T
            V[:, R + self.fc] = (b_c + V[:, self.fr] @ self.B) / self.d_c
        return V

    def currents(self, V: np.ndarray) -> np.ndarray:
        """Per line, the current flowing from the network into the line's circuit (0 on floating lines)."""
        R = self.R
        Vr, Vc = V[:, :R], V[:, R:]
        I = np.concatenate([Vc @ self.G.T - self.g_row * Vr, Vr @ self.G - self.g_col * Vc], axis=1)
        I[:, self.floating] = 0.0
        return I


def solve(G: np.ndarray, modes: np.ndarray, volts: np.ndarray,
          nudge_lines: np.ndarray | None = None, nudge_g: float = 0.0,
          nudge_v: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One sample: line voltages and currents ``(V, I)`` of length R + C (see :class:`Network`)."""
    net = Network(G, modes, nudge_lines, nudge_g)
    V = net.voltages(np.asarray(volts, dtype=float)[None], None if nudge_v is None else np.asarray(nudge_v)[None])
    return V[0], net.currents(V)[0]
