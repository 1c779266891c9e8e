"""Agreement between a measured update u and the reference g = −lr·dL/dθ, per parameter and global.

NRMSE follows Laborieux et al.: √mean(u−g)² / max(√mean u², √mean g²), so it is 0 for a perfect
match, 1 for u = 0, and 2 for u = −g. Over repeated trials from one state, `repeat_stats` gives
bias and spread and the test |mean(u) − E[u]| ≤ k·σ/√n per element (aihwkit's pattern).

Where the exact gradient is zero and the update is not, cosine, sign error and relative error
have no value: they are NaN (UNDEFINED), written as null in JSON and counted apart in summaries,
never read as "cosine 0" or folded into a median.
"""
from __future__ import annotations

import numpy as np

_TINY = 1e-300
UNDEFINED = float("nan")  # a metric with no value for this pair (zero exact gradient)


def _flat(a) -> np.ndarray:
    return np.ravel(np.asarray(a, dtype=float))


def cosine(u, g) -> float:
    u, g = _flat(u), _flat(g)
    nu, ng = np.linalg.norm(u), np.linalg.norm(g)
    if ng == 0.0:
        return 1.0 if nu == 0.0 else UNDEFINED
    return float(u @ g / max(nu * ng, _TINY))


def nrmse(u, g) -> float:
    u, g = _flat(u), _flat(g)
    scale = max(np.sqrt(np.mean(u ** 2)), np.sqrt(np.mean(g ** 2)))
    return 0.0 if scale == 0.0 else float(np.sqrt(np.mean((u - g) ** 2)) / scale)


def sign_error(u, g) -> float:
    """Fraction of elements whose sign disagrees (elements where g is exactly 0 are skipped)."""
    u, g = _flat(u), _flat(g)
    mask = g != 0
    if not mask.any():
        return 0.0 if not np.any(u) else UNDEFINED
    return float(np.mean(np.sign(u[mask]) != np.sign(g[mask])))


def rel_error(u, g) -> float:
    u, g = _flat(u), _flat(g)
    ng = np.linalg.norm(g)
    if ng > 0:
        return float(np.linalg.norm(u - g) / ng)
    return 0.0 if not np.any(u) else UNDEFINED


METRICS = {"cosine": cosine, "nrmse": nrmse, "sign_error": sign_error, "rel_error": rel_error}


def flatten(d: dict[str, np.ndarray], keys=None) -> np.ndarray:
    keys = list(d) if keys is None else keys
    return np.concatenate([_flat(d[k]) for k in keys]) if keys else np.zeros(0)


def compare(u: dict[str, np.ndarray], g: dict[str, np.ndarray]) -> dict:
    """{"params": {name: {metric: value}}, "global": {metric: value}} over the names in g."""
    missing = set(g) - set(u)
    if missing:
        raise KeyError(f"measured update lacks parameters {sorted(missing)}")
    keys = list(g)
    params = {k: {m: f(u[k], g[k]) for m, f in METRICS.items()} for k in keys}
    fu, fg = flatten(u, keys), flatten(g, keys)
    return {"params": params, "global": {m: f(fu, fg) for m, f in METRICS.items()}}


def repeat_stats(samples, expected, k: float = 4.0) -> dict:
    """Bias/variance of repeated updates `samples` (n, …) from one state against `expected` (…).

    An element passes when |mean − expected| ≤ k·σ/√n (σ the sample std); where σ = 0 the mean
    must equal the expectation to float tolerance."""
    s = np.asarray(samples, dtype=float)
    e = np.asarray(expected, dtype=float)
    n = s.shape[0]
    mean, std = s.mean(axis=0), s.std(axis=0, ddof=1) if n > 1 else np.zeros(s.shape[1:])
    bias = mean - e
    sem = std / np.sqrt(n)
    tol = 1e-9 * max(float(np.max(np.abs(e))), 1e-30)
    ok = np.where(sem > 0, np.abs(bias) <= k * sem, np.abs(bias) <= tol)
    z = np.where(sem > 0, np.abs(bias) / np.where(sem > 0, sem, 1.0), np.where(np.abs(bias) <= tol, 0.0, np.inf))
    return {"n": n, "k": k, "bias": bias, "std": std, "mean": mean, "z_max": float(np.max(z)) if z.size else 0.0,
            "pass_fraction": float(np.mean(ok)) if ok.size else 1.0, "passed": bool(np.all(ok))}
