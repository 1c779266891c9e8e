"""Holomorphic EP: N complex nudges on |β| = 0.5 converge to the exact gradient as N grows."""
import numpy as np
import pytest

from fd_oracle import fd_gradient, rel
from neurophys import metrics
from neurophys.families import ep, family, holomorphic_ep
from neurophys.ir import Population, Rule, ValidationError, builders
from neurophys.physics.hopfield import Hopfield


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, size=(8, 5)), rng.uniform(0, 1, size=(8, 3))


def _errors(batch, n):
    x, y = batch
    g = builders.holomorphic_ep([5, 6, 3], beta=0.5, n_nudges=n, seed=1)
    u = holomorphic_ep.local_update(g, x, y)
    ref = {k: -g.rule.lr * v for k, v in ep.exact_gradient(g, x, y).items()}
    fu, fr = metrics.flatten(u, list(ref)), metrics.flatten(ref)
    return metrics.rel_error(fu, fr), metrics.cosine(fu, fr)


def test_error_falls_with_the_number_of_nudges(batch):
    errs = {n: _errors(batch, n) for n in (2, 4, 8)}
    print("holomorphic EP |β|=0.5:", {n: f"rel {e:.3e} cos {c:.8f}" for n, (e, c) in errs.items()})
    assert errs[2][0] > errs[4][0] > errs[8][0]
    assert errs[8][0] < 0.1 * errs[2][0]  # aliasing error O(|β|^N): a real fall, not noise
    assert errs[8][1] >= 0.9999


def test_complex_phases_converge(batch):
    x, y = batch
    g = builders.holomorphic_ep([5, 6, 3], beta=0.5, n_nudges=4, seed=1)
    net = Hopfield(g)
    s0, _ = net.relax(x)
    for b in holomorphic_ep.nudges(g):
        s, info = net.relax(x, y, b, s0)
        assert s.dtype == complex and info["residual"] <= 1e-12
    # conjugate nudges give conjugate states, so the estimate is real
    sp, sm = (net.relax(x, y, b, s0)[0] for b in holomorphic_ep.nudges(g)[[1, 3]])
    np.testing.assert_allclose(sp, np.conj(sm), rtol=0, atol=1e-11)


def test_two_nudges_equal_the_symmetric_estimator(batch):
    x, y = batch
    h = builders.holomorphic_ep([5, 6, 3], beta=0.2, n_nudges=2, seed=1)
    s = builders.layered_ep([5, 6, 3], activation="sigmoid", beta=0.2, estimator="symmetric", seed=1,
                            relaxation=h.rule.relaxation)
    assert rel(holomorphic_ep.local_update(h, x, y), ep.local_update(s, x, y)) <= 1e-9


def test_oracle_matches_finite_differences(batch):
    x, y = batch
    g = builders.holomorphic_ep([5, 4, 3], beta=0.5, n_nudges=4, seed=2)
    assert family(g) is holomorphic_ep
    assert rel(holomorphic_ep.exact_gradient(g, x, y), fd_gradient(g, x, y)) <= 1e-6


def test_validation():
    with pytest.raises(ValidationError, match="^n_nudges: family 'holomorphic_ep' needs n_nudges"):
        Rule("holomorphic_ep", beta=0.5)
    with pytest.raises(ValidationError, match="^n_nudges: 1 nudges cannot resolve"):
        Rule("holomorphic_ep", beta=0.5, n_nudges=1)
    with pytest.raises(ValidationError, match="^n_nudges: family 'ep' has no n_nudges"):
        Rule("ep", beta=0.5, n_nudges=4)
    g = builders.holomorphic_ep([2, 3, 1])
    g.populations[1] = Population("h1", 3, activation="hard_sigmoid", bias=np.zeros(3))
    with pytest.raises(ValidationError, match=r"^populations\[1\]\.activation: holomorphic EP needs a holomorphic"):
        type(g)(g.populations, g.couplings, g.cost, g.rule)
