"""Graphs too big for the target or for this machine's memory are refused before any work starts:
exit 2, one line naming the size and the limit (or the estimate), nothing created."""
import os

import pytest

from neurophys import footprint, ir
from neurophys.cli import main
from neurophys.ir import builders
from neurophys.ir.dataset import Dataset


def test_a_graph_bigger_than_any_crossbar_names_its_size_and_the_limit(tmp_path, capsys):
    g = builders.feedforward([19, 2490], name="wide")  # needs 20 rows and 2·2490 columns
    ir.save(g, tmp_path / "wide.json")
    out = tmp_path / "run"
    assert main(["hil", str(tmp_path / "wide.json"), "--backend", "crossbar", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == ("error: graph: 'wide' needs a 20x4980 crossbar; the largest board has 1024 lines a side "
                   "(split the graph or use another backend)\n")
    assert not out.exists()


def dense_circuit(n_inputs=40, n_outputs=30, dataset=None):
    return builders.resistor_network(n_inputs, n_outputs, family="coupled_learning", dataset=dataset)


def test_the_estimate_counts_the_dense_matrices():
    g = dense_circuit()
    n = 40 + 30 + 1  # inputs, outputs, ground
    est = footprint.estimate(g)
    assert est["dense_nodes"] == n
    assert est["bytes"] == footprint.DENSE_COPIES * 8 * n * n + footprint.PARAM_COPIES * est["parameter_bytes"]
    footprint.check(g, limit=est["bytes"])
    with pytest.raises(ir.ValidationError, match=r"needs at least 234 KiB of memory \(4 dense 71x71 circuit matrices\)"):
        footprint.check(g, limit=est["bytes"] - 1)


def test_a_graph_too_big_for_memory_is_refused_before_work_with_the_estimate(tmp_path, monkeypatch, capsys):
    ir.save(dense_circuit(4, 3, Dataset("iris")), tmp_path / "g.json")  # iris has 4 features
    monkeypatch.setenv("NEUROPHYS_MEMORY", "1K")  # a run capped at 1 KiB: nothing fits
    for cmd in (["hil", str(tmp_path / "g.json"), "--out", str(tmp_path / "run")],
                ["train", str(tmp_path / "g.json"), "--save", str(tmp_path / "t.json")],
                ["gradcheck", str(tmp_path / "g.json")]):
        assert main(cmd) == 2
        assert capsys.readouterr().err == ("error: graph: 'circuit' needs at least 2.94 KiB of memory (4 dense 8x8 "
                                           "circuit matrices); 1 KiB available\n")
    assert sorted(os.listdir(tmp_path)) == ["g.json"]
    monkeypatch.setenv("NEUROPHYS_MEMORY", "lots")
    assert main(["gradcheck", str(tmp_path / "g.json")]) == 2
    assert capsys.readouterr().err == "error: NEUROPHYS_MEMORY: 'lots' is not a size (e.g. 512M, 8G)\n"
