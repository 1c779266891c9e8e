"""The Brian2 rate twin on least-action graphs: the doubled field (a, δ) flowing on Brian synapses
must give the reference engine's update (numpy `DoubledField`, independent code) to float
rounding, and — with unit steps for 2L steps — backprop's (`exact_gradient`, reverse mode)."""
from pathlib import Path

import numpy as np
import pytest

from neurophys import metrics
from neurophys.backend import UnsupportedGraph, get_backend
from neurophys.data import load_split
from neurophys.families import least_action
from neurophys.ir import builders, io
from neurophys.ir.training import Training

pytest.importorskip("brian2")
from neurophys.backends.brian import BrianRateBackend  # noqa: E402

pytestmark = pytest.mark.backend
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def mlp(sizes=(4, 6, 3), seed=3, **kw):
    """An mse least-action MLP with non-zero biases (the builder starts them at 0)."""
    g = builders.feedforward(list(sizes), cost="mse", training=Training(batch_size=5), seed=seed, **kw)
    rng = np.random.default_rng(seed + 1)
    for p in g.populations:
        if p.bias is not None:
            p.bias[:] = rng.normal(scale=0.3, size=p.size)
    return g


def mixed_slow():
    """dt = 0.3 with per-population τ and three activations: the flow is still moving at the end."""
    g = mlp((3, 5, 4, 2), seed=7, activation="sigmoid", out_activation="tanh", dt=0.3, steps=25)
    g.population("h2").activation = "relu"
    g.population("h1").tau, g.population("out").tau = 2.0, 0.7
    return g


def random_batches(graph, n, size, seed=0):
    rng = np.random.default_rng(seed)
    n_in = sum(p.size for p in graph.inputs)
    return [(rng.uniform(-1, 1, (size, n_in)), rng.uniform(0, 1, (size, graph.output.size))) for _ in range(n)]


def iris_batches(graph, n):
    split = load_split(graph.dataset)
    bs = graph.training.batch_size
    return [(split.x_train[k * bs:(k + 1) * bs], split.y_train[k * bs:(k + 1) * bs]) for k in range(n)]


@pytest.mark.parametrize("make, batches", [
    (mlp, lambda g: random_batches(g, 3, 5)),
    (mixed_slow, lambda g: random_batches(g, 3, 3)),  # 3 samples in a network of capacity 5
    (lambda: io.load(EXAMPLES / "least_action_iris.json"), lambda g: iris_batches(g, 3)),
], ids=["tanh_4_6_3", "mixed_dt0.3_partial_batch", "least_action_iris"])
def test_update_matches_reference_backend(make, batches):
    g = make()
    worst = 0.0
    with BrianRateBackend() as be, get_backend("reference")() as ref:
        be.compile(g)
        ref.compile(g)
        for x, y in batches(g):
            u, r = be.step(x, y), ref.step(x, y)
            assert set(u) == set(r) == set(g.params())
            worst = max(worst, metrics.rel_error(metrics.flatten(u, list(r)), metrics.flatten(r)))
            held, want = be.get_params(), ref.get_params()
            for name in want:
                np.testing.assert_allclose(held[name], want[name], rtol=0, atol=1e-12)
        if g.rule.relaxation.dt == 1.0:  # unit steps: the output has crossed the depth, = the forward pass
            np.testing.assert_allclose(be.outputs(x), ref.outputs(x), rtol=0, atol=1e-12)
    assert worst <= 1e-6


@pytest.mark.parametrize("sizes, activation", [((4, 6, 3), "tanh"), ((4, 6, 5, 3), "sigmoid")])
def test_unit_steps_give_backprop(sizes, activation):
    g = mlp(sizes, activation=activation)
    L = len(sizes) - 1
    assert g.rule.relaxation.dt == 1.0 and g.rule.relaxation.max_steps == 2 * L
    (x, y), = random_batches(g, 1, 5, seed=1)
    grad = least_action.exact_gradient(g, x, y)
    with BrianRateBackend() as be:
        be.compile(g)
        u = be.step(x, y)
    want = {k: -g.rule.lr * v for k, v in grad.items()}
    assert set(u) == set(want)
    assert metrics.rel_error(metrics.flatten(u, list(want)), metrics.flatten(want)) <= 1e-9


@pytest.mark.parametrize("make", [
    lambda: builders.feedforward([4, 6, 3], cost="cross_entropy"),
    lambda: io.load(EXAMPLES / "least_action_mlp.json"),
], ids=["cross_entropy_builder", "least_action_mlp"])
def test_softmax_cost_is_refused_by_path(make):
    with pytest.raises(UnsupportedGraph, match=r"cost\.kind.*cross_entropy"):
        BrianRateBackend().compile(make())
