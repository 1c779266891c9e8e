"""STLP on a cyclic digraph: forward-in-time costate vs BPTT on the same trajectory — close where the
theory says so (contractive dynamics, long horizon), measurably off elsewhere, never claimed exact."""
import numpy as np
import pytest

from fd_oracle import fd_gradient, rel
from neurophys import metrics
from neurophys.families import family, stlp
from neurophys.ir import Coupling, Relaxation, Rule, ValidationError, builders


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, size=(8, 4)), rng.normal(size=(8, 2))


def _compare(g, x, y):
    u = stlp.local_update(g, x, y)
    ref = {k: -g.rule.lr * v for k, v in stlp.exact_gradient(g, x, y).items()}
    fu, fr = metrics.flatten(u, list(ref)), metrics.flatten(ref)
    return metrics.cosine(fu, fr), metrics.rel_error(fu, fr)


@pytest.mark.parametrize("cost", ["mse", "cross_entropy"])
def test_bptt_oracle_matches_finite_differences(batch, cost):
    x, y = batch
    if cost == "cross_entropy":
        y = np.eye(2)[[0, 1] * 4]
    g = builders.stlp_cycle(4, 5, 2, steps=25, cost=cost, seed=3)
    assert family(g) is stlp
    assert rel(stlp.exact_gradient(g, x, y), fd_gradient(g, x, y)) <= 1e-6


def test_contractive_long_horizon_is_close_but_not_exact(batch):
    x, y = batch
    results = {T: _compare(builders.stlp_cycle(4, 5, 2, steps=T, gain=0.5), x, y) for T in (10, 50, 200)}
    print("STLP vs BPTT (gain 0.5, dt 0.5):", {T: f"cos {c:.6f} rel {e:.2e}" for T, (c, e) in results.items()})
    errs = [results[T][1] for T in (10, 50, 200)]
    assert errs[0] > errs[1] > errs[2]          # boundary transients matter less as the horizon grows
    assert results[200][0] >= 0.9999
    assert results[200][1] > 1e-4               # and it is not exact


def test_strong_recurrence_breaks_agreement(batch):
    x, y = batch
    cos, _ = _compare(builders.stlp_cycle(4, 5, 2, steps=200, gain=2.5), x, y)
    assert cos < 0.5


def test_agreement_per_step(batch):
    x, y = batch
    g = builders.stlp_cycle(4, 5, 2, steps=40)
    per_step = stlp.agreement(g, x, y)
    assert per_step.shape == (40,)
    assert abs(per_step[0] - 1.0) <= 1e-12      # one step: both costates are ∂ℓ_1
    assert abs(per_step[-1] - _compare(g, x, y)[0]) <= 1e-12


def test_cycles_allowed_symmetric_refused():
    g = builders.stlp_cycle(2, 3, 1)
    assert any(c.src == c.dst for c in g.couplings)
    bad = list(g.couplings) + [Coupling("sym", "a", "b", weight=np.zeros((3, 3)), symmetric=True)]
    with pytest.raises(ValidationError, match=r"^couplings\[6\]\.symmetric: stlp runs on directed couplings"):
        type(g)(g.populations, bad, g.cost, g.rule)
    with pytest.raises(ValidationError, match="^relaxation.tol: stlp runs a fixed horizon"):
        Rule("stlp", relaxation=Relaxation("euler", tol=1e-6))
