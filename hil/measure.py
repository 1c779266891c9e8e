"""One measured step: read θ, let the backend learn, read θ′, and hold u = θ′ − θ against what the
digital twin says it should have been *at the θ the backend actually had* (not at the θ the host
asked for: on hardware the two differ, and only the measured one makes the comparison fair)."""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np

from neurophys import invariants, metrics
from neurophys.families import family
from neurophys.train import clipped_update
from neurophys.gradcheck import reference
from neurophys.ir.errors import ValidationError
from neurophys.ir.graph import Graph


@dataclass
class Measurement:
    record: dict                 # JSON-ready: metrics, vs_task, reference_rel_error, invariant, time_s
    u: dict[str, np.ndarray]     # measured update θ′ − θ
    g: dict[str, np.ndarray]     # −lr·dL/dθ at the measured θ, for the cost the rule descends
    theta: dict[str, np.ndarray]  # the measured θ before the step
    bounded: dict[str, np.ndarray]  # g clipped to the bounds and the target's range, as the twin applies it


def at(graph: Graph, params: dict[str, np.ndarray]) -> Graph:
    """A twin of `graph` carrying the given (measured) parameters. Its couplings' edge lists are the
    graph's own arrays (the topology is shared, never written), so a twin of a large net is cheap."""
    twin = copy.deepcopy(graph, {id(c.edges): c.edges for c in graph.couplings if c.edges is not None})
    twin.set_params(params)
    return twin


def time_split(backend, before: dict, wall: float) -> dict:
    """The step's real wall time by where it went (host: the backend outside board commands; board:
    inside them — on a pty that is the emulator; the twin is added by the caller) beside the time the
    link and device models say a real board would take (bytes at the baud rate, reported execution)."""
    now = backend.timing
    board = now.get("board", 0.0) - before.get("board", 0.0)
    return {"wall": {"host": max(0.0, wall - board), "board": board},
            "modelled": {"link": now["link"] - before["link"], "device": now["device"] - before["device"]}}


@dataclass
class BoardStep:
    """What the backend did in one step: θ before and after (as read back), the update it returned."""
    theta: dict[str, np.ndarray]
    returned: dict[str, np.ndarray]
    theta_after: dict[str, np.ndarray]
    time_s: dict


def step_on_board(backend, x: np.ndarray, y: np.ndarray) -> BoardStep:
    before, t0 = dict(backend.timing), time.perf_counter()
    theta = backend.get_params()
    returned = backend.step(x, y)
    theta_after = backend.get_params()
    return BoardStep(theta, returned, theta_after, time_split(backend, before, time.perf_counter() - t0))


def against_twin(backend, graph: Graph, x: np.ndarray, y: np.ndarray, s: BoardStep) -> Measurement:
    """The twin's side of a step: its exact gradient and rule at the measured θ, and the metrics."""
    theta, returned, theta_after, time_s = s.theta, s.returned, s.theta_after, s.time_s
    t0 = time.perf_counter()
    graph = getattr(backend, "twin_graph", lambda g: g)(graph)  # the board as it is (e.g. devices on unused lines)
    twin = at(graph, theta)
    cost, g = reference(twin, x, y)
    missing = sorted(set(g) - set(returned))
    if missing:
        raise ValidationError("backend.step", f"{backend.name!r} returned no update for {', '.join(missing)}")
    u = {k: theta_after[k] - theta[k] for k in g}
    record = {"cost": cost, **metrics.compare(u, g)}
    if cost != "task":  # the rule descends another cost: report the task too (DESIGN §4)
        record["vs_task"] = metrics.compare(u, reference(twin, x, y, "task")[1])
    # the gradient step and what the reference engine would apply at the same θ, both clipped to the
    # bounds and to the range the target can hold: a device at its floor cannot follow the gradient
    limits = backend.limits()
    bounded = clipped_update(twin, g, limits)
    record["vs_bounded"] = metrics.compare(u, bounded)
    ref = clipped_update(twin, family(twin).local_update(twin, x, y), limits)
    record["reference_rel_error"] = metrics.rel_error_of(u, ref)
    inv_before, inv_after = invariants.invariant(twin), invariants.invariant(twin, theta_after)
    record["invariant"] = None if inv_before is None else {
        "before": inv_before, "after": inv_after, "drift": invariants.relative_drift(inv_before, inv_after)}
    time_s["wall"]["twin"] = time.perf_counter() - t0
    record["time_s"] = time_s
    return Measurement(record, u, g, theta, bounded)


def measure_step(backend, graph: Graph, x: np.ndarray, y: np.ndarray) -> Measurement:
    return against_twin(backend, graph, x, y, step_on_board(backend, x, y))
