"""Agreement between a measured update u and the reference g = −lr·dL/dθ, per parameter and global.

NRMSE follows Laborieux et al.: √mean(u−g)² / max(√mean u², √mean g²), so it is 0 for a perfect
match, 1 for u = 0, and 2 for u = −g. Over repeated trials from one state, `repeat_stats` gives
bias and spread and the test |mean(u) − E[u]| ≤ k·σ/√n per element (aihwkit's pattern).

Where the exact gradient is zero and the update is not, cosine, sign error and relative error
have no value: they are NaN (UNDEFINED), written as null in JSON and counted apart in summaries,
never read as "cosine 0" or folded into a median.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

_TINY = 1e-300
UNDEFINED = float("nan")  # a metric with no value for this pair (zero exact gradient)


def _flat(a) -> np.ndarray:
    return np.ravel(np.asarray(a, dtype=float))


class _Sums(NamedTuple):
    """What every metric is a function of; sums over elements, so the global metrics of several
    parameters come from the per-parameter sums (no concatenation, no second pass)."""

    n: int
    uu: float
    gg: float
    ug: float
    dd: float          # Σ(u − g)² (see _sums: no cancellation when u ≈ g)
    nonzero: int       # elements with g ≠ 0
    agree: int         # … of which sign(u) = sign(g)
    u_nonzero: int     # elements with u ≠ 0

    def __add__(self, other):
        return _Sums(*(a + b for a, b in zip(self, other)))


CANCELLATION = 1e-4  # below this fraction of Σu² + Σg², Σ(u − g)² is summed from the difference itself


def _sums(u, g, signs: bool = True) -> _Sums:
    """Σ(u − g)² as Σu² − 2Σug + Σg² (no array for the difference) unless that cancels: where it is
    below CANCELLATION·(Σu² + Σg²) — u ≈ g, where rel_error and nrmse are small and must stay
    exact — it is summed from u − g. Above it the relative error is at most ~3nε/CANCELLATION.
    `signs=False` leaves the sign counts 0 and counts u ≠ 0 only where g is 0 (all rel_error needs)."""
    u, g = _flat(u), _flat(g)
    uu, gg, ug = float(u @ u), float(g @ g), float(u @ g)
    dd = uu - 2.0 * ug + gg
    if not dd > CANCELLATION * (uu + gg):  # (also NaN and inf: the direct sum says what they are)
        d = u - g
        dd = float(d @ d)
    if not signs:
        return _Sums(u.size, uu, gg, ug, dd, 0, 0, int(np.count_nonzero(u != 0)) if gg == 0 else 0)
    nonzero_g, nonzero_u = int(np.count_nonzero(g != 0)), int(np.count_nonzero(u != 0))  # (10× faster than
    if nonzero_g == nonzero_u == u.size and np.isfinite(uu + gg):  # count_nonzero of floats) no 0, NaN, inf:
        agree = u.size - np.count_nonzero(np.signbit(u) ^ np.signbit(g))  # the sign bits say it
    else:
        agree = np.count_nonzero((u > 0) & (g > 0)) + np.count_nonzero((u < 0) & (g < 0))
    return _Sums(u.size, uu, gg, ug, dd, nonzero_g, int(agree), nonzero_u)


def _cosine(s: _Sums) -> float:
    if s.gg == 0.0:
        return 1.0 if s.uu == 0.0 else UNDEFINED
    return float(s.ug / max(np.sqrt(s.uu) * np.sqrt(s.gg), _TINY))


def _nrmse(s: _Sums) -> float:
    scale = np.sqrt(max(s.uu, s.gg) / max(s.n, 1))
    return 0.0 if scale == 0.0 else float(np.sqrt(s.dd / s.n) / scale)


def _sign_error(s: _Sums) -> float:
    """Fraction of elements whose sign disagrees (elements where g is exactly 0 are skipped)."""
    if not s.nonzero:
        return 0.0 if not s.u_nonzero else UNDEFINED
    return (s.nonzero - s.agree) / s.nonzero


def _rel_error(s: _Sums) -> float:
    if s.gg > 0:
        return float(np.sqrt(s.dd) / np.sqrt(s.gg))
    return UNDEFINED if s.u_nonzero else 0.0


_FROM_SUMS = {"cosine": _cosine, "nrmse": _nrmse, "sign_error": _sign_error, "rel_error": _rel_error}


def cosine(u, g) -> float:
    return _cosine(_sums(u, g))


def nrmse(u, g) -> float:
    return _nrmse(_sums(u, g))


def sign_error(u, g) -> float:
    """Fraction of elements whose sign disagrees (elements where g is exactly 0 are skipped)."""
    return _sign_error(_sums(u, g))


def rel_error(u, g) -> float:
    return _rel_error(_sums(u, g))


METRICS = {"cosine": cosine, "nrmse": nrmse, "sign_error": sign_error, "rel_error": rel_error}


def agreement(u, g) -> dict[str, float]:
    """Every metric of METRICS at once, from one pass of sums."""
    return _values(_sums(u, g))


def _values(s: _Sums) -> dict[str, float]:
    return {m: f(s) for m, f in _FROM_SUMS.items()}


def flatten(d: dict[str, np.ndarray], keys=None) -> np.ndarray:
    keys = list(d) if keys is None else keys
    return np.concatenate([_flat(d[k]) for k in keys]) if keys else np.zeros(0)


def compare(u: dict[str, np.ndarray], g: dict[str, np.ndarray]) -> dict:
    """{"params": {name: {metric: value}}, "global": {metric: value}} over the names in g."""
    missing = set(g) - set(u)
    if missing:
        raise KeyError(f"measured update lacks parameters {sorted(missing)}")
    sums = {k: _sums(u[k], g[k]) for k in g}
    total = sum(sums.values(), _Sums(0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0))
    return {"params": {k: _values(s) for k, s in sums.items()}, "global": _values(total)}


def rel_error_of(u: dict[str, np.ndarray], g: dict[str, np.ndarray]) -> float:
    """‖u − g‖/‖g‖ over the names in g (compare's global rel_error, without the other metrics)."""
    return _rel_error(sum((_sums(u[k], g[k], signs=False) for k in g), _Sums(0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0)))


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
