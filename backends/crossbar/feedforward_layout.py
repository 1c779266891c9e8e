"""A feed-forward graph on the crossbar: one tile per coupling, signed weights as differential pairs.

Tile of coupling W[dst, src]: the source units on rows (shared by every tile, from row 0), the
destination units on a column pair each (G+ at column 2j, G− at 2j+1), tiles side by side. One
extra row, driven at the unit input, carries the destination's bias in the tile of its first
incoming coupling. Tiles share rows safely because every MVM drives only its own tile's rows and
reads only its columns (undriven rows sit at 0 V), MVM_T drives only its own columns, and
UPDATE_OUTER puts zeros on every other line.

With Tiki-Taka (`fast=True`) a second block of rows below the window holds the fast array A: the
same tiles, row for row (sources, then the bias row) from `fast_row0`, on the same columns. The
weights' MVMs leave those rows at 0 V, and UPDATE_OUTER onto A leaves the weights' rows at 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurophys.backend import UnsupportedGraph
from neurophys.ir.graph import Graph


@dataclass
class Tile:
    coupling: str
    src: str
    dst: str
    n_src: int
    n_dst: int
    col0: int            # first column of the tile (2·n_dst columns)
    bias: str | None     # "<dst>.bias" carried on the bias row of this tile, or None

    @property
    def cols(self) -> slice:
        return slice(self.col0, self.col0 + 2 * self.n_dst)


@dataclass
class FeedforwardLayout:
    rows: int
    cols: int
    bias_row: int
    tiles: list[Tile]
    window: tuple[int, int]
    fast_row0: int | None = None  # first row of Tiki-Taka's fast array A (None: no A)

    def report(self) -> dict:
        return {"kind": "feed-forward tiles, signed weights as differential pairs (G+ − G−)",
                "board": [self.rows, self.cols], "window": list(self.window), "bias_row": self.bias_row,
                "fast_rows": None if self.fast_row0 is None else [self.fast_row0, self.fast_row0 + self.window[0]],
                "tiles": {t.coupling: {"rows": [0, t.n_src], "cols": [t.col0, t.col0 + 2 * t.n_dst],
                                       "bias": t.bias} for t in self.tiles}}


def _check(graph: Graph) -> None:
    for i, p in enumerate(graph.populations):
        if p.kind not in ("input", "rate"):
            raise UnsupportedGraph(f"populations[{i}]", f"{p.name!r} is a {p.kind!r} population; the crossbar's "
                                   "feed-forward mode hosts input and rate populations (activations on the host)")
    for i, c in enumerate(graph.couplings):
        if c.kind != "dense":
            raise UnsupportedGraph(f"couplings[{i}]", f"{c.name!r} is {c.kind!r}; feed-forward tiles hold dense weights")
        if c.parametrisation == "log":
            raise UnsupportedGraph(f"couplings[{i}].parametrisation", f"{c.name!r}: a differential pair holds a "
                                   "signed weight, not a log-parametrised one")
        if not c.trainable:
            raise UnsupportedGraph(f"couplings[{i}].trainable", f"{c.name!r} is frozen; every tile is trained by "
                                   "UPDATE_OUTER")
    for i, p in enumerate(graph.populations):
        if p.bias is not None and not p.trainable_bias:
            raise UnsupportedGraph(f"populations[{i}].trainable_bias", f"{p.name!r} has a frozen bias; biases live "
                                   "on trained devices of the bias row")


def _tiles(graph: Graph) -> list[Tile]:
    _check(graph)
    size = {p.name: p.size for p in graph.populations}
    biased = {p.name for p in graph.populations if p.bias is not None}
    tiles, col = [], 0
    for c in graph.couplings:
        bias = f"{c.dst}.bias" if c.dst in biased else None
        biased.discard(c.dst)
        tiles.append(Tile(c.name, c.src, c.dst, size[c.src], size[c.dst], col, bias))
        col += 2 * size[c.dst]
    if biased:
        name = sorted(biased)[0]
        i = [p.name for p in graph.populations].index(name)
        raise UnsupportedGraph(f"populations[{i}].bias", f"{name!r} has a bias but no incoming coupling to put it on")
    return tiles


def _window(tiles: list[Tile]) -> tuple[int, int]:
    return max(t.n_src for t in tiles) + 1, sum(2 * t.n_dst for t in tiles)


def shape(graph: Graph, fast: bool = False) -> tuple[int, int]:
    need_r, need_c = _window(_tiles(graph))
    return need_r * (2 if fast else 1), need_c


def layout(graph: Graph, rows: int, cols: int, fast: bool = False) -> FeedforwardLayout:
    tiles = _tiles(graph)
    need_r, need_c = _window(tiles)
    if need_r * (2 if fast else 1) > rows or need_c > cols:
        raise UnsupportedGraph("couplings", f"the tiles need {need_r} rows (largest source + a bias row)"
                               f"{f', twice over for the fast array A' if fast else ''} and {need_c} columns (two "
                               f"per destination unit); this board is {rows}x{cols}")
    return FeedforwardLayout(rows, cols, need_r - 1, tiles, (need_r, need_c), need_r if fast else None)
