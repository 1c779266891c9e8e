"""A resistor network on the crossbar: every node on a line, every edge on the device where its
two lines cross.

The crossbar's devices join row lines to column lines only, so the network must be bipartite:
nodes are 2-coloured (sources first, so inputs and ground land on one side) and each colour goes
on one side of the array. Lines that carry no node float. Every device that is not an edge stays
at g_min, and it is still a conductance: the layout counts those parasitic devices on lines that
matter so the report says how exact the hosting is.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from neurophys.backend import UnsupportedGraph
from neurophys.ir.graph import Graph

SOURCE_ROLES = ("input", "ground")


@dataclass
class CircuitLayout:
    rows: int
    cols: int
    lines: dict[str, np.ndarray]              # population → line index per node (rows 0..R-1, cols R..)
    cells: dict[str, tuple[np.ndarray, np.ndarray]]  # coupling → (row, col) per edge
    window: tuple[int, int]                   # rows/cols in use, from the origin
    driven: np.ndarray                        # input + ground lines, ascending (LOCAL_LEARN order)
    driven_input: np.ndarray                  # per driven line: input column of x, or -1 for ground
    outputs: np.ndarray                       # output lines in the output population's order
    parasitic_cells: int                      # devices at g_min touching a free line, not edges

    def report(self) -> dict:
        side = {p: ("rows" if int(v[0]) < self.rows else "cols") if len(v) else None for p, v in self.lines.items()}
        return {"kind": "resistor network on row/column lines", "board": [self.rows, self.cols],
                "window": list(self.window), "populations": side,
                "lines": {p: [int(a) for a in v] for p, v in self.lines.items()},
                "edges_on_cells": {c: len(rc[0]) for c, rc in self.cells.items()},
                "driven_lines": len(self.driven), "output_lines": [int(o) for o in self.outputs],
                "unused_lines": "float",
                "parasitic_cells": self.parasitic_cells,
                "parasitic_note": "devices at g_min that touch a floating line of the network but are no "
                                  "edge; they conduct and the board's rule trains them too (0 = exact hosting)"}


def _check(graph: Graph) -> None:
    for i, p in enumerate(graph.populations):
        if p.kind != "circuit_node":
            raise UnsupportedGraph(f"populations[{i}]", f"{p.name!r} is a {p.kind!r} population; the crossbar's "
                                   "resistor-network mode hosts circuit_node populations only")
    for i, c in enumerate(graph.couplings):
        if c.kind != "conductance":
            raise UnsupportedGraph(f"couplings[{i}]", f"{c.name!r} is {c.kind!r}; a resistor network needs conductance edges")
        if c.parametrisation != "linear":
            raise UnsupportedGraph(f"couplings[{i}].parametrisation", f"{c.name!r} is {c.parametrisation!r}; the "
                                   "board's rule updates the conductance itself (linear) only")
        if not c.trainable:
            raise UnsupportedGraph(f"couplings[{i}].trainable", f"{c.name!r} is frozen, but LOCAL_LEARN updates "
                                   "every device of the array")
    if graph.rule.family == "circuit_ep" and graph.rule.estimator != "one_sided":
        raise UnsupportedGraph("rule.estimator", f"{graph.rule.estimator!r}: the board nudges with a conductance "
                               "β > 0 toward the target, so only the one-sided estimator runs on it")


def _colour(graph: Graph) -> dict[tuple[str, int], int]:
    """2-colour the node graph, sources first; an odd cycle is refused, naming the edge that closes it."""
    nbrs: dict[tuple[str, int], list] = {}
    for ci, c in enumerate(graph.couplings):
        for e, (i, j) in enumerate(c.edges):
            u, v = (c.src, int(i)), (c.dst, int(j))
            if u == v:
                raise UnsupportedGraph(f"couplings[{ci}].edges[{e}]", f"{c.name!r} edge {e} joins node {u} to itself")
            nbrs.setdefault(u, []).append((v, ci, e))
            nbrs.setdefault(v, []).append((u, ci, e))
    order = [(p.name, i) for p in sorted(graph.populations, key=lambda p: p.role not in SOURCE_ROLES)
             for i in range(p.size)]
    colour: dict[tuple[str, int], int] = {}
    for start in order:
        if start in colour:
            continue
        colour[start] = 0
        todo = deque([start])
        while todo:
            u = todo.popleft()
            for v, ci, e in nbrs.get(u, []):
                if v not in colour:
                    colour[v] = 1 - colour[u]
                    todo.append(v)
                elif colour[v] == colour[u]:
                    c = graph.couplings[ci]
                    raise UnsupportedGraph(f"couplings[{ci}].edges[{e}]",
                                           f"{c.name!r} edge {u}–{v} closes an odd cycle: the network is not "
                                           "bipartite, and crossbar devices only join a row line to a column line")
    return colour


def sides(graph: Graph) -> tuple[list, list]:
    """The two node sets (sources' side first), each as (population, index) in graph order."""
    _check(graph)
    colour = _colour(graph)
    nodes = [(p.name, i) for p in graph.populations for i in range(p.size)]
    return [n for n in nodes if colour[n] == 0], [n for n in nodes if colour[n] == 1]


def shape(graph: Graph) -> tuple[int, int]:
    """The smallest board (rows, cols) that hosts the network: sources' side on the rows."""
    a, b = sides(graph)
    return max(len(a), 1), max(len(b), 1)


def layout(graph: Graph, rows: int, cols: int) -> CircuitLayout:
    a, b = sides(graph)
    if len(a) <= rows and len(b) <= cols:
        on_rows, on_cols = a, b
    elif len(b) <= rows and len(a) <= cols:
        on_rows, on_cols = b, a
    else:
        raise UnsupportedGraph("populations", f"the network's bipartition needs {len(a)} + {len(b)} lines "
                               f"(a {len(a)}x{len(b)} board or larger); this board is {rows}x{cols}")
    line = {n: r for r, n in enumerate(on_rows)} | {n: rows + c for c, n in enumerate(on_cols)}
    lines = {p.name: np.array([line[(p.name, i)] for i in range(p.size)], dtype=np.int64) for p in graph.populations}
    cells, used = {}, np.zeros((rows, cols), bool)
    for ci, c in enumerate(graph.couplings):
        lu, lv = lines[c.src][c.edges[:, 0]], lines[c.dst][c.edges[:, 1]]
        r, col = np.where(lu < rows, lu, lv), np.where(lu < rows, lv, lu) - rows
        for e, (i, j) in enumerate(zip(r, col)):
            if used[i, j]:
                raise UnsupportedGraph(f"couplings[{ci}].edges[{e}]", f"{c.name!r} edge {e} lands on device "
                                       f"({i}, {j}), which another edge already uses: parallel edges cannot share it")
            used[i, j] = True
        cells[c.name] = (r, col)
    roles = {p.name: p.role for p in graph.populations}
    input_col, off = {}, 0
    for p in graph.inputs:
        input_col[p.name] = off
        off += p.size
    driven, which = [], []
    for p in graph.populations:
        if roles[p.name] in SOURCE_ROLES:
            for i, ln in enumerate(lines[p.name]):
                driven.append(int(ln))
                which.append(input_col[p.name] + i if roles[p.name] == "input" else -1)
    order = np.argsort(driven)
    free = np.ones(rows + cols, bool)
    free[driven] = False
    in_use = np.zeros(rows + cols, bool)
    for v in lines.values():
        in_use[v] = True
    free &= in_use
    touches = free[:rows, None] | free[None, rows:]
    return CircuitLayout(rows, cols, lines, cells, (len(on_rows), len(on_cols)),
                         np.array(driven, dtype=np.int64)[order], np.array(which, dtype=np.int64)[order],
                         lines[graph.cost.output], int((touches & ~used).sum()))
