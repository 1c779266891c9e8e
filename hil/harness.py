"""`run`: one HIL session — check everything that can be checked, compile, claim the run folder,
run a mode, then write log.jsonl, summary.json and the plots, however the run ended."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from neurophys import footprint
from neurophys.data import load_split
from neurophys.ir.errors import ValidationError
from neurophys.ir.graph import Graph
from neurophys.ir.io import graph_to_dict
from neurophys.standard_json import dumps

from . import plots
from .context import Context
from .evaluate import evaluate
from .identity import GuardedBackend
from .jsonlog import JsonLines
from .modes import MODES
from .run_folder import LOG, SUMMARY, RunFolder, default_out
from .stop import GracefulStop, stop_on_signals
from .summary import summarize


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
        audit: float | None = None, full_every: int = 10, resume: bool = False, force: bool = False,
        command: dict | None = None, plot: bool = True) -> dict:
    """Run `mode` for `steps` steps (stat: repeats; sweep: steps per value) on an open backend and
    return the summary; everything is also written to `out` (default runs/hil-<graph>-<backend>-<time>/).

    An existing run in `out` is refused unless `resume` (continue it from its checkpoint; train
    only) or `force` (replace it); `command` adds what else defines the run (the board, the
    device model) to run.json, which a resume must match. A run stopped by a signal or
    ended by a board failure still writes its summary (status "interrupted" / "failed") and plots;
    the failure is then raised again. `plot=False` skips the PNGs (a scripted run that reads the JSON)."""
    _check(mode, steps, k, eval_every, values, audit, full_every)
    if graph.dataset is None:
        raise ValidationError("dataset", "the HIL harness needs a dataset to draw batches from")
    footprint.check(graph)
    split = load_split(graph.dataset)
    seed = graph.training.seed if seed is None else seed
    options = {"graph": graph_digest(graph), "backend": backend.name, "mode": mode, "steps": steps,
               "values": list(values), "k": k, "eval_every": eval_every, "seed": seed, "audit": audit,
               "full_every": full_every, **(command or {})}
    folder = RunFolder(out if out is not None else default_out(graph, backend.name), options, resume, force)
    # the last refusals that need no folder: a resumed run's board is not the one it left (uid, boot
    # count, state; an explicit --board only: the embedded emulator is a new board every time,
    # programmed from the checkpoint), the target cannot host the graph
    recorded = folder.identity() if folder.resume and (command or {}).get("board") else None
    backend = GuardedBackend(backend, recorded)  # and before every step: the board did not change under the run
    backend.compile(graph)
    folder.create()
    backend.on_record = folder.write_identity
    if folder.resume:
        backend.set_params(folder.resume.theta)
    ctx = Context(backend, graph, split, steps, seed, None, k, tuple(values), eval_every, progress, audit=audit,
                  full_every=full_every, resume=folder.resume, checkpoint=folder.write_checkpoint,
                  records=list(folder.resume.records) if folder.resume else [])
    status, failure, result = "completed", None, {}
    with JsonLines(folder.path / LOG, append=folder.resume is not None) as log, stop_on_signals(ctx.stop):
        ctx.log = log
        try:
            result = MODES[mode](ctx)
        except (GracefulStop, KeyboardInterrupt):
            status = "interrupted"
        except ValidationError as exc:
            if not ctx.records:  # a refusal from the mode itself, before any step: leave nothing
                log.close()
                folder.undo()
                raise
            status, failure = "failed", exc
        except Exception as exc:  # a board failure (PortError …) or a bug: keep what was measured
            status, failure = "failed", exc
    summary = _finish(ctx, mode, result, status, folder, plot)
    if failure is not None:
        raise failure
    return summary


def graph_digest(graph: Graph) -> str:
    """What identifies the graph a run started from (a resume must use the same one)."""
    arrays: dict = {}
    h = hashlib.sha256(json.dumps(graph_to_dict(graph, arrays), sort_keys=True, default=str).encode())
    for key in sorted(arrays):
        h.update(key.encode())
        h.update(arrays[key].tobytes())
    return "sha256:" + h.hexdigest()


def _finish(ctx: Context, mode: str, result: dict, status: str, folder: RunFolder, plot: bool) -> dict:
    """summary.json and the plots; a run that did not complete is summarised from what it measured,
    its final accuracy taken from the last evaluation (the target is not touched again)."""
    if status == "completed":
        final = evaluate(ctx.backend.outputs, ctx.split, ctx.graph.cost.kind)
    else:
        evals = [r["backend"] for r in ctx.records if "backend" in r]
        final = evals[-1] if evals else {"loss": None, "accuracy": {"train": None, "test": None}}
    summary = {"status": status, **summarize(ctx, mode, result, final)}
    summary["resumed_at"] = ctx.resume.step if ctx.resume else None
    summary["out"] = str(folder.path)
    summary["plots"] = plots.write_all(ctx, summary, result, folder.path) if plot and ctx.measurements else []
    folder.write_text(SUMMARY, dumps(summary, indent=2) + "\n")
    if getattr(ctx.backend, "calibration", None) is not None:  # per-device measurement, beside the summary's digest
        folder.write_text("calibration.json", dumps(ctx.backend.calibration.to_dict()) + "\n")
    return summary
