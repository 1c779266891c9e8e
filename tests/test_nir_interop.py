"""NIR interop: lossless round trip of learning graphs; graphs written with nir's own API import and run."""
import numpy as np
import pytest

nir = pytest.importorskip("nir")

from fd_oracle import fd_gradient, rel  # noqa: E402
from neurophys.cli import main  # noqa: E402
from neurophys.families import family, least_action  # noqa: E402
from neurophys.interop import nir as nx  # noqa: E402
from neurophys.ir import Dataset, Training, ValidationError, builders, graph_to_dict, load, save  # noqa: E402

GRAPHS = {
    "ep": lambda: builders.layered_ep([4, 5, 3], dataset=Dataset("iris"), training=Training(batch_size=8, epochs=3)),
    "least_action": lambda: builders.feedforward([3, 4, 2], activation="tanh"),
    "pc_alm": lambda: builders.pc_alm([3, 4, 4, 2], activation="tanh"),
    "holomorphic_ep": lambda: builders.holomorphic_ep([3, 4, 2], n_nudges=6),
    "stlp": lambda: builders.stlp_cycle(3, 4, 2),
}


@pytest.mark.parametrize("kind", sorted(GRAPHS))
def test_round_trip_is_lossless(tmp_path, kind):
    g = GRAPHS[kind]()
    g.couplings[0].bounds = (-5.0, 5.0)
    g.populations[1].metadata = {"note": "kept"}
    nx.export(g, tmp_path / "g.nir")
    back = nx.load(tmp_path / "g.nir")
    assert graph_to_dict(back) == graph_to_dict(g)


def test_nir_nodes_hold_the_inference_part(tmp_path):
    g = builders.feedforward([3, 4, 2], activation="tanh")
    nx.export(g, tmp_path / "g.nir")
    raw = nir.read(str(tmp_path / "g.nir"))
    assert isinstance(raw.nodes["x"], nir.Input) and isinstance(raw.nodes["W1"], nir.Affine)
    assert isinstance(raw.nodes["h1"], nir.LI) and isinstance(raw.nodes["output"], nir.Output)
    np.testing.assert_array_equal(raw.nodes["W2"].weight, g.coupling("W2").weight)
    assert raw.nodes["h1"].metadata["activation"] == "tanh"
    assert ("out", "output") in raw.edges


def test_graph_written_with_nir_api_imports_and_runs(tmp_path):
    rng = np.random.default_rng(0)
    W1, b1, W2 = rng.normal(size=(5, 3)), rng.normal(size=5), rng.normal(size=(2, 5))
    g = nir.NIRGraph(
        nodes={"inp": nir.Input(input_type={"input": np.array([3])}),
               "fc1": nir.Affine(weight=W1, bias=b1),
               "li1": nir.LI(tau=np.ones(5), r=np.ones(5), v_leak=np.zeros(5)),
               "fc2": nir.Linear(weight=W2),
               "li2": nir.LI(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2)),
               "out": nir.Output(output_type={"output": np.array([2])})},
        edges=[("inp", "fc1"), ("fc1", "li1"), ("li1", "fc2"), ("fc2", "li2"), ("li2", "out")])
    nir.write(str(tmp_path / "foreign.nir"), g)
    graph = nx.load(tmp_path / "foreign.nir")
    assert family(graph) is least_action and graph.cost.output == "li2"
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    np.testing.assert_allclose(least_action.outputs(graph, x), (x @ W1.T + b1) @ W2.T, rtol=1e-12)
    assert rel(least_action.exact_gradient(graph, x, y), fd_gradient(graph, x, y)) <= 1e-6
    u = least_action.local_update(graph, x, y)
    ref = {k: -graph.rule.lr * v for k, v in least_action.exact_gradient(graph, x, y).items()}
    assert rel(u, ref) <= 1e-12
    save(graph, tmp_path / "foreign.json")
    assert graph_to_dict(load(tmp_path / "foreign.json")) == graph_to_dict(graph)


def test_unmappable_things_are_named(tmp_path):
    with pytest.raises(ValidationError, match=r"^populations\[1\]\.kind: population 'out' is 'lse'"):
        nx.to_nir(builders.lse_network([3, 2]))
    with pytest.raises(ValidationError, match=r"^populations\[0\]\.kind: population 'in' is 'circuit_node'"):
        nx.to_nir(builders.resistor_network(2, 1, ground=False))
    lif = nir.NIRGraph(
        nodes={"inp": nir.Input(input_type={"input": np.array([2])}), "fc": nir.Linear(weight=np.ones((2, 2))),
               "lif1": nir.LIF(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2)),
               "out": nir.Output(output_type={"output": np.array([2])})},
        edges=[("inp", "fc"), ("fc", "lif1"), ("lif1", "out")])
    with pytest.raises(ValidationError, match=r"^nodes\.lif1: NIR node type LIF has no neurophys equivalent"):
        nx.from_nir(lif)
    leaky = nir.NIRGraph(
        nodes={"inp": nir.Input(input_type={"input": np.array([2])}), "fc": nir.Linear(weight=np.ones((2, 2))),
               "li": nir.LI(tau=np.ones(2), r=np.ones(2), v_leak=np.ones(2)),
               "out": nir.Output(output_type={"output": np.array([2])})},
        edges=[("inp", "fc"), ("fc", "li"), ("li", "out")])
    with pytest.raises(ValidationError, match=r"^nodes\.li: an LI node maps to a rate population only"):
        nx.from_nir(leaky)


def test_cli_export_import(tmp_path, capsys):
    g = builders.pc_alm([3, 4, 2])
    save(g, tmp_path / "g.json")
    assert main(["nir", "export", str(tmp_path / "g.json"), str(tmp_path / "g.nir")]) == 0
    assert main(["nir", "import", str(tmp_path / "g.nir"), str(tmp_path / "back.json")]) == 0
    assert graph_to_dict(load(tmp_path / "back.json")) == graph_to_dict(g)
    save(builders.lse_network([3, 2]), tmp_path / "lse.json")
    assert main(["nir", "export", str(tmp_path / "lse.json"), str(tmp_path / "lse.nir")]) == 2
    assert "error: populations[1].kind: population 'out' is 'lse'" in capsys.readouterr().err
    (tmp_path / "junk.nir").write_text("not hdf5")
    assert main(["nir", "import", str(tmp_path / "junk.nir"), str(tmp_path / "x.json")]) == 2
