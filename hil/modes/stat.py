"""`stat`: program one state, repeat the step n times re-programming in between, and test
|mean(u) − E[u]| ≤ k·σ/√n per device. E[u] is the mean of the reference engine's updates at the
states the repeats measured (on hardware the programmed state is only approached: a device a step off, or stuck,
changes every activation), so a deterministic backend must reproduce it and a noisy one must be
unbiased. Parameters on devices the backend knows cannot follow (calibrated as stuck, or within 5 %
of a bound, where the repeat starts or where its step is to end: hil/windows.py) are reported but
not tested — a device the step itself carries to its bound cannot take the whole of it."""
from __future__ import annotations

import numpy as np

from neurophys import metrics
from neurophys.families import family
from neurophys.gradcheck import reference

from ..batches import batches
from ..context import Context
from ..measure import at, measure_step
from ..windows import healthy


def _brief(s: dict) -> dict:
    return {"passed": s["passed"], "pass_fraction": s["pass_fraction"], "z_max": s["z_max"],
            "bias_max": float(np.max(np.abs(s["bias"]), initial=0.0)), "std_max": float(np.max(s["std"], initial=0.0))}


def stat(ctx: Context) -> dict:
    graph = ctx.graph
    x, y = next(batches(ctx.split, graph.training.batch_size, ctx.seed))
    state = {k: v.copy() for k, v in graph.params().items()}
    keys = list(state)
    samples = {k: [] for k in keys}
    at_theta = {k: [] for k in keys}  # E[u] at each repeat's measured θ
    limits = ctx.backend.limits()
    tested = None
    for i in ctx.progress(ctx.steps, f"hil stat {graph.name}"):
        ctx.backend.set_params(state)
        m = measure_step(ctx.backend, graph, x, y)
        programmed = metrics.rel_error(metrics.flatten(m.theta, keys), metrics.flatten(state, keys))
        ctx.add({"step": i, "programming_error": programmed, **m.record}, m)
        twin = at(getattr(ctx.backend, "twin_graph", lambda g: g)(graph), m.theta)
        here = family(twin).local_update(twin, x, y)
        after = {k: m.theta[k] + here[k] for k in keys}  # where the step is to carry them
        ok = np.concatenate([metrics.flatten(healthy(ctx.backend, t, limits), keys) for t in (m.theta, after)])
        ok = ok.reshape(2, -1).all(axis=0)
        tested = ok if tested is None else tested & ok
        for k in keys:
            samples[k].append(m.u[k])
            at_theta[k].append(here[k])
    expected = {k: np.mean(at_theta[k], axis=0) for k in keys}
    flat = np.stack([np.concatenate([np.ravel(samples[k][i]) for k in keys]) for i in range(ctx.steps)])
    overall = metrics.repeat_stats(flat[:, tested], metrics.flatten(expected, keys)[tested], ctx.k)
    mean_u = {k: np.mean(samples[k], axis=0) for k in keys}
    sem = overall["std"] / np.sqrt(overall["n"])
    z = np.where(sem > 0, np.abs(overall["bias"]) / np.where(sem > 0, sem, 1.0), np.inf)  # inf: σ = 0
    return {"z": z, "stat": {"n": overall["n"], "k": ctx.k, **_brief(overall),
                     "tested": int(tested.sum()), "of": int(tested.size),
                     "params": {k: _brief(metrics.repeat_stats(np.array(samples[k]), expected[k], ctx.k)) for k in keys},
                     "mean_vs_reference_update": metrics.compare(mean_u, expected)["global"],
                     "mean_vs_exact": metrics.compare(mean_u, reference(graph, x, y)[1])["global"]}}
