"""What every mode needs: the backend, the graph, the data, the run's settings, and the sink that
logs each step (kept in memory too, for the summary and the plots)."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

from tqdm import tqdm

from neurophys.data import Split
from neurophys.ir.graph import Graph

from .jsonlog import JsonLines
from .measure import Measurement


@dataclass
class Context:
    backend: object
    graph: Graph
    split: Split
    steps: int
    seed: int
    log: JsonLines
    k: float = 4.0
    values: tuple[float, ...] = ()
    eval_every: int = 10
    show_progress: bool = True
    audit: float | None = None  # fraction of the parameters read back per step (None: all of them)
    full_every: int = 10        # with audit: a full read every N steps (and on the first and last)
    records: list[dict] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)

    def add(self, record: dict, measurement: Measurement) -> None:
        self.records.append(record)
        self.measurements.append(measurement)
        self.log.write(record)

    def progress(self, n: int, desc: str):
        return tqdm(range(n), desc=desc, unit="step", file=sys.stderr, disable=None if self.show_progress else True)
