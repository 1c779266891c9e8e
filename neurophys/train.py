"""Training with the reference engine: minibatch steps of the graph's own local rule."""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import costs
from .data import Split, load_split
from .families import family
from .ir.errors import ValidationError
from .ir.graph import Graph


def _clipped(graph: Graph, update: dict[str, np.ndarray], limits) -> dict[str, np.ndarray]:
    """θ + Δθ clipped to each coupling's bounds (conductances never below 0) and to `limits`."""
    params = graph.params()
    bounds = {c.name: c.bounds for c in graph.couplings}
    floor = {c.name: 0.0 for c in graph.couplings if c.kind == "conductance"}
    new = {}
    for k, du in update.items():
        p = params[k]
        lo, hi = bounds.get(k) or (floor.get(k, -np.inf), np.inf)
        lo = max(lo, floor.get(k, -np.inf))
        lim_lo, lim_hi = (limits or {}).get(k, (-np.inf, np.inf))
        v = p + du
        if p.size == 0 or (p.min() >= lim_lo and p.max() <= lim_hi):  # the usual case: two scalar bounds
            new[k] = np.clip(v, max(lo, lim_lo), min(hi, lim_hi), out=v)
        else:  # a target's range never pulls a value that already lies outside it (device-to-device spread)
            new[k] = np.clip(v, np.maximum(lo, np.minimum(lim_lo, p)), np.minimum(hi, np.maximum(lim_hi, p)), out=v)
    return new


def clipped_update(graph: Graph, update: dict[str, np.ndarray],
                   limits: dict[str, tuple[float, float]] | None = None) -> dict[str, np.ndarray]:
    """The update `apply_update` would apply, without changing the graph (a twin compares with it)."""
    params = graph.params()
    new = _clipped(graph, update, limits)
    for k, v in new.items():
        v -= params[k]  # the clipped values are fresh arrays: made the update in place
    return new


def apply_update(graph: Graph, update: dict[str, np.ndarray],
                 limits: dict[str, tuple[float, float]] | None = None) -> dict[str, np.ndarray]:
    """θ ← θ + Δθ, clipped to each coupling's bounds (conductances never below 0) and to
    `limits` (a target's narrower range, by parameter name). Returns the update actually applied."""
    new = _clipped(graph, update, limits)
    params = graph.params()
    applied = {k: v - params[k] for k, v in new.items()}
    graph.set_params(new)
    return applied


def accuracy(graph: Graph, x: np.ndarray, labels: np.ndarray) -> float:
    if len(x) == 0:
        return float("nan")
    out = family(graph).outputs(graph, x)
    return float(np.mean(costs.predict(graph.cost.kind, out) == labels))


def train(graph: Graph, epochs: int | None = None, split: Split | None = None,
          progress: Callable[[int], None] | None = None,
          on_epoch: Callable[[dict], None] | None = None) -> list[dict]:
    """Train in place; returns one record per epoch (loss, train/test accuracy). `progress(1)` is
    called after each batch and `on_epoch(record)` after each epoch, so a caller can show either."""
    if graph.dataset is None and split is None:
        raise ValidationError("dataset", "the graph has no dataset to train on")
    split = split or load_split(graph.dataset)
    epochs = epochs or graph.training.epochs
    fam = family(graph)
    rng = np.random.default_rng(graph.training.seed)
    bs = graph.training.batch_size
    history = []
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(split.x_train))
        for start in range(0, len(order), bs):
            idx = order[start:start + bs]
            apply_update(graph, fam.local_update(graph, split.x_train[idx], split.y_train[idx]))
            if progress:
                progress(1)
        out = fam.outputs(graph, split.x_train)
        history.append({
            "epoch": epoch,
            "loss": float(np.mean(costs.value(graph.cost.kind, out, split.y_train))),
            "train_accuracy": float(np.mean(costs.predict(graph.cost.kind, out) == split.labels_train)),
            "test_accuracy": accuracy(graph, split.x_test, split.labels_test),
        })
        if on_epoch:
            on_epoch(history[-1])
    return history


def batches_per_epoch(graph: Graph, split: Split) -> int:
    return -(-len(split.x_train) // graph.training.batch_size)
