"""The `loihi-lif` backend (rate-coded spiking EP on the chip path, learning on Lava's learning
engine): its update is held against the exact gradient (the core's implicit-function oracle) and
against the reference EP update, not against itself; it trains ep_xor; it is deterministic; refusals
name the part."""
from __future__ import annotations

import numpy as np
import pytest

from neurophys import costs
from neurophys.backends.loihi import LoihiLifBackend
from neurophys.backends.loihi.spiking_net import if_spikes
from neurophys.backend import UnsupportedGraph, get_backend
from neurophys.data import load_split
from neurophys.families import ep
from neurophys.gradcheck import reference
from neurophys.ir import load
from neurophys.ir.builders import feedforward, layered_ep
from neurophys.ir.dataset import Dataset
from neurophys.ir.errors import ValidationError
from neurophys.ir.rule import Relaxation
from neurophys.ir.training import Training
from neurophys.metrics import cosine, flatten

RX = Relaxation("euler", dt=0.5, max_steps=6, tol=0)


def test_registered():
    assert get_backend("loihi-lif") is LoihiLifBackend


def _cosines(graph, **options):
    """(cos vs −lr·dL/dθ, cos vs the reference EP update) of one step on the dataset's training set."""
    split = load_split(graph.dataset)
    x, y = split.x_train, split.y_train
    _, exact = reference(graph, x, y)
    want = ep.local_update(graph, x, y)
    keys = sorted(exact)
    with LoihiLifBackend(**options) as b:
        b.compile(graph)
        assert b.info()["run_config"] == "Loihi2SimCfg"
        assert {r["type"] for r in b.info()["processes"]} == {"RingBuffer", "SpikingUnit", "LearningDense"}
        u = b.step(x, y)
        after = b.get_params()
    assert set(u) == set(want)
    for k in u:  # the update is really on the target
        np.testing.assert_allclose(after[k], graph.params()[k] + u[k], rtol=0, atol=1e-12)
    return cosine(flatten(u, keys), flatten(exact, keys)), cosine(flatten(u, keys), flatten(want, keys))


def test_update_follows_the_exact_gradient():
    """Sigmoid units, where EP itself is within cos 0.9999 of the exact gradient: what is measured
    is what the spikes lose (half the default resolution, to keep the test short)."""
    graph = layered_ep([2, 4, 2], activation="sigmoid", gain=2.0, beta=0.5, lr=0.1, estimator="symmetric",
                       relaxation=Relaxation("euler", dt=0.5, max_steps=20, tol=0), dataset=Dataset("xor"),
                       training=Training(batch_size=4), seed=1)
    to_exact, to_ep = _cosines(graph, substeps=2, window=50, tau=50)
    assert to_exact >= 0.995 and to_ep >= 0.995


@pytest.mark.slow
def test_ep_xor_trains_to_full_accuracy():
    """End to end on the learning engine; the first step's agreement with the exact gradient is
    what test_ep_xor_update_follows_the_exact_gradient holds (defaults); here half resolution.
    Measured (2-core machine shared with other jobs, ~16 s per step, ~19 min): 100 % after 70 steps,
    as the float reference EP; along the run the update's cosine to the exact gradient has median
    0.46 (float EP's own, along its run: 0.69) and to the EP update at the same θ median 0.83 — it
    falls to ~0.6 while the contrasts are small (post rates counted over 50 steps: 0.02 resolution)."""
    graph = load("examples/ep_xor.json")
    split = load_split(graph.dataset)
    with LoihiLifBackend(substeps=2, window=50, tau=50) as b:
        b.compile(graph)
        for epoch in range(graph.training.epochs):
            b.step(split.x_train, split.y_train)
            if epoch % 10 == 9 and np.mean(costs.predict("mse", b.outputs(split.x_train)) == split.labels_train) == 1:
                break
        assert np.mean(costs.predict("mse", b.outputs(split.x_train)) == split.labels_train) == 1.0


@pytest.mark.slow
def test_ep_xor_update_follows_the_exact_gradient():
    """ep_xor (hard_sigmoid at β = 0.5, where EP itself reaches only cos 0.929 to the exact gradient)."""
    to_exact, to_ep = _cosines(load("examples/ep_xor.json"))
    assert to_exact >= 0.92 and to_ep >= 0.995


def test_deterministic_and_the_window_matters():
    graph = layered_ep([2, 3, 2], relaxation=RX, seed=4)
    graph.training.batch_size = 2
    x, y = np.array([[0.2, 0.9], [0.7, 0.4]]), np.eye(2)
    runs = []
    for window in (20, 20, 7):
        with LoihiLifBackend(substeps=2, window=window) as b:
            b.compile(graph)
            runs.append(b.step(x, y))
    for k in runs[0]:
        np.testing.assert_array_equal(runs[0][k], runs[1][k])
    assert any(not np.array_equal(runs[0][k], runs[2][k]) for k in runs[0])


def test_input_spike_trains_code_the_rate():
    rates = np.array([0.0, 0.25, 0.5, 0.93, 1.0])
    s = if_spikes(rates, 200)
    assert set(np.unique(s)) <= {0.0, 1.0}
    np.testing.assert_allclose(s.mean(axis=1), rates, rtol=0, atol=1 / 200)


def test_unsupported_parts_are_named():
    b = LoihiLifBackend()
    with pytest.raises(UnsupportedGraph, match=r"^populations\[1\].*'h1'.*'tanh'"):
        b.compile(layered_ep([2, 3, 2], activation="tanh", relaxation=RX))
    with pytest.raises(UnsupportedGraph, match=r"^rule\.family.*least_action"):
        b.compile(feedforward([3, 2], steps=2))
    with pytest.raises(UnsupportedGraph, match=r"^rule\.relaxation\.method"):
        b.compile(layered_ep([2, 3, 2], relaxation=Relaxation("anderson", tol=1e-10)))
    for bad in ({"substeps": 0}, {"window": 2.5}, {"window": True}, {"tau": 0}):
        with pytest.raises(ValidationError, match=f"^{next(iter(bad))}"):
            LoihiLifBackend(**bad)


def test_inputs_outside_the_rate_range_are_refused():
    graph = layered_ep([2, 3, 2], relaxation=RX, seed=4)
    graph.training.batch_size = 1
    with LoihiLifBackend(window=5) as b:
        b.compile(graph)
        with pytest.raises(UnsupportedGraph, match=r"^inputs\.x.*\[0, 1\]"):
            b.step(np.array([[1.5, 0.0]]), np.eye(2)[:1])
