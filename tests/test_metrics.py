"""Metrics on hand-computed cases, and the repeat statistics test on known distributions."""
import numpy as np
import pytest

from neurophys import metrics


def test_values_on_small_vectors():
    u, g = np.array([1.0, 0.0, -2.0]), np.array([2.0, 0.0, -2.0])
    assert metrics.cosine(u, g) == pytest.approx(6 / (np.sqrt(5) * np.sqrt(8)))
    assert metrics.nrmse(u, g) == pytest.approx(np.sqrt(1 / 3) / np.sqrt(8 / 3))
    assert metrics.rel_error(u, g) == pytest.approx(1 / np.sqrt(8))
    assert metrics.sign_error(np.array([1.0, -1.0, 1.0]), np.array([1.0, 1.0, 0.0])) == 0.5


def test_laborieux_nrmse_landmarks():
    g = np.array([0.3, -1.0, 2.0])
    assert metrics.nrmse(g, g) == 0.0
    assert metrics.nrmse(np.zeros(3), g) == pytest.approx(1.0)
    assert metrics.nrmse(-g, g) == pytest.approx(2.0)


def test_zero_updates():
    z = np.zeros(4)
    assert metrics.rel_error(z, z) == 0.0 and metrics.cosine(z, z) == 1.0
    # a zero exact gradient against a non-zero update: no angle, no ratio — undefined, not 0 or inf
    for metric in (metrics.rel_error, metrics.cosine, metrics.sign_error):
        assert np.isnan(metric(np.ones(4), z))
    assert metrics.nrmse(np.ones(4), z) == 1.0  # its scale is max(|u|, |g|): still defined


def test_compare_is_per_parameter_and_global():
    u = {"a": np.array([1.0, 2.0]), "b": np.array([[3.0]])}
    g = {"a": np.array([1.0, 2.0]), "b": np.array([[-3.0]])}
    rep = metrics.compare(u, g)
    assert rep["params"]["a"]["cosine"] == pytest.approx(1.0)
    assert rep["params"]["b"]["sign_error"] == 1.0
    assert rep["global"]["cosine"] == pytest.approx((1 + 4 - 9) / 14)
    with pytest.raises(KeyError):
        metrics.compare({"a": u["a"]}, g)


def test_repeat_stats_accepts_unbiased_and_rejects_biased_noise():
    rng = np.random.default_rng(0)
    expected = rng.normal(size=(20,))
    n = 400
    unbiased = expected + rng.normal(scale=0.5, size=(n, 20))
    assert metrics.repeat_stats(unbiased, expected, k=4.0)["passed"]
    biased = unbiased + 0.2  # 0.2 = 8 standard errors (0.5/√400 = 0.025)
    res = metrics.repeat_stats(biased, expected, k=4.0)
    assert not res["passed"] and res["z_max"] > 4


def test_repeat_stats_deterministic_samples_must_match_exactly():
    e = np.array([1.0, 2.0])
    assert metrics.repeat_stats(np.tile(e, (5, 1)), e)["passed"]
    assert not metrics.repeat_stats(np.tile(e + 1e-3, (5, 1)), e)["passed"]


def test_metrics_of_a_large_update_agree_with_the_elementwise_formulas_also_when_u_is_almost_g():
    """The fused sums (one pass, Σ(u − g)² from Σu², Σug, Σg² unless that cancels) against the
    textbook formulas, for a rough match and for u = g(1 + 1e-9), where the expansion would cancel."""
    rng = np.random.default_rng(5)
    g = rng.normal(size=(300, 200))
    rough = g + 0.5 * rng.normal(size=g.shape)
    for u in (rough, g * (1 + 1e-9 * rng.normal(size=g.shape)), -g, 0 * g):
        d = u - g
        want = {"cosine": (u * g).sum() / np.sqrt((u * u).sum() * (g * g).sum()) if u.any() else 0.0,
                "nrmse": np.sqrt(np.mean(d * d)) / max(np.sqrt(np.mean(u * u)), np.sqrt(np.mean(g * g))),
                "sign_error": np.mean(np.sign(u) != np.sign(g)),
                "rel_error": np.sqrt((d * d).sum() / (g * g).sum())}
        got = metrics.agreement(u, g)
        for name, value in want.items():
            assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-15), name
        assert metrics.rel_error_of({"w": u}, {"w": g}) == got["rel_error"]
    split = metrics.compare({"a": rough[:100], "b": rough[100:]}, {"a": g[:100], "b": g[100:]})["global"]
    assert split == pytest.approx(metrics.agreement(rough, g), rel=1e-12)
