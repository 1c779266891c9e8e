"""PC-ALM: the layer-local saddle-point dynamics give backprop's update (oracle checked by FD)."""
import numpy as np
import pytest

from fd_oracle import fd_gradient, rel
from neurophys import metrics
from neurophys.families import family, pc_alm
from neurophys.ir import Rule, ValidationError, builders


def _batch(n_in, n_out, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, size=(6, n_in)), rng.normal(size=(6, n_out))


def _reference(g, x, y):
    return {k: -g.rule.lr * v for k, v in pc_alm.exact_gradient(g, x, y).items()}


@pytest.mark.parametrize("depth", [2, 16, 128])
def test_linear_networks_are_exact(depth):
    g = builders.pc_alm([8] + [8] * (depth - 1) + [3], seed=depth)
    x, y = _batch(8, 3, depth)
    _, _, info = pc_alm.relax(g, x, y)
    assert info["residual"] <= g.rule.relaxation.tol < 1e-8  # the local dynamics converged
    assert rel(pc_alm.local_update(g, x, y), _reference(g, x, y)) <= 1e-8


def test_too_few_iterations_are_not_exact():
    """The multipliers travel back one layer per iteration: stopping early must show."""
    g = builders.pc_alm([8] * 17 + [3], steps=8, tol=0.0)
    x, y = _batch(8, 3)
    assert rel(pc_alm.local_update(g, x, y), _reference(g, x, y)) > 0.1


def test_tanh_depth_8_cosine():
    g = builders.pc_alm([6] + [8] * 7 + [3], activation="tanh", seed=8, gain=1.2)
    x, y = _batch(6, 3, 8)
    u, ref = pc_alm.local_update(g, x, y), _reference(g, x, y)
    cos = metrics.cosine(metrics.flatten(u, list(ref)), metrics.flatten(ref))
    print(f"PC-ALM tanh depth 8: cosine {cos:.12f}, rel error {rel(u, ref):.3e}")
    assert cos >= 0.999


@pytest.mark.parametrize("activation,cost", [("tanh", "mse"), ("linear", "cross_entropy")])
def test_oracle_matches_finite_differences(activation, cost):
    g = builders.pc_alm([4, 5, 5, 3], activation=activation, cost=cost, seed=1)
    x, _ = _batch(4, 3, 1)
    y = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    assert family(g) is pc_alm
    assert rel(pc_alm.exact_gradient(g, x, y), fd_gradient(g, x, y)) <= 1e-6


def test_rule_fields_are_validated():
    with pytest.raises(ValidationError, match="^rho: family 'pc_alm' needs rho"):
        Rule("pc_alm", dual_lr=1.0)
    with pytest.raises(ValidationError, match="^dual_lr: .* must be > 0"):
        Rule("pc_alm", rho=1.0, dual_lr=-1.0)
    with pytest.raises(ValidationError, match="^rho: family 'ep' has no rho"):
        Rule("ep", beta=0.1, rho=1.0)
    with pytest.raises(ValidationError, match="^relaxation.method: 'anderson' is not available for 'pc_alm'"):
        Rule("pc_alm", rho=1.0, dual_lr=1.0)
