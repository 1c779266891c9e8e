"""NIR spiking files as producers write them: import, the reference engine against hand-written
loops (NIR's reference implementation, each producer's update), round trips, the CLI."""
import warnings

import h5py
import numpy as np
import pytest

nir = pytest.importorskip("nir")

from neurophys.cli import main  # noqa: E402
from neurophys.interop import conventions, nir_spiking  # noqa: E402
from neurophys.ir import ValidationError  # noqa: E402
from neurophys.ir.maps import Affine, Input, Scale, Threshold  # noqa: E402
from neurophys.ir.neurons import Neurons  # noqa: E402
from neurophys.ir.spiking_network import SpikingNetwork  # noqa: E402
from neurophys.physics.spiking import simulate  # noqa: E402

RNG = np.random.default_rng(7)


def write(tmp_path, graph, name="g.nir"):
    path = tmp_path / name
    nir.write(str(path), graph)
    return path


def load(path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = nir_spiking.load(path)
    return net, [str(w.message) for w in caught]


# ------------------------------------------------------------------ fixtures as producers write them
def snntorch_leaky(n_in=4, n=5, beta=0.9, dt=1e-4):
    """snnTorch export_nir.py for Linear → Leaky with a scalar β: τ = dt/(1−β), r = τ/dt, one value
    each (made 0-d in the file by `write_leaky`); Input typed [1 n_in] (the sample's batch axis)."""
    tau = np.array([dt / (1 - beta)])
    return nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([1, n_in])}),
                               "fc": nir.Affine(weight=RNG.normal(size=(n, n_in)), bias=RNG.normal(size=n) * 0.1),
                               "lif": nir.LIF(tau=tau, r=tau / dt, v_leak=np.zeros(1),
                                              v_threshold=np.ones(1), v_reset=np.zeros(1)),
                               "output": nir.Output(output_type={"output": np.array([1, n])})},
                        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")], type_check=False)


def write_leaky(tmp_path, zero_d=("tau", "r", "v_leak", "v_threshold", "v_reset")):
    """nir 1.0.8 cannot write 0-d datasets (it compresses them), so they are rewritten with h5py,
    as older nir versions stored snnTorch's 0-d tensors."""
    path = write(tmp_path, snntorch_leaky())
    with h5py.File(path, "r+") as f:
        for key in zero_d:
            value = f[f"node/nodes/lif/{key}"][()]
            del f[f"node/nodes/lif/{key}"]
            f[f"node/nodes/lif/{key}"] = value[0]
    return path


def rsynaptic_subgraph(n_in=3, n=6, dt=1e-4):
    """snnTorch RSynaptic: a nested NIRGraph with a recurrent Linear, then a CubaLI readout (r ≠ 1)."""
    alpha, beta = 0.8, 0.9
    ts, tm = dt / (1 - alpha), dt / (1 - beta)
    cell = nir.CubaLIF(tau_syn=np.full(n, ts), tau_mem=np.full(n, tm), r=np.full(n, tm / dt), v_leak=np.zeros(n),
                       v_threshold=np.ones(n), v_reset=np.zeros(n), w_in=np.full(n, ts / dt))
    sub = nir.NIRGraph(nodes={"input": nir.Input(input_type=[n]), "lif": cell,
                              "w_rec": nir.Linear(weight=RNG.normal(size=(n, n)) * 0.3),
                              "output": nir.Output(output_type=[n])},
                       edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")])
    return nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([n_in])}),
                               "fc1": nir.Linear(weight=RNG.normal(size=(n, n_in)) * 2),
                               "rlif": sub,
                               "fc2": nir.Affine(weight=RNG.normal(size=(2, n)), bias=np.zeros(2)),
                               "li": nir.CubaLI(tau_syn=np.full(2, 2e-3), tau_mem=np.full(2, 5e-3), r=np.full(2, 3.0),
                                                v_leak=np.full(2, 0.1), w_in=np.full(2, 2.0)),
                               "output": nir.Output(output_type={"output": np.array([2])})},
                        edges=[("input", "fc1"), ("fc1", "rlif"), ("rlif", "fc2"), ("fc2", "li"), ("li", "output")])


def test_snntorch_scalar_file_reads_after_type_check_fallback(tmp_path):
    path = write_leaky(tmp_path)
    with pytest.raises(ValueError):
        nir.read(str(path))  # nir 1.0.8's strict type check refuses the producer's file
    net, warned = load(path)
    assert any("type_check=False" in w for w in warned)
    lif = net.node("lif")
    assert lif.size == 5 and np.allclose(lif.tau, 1e-3) and lif.tau.shape == (5,)  # scalar τ broadcast
    assert net.n_in == 4 and net.output == "lif"
    assert conventions.detect(net)[0] == "snntorch"


def test_hdf5_groups_read_directly_when_nir_cannot_build_nodes(tmp_path):
    path = write_leaky(tmp_path, zero_d=("r", "v_leak", "v_threshold", "v_reset"))  # τ stays a 1-vector
    with pytest.raises(AssertionError, match="same shape"):
        nir.read(str(path), type_check=False)
    net, warned = load(path)
    assert any("HDF5 groups directly" in w for w in warned)
    assert net.node("lif").size == 5


def test_recurrent_subgraph_flattens_with_one_late_edge(tmp_path):
    net, _ = load(write(tmp_path, rsynaptic_subgraph()))
    assert {n.name for n in net.nodes} == {"input", "fc1", "rlif.lif", "rlif.w_rec", "fc2", "li"}
    assert net.delayed == {("rlif.w_rec", "rlif.lif")}
    assert net.output == "li" and net.node("li").model == "CubaLI"


def test_rockpool_subgraph_with_wrong_inner_input_type(tmp_path):
    """Rockpool's recurrent CubaLIF subgraph types its Input by the layer's input, not its size."""
    n = 5
    sub = {"type": "NIRGraph", "nodes": {
        "input": {"type": "Input", "shape": np.array([3])},
        "lif": {"type": "CubaLIF", "tau_syn": np.full(n, 2.0), "tau_mem": np.full(n, 10.0), "r": np.full(n, 0.9),
                "v_leak": np.zeros(n), "v_threshold": np.ones(n)},
        "lin": {"type": "Affine", "weight": np.eye(n), "bias": np.zeros(n)},
        "output": {"type": "Output", "shape": np.array([n])}},
        "edges": [("input", "lif"), ("lif", "lin"), ("lin", "lif"), ("lif", "output")]}
    raw = {"type": "NIRGraph", "nodes": {"input": {"type": "Input", "shape": np.array([3])},
                                         "fc1": {"type": "Affine", "weight": np.ones((n, 3)), "bias": np.zeros(n)},
                                         "hidden": sub, "output": {"type": "Output", "shape": np.array([n])}},
           "edges": [("input", "fc1"), ("fc1", "hidden"), ("hidden", "output")]}
    net = nir_spiking.from_dict(raw)
    assert net.node("hidden.lif").size == n and np.allclose(net.node("hidden.lif").w_in, 1.0)


def test_refusals_name_the_node(tmp_path):
    conv = nir.NIRGraph(nodes={"in": nir.Input(input_type=[1, 4, 4]),
                               "conv": nir.Conv2d(input_shape=(4, 4), weight=np.ones((2, 1, 3, 3)), stride=1, padding=0,
                                                  dilation=1, groups=1, bias=np.zeros(2)),
                               "out": nir.Output(output_type=[2, 2, 2])},
                        edges=[("in", "conv"), ("conv", "out")], type_check=False)
    with pytest.raises(ValidationError, match=r"^nodes\.conv: NIR node type Conv2d is not supported"):
        nir_spiking.from_nir(conv)
    g = snntorch_leaky()
    g.nodes["lif"].r = np.ones(3)
    with pytest.raises(ValidationError, match=r"^edges\[1\]: 'fc' gives 5 values but 'lif' takes 3"):
        nir_spiking.from_nir(g)
    g.nodes["lif"].tau = np.full(5, 1e-3)
    with pytest.raises(ValidationError, match=r"^nodes\.lif\.params\.r: shape \(3,\) does not match size 5"):
        nir_spiking.from_nir(g)
    g = rsynaptic_subgraph()
    g.nodes["rlif"].edges[0] = ("input", "cell")
    with pytest.raises(ValidationError, match=r"^nodes\.rlif: edge \(input → cell\) references 'cell'"):
        nir_spiking.from_dict(g.to_dict())
    lone = {"type": "NIRGraph", "nodes": {"in": {"type": "Input", "shape": [2]},
                                          "lif": {"type": "LIF", "tau": 1.0, "r": 1.0, "v_leak": 0.0, "v_threshold": 1.0},
                                          "s": {"type": "Scale", "scale": 2.0},
                                          "out": {"type": "Output", "shape": [2]}},
            "edges": [("in", "s"), ("s", "lif"), ("lif", "out")]}
    assert nir_spiking.from_dict(lone).node("lif").size == 2  # sized by the Input through the Scale
    lone["nodes"]["in"]["shape"] = None
    with pytest.raises(ValidationError, match=r"^nodes\.(in|s|lif): its size cannot be told"):
        nir_spiking.from_dict(lone)


# ------------------------------------------------------------------ reference engine vs independent loops
def single(model, params, n=3):
    return SpikingNetwork([Input("in", n), Affine("a", np.eye(n)), Neurons("p", model, n, params)],
                          [("in", "a"), ("a", "p")], "p")


def test_li_and_if_match_closed_forms():
    dt, tau, T = 1e-3, 1e-2, 50
    x = np.full((T, 3), 2.0)
    r = simulate(single("LI", dict(tau=tau, r=0.5, v_leak=0.2)), x, dt)
    n = np.arange(1, T + 1)[:, None]
    v_inf = 0.2 + 0.5 * 2.0
    np.testing.assert_allclose(r.output, np.broadcast_to(v_inf * (1 - (1 - dt / tau) ** n), (T, 3)), rtol=1e-12)
    r = simulate(single("IF", dict(r=100.0, v_threshold=1.0, v_reset=0.0)), x, dt)
    # v grows by dt·r·x = 0.2 per step, fires when it exceeds 1 (6 steps), restarts at 0
    assert r.counts["p"] == 3 * (T // 6)
    assert np.array_equal(np.nonzero(r.output[:, 0])[0], np.arange(5, T, 6))


def test_cubalif_matches_nir_reference_implementation():
    """The NIR paper's numpy reference (paper/03_rnn/extras/debug_CubaLIF/nir_reference_impl.py),
    written out independently, with v_reset = 0 (its reset subtracts; NIR's equations reset to v_reset)."""
    p = dict(tau_syn=2e-3, tau_mem=5e-3, r=2.0, v_leak=0.3, v_threshold=1.0, v_reset=0.0, w_in=1.5)
    dt, x = 1e-4, RNG.random((400, 3)) * 20
    ours = simulate(single("CubaLIF", p), x, dt).output
    v, i, spikes = np.zeros(3), np.zeros(3), []
    for xt in x:
        i_last, v_last = i.copy(), v.copy()
        i = i_last + dt / p["tau_syn"] * (-i_last + p["w_in"] * xt)
        v = v_last + dt / p["tau_mem"] * (p["v_leak"] - v_last + p["r"] * i_last)
        z = v > p["v_threshold"]
        v = np.where(z, 0.0, v)
        spikes.append(z)
    assert np.array_equal(ours, np.array(spikes, float)) and ours.sum() > 20


def test_stateless_nodes_and_recurrence_one_step_late():
    n = 2
    w_rec = np.array([[0.0, 1.0], [1.0, 0.0]])
    net = SpikingNetwork([Input("in", n), Scale("s", [1.0, 0.0]), Neurons("p", "IF", n, dict(r=1.0, v_threshold=0.5)),
                          Affine("rec", w_rec), Threshold("th", [0.5, 0.5])],
                         [("in", "s"), ("s", "p"), ("p", "rec"), ("rec", "p"), ("p", "th")], "th")
    x = np.zeros((4, n))
    x[0, 0] = 1.0
    out = simulate(net, x, 1.0).output  # unit 0 fires at step 0; unit 1 hears it at step 1; unit 0 at 2 …
    assert np.array_equal(out, [[1, 0], [0, 1], [1, 0], [0, 1]])


def loop_snntorch(x, beta, thr):
    """snnTorch Leaky (reset_delay=True, reset_mechanism='subtract') as in snntorch/_neurons/leaky.py."""
    mem, out = np.zeros(x.shape[1]), []
    for xt in x:
        reset = (mem - thr > 0).astype(float)
        mem = beta * mem + xt - reset * thr
        out.append((mem - thr > 0).astype(float))
    return np.array(out)


def loop_rockpool(x, alpha, beta, thr):
    """Rockpool LIFTorch.evolve: isyn += x; vmem *= α; isyn *= β; vmem += isyn; multi-spike, subtract."""
    v, i, out = np.zeros(x.shape[1]), np.zeros(x.shape[1]), []
    for xt in x:
        i = (i + xt) * beta
        v = v * alpha + i
        s = (v >= thr) * np.floor(v / thr)
        v = v - s * thr
        out.append(s)
    return np.array(out)


def loop_sinabs_if(x, thr):
    """Sinabs IAFSqueeze as from_nir builds it: v += x, MultiSpike, MembraneSubtract, min_v_mem = −θ."""
    v, out = np.zeros(x.shape[1]), []
    for xt in x:
        v = v + xt
        s = (v > 0) * np.trunc(v / thr)
        v = np.maximum(v - s * thr, -thr)
        out.append(s)
    return np.array(out)


def loop_norse_cuba(x, dt, tau_mem, tau_syn, thr):
    """Norse 1.1 lif_feed_forward_step (τ already τ_file / 1e-3)."""
    v, i, out = np.zeros(x.shape[1]), np.zeros(x.shape[1]), []
    for xt in x:
        i = i + xt
        v = v + dt / tau_mem * (-v + i)
        i = i - dt / tau_syn * i
        z = (v - thr > 0).astype(float)
        v = (1 - z) * v
        out.append(z)
    return np.array(out)


def test_conventions_reproduce_the_producers_loops():
    dt, T = 1e-4, 300
    x = RNG.random((T, 3)) * 0.4
    beta = 0.95
    tau = dt / (1 - beta)
    snn = simulate(single("LIF", dict(tau=tau, r=tau / dt, v_leak=0.0, v_threshold=1.0)), x, dt, conventions.get("snntorch"))
    assert np.array_equal(snn.output, loop_snntorch(x, beta, 1.0)) and snn.counts["p"] > 10
    p = dict(tau_syn=3e-4, tau_mem=2e-3, r=1.0, v_leak=0.0, v_threshold=0.7)
    rp = simulate(single("CubaLIF", p), 4 * x, dt, conventions.get("rockpool"))
    ref = loop_rockpool(4 * x, np.exp(-dt / 2e-3), np.exp(-dt / 3e-4), 0.7)
    assert np.array_equal(rp.output, ref) and ref.max() > 1  # several spikes per step happen
    sb = simulate(single("IF", dict(r=1.0, v_threshold=0.5)), 2 * x - 0.3, dt, conventions.get("sinabs"))
    assert np.array_equal(sb.output, loop_sinabs_if(2 * x - 0.3, 0.5))
    no = simulate(single("CubaLIF", dict(tau_syn=1e-5, tau_mem=2e-5, r=1.0, v_leak=0.0, v_threshold=0.5)),
                  x, 1e-3, conventions.get("norse"))  # Norse 1.1 wrote τ = 1e-3/τ_inv
    assert np.array_equal(no.output, loop_norse_cuba(x, 1e-3, 2e-2, 1e-2, 0.5)) and no.counts["p"] > 0
    assert conventions.Rockpool().implied_dt(SpikingNetwork(
        [Input("i", 1), Affine("a", np.eye(1)), Neurons("p", "LIF", 1, dict(tau=2.5e-3, r=24.019737, v_leak=0.0,
                                                                            v_threshold=0.1))],
        [("i", "a"), ("a", "p")], "p")) == pytest.approx(1e-4, rel=1e-5)


# ------------------------------------------------------------------ round trips and the CLI
def every_primitive():
    n = 3
    nodes = [Input("in", 2), Affine("aff", RNG.normal(size=(n, 2)), RNG.normal(size=n)), Affine("lin", RNG.normal(size=(n, n))),
             Scale("sc", RNG.normal(size=n)), Threshold("th", RNG.random(n))]
    params = {"LI": dict(tau=1e-2, r=2.0, v_leak=0.1), "LIF": dict(tau=1e-2, r=2.0, v_leak=0.1, v_threshold=1.0, v_reset=-0.2),
              "CubaLI": dict(tau_syn=1e-3, tau_mem=1e-2, r=2.0, v_leak=0.1, w_in=3.0),
              "CubaLIF": dict(tau_syn=1e-3, tau_mem=1e-2, r=2.0, v_leak=0.1, v_threshold=1.0, v_reset=0.0, w_in=3.0),
              "I": dict(r=2.0), "IF": dict(r=2.0, v_threshold=1.0, v_reset=0.5)}
    edges, prev = [("in", "aff"), ("aff", "sc"), ("sc", "th"), ("th", "lin")], "lin"
    for model, p in params.items():
        nodes.append(Neurons(model.lower(), model, n, {k: RNG.random(n) + v for k, v in p.items()}))
        edges.append((prev, model.lower()))
        prev = model.lower()
    edges.append(("if", "lin"))  # a recurrent edge
    return SpikingNetwork(nodes, edges, prev)


def test_every_primitive_round_trips_through_nir(tmp_path):
    net = every_primitive()
    path = tmp_path / "all.nir"
    nir_spiking.export(net, path)
    back, warned = load(path)
    assert not warned
    from neurophys.ir.spiking_io import network_to_dict
    a, b = network_to_dict(net), network_to_dict(back)
    assert a["nodes"] == b["nodes"] and sorted(map(tuple, a["edges"])) == sorted(map(tuple, b["edges"]))
    x = RNG.random((100, 2)) * 5
    np.testing.assert_array_equal(simulate(net, x, 1e-3).output, simulate(back, x, 1e-3).output)


def test_cli_import_and_run(tmp_path, capsys):
    path = write(tmp_path, rsynaptic_subgraph())
    assert main(["nir", "import", str(path), str(tmp_path / "net.json")]) == 0
    assert "1 recurrent edges" in capsys.readouterr().out
    x = RNG.random((120, 3)) * 3
    np.save(tmp_path / "in.npy", x)
    argv = ["nir", "run", str(path), "--input", str(tmp_path / "in.npy"), "--dt", "1e-4", "--out", str(tmp_path / "o.npy")]
    assert main(argv) == 0
    assert "convention: snntorch (detected" in capsys.readouterr().out
    net, _ = load(path)
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), simulate(net, x, 1e-4, conventions.get("snntorch")).output)
    assert main(argv + ["--convention", "nir"]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), simulate(net, x, 1e-4).output)
    capsys.readouterr()
    np.save(tmp_path / "bad.npy", x[:, :2])
    bad = argv.copy()
    bad[4] = str(tmp_path / "bad.npy")
    assert main(bad) == 2 and "error: --input" in capsys.readouterr().err
    assert main(argv + ["--convention", "spinnaker"]) == 2
    assert main(argv + ["--backend", "brian-spiking", "--convention", "norse"]) == 2
    assert "producer conventions run on the reference backend" in capsys.readouterr().err
