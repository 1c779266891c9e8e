"""PNG plots of a run (matplotlib, Agg: no display needed): agreement per step, measured vs exact
scatter, learning curves backend vs twin, invariant drift, and the sweep / stat views."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

from . import windows  # noqa: E402
from .context import Context  # noqa: E402

FLOOR = 1e-17      # log axes: exact agreement (error 0) is drawn at this floor
MAX_POINTS = 20000  # scatter: subsample beyond this many elements


def _save(fig, out: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


def agreement(ctx: Context, out: Path) -> str:
    steps = np.arange(len(ctx.records))
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric, fn, label in ((a, "cosine", lambda v: 1.0 - v, "1 − cosine"), (b, "rel_error", lambda v: v, "relative error")):
        for name in ctx.records[0]["params"]:
            ax.plot(steps, [max(fn(r["params"][name][metric]), FLOOR) for r in ctx.records], lw=0.8, alpha=0.7, label=name)
        ax.plot(steps, [max(fn(r["global"][metric]), FLOOR) for r in ctx.records], "k", lw=2, label="global")
        ax.plot(steps, [max(fn(r["vs_bounded"]["global"][metric]), FLOOR) for r in ctx.records], "k:", lw=1.5,
                label="global vs the step clipped to the bounds")
        ax.set(yscale="log", xlabel="step", ylabel=label, title=f"{label}: measured update vs −lr·∇({ctx.records[0]['cost']})")
    if ctx.audit is None:
        _windowed(ctx, a)
    a.legend(fontsize=7)
    b.legend(fontsize=7)
    return _save(fig, out, "agreement.png")


def _windowed(ctx: Context, ax) -> None:
    """Cumulative-update cosine over windows of K steps (hil/windows.py), at each window's last step."""
    for K, style in ((10, "C3o-"), (50, "C4s-")):
        rows = [(i, c) for i, c in windows.windowed_cosines(ctx.backend, ctx.measurements, ctx.backend.limits(),
                                                            (K,))[K] if c is not None]
        if rows:
            ax.plot([i for i, _ in rows], [max(1.0 - c, FLOOR) for _, c in rows], style, ms=3, lw=1,
                    label=f"Σ over {K} steps vs bounded, healthy devices")


def scatter(ctx: Context, out: Path) -> str:
    fig, ax = plt.subplots(figsize=(5.5, 5))
    rng = np.random.default_rng(0)
    lo, hi = np.inf, -np.inf
    names = list(ctx.measurements[0].g)
    for name in names:
        u = np.concatenate([np.ravel(m.u[name]) for m in ctx.measurements])
        g = np.concatenate([np.ravel(m.g[name]) for m in ctx.measurements])
        if u.size > MAX_POINTS // len(names):
            idx = rng.choice(u.size, MAX_POINTS // len(names), replace=False)
            u, g = u[idx], g[idx]
        ax.scatter(g, u, s=4, alpha=0.5, label=name)
        lo, hi = min(lo, g.min(), u.min()), max(hi, g.max(), u.max())
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="u = g")
    ax.set(xlabel="exact −lr·dL/dθ (twin, at measured θ)", ylabel="measured u = θ′ − θ", title="update, measured vs exact")
    ax.legend(fontsize=7, markerscale=3)
    return _save(fig, out, "scatter.png")


def curves(ctx: Context, out: Path) -> str | None:
    evals = [(i, r) for i, r in enumerate(ctx.records) if "backend" in r]
    if not evals:
        return None
    steps = [i for i, _ in evals]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key in ((a, "loss"), (b, "accuracy")):
        for who, style in (("backend", "-"), ("twin", "--")):
            for part in ("train", "test"):
                ys = [r[who][key][part] for _, r in evals]
                ax.plot(steps, [np.nan if v is None else v for v in ys], style, label=f"{who} {part}")
        ax.set(xlabel="step", ylabel=key, title=f"{key}: {ctx.backend.name} vs twin")
        ax.legend(fontsize=7)
    return _save(fig, out, "curves.png")


def invariant(ctx: Context, out: Path) -> str | None:
    inv = [(i, r["invariant"]["after"]) for i, r in enumerate(ctx.records) if r["invariant"] is not None]
    if not inv:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([i for i, _ in inv], [v for _, v in inv], label=ctx.backend.name)
    twin = [(i, r["twin"]["invariant"]) for i, r in enumerate(ctx.records) if "twin" in r]
    if twin:
        ax.plot([i for i, _ in twin], [v for _, v in twin], "--", label="twin")
    ax.set(xlabel="step", ylabel="Σ∫f/f′ (Σk²/2 for linear)", title="circuit invariant")
    ax.legend(fontsize=7)
    return _save(fig, out, "invariant.png")


def sweep(summary: dict, out: Path) -> str | None:
    if not summary["sweep"]:
        return None
    res, param = summary["sweep"]["results"], summary["sweep"]["parameter"]
    v = [r["value"] for r in res]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric, fn, worst, label in ((a, "cosine", lambda x: 1.0 - x, "min", "1 − cosine"),
                                         (b, "rel_error", lambda x: x, "max", "relative error")):
        ax.plot(v, [max(fn(r[metric]["median"]), FLOOR) for r in res], "o-", label="median step")
        ax.plot(v, [max(fn(r[metric][worst]), FLOOR) for r in res], "x:", label="worst step")
        ax.set(xscale="log", yscale="log", xlabel=param, ylabel=label, title=f"{label} vs {param}")
        ax.legend(fontsize=7)
    return _save(fig, out, "sweep.png")


def stat(summary: dict, z: np.ndarray | None, out: Path) -> str | None:
    """Histogram of |mean(u) − E[u]| / (σ/√n) over the devices with σ > 0; the test passes left of k."""
    if summary["stat"] is None:
        return None
    s = summary["stat"]
    fig, ax = plt.subplots(figsize=(6, 4))
    finite = z[np.isfinite(z)]
    if finite.size:
        ax.hist(finite, bins=40)
    ax.axvline(s["k"], color="r", ls="--", label=f"k = {s['k']:g}")
    ax.set(xlabel="|mean(u) − E[u]| / (σ/√n)", ylabel="devices",
           title=f"n={s['n']}: {finite.size} devices with σ > 0, {z.size - finite.size} with σ = 0; "
                 f"pass {s['pass_fraction']:.3f}")
    ax.title.set_fontsize(8)
    ax.legend(fontsize=7)
    return _save(fig, out, "stat.png")


def write_all(ctx: Context, summary: dict, mode_result: dict, out: Path) -> list[str]:
    made = [agreement(ctx, out), scatter(ctx, out), curves(ctx, out), invariant(ctx, out), sweep(summary, out),
            stat(summary, mode_result.get("z"), out)]
    return [m for m in made if m]
