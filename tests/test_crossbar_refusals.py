"""Graphs the crossbar cannot host are refused at compile time with UnsupportedGraph naming the
part and the reason."""
from dataclasses import replace

import pytest

from neurophys.backends.crossbar import CrossbarBackend
from neurophys.backend import UnsupportedGraph
from neurophys.ir import Dataset
from neurophys.ir.builders import feedforward, layered_ep, lse_network, resistor_network


def compile_on(graph, rows=16, cols=16):
    with CrossbarBackend(board=f"emu://?model=ideal&rows={rows}&cols={cols}") as b:
        b.compile(graph)


def test_more_nodes_than_lines():
    g = resistor_network(20, 3, 0)   # 20 inputs + ground on one side: 21 lines
    with pytest.raises(UnsupportedGraph) as e:
        compile_on(g)
    assert e.value.path == "populations" and "21 + 3 lines" in str(e.value) and "16x16" in str(e.value)
    compile_on(g, rows=21, cols=3)   # and it fits a board that is big enough


def test_non_bipartite_edges():
    g = resistor_network(2, 1, 0, edges=[("in", 0, "out", 0), ("in", 1, "out", 0), ("in", 0, "in", 1)])
    with pytest.raises(UnsupportedGraph) as e:
        compile_on(g)
    assert e.value.path.startswith("couplings[") and "not bipartite" in str(e.value)


def test_lse_population():
    g = lse_network([4, 3], dataset=Dataset("iris"))
    with pytest.raises(UnsupportedGraph) as e:
        compile_on(g)
    assert e.value.path == "rule.family" and "'lse'" in str(e.value)


def test_unsupported_family_and_estimator():
    with pytest.raises(UnsupportedGraph) as e:
        compile_on(layered_ep([2, 4, 2], dataset=Dataset("xor")))
    assert e.value.path == "rule.family"
    g = resistor_network(4, 2, 0, family="circuit_ep", beta=1e-3)
    g.rule = replace(g.rule, estimator="symmetric")
    with pytest.raises(UnsupportedGraph) as e:
        compile_on(g)
    assert e.value.path == "rule.estimator"


def test_feedforward_too_wide_for_the_board():
    g = feedforward([4, 12, 3], dataset=Dataset("iris"))  # 2·(12 + 3) = 30 columns
    with pytest.raises(UnsupportedGraph) as e:
        compile_on(g)
    assert e.value.path == "couplings" and "30 columns" in str(e.value)
    assert CrossbarBackend.board_shape(g) == (13, 30)
