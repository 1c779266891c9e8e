"""Agreement over windows of steps: the cumulative measured update Σu over K consecutive steps
against the twin's cumulative bounded gradient steps, over the devices that can follow it.

A pulsed device moves in whole steps, so one step's update of about one pulse per device is
mostly rounding: its per-step cosine with the gradient stays well below 1 even on perfect
devices. What training needs is that the updates *add up* to the gradient's direction, which the
cosine of the sums over K steps measures (K = 1 is the per-step number). Devices that cannot follow
a gradient are left out: stuck ones, and those within 5 % of their range from a bound (where
soft-bounds steps vanish) — as the board's calibration marks them when it has one.
"""
from __future__ import annotations

import numpy as np

from neurophys.metrics import flatten

WINDOWS = (1, 10, 50)
MARGIN = 0.05  # fraction of the range next to a bound where a device is not counted as healthy


def healthy(backend, theta: dict, limits: dict) -> dict:
    """Per parameter element: the backend's own verdict where it has one (calibrated devices), else
    not within MARGIN of its range from either limit."""
    own = getattr(backend, "healthy", None)
    if own is not None:
        verdict = own(theta)
        if verdict is not None:
            return verdict
    out = {}
    for name, value in theta.items():
        lo, hi = limits.get(name, (-np.inf, np.inf))
        if np.isfinite(lo) and np.isfinite(hi):
            m = MARGIN * (hi - lo)
            out[name] = (value > lo + m) & (value < hi - m)
        else:
            out[name] = np.ones(np.shape(value), bool)
    return out


def _cosine(a: np.ndarray, b: np.ndarray) -> float | None:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else None


def _windows(backend, measurements, limits: dict, K: int):
    """(last step, Σu, Σ bounded step) per run of K consecutive steps, healthy devices at its start only."""
    names = list(measurements[0].g) if measurements else []
    for start in range(0, len(measurements) - K + 1, K):
        block = measurements[start:start + K]
        mask = flatten(healthy(backend, block[0].theta, limits), names).astype(bool)
        u = sum(flatten(m.u, names) for m in block)
        b = sum(flatten(m.bounded, names) for m in block)
        yield start + K - 1, u[mask], b[mask]


def windowed_cosines(backend, measurements, limits: dict, windows=WINDOWS) -> dict[int, list]:
    """For each K: (last step of the window, cosine) per run of K consecutive steps."""
    return {K: [(i, _cosine(u, b)) for i, u, b in _windows(backend, measurements, limits, K)] for K in windows}


def pooled_cosine(backend, measurements, limits: dict, K: int) -> float | None:
    """One cosine over all K-step windows side by side: windows weigh by the size of their update, so a
    converged stretch where the gradient is small does not count as much as learning does."""
    parts = list(_windows(backend, measurements, limits, K))
    if not parts:
        return None
    return _cosine(np.concatenate([u for _, u, _ in parts]), np.concatenate([b for _, _, b in parts]))


def summary(backend, measurements, limits: dict, windows=WINDOWS) -> dict:
    """summary.json's `windowed_cosine`: per K the cosine's spread over the windows."""
    out = {}
    for K, rows in windowed_cosines(backend, measurements, limits, windows).items():
        v = np.array([c for _, c in rows if c is not None], float)
        out[f"K={K}"] = (None if not v.size else
                         {"windows": int(v.size), "median": float(np.median(v)), "mean": float(v.mean()),
                          "min": float(v.min()), "max": float(v.max()),
                          "pooled": pooled_cosine(backend, measurements, limits, K)})
    healthy_now = healthy(backend, measurements[-1].theta, limits) if measurements else {}
    out["devices"] = {"healthy_at_end": int(sum(np.sum(v) for v in healthy_now.values())),
                      "of": int(sum(np.size(v) for v in healthy_now.values()))}
    out["note"] = ("cosine of the summed measured update over K consecutive steps with the summed gradient steps "
                   "clipped to the bounds, over the devices healthy at each window's start (not stuck, not within "
                   f"{MARGIN:.0%} of their range from a bound)")
    return out
