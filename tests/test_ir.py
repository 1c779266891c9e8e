"""The IR: validation at construction with field paths, strict lossless files, the validate CLI."""
import json
import subprocess
import sys

import numpy as np
import pytest

from neurophys import ir
from neurophys.ir import Coupling, Dataset, Population, Relaxation, Rule, ValidationError
from neurophys.ir.builders import feedforward, layered_ep, resistor_network


def ep_graph(**kw):
    return layered_ep([3, 4, 2], beta=0.1, **{"seed": 0, **kw})


def doc(graph):
    return ir.graph_to_dict(graph)


def rebuild(d):
    return ir.graph_from_dict(json.loads(json.dumps(d)))


@pytest.mark.parametrize("mutate, path, words", [
    (lambda d: d["couplings"][1].update(weight=np.zeros((3, 5)).tolist()), "couplings[1].weight",
     "shape (3, 5) does not match dst 'out' size 2 × src 'h1' size 4"),
    (lambda d: d["couplings"][0].update(src="nope"), "couplings[0].src", "dangling"),
    (lambda d: d["populations"][1].update(size=-3), "populations[1].size", "positive integer"),
    (lambda d: d["populations"][1].update(activation="softplus"), "populations[1].activation", "not one of"),
    (lambda d: d["rule"].update(beta=0.0), "rule.beta", "> 0"),
    (lambda d: d["rule"].update(beta=-1.0), "rule.beta", "> 0"),
    (lambda d: d["rule"]["relaxation"].update(method="rk4"), "rule.relaxation.method", "not one of"),
    (lambda d: d["populations"][1].update(colour="red"), "populations[1].colour", "unknown field"),
    (lambda d: d.update(extra=1), "extra", "unknown field"),
    (lambda d: d["cost"].update(output="h1"), "cost.output", "not 'output'"),
    (lambda d: d["populations"][1].update(bias=[0.0]), "populations[1].bias", "does not match size"),
    (lambda d: d["couplings"][0].update(weight=[[float("nan")] * 3] * 4), "couplings[0].weight", "NaN"),
    (lambda d: d.update(version=2), "version", "not supported"),
    (lambda d: d["populations"][1].update(name="x"), "populations[1].name", "already used"),
    (lambda d: d["couplings"][0].pop("weight"), "couplings[0].weight", "needs a weight"),
])
def test_malformed_documents_name_the_field(mutate, path, words):
    d = doc(ep_graph())
    mutate(d)
    with pytest.raises(ValidationError) as info:
        rebuild(d)
    assert str(info.value).startswith(path + ":"), str(info.value)
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)


def test_non_symmetric_lateral_weights_are_rejected():
    w = np.array([[0.0, 1.0], [0.5, 0.0]])
    with pytest.raises(ValidationError, match=r"^weight: .*W == W.T"):
        Coupling("L", "h", "h", weight=w)


def test_negative_conductance_is_rejected_with_its_index():
    g = resistor_network(2, 1, seed=0)
    d = doc(g)
    d["couplings"][0]["conductance"][1] = -0.5
    d["couplings"][0]["bounds"] = None
    with pytest.raises(ValidationError, match=r"^couplings\[0\]\.conductance\[1\]: -0.5 is below 0"):
        rebuild(d)


def test_edges_out_of_range_and_family_mismatch():
    d = doc(resistor_network(2, 1, seed=0))
    d["couplings"][0]["edges"][0] = [7, 0]
    with pytest.raises(ValidationError, match=r"^couplings\[0\]\.edges\[0\]: node index 7 is out of range"):
        rebuild(d)
    d = doc(ep_graph())
    d["rule"] = {"family": "coupled_learning", "eta": 0.1, "relaxation": {"method": "direct"}}
    with pytest.raises(ValidationError, match=r"^populations\[0\]\.kind: coupled_learning runs on resistor circuits"):
        rebuild(d)


def test_family_hyperparameters_are_checked():
    with pytest.raises(ValidationError, match="^beta: family 'ep' needs beta"):
        Rule("ep")
    with pytest.raises(ValidationError, match="^eta: family 'least_action' has no eta"):
        Rule("least_action", eta=0.1, relaxation=Relaxation("euler"))
    with pytest.raises(ValidationError, match="^relaxation.method: 'anderson' is not available for 'least_action'"):
        Rule("least_action", relaxation=Relaxation("anderson"))


def test_cycles_are_refused_for_least_action():
    g = feedforward([2, 3, 2], seed=0)
    d = doc(g)
    d["couplings"].append({"name": "back", "src": "out", "dst": "h1", "weight": np.zeros((3, 2)).tolist(),
                           "symmetric": False})
    with pytest.raises(ValidationError, match="^couplings: least action needs a feedforward"):
        rebuild(d)


def test_dataset_must_fit_the_populations():
    with pytest.raises(ValidationError, match="^dataset: 'iris' gives 4 inputs but input populations hold 3"):
        ep_graph(dataset=Dataset("iris"))


@pytest.mark.parametrize("graph", [
    layered_ep([64, 30, 10], seed=1, dataset=Dataset("digits")),
    resistor_network(16, 3, 4, seed=2, dataset=Dataset("iris", encoding="thermometer", levels=2, complement=True)),
    feedforward([5, 6, 3], seed=3),
], ids=["ep-with-npz", "circuit", "feedforward"])
def test_round_trip_is_lossless(tmp_path, graph):
    path = ir.save(graph, tmp_path / "g.json")
    back = ir.load(path)
    a, b = doc(graph), doc(back)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    for k, v in graph.params().items():
        assert np.array_equal(v, back.params()[k]) and v.dtype == back.params()[k].dtype
    has_npz = (tmp_path / "g.npz").exists()
    assert has_npz == any(v.size > ir.io.INLINE_MAX for v in graph.params().values())


def test_missing_npz_is_named(tmp_path):
    path = ir.save(layered_ep([64, 30, 10], seed=1), tmp_path / "g.json")
    (tmp_path / "g.npz").unlink()
    with pytest.raises(ValidationError, match=r"^couplings\[0\]\.weight: refers to .* sibling .npz file g.npz, which is missing"):
        ir.load(path)


def test_failed_save_leaves_previous_file(tmp_path, monkeypatch):
    good = ep_graph()
    path = ir.save(good, tmp_path / "g.json")
    before = path.read_text()

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(ir.io.json, "dumps", boom)
    with pytest.raises(OSError):
        ir.save(ep_graph(seed=5), path)
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.json"]


def test_set_params_checks_everything_before_writing():
    g = ep_graph()
    w0 = g.params()["W1"].copy()
    with pytest.raises(ValidationError, match=r"^params.W2: shape \(1, 1\) does not match"):
        g.set_params({"W1": np.ones_like(w0), "W2": np.ones((1, 1))})
    assert np.array_equal(g.params()["W1"], w0)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "neurophys.cli", *args], capture_output=True, text=True)


def test_validate_cli(tmp_path):
    good = ir.save(ep_graph(), tmp_path / "good.json")
    r = run_cli("validate", str(good))
    assert r.returncode == 0 and r.stdout.startswith("ok:")
    d = doc(ep_graph())
    d["couplings"][1]["weight"] = np.zeros((3, 5)).tolist()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(d))
    r = run_cli("validate", str(bad))
    assert r.returncode == 2
    assert r.stderr.strip() == ("error: couplings[1].weight: shape (3, 5) does not match dst 'out' size 2 × "
                                "src 'h1' size 4")
    assert "Traceback" not in r.stderr
    (tmp_path / "junk.json").write_text("{not json")
    r = run_cli("validate", str(tmp_path / "junk.json"))
    assert r.returncode == 2 and "not valid JSON" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("validate", str(tmp_path / "missing.json"))
    assert r.returncode == 2 and "file not found" in r.stderr
