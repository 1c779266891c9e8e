"""`run`: one HIL session — compile, run a mode, then write log.jsonl, summary.json and the plots."""
from __future__ import annotations

import time
from pathlib import Path

from neurophys.data import load_split
from neurophys.ir.errors import ValidationError
from neurophys.ir.graph import Graph

from . import plots
from .context import Context
from .evaluate import evaluate
from .jsonlog import JsonLines, dumps
from .modes import MODES
from .summary import summarize


def default_out(graph: Graph, backend_name: str) -> Path:
    return Path("runs") / f"hil-{graph.name}-{backend_name}-{time.strftime('%Y%m%d-%H%M%S')}"


def _check(mode: str, steps, k, eval_every, values, audit=None, full_every=10) -> None:
    if mode not in MODES:
        raise ValidationError("mode", f"{mode!r} is not a mode (expected one of {', '.join(MODES)})")
    for name, v in (("steps", steps), ("eval_every", eval_every)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValidationError(name, f"{v!r} must be a positive integer")
    if mode == "stat" and steps < 2:
        raise ValidationError("steps", f"stat mode needs at least 2 repeats to estimate a spread, got {steps}")
    if not k > 0:
        raise ValidationError("k", f"{k!r} must be positive")
    if values and mode != "sweep":
        raise ValidationError("values", "only the sweep mode takes values")
    if audit is not None and (mode != "train" or not 0 < audit <= 1):
        raise ValidationError("audit", f"{audit!r}: a fraction in (0, 1] of the parameters, in train mode only")
    if isinstance(full_every, bool) or not isinstance(full_every, int) or full_every <= 0:
        raise ValidationError("full_every", f"{full_every!r} must be a positive integer")


def run(graph: Graph, backend, mode: str = "train", steps: int = 20, out: str | Path | None = None, *,
        values=(), k: float = 4.0, eval_every: int = 10, seed: int | None = None, progress: bool = True,
        audit: float | None = None, full_every: int = 10) -> dict:
    """Run `mode` for `steps` steps (stat: repeats; sweep: steps per value) on an open backend and
    return the summary; everything is also written to `out` (default runs/hil-<graph>-<backend>-<time>/)."""
    _check(mode, steps, k, eval_every, values, audit, full_every)
    if graph.dataset is None:
        raise ValidationError("dataset", "the HIL harness needs a dataset to draw batches from")
    split = load_split(graph.dataset)
    out = Path(out) if out is not None else default_out(graph, backend.name)
    if out.exists() and not out.is_dir():
        raise ValidationError("out", f"{out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    backend.compile(graph)
    with JsonLines(out / "log.jsonl") as log:
        ctx = Context(backend, graph, split, steps, graph.training.seed if seed is None else seed, log, k,
                      tuple(values), eval_every, progress, audit=audit, full_every=full_every)
        result = MODES[mode](ctx)
    summary = summarize(ctx, mode, result, evaluate(backend.outputs, split, graph.cost.kind))
    summary["out"] = str(out)
    summary["plots"] = plots.write_all(ctx, summary, result, out)
    (out / "summary.json").write_text(dumps(summary, indent=2) + "\n", encoding="utf-8")
    if getattr(backend, "calibration", None) is not None:  # per-device measurement, beside the summary's digest
        (out / "calibration.json").write_text(dumps(backend.calibration.to_dict()) + "\n", encoding="utf-8")
    return summary
