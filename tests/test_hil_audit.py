"""Sampled audit: the metrics' linearisations, the calibration of the intervals on a known
population, and end to end on the emulated board: the interval a 5 % sample reports covers the
cosine a full read-back gives (computed here from full reads and the core oracle) on ≥ 95 % of steps."""
from __future__ import annotations

import numpy as np
import pytest

from neurophys import hil, ir, metrics
from neurophys.backends.crossbar import CrossbarBackend
from neurophys.backends.reference import ReferenceBackend
from neurophys.gradcheck import reference
from neurophys.hil.audit import AuditedSteps, _influence, estimate
from neurophys.hil.measure import at
from neurophys.ir import Dataset, Training
from neurophys.ir.builders import resistor_network
from neurophys.ir.errors import ValidationError


def _population(n, rng):
    g = rng.normal(size=n)
    u = 0.7 * g + 0.6 * rng.standard_t(5, size=n)  # heavy-ish tails: the interval must still hold
    u[: n // 20] = 0.0  # devices that did not move
    g[n // 20: n // 10] = 0.0
    return u, g


@pytest.mark.parametrize("name", list(metrics.METRICS))
def test_influence_is_the_derivative_of_the_reweighted_metric(name):
    """ψ_i = n·∂f/∂w_i of the metric computed with weights w (weighted means), at w = 1."""
    rng = np.random.default_rng(0)
    u, g = _population(300, rng)

    def weighted(w):
        m = lambda z: np.sum(w * z) / np.sum(w)
        if name == "cosine":
            return m(u * g) / np.sqrt(m(u * u) * m(g * g))
        if name == "rel_error":
            return np.sqrt(m((u - g) ** 2) / m(g * g))
        if name == "nrmse":
            return np.sqrt(m((u - g) ** 2)) / max(np.sqrt(m(u * u)), np.sqrt(m(g * g)))
        nz = (g != 0).astype(float)
        return m(nz * (np.sign(u) != np.sign(g))) / m(nz)

    psi = _influence(name, u, g)
    for i in range(0, 300, 23):
        w = np.ones(300)
        w[i] += 1e-6
        assert (weighted(w) - weighted(np.ones(300))) / 1e-6 * 300 == pytest.approx(psi[i], abs=1e-5)


def test_intervals_cover_the_population_value_at_their_level():
    """Sampling without replacement from a known population: the 99 % interval covers the
    population's metric in ≥ 97 % of 400 draws, the 50 % interval in 40–60 % (binomial ±4σ)."""
    rng = np.random.default_rng(1)
    N, m = 20000, 1000
    u, g = _population(N, rng)
    truth = {k: f(u, g) for k, f in metrics.METRICS.items()}
    hits = {level: {k: 0 for k in truth} for level in (0.99, 0.5)}
    for _ in range(400):
        i = rng.choice(N, m, replace=False)
        for level in hits:
            est = estimate(u[i], g[i], N, level)
            for k in truth:
                hits[level][k] += est[k]["ci"][0] <= truth[k] <= est[k]["ci"][1]
    for k in truth:
        assert hits[0.99][k] / 400 >= 0.97, (k, hits)
        assert 0.40 <= hits[0.5][k] / 400 <= 0.60, (k, hits)


def _net():
    return resistor_network(64, 10, 64, family="coupled_learning", eta=0.1, lr=0.05, seed=5, name="cl_audit",
                            dataset=Dataset("digits"), training=Training(batch_size=8, seed=0))


def test_sampled_interval_covers_the_full_read_cosine_on_the_board():
    graph = _net()
    steps, rng = 41, np.random.default_rng(2)
    R, C = CrossbarBackend.board_shape(graph)
    with hil.open_backend(CrossbarBackend, graph=graph, notify=lambda m: None) as b:
        b.compile(graph)
        audited = AuditedSteps(b, graph, 0.05, full_every=1000, seed=3, steps=steps)
        covered, widths, links = [], [], {True: [], False: []}
        for i in range(steps):
            x, y = rng.random((8, 64)), rng.uniform(0.2, 0.6, (8, 10))
            before = b.engine.read()  # full reads for the check only (the ideal board reads without noise)
            m = audited.step(i, x, y)
            after = b.engine.read()
            full = m.record["audit"]["full_read"]
            links[full].append(m.record["time_s"]["modelled"]["link"])
            if full:
                continue
            _, g = reference(at(graph, before), x, y)
            exact = metrics.cosine(metrics.flatten({k: after[k] - before[k] for k in g}), metrics.flatten(g))
            lo, hi = m.record["audit"]["global"]["cosine"]["ci"]
            covered.append(lo <= exact <= hi)
            widths.append(hi - lo)
        assert m.record["audit"]["sampled"] == int(np.ceil(0.05 * 4800))
    print(f"covered {np.mean(covered):.3f} of {len(covered)} sampled steps; median width {np.median(widths):.4f}; "
          f"link per step sampled {np.median(links[False]) * 1e3:.1f} ms vs full {np.median(links[True]) * 1e3:.1f} ms")
    assert len(covered) == steps - 2 and np.mean(covered) >= 0.95
    assert np.median(widths) < 0.2  # an interval that says something
    assert np.median(links[False]) < 0.5 * np.median(links[True])


def test_run_with_audit_reports_it_and_refuses_a_backend_that_cannot_sample(tmp_path):
    graph = ir.load("examples/cl_iris.json")
    with hil.open_backend(CrossbarBackend, graph=graph, notify=lambda m: None) as b:
        s = hil.run(graph, b, "train", 6, tmp_path / "a", audit=0.3, full_every=3, progress=False)
    a = s["audit"]
    assert (a["sampled_steps"], a["full_steps"], a["fraction"]) == (3, 3, 0.3)  # steps 0, 3 and the last are full
    assert a["sampled_per_step"] == 16 and a["parameters"] == 51
    assert set(a["coverage_on_full_steps"]["global"]) == set(metrics.METRICS)
    assert set(s["time_s"]["wall"]) == {"host", "board", "twin", "eval"} and set(s["time_s"]["modelled"]) == {"link", "device"}
    with ReferenceBackend() as ref, pytest.raises(ValidationError, match="cannot read back a sample"):
        hil.run(graph, ref, "train", 2, tmp_path / "b", audit=0.1, progress=False)
    with ReferenceBackend() as ref, pytest.raises(ValidationError) as e:
        hil.run(graph, ref, "train", 2, tmp_path / "c", audit=1.5, progress=False)
    assert e.value.path == "audit"
