"""Central finite differences of a family's loss — the independent check every exact oracle must pass."""
from __future__ import annotations

import numpy as np

from neurophys.families import family


def fd_gradient(graph, x, y, eps: float = 1e-6) -> dict[str, np.ndarray]:
    """dL/dθ by central differences, element by element, in float64."""
    fam = family(graph)
    out = {}
    for name, theta in graph.params().items():
        g = np.empty(theta.shape)
        for k in np.ndindex(theta.shape):
            base = theta[k]
            theta[k] = base + eps
            lp = fam.loss(graph, x, y)
            theta[k] = base - eps
            lm = fam.loss(graph, x, y)
            theta[k] = base
            g[k] = (lp - lm) / (2 * eps)
        out[name] = g
    return out


def rel(a: dict, b: dict) -> float:
    """‖a − b‖ / ‖b‖ over all parameters."""
    fa = np.concatenate([np.ravel(a[k]) for k in b])
    fb = np.concatenate([np.ravel(b[k]) for k in b])
    return float(np.linalg.norm(fa - fb) / np.linalg.norm(fb))
