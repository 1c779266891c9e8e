"""summary.json: the run condensed to the numbers the issue asks for — each global metric's
spread over steps, the backend vs the reference engine, invariant drift, accuracy and time."""
from __future__ import annotations

import numpy as np

from neurophys import invariants
from neurophys.metrics import METRICS

from . import windows
from .context import Context


def spread(values) -> dict | None:
    """{min, median, max} over the steps where the metric has a finite value, and how many steps
    it has none (`undefined`: NaN/null, e.g. against a zero exact gradient, or ±inf) — counted,
    never folded in silently. None when there are no steps at all."""
    v = np.array([np.nan if x is None else x for x in values], dtype=float)
    if not v.size:
        return None
    defined = v[np.isfinite(v)]
    undefined = int(v.size - defined.size)
    if not defined.size:
        return {"min": None, "median": None, "max": None, "undefined": undefined}
    return {"min": float(defined.min()), "median": float(np.median(defined)), "max": float(defined.max()),
            "undefined": undefined}


def _invariant_drift(ctx: Context, mode: str, mode_result: dict) -> dict | None:
    inv = [r["invariant"] for r in ctx.records if r["invariant"] is not None]
    if not inv:
        return None
    out = {"per_step": spread([i["drift"] for i in inv]), "total": None, "twin_total": None}
    if mode == "train":  # only an uninterrupted run has a meaningful start-to-end drift
        out["total"] = invariants.relative_drift(inv[0]["before"], inv[-1]["after"])
        out["twin_total"] = (mode_result.get("twin") or {}).get("invariant_drift")
    return out


def time_split(recs: list[dict]) -> dict:
    """Seconds over the run: real wall time by where it went, beside the modelled link/device time."""
    out = {"wall": {}, "modelled": {}}
    for r in recs:
        for part, times in r["time_s"].items():
            for k, v in times.items():
                out[part][k] = out[part].get(k, 0.0) + float(v)
    out["note"] = ("wall: real seconds spent here (host: backend outside board commands; board: inside them, on a "
                   "pty the emulator; twin: the exact gradient and metrics; eval: learning curves); modelled: what "
                   "the link (bytes at the baud rate + latency) and the device (reported execution) would take on "
                   "the real board")
    return out


def audit_summary(ctx: Context) -> dict | None:
    """How the sampled audit went: how many steps were sampled, the modelled link time per step of
    sampled and full steps, and how often a sample's interval covered the exact value (full steps)."""
    audits = [r for r in ctx.records if "audit" in r]
    if not audits:
        return None
    sampled = [r for r in audits if not r["audit"]["full_read"]]
    full = [r for r in audits if r["audit"]["full_read"]]
    link = lambda rs: float(np.median([r["time_s"]["modelled"]["link"] for r in rs])) if rs else None
    cover = {part: {m: float(np.mean([r["audit"]["covered"][part][m] for r in full])) for m in METRICS}
             for part in ("global", "vs_bounded")} if full else None
    return {"fraction": ctx.audit, "full_every": ctx.full_every, "level": audits[0]["audit"]["level"],
            "sampled_per_step": audits[-1]["audit"]["sampled"], "parameters": audits[-1]["audit"]["of"],
            "sampled_steps": len(sampled), "full_steps": len(full),
            "link_s_per_step": {"sampled": link(sampled), "full": link(full)},
            "coverage_on_full_steps": cover,
            "note": "sampled steps: metrics estimated from the sample (point estimates in the per-step metrics, "
                    "intervals in each record's audit); full steps: exact, with the sample's interval checked"}


def undefined_per_parameter(recs: list[dict]) -> dict | None:
    """{parameter: {metric: steps where it had no value}} for the parameters that had such steps
    (a zero exact gradient for one coupling leaves the global metric defined)."""
    out = {}
    for name in recs[0]["params"]:
        counts = {m: sum(1 for r in recs if r["params"][name][m] is None or not np.isfinite(r["params"][name][m]))
                  for m in METRICS}
        if any(counts.values()):
            out[name] = {m: k for m, k in counts.items() if k}
    return out or None


def summarize(ctx: Context, mode: str, mode_result: dict, final: dict) -> dict:
    recs = ctx.records
    about = {"backend": ctx.backend.name, "board": ctx.backend.info(), "graph": ctx.graph.name,
             "family": ctx.graph.rule.family, "mode": mode, "steps": len(recs)}
    if not recs:  # stopped before its first step
        return {**about, "loss": final["loss"], "train_accuracy": final["accuracy"]["train"],
                "test_accuracy": final["accuracy"]["test"]}
    vs_task = [r["vs_task"]["global"] for r in recs if "vs_task" in r]
    vs_bounded = [r["vs_bounded"]["global"] for r in recs]
    ref = spread([r["reference_rel_error"] for r in recs])
    return {
        **about,
        "cost": recs[0]["cost"],
        **{m: spread([r["global"][m] for r in recs]) for m in METRICS},
        "vs_task": {m: spread([v[m] for v in vs_task]) for m in METRICS} if vs_task else None,
        "vs_bounded": {m: spread([v[m] for v in vs_bounded]) for m in METRICS},
        "undefined_per_parameter": undefined_per_parameter(recs),
        "limits": {k: list(v) for k, v in ctx.backend.limits().items()} or None,
        "last_step": {"params": recs[-1]["params"], "global": recs[-1]["global"]},
        "reference_rel_error": None if ref is None else {k: ref[k] for k in ("median", "max", "undefined")},
        "invariant_drift": _invariant_drift(ctx, mode, mode_result),
        "loss": final["loss"],
        "train_accuracy": final["accuracy"]["train"],
        "test_accuracy": final["accuracy"]["test"],
        "twin": mode_result.get("twin"),
        "stat": mode_result.get("stat"),
        "sweep": mode_result.get("sweep"),
        "audit": audit_summary(ctx),
        "windowed_cosine": (windows.summary(ctx.backend, ctx.measurements, ctx.backend.limits())
                            if mode == "train" and ctx.audit is None and ctx.measurements else None),
        "time_s": time_split(recs),
    }
