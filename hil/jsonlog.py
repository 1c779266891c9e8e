"""log.jsonl: one standard-JSON object per step (non-finite values are null)."""
from __future__ import annotations

from pathlib import Path

from neurophys.standard_json import dumps


class JsonLines:
    """One JSON object per line, flushed per record so a crashed run still leaves its log;
    `append` continues a resumed run's log."""

    def __init__(self, path: Path, append: bool = False):
        self._f = open(path, "a" if append else "w", encoding="utf-8")

    def write(self, record: dict) -> None:
        self._f.write(dumps(record) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
