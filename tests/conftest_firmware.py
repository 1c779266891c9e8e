"""Independent reference computations for the firmware_interface tests (plain dense numpy, no
code from the package under test)."""
from __future__ import annotations

import numpy as np


def kirchhoff(G: np.ndarray, fixed: dict[int, float], nudge: dict[int, float] | None = None,
              beta: float = 0.0) -> np.ndarray:
    """Line voltages of the crossbar network by a dense Laplacian solve.

    ``fixed``: line → voltage (driven or virtual ground); ``nudge``: line → target voltage,
    tied through conductance ``beta``. Lines are rows 0..R-1 then columns R..R+C-1.
    """
    R, C = G.shape
    n = R + C
    A = np.zeros((n, n))
    A[:R, R:] = G
    A[R:, :R] = G.T
    L = np.diag(A.sum(axis=1)) - A
    b = np.zeros(n)
    for line, target in (nudge or {}).items():
        L[line, line] += beta
        b[line] += beta * target
    V = np.zeros(n)
    fix = np.array(sorted(fixed), dtype=int)
    V[fix] = [fixed[i] for i in fix]
    free = np.setdiff1d(np.arange(n), fix)
    V[free] = np.linalg.solve(L[np.ix_(free, free)], b[free] - L[np.ix_(free, fix)] @ V[fix])
    return V


def edge_drops_squared(V: np.ndarray, R: int) -> np.ndarray:
    """(V_r − V_c)² for every device (r, c)."""
    return (V[:R, None] - V[None, R:]) ** 2
