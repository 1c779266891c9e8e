"""The `loihi-engine` backend (the chip path in float: Lava's LearningDense does the learning): its
applied update is the reference engine's local update times the learning engine's trace decay
e^(−3/65535) — the closed form of the only residual — for EP (±β and one-sided) and least action;
no custom plasticity process is left; the backward connections learn the transposed update."""
from __future__ import annotations

import math

import numpy as np
import pytest

from neurophys import costs
from neurophys.backend import get_backend
from neurophys.backends.loihi import LoihiEngineBackend
from neurophys.data import load_split
from neurophys.families import MODULES
from neurophys.ir import load
from neurophys.ir.builders import feedforward, layered_ep
from neurophys.ir.rule import Relaxation
from neurophys.metrics import flatten, rel_error

DECAY = math.exp(-3 / 65535)  # x1 and y2 in the tag, y1 at the apply: each read one step after it was written
RX = Relaxation("euler", dt=0.5, max_steps=8, tol=0)


def _check_steps(graph, x, y, n_steps=2):
    fam = MODULES[graph.rule.family]
    with LoihiEngineBackend() as b:
        b.compile(graph)
        for _ in range(n_steps):
            g = graph.copy()
            g.set_params(b.get_params())
            want = fam.local_update(g, x, y)
            u = b.step(x, y)
            keys = sorted(want)
            assert set(u) == set(want)
            assert rel_error(flatten(u, keys), flatten(want, keys)) <= 1e-4
            # the residual is exactly the decay: nothing else differs
            assert rel_error(flatten(u, keys), DECAY * flatten(want, keys)) <= 1e-9
        return b.info()


def test_registered():
    assert get_backend("loihi-engine") is LoihiEngineBackend


def test_symmetric_ep_on_the_learning_engine():
    graph = layered_ep([2, 3, 2], relaxation=RX, seed=2)
    graph.training.batch_size = 3
    rng = np.random.default_rng(0)
    x, y = rng.random((5, 2)), np.eye(2)[rng.integers(0, 2, 5)]  # 5 samples: two rings, one update
    info = _check_steps(graph, x, y)
    kinds = {r["type"] for r in info["processes"]}
    assert kinds == {"RingBuffer", "RateNeuron", "LearningDense"}  # no plasticity process
    assert info["transpose_mismatch"] == 0.0  # W2.bwd learned exactly W2's update, transposed


def test_one_sided_ep_with_sigmoid_units():
    graph = layered_ep([2, 3, 2], estimator="one_sided", activation="sigmoid", relaxation=RX, seed=3)
    graph.training.batch_size = 2
    rng = np.random.default_rng(1)
    _check_steps(graph, rng.random((2, 2)), rng.random((2, 2)))


def test_least_action_on_the_learning_engine():
    graph = feedforward([3, 4, 2], steps=6, seed=4)
    graph.training.batch_size = 2
    rng = np.random.default_rng(2)
    info = _check_steps(graph, rng.random((2, 3)), np.eye(2))
    assert {r["type"] for r in info["processes"]} == {"RingBuffer", "DoubledNeuron", "LearningDense"}


@pytest.mark.slow
def test_ep_xor_update_and_full_accuracy():
    graph = load("examples/ep_xor.json")
    split = load_split(graph.dataset)
    x, y = split.x_train, split.y_train
    with LoihiEngineBackend() as b:
        b.compile(graph)
        for epoch in range(graph.training.epochs):
            g = graph.copy()
            g.set_params(b.get_params())
            want = MODULES["ep"].local_update(g, x, y)
            u = b.step(x, y)
            assert rel_error(flatten(u, sorted(want)), flatten(want, sorted(want))) <= 1e-4
            if epoch % 10 == 9 and np.mean(costs.predict("mse", b.outputs(x)) == split.labels_train) == 1.0:
                break
        assert np.mean(costs.predict(graph.cost.kind, b.outputs(x)) == split.labels_train) == 1.0
