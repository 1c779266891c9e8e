"""The `loihi-fixed` backend (Loihi 2 fixed-point ProcessModels): its update stays within the
quantisation bound it reports against the float update at the same parameters (the reference
engine, which the float `loihi` backend reproduces), that bound is not vacuous, and EP on xor
still learns; refusals name the part (close: test_loihi_backend.py, for every Loihi backend)."""
from __future__ import annotations

import numpy as np
import pytest

from neurophys.backends.loihi import LoihiFixedBackend
from neurophys import costs
from neurophys.backend import UnsupportedGraph
from neurophys.data import load_split
from neurophys.families import ep
from neurophys.ir import load
from neurophys.ir.builders import feedforward, layered_ep
from neurophys.ir.errors import ValidationError
from neurophys.ir.rule import Relaxation
from neurophys.metrics import flatten, rel_error


@pytest.fixture(scope="module")
def ep_xor():
    graph = load("examples/ep_xor.json")
    split = load_split(graph.dataset)
    with LoihiFixedBackend() as b:
        b.compile(graph)
        yield b, graph, split


def _float_update(b, graph, x, y):
    g = graph.copy()
    g.set_params(b.get_params())  # the same θ: what the fixed target holds, dequantised
    return ep.local_update(g, x, y)


def test_update_within_reported_bound(ep_xor):
    b, graph, split = ep_xor
    x, y = split.x_train, split.y_train
    for _ in range(4):
        expected = _float_update(b, graph, x, y)
        u = b.step(x, y)
        keys = sorted(expected)
        bound = b.error_bound
        assert set(u) == set(expected) == set(bound["per_param"])
        for k in keys:  # elementwise, then the reported relative bound
            assert np.all(np.abs(u[k] - expected[k]) <= bound["per_param"][k]), k
        err = rel_error(flatten(u, keys), flatten(expected, keys))
        assert 0 < err <= bound["rel"] < 0.5  # quantised (not float) and the bound says something
        assert b.info()["error_bound"]["rel"] == bound["rel"]
    assert b.info()["weights_saturated"] == 0


def test_parameters_are_on_the_fixed_grids(ep_xor):
    b, _, _ = ep_xor
    exps = b.info()["fixed_point"]["weight_exp"]
    for k, v in b.get_params().items():
        step = 2.0 ** exps[k] if k in exps else 2.0 ** -12
        np.testing.assert_array_equal(v / step, np.rint(v / step))
        if k in exps:
            assert np.abs(v / step).max() <= 128


def test_outputs_close_to_float_free_phase(ep_xor):
    b, graph, split = ep_xor
    g = graph.copy()
    g.set_params(b.get_params())
    np.testing.assert_allclose(b.outputs(split.x_train), ep.outputs(g, split.x_train), rtol=0, atol=2e-3)


def test_set_params_rounds_onto_the_grid(ep_xor):
    b, _, _ = ep_xor
    p = b.get_params()
    exps = b.info()["fixed_point"]["weight_exp"]
    new = {k: v + 0.3 * 2.0 ** exps.get(k, -12) for k, v in p.items()}  # under half a step: rounds back
    b.set_params(new)
    for k, v in b.get_params().items():
        np.testing.assert_array_equal(v, p[k])


def test_unsupported_parts_are_named():
    b = LoihiFixedBackend()
    rx = Relaxation("euler", dt=0.5, max_steps=10, tol=0)
    with pytest.raises(UnsupportedGraph, match=r"^populations\[1\].*'h1'.*'sigmoid'"):
        b.compile(layered_ep([2, 3, 2], activation="sigmoid", relaxation=rx))
    with pytest.raises(UnsupportedGraph, match=r"^rule\.family.*least_action"):
        b.compile(feedforward([3, 2], steps=2))
    with pytest.raises(UnsupportedGraph, match=r"^rule\.relaxation\.tol"):
        b.compile(layered_ep([2, 3, 2], relaxation=Relaxation("euler", dt=0.5, max_steps=10, tol=1e-6)))
    with pytest.raises(ValidationError, match="^headroom"):
        LoihiFixedBackend(headroom=0.5)


@pytest.mark.slow
def test_ep_xor_learns_to_full_accuracy():
    graph = load("examples/ep_xor.json")
    split = load_split(graph.dataset)
    with LoihiFixedBackend() as b:
        b.compile(graph)
        for _ in range(graph.training.epochs):
            b.step(split.x_train, split.y_train)
        pred = costs.predict(graph.cost.kind, b.outputs(split.x_train))
    assert np.mean(pred == split.labels_train) == 1.0
