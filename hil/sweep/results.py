"""sweep.json and sweep.csv: one row per run — the grid values, the summary's headline metrics,
then status and times — written atomically, so a reader never sees half a table."""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from ..jsonlog import dumps

# headline metric -> where it is in summary.json (the medians over steps for the agreement metrics)
HEADLINE = {"cosine": ("cosine", "median"), "rel_error": ("rel_error", "median"), "nrmse": ("nrmse", "median"),
            "sign_error": ("sign_error", "median"), "train_loss": ("loss", "train"), "test_loss": ("loss", "test"),
            "train_accuracy": ("train_accuracy",), "test_accuracy": ("test_accuracy",)}
TIMES = ("started", "wall_s", "attempts", "host")


def headline(summary: dict | None) -> dict:
    out = {}
    for name, path in HEADLINE.items():
        v = summary
        for key in path:
            v = v.get(key) if isinstance(v, dict) else None
        out[name] = v
    return out


def row(config, status: str, summary: dict | None = None, result: dict | None = None, attempts: int = 0,
        fingerprint: str = "") -> dict:
    result = result or {}
    started = result.get("started")
    return {"name": config.name, "values": config.values, "status": status, "metrics": headline(summary),
            "error": result.get("error"), "attempts": attempts, "host": result.get("host"),
            "started": None if started is None else datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
            "wall_s": result.get("wall_s"), "reused": False, "fingerprint": fingerprint}


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def previous_rows(out: Path) -> dict:
    """The rows of an earlier sweep.json in `out`, by run name ({} when there is none)."""
    try:
        return {r["name"]: r for r in json.loads((out / "sweep.json").read_text(encoding="utf-8"))["runs"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def write(out: Path, spec, rows: list[dict], about: dict) -> None:
    _atomic_write(out / "sweep.json", dumps({"spec": str(spec.path), "grid": spec.grid, **about, "runs": rows},
                                            indent=2) + "\n")
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow([*spec.grid, *HEADLINE, *TIMES, "status", "folder", "error"])
    for r in rows:
        w.writerow([*(r["values"][k] for k in spec.grid), *(r["metrics"][m] for m in HEADLINE),
                    *(r[t] for t in TIMES), r["status"], r["name"], r["error"] or ""])
    _atomic_write(out / "sweep.csv", text.getvalue())
