"""The `loihi` backend (the fast path: the batch side by side in one neuron Process and one
block-diagonal Dense) on real Lava processes: its applied update equals the reference engine's local
update for the same discretisation; refusals name the part (for every Lava backend); close frees
processes; `--check-chip` prints what each process needs on Loihi 2."""
from __future__ import annotations

import multiprocessing
import os
import time

import numpy as np
import pytest

from lava.magma.core.run_configs import Loihi2HwCfg, Loihi2SimCfg

from neurophys.backends.loihi import LoihiBackend, runcfg
from neurophys import costs
from neurophys.backend import UnsupportedGraph, get_backend
from neurophys.data import load_split
from neurophys.families import MODULES
from neurophys.ir import load, save
from neurophys.cli import main
from neurophys.data import Split
from neurophys.ir.builders import feedforward, layered_ep, resistor_network
from neurophys.ir.training import Training
from neurophys.ir.coupling import Coupling
from neurophys.ir.errors import ValidationError
from neurophys.ir.graph import Graph
from neurophys.ir.rule import Relaxation
from neurophys.metrics import flatten, rel_error

TOL = 1e-6
NAMES = ("loihi", "loihi-engine", "loihi-fixed", "loihi-lif")


def _rel(u, g):
    return rel_error(flatten(u, sorted(g)), flatten(g, sorted(g)))


@pytest.fixture(scope="module")
def ep_xor():
    graph = load("examples/ep_xor.json")
    split = load_split(graph.dataset)
    with LoihiBackend() as b:
        b.compile(graph)
        yield b, graph, split


@pytest.fixture(scope="module")
def least_action():
    """A small MLP: the fast path writes the block-diagonal Dense from the host every step, and Lava
    moves Var data one element per message (see test_least_action_example for the 64-64-10 net)."""
    graph = feedforward([6, 8, 3], steps=4, seed=3, training=Training(batch_size=6))
    rng = np.random.default_rng(7)
    x = rng.random((20, 6))
    split = Split(x, np.eye(3)[rng.integers(0, 3, 20)], None, None, None, None)
    with LoihiBackend() as b:
        b.compile(graph)
        yield b, graph, split


def _steps_match_reference(backend, graph, split, n_steps, bs):
    fam = MODULES[graph.rule.family]
    for i in range(n_steps):
        idx = np.arange(i * bs, (i + 1) * bs) % len(split.x_train)
        x, y = split.x_train[idx], split.y_train[idx]
        g = graph.copy()
        g.set_params(backend.get_params())
        expected = fam.local_update(g, x, y)
        before = backend.get_params()
        u = backend.step(x, y)
        assert set(u) == set(expected)
        assert _rel(u, expected) <= TOL
        after = backend.get_params()
        for k in u:  # the update is really on the target
            np.testing.assert_allclose(after[k], before[k] + expected[k], rtol=0, atol=TOL * np.abs(expected[k]).max())


def test_registered():
    assert get_backend("loihi") is LoihiBackend


def test_fewest_processes(ep_xor):
    """One neuron Process for the whole batch and one library Dense: nothing else runs."""
    b, _, _ = ep_xor
    assert [(r["type"], r["maps"]) for r in b.info()["processes"]] == [("BatchUnits", False), ("Dense", True)]


def test_ep_xor_update_equals_reference(ep_xor):
    b, graph, split = ep_xor
    _steps_match_reference(b, graph, split, 3, graph.training.batch_size)
    # get_params answers from the host's copy of what it wrote: the Dense, read back, holds exactly that
    np.testing.assert_array_equal(b.net.dense.weights.get(), b.net.written)


def test_ep_outputs_equal_reference_free_phase(ep_xor):
    b, graph, split = ep_xor
    g = graph.copy()
    g.set_params(b.get_params())
    np.testing.assert_allclose(b.outputs(split.x_train), MODULES["ep"].outputs(g, split.x_train), rtol=0, atol=1e-12)


def test_set_params_reaches_target(ep_xor):
    b, graph, _ = ep_xor
    p = b.get_params()
    new = {k: v + 0.01 for k, v in p.items()}
    b.set_params(new)
    got = b.get_params()
    for k in p:
        np.testing.assert_array_equal(got[k], new[k])
    with pytest.raises(UnsupportedGraph, match="params.nope"):
        b.set_params({"nope": np.zeros(1)})


def test_least_action_update_equals_reference(least_action):
    b, graph, split = least_action
    _steps_match_reference(b, graph, split, 3, 4)  # batches smaller than the ring's slots, too


@pytest.mark.slow
def test_least_action_example():
    graph = load("examples/least_action_mlp.json")
    split = load_split(graph.dataset)
    with LoihiBackend() as b:
        b.compile(graph)
        _steps_match_reference(b, graph, split, 1, 32)


def test_least_action_batch_larger_than_ring(least_action):
    b, graph, split = least_action
    x, y = split.x_train[:14], split.y_train[:14]  # 3 runs of the 6-slot ring, one update
    g = graph.copy()
    g.set_params(b.get_params())
    assert _rel(b.step(x, y), MODULES["least_action"].local_update(g, x, y)) <= TOL


def test_one_sided_ep_equals_reference():
    graph = layered_ep([2, 3, 2], estimator="one_sided", relaxation=Relaxation("euler", dt=0.3, max_steps=15, tol=0),
                       activation="sigmoid", seed=3)
    graph.training.batch_size = 2
    rng = np.random.default_rng(0)
    x, y = rng.random((3, 2)), rng.random((3, 2))
    with LoihiBackend() as b:
        b.compile(graph)
        assert _rel(b.step(x, y), MODULES["ep"].local_update(graph, x, y)) <= TOL


def test_unsupported_parts_are_named():
    b = LoihiBackend()
    with pytest.raises(UnsupportedGraph, match=r"^rule\.relaxation\.method.*euler"):
        b.compile(layered_ep([2, 3, 2], relaxation=Relaxation("anderson", tol=1e-10)))
    with pytest.raises(UnsupportedGraph, match=r"^rule\.relaxation\.tol"):
        b.compile(layered_ep([2, 3, 2], relaxation=Relaxation("euler", dt=0.5, max_steps=10, tol=1e-6)))
    with pytest.raises(UnsupportedGraph, match=r"^rule\.family.*coupled_learning"):
        b.compile(resistor_network(2, 1))


@pytest.mark.parametrize("name", NAMES)
def test_unmapped_coupling_is_named_by_every_loihi_backend(name):
    g = layered_ep([2, 3, 2], relaxation=Relaxation("euler", dt=0.5, max_steps=10, tol=0))
    lateral = Coupling("L", "h1", "h1", weight=np.zeros((3, 3)))
    g = Graph(g.populations, g.couplings + [lateral], g.cost, g.rule, g.dataset, g.training, g.name)
    with pytest.raises(UnsupportedGraph, match=r"^couplings\[2\].*'L' is lateral"):
        get_backend(name)().compile(g)


@pytest.mark.parametrize("name", NAMES)
def test_hw_without_lava_loihi_is_refused(name):
    with pytest.raises(ValidationError, match=r"^hw: Loihi 2 hardware needs lava-loihi .* run without --hw"):
        get_backend(name)(hw=True)


def test_run_config_is_the_simulation_unless_hardware_is_asked_for(monkeypatch):
    assert isinstance(runcfg.run_config("floating_pt", False, []), Loihi2SimCfg)
    monkeypatch.setattr(runcfg, "hardware_available", lambda: True)  # as if lava-loihi were installed
    cfg = runcfg.run_config("fixed_pt", True, [])
    assert isinstance(cfg, Loihi2HwCfg) and cfg.select_tag == "fixed_pt"


def test_cli_hw_flag(capsys):
    assert main(["hil", "examples/ep_xor.json", "--backend", "loihi", "--hw", "--steps", "1"]) == 2
    assert "hw: Loihi 2 hardware needs lava-loihi" in capsys.readouterr().err
    assert main(["hil", "examples/ep_xor.json", "--backend", "reference", "--hw", "--steps", "1"]) == 2
    assert "--hw: backend 'reference' has no hardware run config" in capsys.readouterr().err


@pytest.mark.parametrize("name", NAMES)
def test_close_stops_every_process(name):
    graph = layered_ep([2, 3, 2], relaxation=Relaxation("euler", dt=0.5, max_steps=3, tol=0), seed=1)
    graph.training.batch_size = 1
    b = get_backend(name)(**({"window": 2} if name == "loihi-lif" else {}))
    others = set(multiprocessing.active_children())
    b.compile(graph)
    mine = {p.pid for p in set(multiprocessing.active_children()) - others}
    assert mine  # Lava's runtime really runs processes
    b.step(np.array([[0.3, 0.8]]), np.eye(2)[:1])
    b.close()
    deadline = time.monotonic() + 10  # exiting takes a moment; a leaked process never exits
    while _alive(mine) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(mine)


def _alive(pids):
    """Pids still running (a reaped child is gone from the process table)."""
    out = []
    for pid in pids:
        try:
            os.kill(pid, 0)
            out.append(pid)
        except ProcessLookupError:
            pass
    return out


def test_check_chip_names_what_would_not_map(tmp_path, capsys):
    path = tmp_path / "small.json"
    save(layered_ep([2, 3, 2], relaxation=Relaxation("euler", dt=0.5, max_steps=3, tol=0), seed=1), path)
    assert main(["hil", str(path), "--backend", "loihi-engine", "--check-chip"]) == 2
    out = capsys.readouterr().out
    for proc in ("W1.fwd", "W2.fwd", "W2.bwd", "h1.bias", "out.bias"):
        assert f"{proc} " in out and "LearningDense" in out
    assert out.strip().endswith("would not map to Loihi 2 without custom neuron microcode: h1, out")
    assert main(["hil", str(path), "--backend", "reference", "--check-chip"]) == 2
    assert "--check-chip: backend 'reference' builds no Lava network" in capsys.readouterr().err


@pytest.mark.slow
def test_ep_xor_learns_to_full_accuracy():
    graph = load("examples/ep_xor.json")
    split = load_split(graph.dataset)
    with LoihiBackend() as b:
        b.compile(graph)
        for _ in range(graph.training.epochs):
            b.step(split.x_train, split.y_train)
        pred = costs.predict(graph.cost.kind, b.outputs(split.x_train))
    assert np.mean(pred == split.labels_train) == 1.0
