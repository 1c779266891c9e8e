"""One configuration as one `neurophys hil` run — the very command a user would type — in a
scratch folder on whichever host runs it. Its files come back as bytes, so a run on another host
of a cluster lands in the sweep's folder exactly like a local one, and a folder appears there
only once its run has ended."""
from __future__ import annotations

import io
import json
import shutil
import socket
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from neurophys import ir

from ..jsonlog import dumps
from .spec import Configuration


def _error_line(stderr: str, rc: int) -> str:
    lines = [ln.strip() for ln in stderr.replace("\r", "\n").splitlines() if ln.strip()]
    errors = [ln.removeprefix("error: ") for ln in lines if ln.startswith("error")]
    return (errors or lines or [f"exit status {rc}"])[0]


def execute(config: Configuration) -> dict:
    """Run `config`; return {"error": None or one line, "files": {relative path: bytes}, "host",
    "started" (Unix time), "wall_s"}. Never raises for a failed run: the driver decides on retries."""
    from neurophys.cli import main

    started, t0 = time.time(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="neurophys-sweep-") as tmp:
        graph_file = ir.save(config.graph, Path(tmp) / "graph.json")
        out = Path(tmp) / "run"
        stderr = io.StringIO()
        try:
            with redirect_stdout(io.StringIO()), redirect_stderr(stderr):
                rc = main(["hil", str(graph_file), *config.argv, "--out", str(out)])
        except Exception as exc:  # a bug or an unexpected failure of one run must not end the sweep
            rc, stderr = 1, io.StringIO(f"error: {type(exc).__name__}: {exc}")
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 2
        if rc == 130:  # Ctrl-C inside the run: stop the sweep, not just this run
            raise KeyboardInterrupt
        files = {}
        if out.is_dir():
            files = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
            files.update({p.name: p.read_bytes() for p in Path(tmp).glob("graph.*")})  # what exactly ran
    return {"error": None if rc == 0 else _error_line(stderr.getvalue(), rc), "files": files,
            "host": socket.gethostname(), "started": started, "wall_s": time.perf_counter() - t0}


def place(files: dict, folder: Path) -> None:
    """Write a run's files as `folder`, replacing an unfinished one; summary.json's "out" names it."""
    staging = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    for rel, data in files.items():
        (staging / rel).parent.mkdir(parents=True, exist_ok=True)
        (staging / rel).write_bytes(data)
    summary = staging / "summary.json"
    if summary.exists():
        s = json.loads(summary.read_text(encoding="utf-8"))
        s["out"] = str(folder)
        summary.write_text(dumps(s, indent=2) + "\n", encoding="utf-8")
    if folder.exists():
        shutil.rmtree(folder)
    staging.rename(folder)


def completed(folder: Path) -> dict | None:
    """The summary of a run folder whose run completed (no status field: written by a harness that
    only writes a summary at the end), else None."""
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return summary if summary.get("status", "completed") == "completed" else None
