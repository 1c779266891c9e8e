"""The Brian2 spiking twin: its update is held against the exact gradient (implicit-function
oracle of the core), not against itself; the noise is seeded, so a rerun is identical."""
import numpy as np
import pytest

from neurophys import costs, metrics
from neurophys.backend import UnsupportedGraph, get_backend
from neurophys.data import load_split
from neurophys.gradcheck import reference
from neurophys.ir import builders
from neurophys.ir.dataset import Dataset
from neurophys.ir.errors import ValidationError
from neurophys.ir.rule import Relaxation
from neurophys.ir.training import Training

pytest.importorskip("brian2")
from backends.brian import BrianSpikingBackend  # noqa: E402

pytestmark = pytest.mark.backend


def ep_graph(sizes, activation="sigmoid", gain=2.0, lr=0.1, seed=1):
    """Sigmoid units: EP's update at β = 0.5 (symmetric) is within cos 0.99 of the exact gradient
    here, so the comparison measures what the spikes add (hard-sigmoid units sitting on the box
    edge make EP itself disagree with the oracle, whatever the backend)."""
    return builders.layered_ep(list(sizes), activation=activation, gain=gain, beta=0.5, lr=lr, estimator="symmetric",
                               relaxation=Relaxation("euler", dt=0.5, max_steps=40, tol=0), dataset=Dataset("xor"),
                               training=Training(batch_size=4), seed=seed)


def spiking_cosine(graph, **options):
    split = load_split(graph.dataset)
    x, y = split.x_train, split.y_train
    _, g = reference(graph, x, y)
    with BrianSpikingBackend(**options) as be:
        be.compile(graph)
        u = be.step(x, y)
    return metrics.cosine(metrics.flatten(u, list(g)), metrics.flatten(g)), u


@pytest.mark.parametrize("sizes", [(2, 4, 2), (2, 6, 4, 2)])
def test_default_settings_follow_the_exact_gradient(sizes):
    cos, _ = spiking_cosine(ep_graph(sizes))
    assert cos >= 0.95


def test_same_seed_same_update_other_seed_other_update():
    g = ep_graph((2, 4, 2))
    _, a = spiking_cosine(g, seed=3, phase_duration=20)
    _, b = spiking_cosine(g, seed=3, phase_duration=20)
    _, c = spiking_cosine(g, seed=4, phase_duration=20)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert any(not np.array_equal(a[k], c[k]) for k in a)


def test_registered_under_its_name():
    assert get_backend("brian-spiking") is BrianSpikingBackend


def test_unsupported_graphs_and_options_are_refused():
    g = ep_graph((2, 4, 2))
    g.rule.relaxation = Relaxation("anderson", tol=1e-10)
    with pytest.raises(UnsupportedGraph, match=r"rule\.relaxation\.method"):
        BrianSpikingBackend().compile(g)
    circuit = builders.resistor_network(4, 3, dataset=Dataset("iris"))
    with pytest.raises(UnsupportedGraph, match=r"rule\.family"):
        BrianSpikingBackend().compile(circuit)
    with pytest.raises(ValidationError, match="rate_max"):
        BrianSpikingBackend(rate_max=5000.0).compile(ep_graph((2, 4, 2)))
    for bad in ({"phase_duration": 0}, {"trace_tau": -1.0}, {"seed": -1}):
        with pytest.raises(ValidationError, match=next(iter(bad))):
            BrianSpikingBackend(**bad)


@pytest.mark.slow
def test_trains_xor_to_full_accuracy():
    g = ep_graph((2, 8, 2), activation="hard_sigmoid", gain=1.0, lr=0.5, seed=2)
    split = load_split(g.dataset)
    with BrianSpikingBackend() as be:
        be.compile(g)
        for _ in range(60):
            be.step(split.x_train, split.y_train)
        acc = np.mean(costs.predict("mse", be.outputs(split.x_train)) == split.labels_train)
    assert acc == 1.0
