"""PNG plots of a run (matplotlib, Agg: no display needed): agreement per step, measured vs exact
scatter, learning curves backend vs twin, invariant drift, and the sweep / stat views."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

from neurophys import invariants  # noqa: E402
from neurophys.atomic import replacing  # noqa: E402

from . import windows  # noqa: E402
from .context import Context  # noqa: E402

FLOOR = 1e-17      # log axes: exact agreement (error 0) is drawn at this floor
MAX_POINTS = 20000  # scatter: subsample beyond this many elements


def _save(fig, out: Path, name: str) -> str:
    fig.tight_layout()
    with replacing(out / name, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)
    return name


def agreement(ctx: Context, out: Path) -> str:
    return _save(agreement_figure(ctx), out, "agreement.png")


def agreement_figure(ctx: Context):
    """Per parameter in its own colour over a wide grey band for the global value: where one
    parameter dominates the global one (k_in_out in the demo) both stay visible."""
    steps = np.arange(1, len(ctx.records) + 1)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric, fn, label in ((a, "cosine", lambda v: 1.0 - v, "1 − cosine"), (b, "rel_error", lambda v: v, "relative error")):
        ax.plot(steps, [max(fn(r["global"][metric]), FLOOR) for r in ctx.records], color="0.75", lw=5,
                solid_capstyle="butt", zorder=1, label="global (all parameters)")
        for n, name in enumerate(ctx.records[0]["params"]):
            ax.plot(steps, [max(fn(r["params"][name][metric]), FLOOR) for r in ctx.records], color=f"C{n % 10}",
                    lw=1, zorder=2, label=name)
        ax.plot(steps, [max(fn(r["vs_bounded"]["global"][metric]), FLOOR) for r in ctx.records], "k:", lw=1.5,
                zorder=3, label="global vs the step clipped to the bounds")
        ax.set(yscale="log", xlabel="step", ylabel=label, title=f"{label}: measured update vs −lr·∇({ctx.records[0]['cost']})")
        if ax is a and ctx.audit is None:
            _windowed(ctx, a)
        ax.legend(fontsize=7)
    return fig


def _windowed(ctx: Context, ax) -> None:
    """Cumulative-update cosine over windows of K steps (hil/windows.py), at each window's last step."""
    for K, style in ((10, "C3o-"), (50, "C4s-")):
        rows = [(i, c) for i, c in windows.windowed_cosines(ctx.backend, ctx.measurements, ctx.backend.limits(),
                                                            (K,))[K] if c is not None]
        if rows:
            ax.plot([i + 1 for i, _ in rows], [max(1.0 - c, FLOOR) for _, c in rows], style, ms=3, lw=1,
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
    fig = curves_figure(ctx)
    return _save(fig, out, "curves.png") if fig else None


def curves_figure(ctx: Context):
    evals = [(i, r) for i, r in enumerate(ctx.records) if "backend" in r]
    if not evals:
        return None
    steps = [i + 1 for i, _ in evals]  # after that step, as in agreement.png
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key in ((a, "loss"), (b, "accuracy")):
        for who, style in (("backend", "-"), ("twin", "--")):
            for part in ("train", "test"):
                ys = [r[who][key][part] for _, r in evals]
                ax.plot(steps, [np.nan if v is None else v for v in ys], style, label=f"{who} {part}")
        ax.set(xlabel="step", ylabel=key, title=f"{key}: {ctx.backend.name} vs twin, evaluated every {ctx.eval_every} steps")
        ax.legend(fontsize=7)
    return fig


def invariant(ctx: Context, out: Path) -> str | None:
    fig = invariant_figure(ctx)
    return _save(fig, out, "invariant.png") if fig else None


def invariant_figure(ctx: Context):
    """The quantity exact gradient flow keeps constant, after each step (step 0: the start both
    curves share); the twin is only evaluated every `eval_every` steps, so it is drawn as points."""
    inv = [(i + 1, r["invariant"]["after"]) for i, r in enumerate(ctx.records) if r["invariant"] is not None]
    if not inv:
        return None
    start = next(r["invariant"]["before"] for r in ctx.records if r["invariant"] is not None)
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.plot([0] + [i for i, _ in inv], [start] + [v for _, v in inv], label=f"{ctx.backend.name} (after every step)")
    twin = [(i + 1, r["twin"]["invariant"]) for i, r in enumerate(ctx.records) if "twin" in r]
    if twin:
        ax.plot([0] + [i for i, _ in twin], [start] + [v for _, v in twin], "o--", ms=4,
                label=f"twin (reference engine, same start): evaluated every {ctx.eval_every} steps")
    ax.set(xlabel="step", ylabel="conserved quantity of the conductances",
           title=f"conserved quantity = {invariants.formula(ctx.graph)}\nconstant under exact gradient flow; finite "
                 "steps, clipping to a device's range and noise make it drift")
    ax.title.set_fontsize(8)
    ax.legend(fontsize=7)
    return fig


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
