"""`train`: learning curves on the backend and on the twin. The twin starts from the backend's
measured initial θ and takes the reference engine's steps on the same batches, so the two curves
differ only by what the backend does differently. Both are evaluated (free phase only) every
`eval_every` steps and after the last; with `audit`, steps read back a sample of the parameters."""
from __future__ import annotations

import time

from neurophys import invariants
from neurophys.blas import small_matrices
from neurophys.families import family
from neurophys.ir.graph import Graph
from neurophys.train import apply_update

from ..audit import AuditedSteps
from ..batches import batches
from ..context import Context
from ..evaluate import evaluate
from ..measure import at, measure_step


def train(ctx: Context, graph: Graph | None = None, tag: dict | None = None) -> dict:
    graph = graph or ctx.graph
    fam, kind = family(graph), graph.cost.kind
    resume = ctx.resume if tag is None else None
    twin = at(graph, resume.twin if resume else ctx.backend.get_params())
    twin_start = resume.twin_start if resume else invariants.invariant(twin)
    start = resume.step if resume else 0
    data = batches(ctx.split, graph.training.batch_size, ctx.seed)
    for _ in range(start):  # the batches the steps before a resume saw
        next(data)
    desc = f"hil train {graph.name}" + "".join(f" {k}={v:g}" for k, v in (tag or {}).items())
    audited = (AuditedSteps(ctx.backend, graph, ctx.audit, ctx.full_every, ctx.seed, ctx.steps)
               if ctx.audit is not None else None)
    twin_eval = None
    with small_matrices():
        for i in ctx.progress(ctx.steps, desc, start):
            x, y = next(data)
            m = audited.step(i, x, y) if audited else measure_step(ctx.backend, graph, x, y)
            apply_update(twin, fam.local_update(twin, x, y))
            record = {"step": i, **(tag or {}), **m.record}
            if (i + 1) % ctx.eval_every == 0 or i == ctx.steps - 1:
                t0 = time.perf_counter()
                twin_eval = evaluate(lambda xs: fam.outputs(twin, xs), ctx.split, kind)
                record["backend"] = evaluate(ctx.backend.outputs, ctx.split, kind)
                record["twin"] = {**twin_eval, "invariant": invariants.invariant(twin)}
                record["time_s"]["wall"]["eval"] = time.perf_counter() - t0
            ctx.add(record, m)
            if "backend" in record and ctx.checkpoint is not None and tag is None:
                ctx.checkpoint(i + 1, ctx.backend.get_params(), twin.params(), twin_start)
    return {"twin": {"loss": twin_eval["loss"], "train_accuracy": twin_eval["accuracy"]["train"],
                     "test_accuracy": twin_eval["accuracy"]["test"],
                     "invariant_drift": invariants.relative_drift(twin_start, invariants.invariant(twin))}}
