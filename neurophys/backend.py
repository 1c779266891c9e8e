"""The one interface every backend implements, and the registry that finds backends.

A backend compiles a graph once, then runs learning steps on batches and returns the update it
*applied*, measured on the target (θ′ − θ read back), not recomputed by the host. Backends are
found through the ``neurophys.backends`` entry-point group, so the core never imports one and a
third party can add their own.
"""
from __future__ import annotations

import abc
import time
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import ClassVar

import numpy as np

from .ir.errors import ValidationError
from .ir.graph import Graph


class UnsupportedGraph(ValidationError):
    """The backend cannot host this graph; the path names the population/coupling/rule."""


class Backend(abc.ABC):
    name: ClassVar[str] = ""
    families: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **options):
        self.options = options
        self.graph: Graph | None = None
        self.timing = {"host": 0.0, "link": 0.0, "device": 0.0}

    # -- lifecycle --------------------------------------------------------------------
    def compile(self, graph: Graph) -> None:
        """Check the graph is hostable (refusing with UnsupportedGraph) and build the target once."""
        if graph.rule.family not in self.families:
            raise UnsupportedGraph("rule.family", f"backend {self.name!r} runs {', '.join(self.families)}; not {graph.rule.family!r}")
        self.graph = graph.copy()
        self._build(self.graph)

    @abc.abstractmethod
    def _build(self, graph: Graph) -> None: ...

    @abc.abstractmethod
    def step(self, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        """Run one local learning step on the batch; return the applied update, measured."""

    @abc.abstractmethod
    def get_params(self) -> dict[str, np.ndarray]:
        """The parameters as they are on the target (read back)."""

    @abc.abstractmethod
    def set_params(self, params: dict[str, np.ndarray]) -> None:
        """Write parameters to the target."""

    @abc.abstractmethod
    def outputs(self, x: np.ndarray) -> np.ndarray:
        """Free-phase output states (B, n_out), for predictions."""

    def info(self) -> dict | None:
        """Target description (e.g. a board's HELLO), or None."""
        return None

    def identity(self) -> dict | None:
        """What makes this target *this* target (a board's uid, boot count, state digest), or None
        where there is nothing to tell apart. A run records it; resuming or continuing a run on a
        target whose identity changed underneath it is refused."""
        return None

    def limits(self) -> dict[str, tuple[float, float]]:
        """The range a parameter can hold on the target, in graph units, where the target is
        narrower than the graph's bounds (a device's conductance range); {} if it is not. The
        harness clips the twin's updates to it, so a device at its floor is not counted as error."""
        return {}

    def close(self) -> None:
        """Stop and free everything the backend started."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @contextmanager
    def timed(self, part: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timing[part] += time.perf_counter() - t0


def available() -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group="neurophys.backends")}


def get_backend(name: str) -> type[Backend]:
    eps = available()
    if name not in eps:
        raise ValidationError("backend", f"{name!r} is not installed (have {', '.join(sorted(eps)) or 'none'})")
    try:
        return eps[name].load()
    except ImportError as exc:
        from .plugins import install_hint

        hint = install_hint(eps[name]) or "is everything it imports installed?"
        raise ValidationError("backend", f"{name!r} cannot be loaded: {exc} ({hint})") from None
