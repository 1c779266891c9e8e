"""Every exact oracle against central finite differences in float64 (relative error ≤ 1e-6)."""
import numpy as np
import pytest

from neurophys import ir
from neurophys.data import load_split
from neurophys.gradcheck import finite_difference
from neurophys.ir import Dataset, Relaxation
from neurophys.ir.builders import feedforward, layered_ep, resistor_network

EXAMPLES = ["ep_xor", "ep_digits", "cl_iris", "least_action_mlp"]


def batch(graph, n=8, seed=0):
    split = load_split(graph.dataset)
    idx = np.random.default_rng(seed).choice(len(split.x_train), size=min(n, len(split.x_train)), replace=False)
    return split.x_train[idx], split.y_train[idx]


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_oracle_matches_finite_differences(examples_dir, name):
    g = ir.load(examples_dir / f"{name}.json")
    x, y = batch(g)
    costs = ("task", "kron") if g.rule.family == "coupled_learning" else ("task",)
    for cost in costs:
        errors = finite_difference(g, x, y, cost)
        assert max(errors.values()) <= 1e-6, (cost, errors)


def random_graphs():
    rng = np.random.default_rng(7)
    ep = layered_ep([5, 7, 6, 3], activation="sigmoid", beta=0.1, seed=3, gain=2.0)
    for p in ep.populations:
        if p.bias is not None:
            p.bias[:] = rng.normal(scale=0.3, size=p.size)
    ep_tanh = layered_ep([4, 6, 3], activation="tanh", beta=0.1, seed=4, cost="cross_entropy")
    circuit = resistor_network(4, 2, 5, density=0.7, seed=5, family="circuit_ep", beta=0.1)
    mlp = feedforward([5, 8, 6, 4], activation="sigmoid", seed=6, cost="mse")
    return {"ep-sigmoid": ep, "ep-tanh-ce": ep_tanh, "circuit": circuit, "mlp": mlp}


@pytest.mark.parametrize("name", list(random_graphs()))
def test_random_graphs_oracle_matches_finite_differences(name):
    g = random_graphs()[name]
    rng = np.random.default_rng(1)
    n_in = sum(p.size for p in g.inputs)
    x = rng.uniform(0, 1, size=(6, n_in))
    y = rng.uniform(0.2, 0.8, size=(6, g.output.size))
    if g.cost.kind == "cross_entropy":
        y = np.eye(g.output.size)[rng.integers(g.output.size, size=6)]
    for cost in (("task", "kron") if g.rule.family in ("circuit_ep", "coupled_learning") else ("task",)):
        errors = finite_difference(g, x, y, cost)
        assert max(errors.values()) <= 1e-6, (cost, errors)


def test_finite_difference_check_catches_a_wrong_gradient(monkeypatch):
    """The check itself can fail: corrupt one entry of the oracle and it must notice."""
    from neurophys.families import ep

    g = random_graphs()["ep-sigmoid"]
    x = np.random.default_rng(0).uniform(size=(4, 5))
    y = np.full((4, 3), 0.5)
    true = ep.exact_gradient

    def corrupted(*a, **k):
        out = true(*a, **k)
        out["W2"][0, 0] *= 1.01
        return out
    monkeypatch.setattr(ep, "exact_gradient", corrupted)
    assert finite_difference(g, x, y)["W2"] > 1e-6
