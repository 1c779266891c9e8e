"""The twin of a resistor network *as the board hosts it*: the graph plus every other device that
touches a line the network's current can reach.

A board larger than the graph has lines that carry no node. They float, and the devices where they
cross the network's lines (at g_min, never zero) join the network: an unused row ties the output
columns together, an unused column ties the driven rows to the unused rows. The board relaxes and
learns on that larger network, so the twin that judges it must too. Those lines become hidden
populations and those devices frozen couplings at their read-back conductances; the graph's own
parameters, gradients and updates are unchanged in name and shape.
"""
from __future__ import annotations

import copy

import numpy as np

from neurophys.ir.coupling import Coupling
from neurophys.ir.graph import Graph
from neurophys.ir.population import Population

from .circuit_layout import CircuitLayout

FLOAT_ROWS, FLOAT_COLS = "board_free_rows", "board_free_cols"


def extra_devices(layout: CircuitLayout) -> bool:
    """Does the board have lines the graph does not use (so devices beyond the graph's edges conduct)?"""
    return bool(layout.parasitic_cells)


def twin_graph(graph: Graph, layout: CircuitLayout, g: np.ndarray, siemens_per_unit: float) -> Graph:
    """`graph` with the board's unused lines as hidden nodes and every device that is not an edge of
    the graph as a frozen conductance (g / s, IR units), `g` the whole array (R, C) in siemens."""
    R, C = layout.rows, layout.cols
    where = {}  # line → (population, index)
    for name, lines in layout.lines.items():
        for i, ln in enumerate(lines):
            where[int(ln)] = (name, i)
    free_rows = [r for r in range(R) if r not in where]
    free_cols = [R + c for c in range(C) if R + c not in where]
    for i, ln in enumerate(free_rows):
        where[ln] = (FLOAT_ROWS, i)
    for i, ln in enumerate(free_cols):
        where[ln] = (FLOAT_COLS, i)
    edge = np.zeros((R, C), bool)
    for r, c in layout.cells.values():
        edge[r, c] = True
    clamped = {p.name for p in graph.populations if p.role in ("input", "ground")}
    groups: dict[tuple[str, str], tuple[list, list]] = {}
    for r, c in zip(*np.nonzero(~edge)):
        (a, i), (b, j) = where[int(r)], where[R + int(c)]
        if a in clamped and b in clamped:
            continue  # between two held lines: carries current, changes no node
        if b in clamped:  # a clamped population only sends
            (a, i), (b, j) = (b, j), (a, i)
        pairs, values = groups.setdefault((a, b), ([], []))
        pairs.append((i, j))
        values.append(g[r, c] / siemens_per_unit)
    pops = list(copy.deepcopy(graph.populations))
    if free_rows:
        pops.append(Population(FLOAT_ROWS, len(free_rows), kind="circuit_node", role="hidden"))
    if free_cols:
        pops.append(Population(FLOAT_COLS, len(free_cols), kind="circuit_node", role="hidden"))
    extra = [Coupling(f"board_{a}_{b}", a, b, kind="conductance", edges=np.array(pairs, np.int64),
                      conductance=np.array(values), trainable=False)
             for (a, b), (pairs, values) in groups.items()]
    return Graph(pops, list(graph.couplings) + extra, graph.cost, graph.rule, graph.dataset, graph.training,
                 graph.name, graph.metadata)
