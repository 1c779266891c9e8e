"""Log-sum-exp layers: max-plus limit, exact local gradient, attribution weights."""
import numpy as np
import pytest

import neurophys
from fd_oracle import fd_gradient, rel
from neurophys.families import family, lse
from neurophys.ir import Population, ValidationError, builders


@pytest.fixture
def batch():
    rng = np.random.default_rng(1)
    return rng.normal(size=(5, 6)), rng.normal(size=(5, 3))


def test_max_plus_limit_within_eps_log_n(batch):
    x, _ = batch
    g = builders.lse_network([6, 3], epsilon=0.0, seed=3)
    W = g.coupling("W1").weight
    tropical = np.max(W[None] + x[:, None, :], axis=2)  # independent max-plus layer
    assert np.array_equal(lse.outputs(g, x), tropical)
    errors = []
    for eps in (1.0, 0.3, 0.1, 0.01, 0.001):
        g.population("out").epsilon = eps
        err = lse.outputs(g, x) - tropical
        assert np.all(err >= 0) and np.all(err <= eps * np.log(6) + 1e-12)
        errors.append(err.max())
    assert all(a > b for a, b in zip(errors, errors[1:]))


@pytest.mark.parametrize("eps", [0.05, 0.5, 2.0])
def test_oracle_matches_finite_differences_and_rule_is_exact(batch, eps):
    x, y = batch
    g = builders.lse_network([6, 4, 3], epsilon=eps, seed=2)
    exact = lse.exact_gradient(g, x, y)
    assert rel(exact, fd_gradient(g, x, y)) <= 1e-6
    u = lse.local_update(g, x, y)
    assert rel(u, {k: -g.rule.lr * v for k, v in exact.items()}) <= 1e-12


def test_cross_entropy_cost(batch):
    x, _ = batch
    y = np.eye(3)[[0, 1, 2, 0, 1]]
    g = builders.lse_network([6, 3], epsilon=0.2, cost="cross_entropy", seed=4)
    assert rel(lse.exact_gradient(g, x, y), fd_gradient(g, x, y)) <= 1e-6


def test_attribution_sums_to_one_and_is_the_input_influence(batch):
    x, _ = batch
    g = builders.lse_network([6, 4, 3], epsilon=0.3, seed=5)
    A = neurophys.attribution(g, x)
    assert A.shape == (5, 3, 6)
    np.testing.assert_allclose(A.sum(axis=2), 1.0, rtol=0, atol=1e-12)
    assert np.all(A >= 0)
    h = 1e-6
    for j in range(6):
        dx = np.zeros_like(x)
        dx[:, j] = h
        fd = (lse.outputs(g, x + dx) - lse.outputs(g, x - dx)) / (2 * h)
        np.testing.assert_allclose(A[:, :, j], fd, rtol=0, atol=1e-8)
    # single layer: the attribution is π = ∂y_i/∂W_ij, the softmax of the scores
    one = builders.lse_network([6, 3], epsilon=0.3, seed=5)
    z = (one.coupling("W1").weight[None] + x[:, None, :]) / 0.3
    soft = np.exp(z) / np.exp(z).sum(axis=2, keepdims=True)
    np.testing.assert_allclose(neurophys.attribution(one, x), soft, rtol=1e-12)


def test_dispatch_and_validation():
    g = builders.lse_network([2, 2], epsilon=0.1)
    assert family(g) is lse
    with pytest.raises(ValidationError, match="^epsilon: an 'lse' population needs"):
        Population("h", 3, kind="lse")
    with pytest.raises(ValidationError, match="^epsilon: .* must be >= 0"):
        Population("h", 3, kind="lse", epsilon=-0.1)
    with pytest.raises(ValidationError, match="^epsilon: only 'lse' populations"):
        Population("h", 3, kind="rate", epsilon=0.1)
    bad = builders.lse_network([2, 2], epsilon=0.1)
    bad.populations[1] = Population("out", 2, kind="rate", role="output")
    with pytest.raises(ValidationError, match=r"^populations\[1\]\.kind: lse needs input/lse"):
        type(bad)(bad.populations, bad.couplings, bad.cost, bad.rule)
