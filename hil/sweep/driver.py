"""The sweep itself: submit every configuration whose folder holds no completed run, retry a
failed run up to N times, place each finished run's folder, and keep sweep.json/csv/png current
(also when the sweep is interrupted: what finished is recorded and reused next time)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from neurophys.ir.errors import ValidationError

from . import plot, results
from .run import completed, place
from .spec import Spec


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def reusable(spec: Spec, out: Path) -> dict:
    """name -> row of the runs in `out` that completed with the same settings. A completed run of
    other settings under the same name is refused: it would be neither reused nor overwritten."""
    before = results.previous_rows(out)
    reuse = {}
    for c in spec.configurations:
        summary = completed(out / c.name)
        if summary is None:
            continue
        old = before.get(c.name, {})
        if old.get("fingerprint", c.fingerprint) != c.fingerprint:
            raise ValidationError("out", f"{out / c.name} holds a completed run of other settings; "
                                         f"sweep into another folder")
        reuse[c.name] = {**results.row(c, "completed", summary, attempts=old.get("attempts", 0),
                                       fingerprint=c.fingerprint),
                         **{k: old.get(k) for k in ("host", "started", "wall_s")}, "reused": True}
    return reuse


def run_sweep(spec: Spec, out: Path, executor, done: dict, retries: int = 1, say=_say) -> list[dict]:
    """Run on `executor` the configurations not `done` (see reusable); return the rows in SPEC order,
    also written to out/sweep.*."""
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    rows = dict(done)
    todo = [c for c in spec.configurations if c.name not in rows]
    if rows:
        say(f"{len(rows)} of {len(spec.configurations)} runs already completed in {out}: skipped")
    say(f"{len(todo)} run{'s' * (len(todo) != 1)} on {executor.description}")
    pending = {executor.submit(c): (c, 1) for c in todo}
    try:
        while pending:
            handle, result = executor.next_done(pending)
            config, attempt = pending.pop(handle)
            if result["error"] and attempt <= retries:
                say(f"{config.name}: attempt {attempt} failed ({result['error']}); retrying")
                pending[executor.submit(config)] = (config, attempt + 1)
                continue
            if result["files"]:
                place(result["files"], out / config.name)
            summary = completed(out / config.name) if not result["error"] else None
            status = "completed" if summary is not None else "failed"
            if status == "failed" and not result["error"]:
                result = {**result, "error": "the run ended without a completed summary.json"}
            rows[config.name] = results.row(config, status, summary, result, attempt, config.fingerprint)
            wall = "" if result["wall_s"] is None else f" in {result['wall_s']:.1f} s"
            say(f"[{len(rows)}/{len(spec.configurations)}] {config.name}: {status}{wall}"
                + (f": {result['error']}" if result["error"] else ""))
    finally:
        ordered = [rows.get(c.name) or results.row(c, "not run", fingerprint=c.fingerprint)
                   for c in spec.configurations]
        about = {"executor": executor.description, "startup_s": executor.startup_s,
                 "wall_s": time.perf_counter() - t0}
        results.write(out, spec, ordered, about)
        plot.write(out, spec.grid, ordered)
    return ordered
