"""What every mode needs: the backend, the graph, the data, the run's settings, the sink that
logs each step (kept in memory too, for the summary and the plots), where a resumed run starts,
and how to stop between steps or save a checkpoint."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Callable

from tqdm import tqdm

from neurophys.data import Split
from neurophys.ir.graph import Graph

from .jsonlog import JsonLines
from .measure import Measurement
from .run_folder import ResumePoint
from .stop import StopRequest


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
    resume: ResumePoint | None = None  # train: continue after these steps
    checkpoint: Callable | None = None  # (steps done, target θ, twin θ, twin's start invariant) -> None
    stop: StopRequest = field(default_factory=StopRequest)

    def add(self, record: dict, measurement: Measurement) -> None:
        self.records.append(record)
        self.measurements.append(measurement)
        self.log.write(record)

    def progress(self, n: int, desc: str, start: int = 0):
        """Steps start..n-1 with a progress bar; a requested stop ends the run between two steps."""
        for i in tqdm(range(start, n), desc=desc, unit="step", file=sys.stderr, initial=start, total=n,
                      disable=None if self.show_progress else True):
            self.stop.check()
            yield i
