"""Does each local rule equal the gradient? The numbers the foundation issue asks for."""
import numpy as np
import pytest

from neurophys import ir, metrics
from neurophys.families import circuit, ep, least_action
from neurophys.invariants import invariant, relative_drift
from neurophys.ir import Relaxation
from neurophys.ir.builders import feedforward, layered_ep, resistor_network

PRECISE = Relaxation("newton", tol=1e-13, max_steps=5000)


def flat(d, keys):
    return np.concatenate([np.ravel(d[k]) for k in keys])


def ep_error(g, x, y):
    """Relative error and cosine of the EP update vs −lr·∇L."""
    u = ep.local_update(g, x, y)
    gr = ep.exact_gradient(g, x, y)
    ref = {k: -g.rule.lr * v for k, v in gr.items()}
    return metrics.rel_error(flat(u, ref), flat(ref, ref)), metrics.cosine(flat(u, ref), flat(ref, ref))


def random_ep(estimator, beta):
    g = layered_ep([4, 7, 6, 3], activation="sigmoid", beta=beta, lr=1.0, estimator=estimator, seed=11, gain=2.0,
                   relaxation=PRECISE, bias_scale=0.3)
    rng = np.random.default_rng(0)
    return g, rng.uniform(size=(8, 4)), rng.uniform(0.1, 0.9, size=(8, 3))


# ------------------------------------------------------------------------------ least action
def test_least_action_unit_steps_equal_backprop_after_2L_steps():
    g = feedforward([6, 9, 7, 5, 4], activation="tanh", lr=0.3, seed=2)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(5, 6)), np.eye(4)[rng.integers(4, size=5)]
    L = 4
    assert g.rule.relaxation.dt == 1.0 and g.rule.relaxation.max_steps == 2 * L
    u = least_action.local_update(g, x, y)
    ref = {k: -0.3 * v for k, v in least_action.exact_gradient(g, x, y).items()}
    assert metrics.rel_error(flat(u, ref), flat(ref, ref)) <= 1e-12
    # one step short, the first layer's sensitivity has not arrived yet: not exact
    a, d = least_action.DoubledField(g).run(x, y, steps=2 * L - 1)
    early = least_action.update_from_fields(g, a, d)
    assert metrics.rel_error(early["W1"], ref["W1"]) > 0.5


def test_least_action_small_dt_is_exact_at_steady_state():
    g = feedforward([6, 9, 7, 4], activation="sigmoid", lr=0.3, dt=0.1, seed=3, cost="mse")
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(5, 6)), rng.uniform(size=(5, 4))
    u = least_action.local_update(g, x, y)
    ref = {k: -0.3 * v for k, v in least_action.exact_gradient(g, x, y).items()}
    assert metrics.rel_error(flat(u, ref), flat(ref, ref)) <= 1e-8
    a, d = least_action.DoubledField(g).run(x, y, steps=20)  # far from steady state: visibly off
    assert metrics.rel_error(flat(least_action.update_from_fields(g, a, d), ref), flat(ref, ref)) > 1e-3


# ------------------------------------------------------------------------------ EP
def test_symmetric_ep_on_ep_xor_matches_the_gradient(examples_dir):
    g = ir.load(examples_dir / "ep_xor.json")
    g.rule.beta = 1e-3
    assert g.rule.estimator == "symmetric"
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    y = np.array([[1, 0], [0, 1], [0, 1], [1, 0]], float)
    _, cos = ep_error(g, x, y)
    assert cos >= 0.9999


def test_symmetric_ep_on_a_random_3_layer_graph_matches_the_gradient():
    g, x, y = random_ep("symmetric", 1e-3)
    _, cos = ep_error(g, x, y)
    assert cos >= 0.9999


@pytest.mark.parametrize("estimator, slope", [("one_sided", 1.0), ("symmetric", 2.0)])
def test_ep_bias_shrinks_as_beta_to_the_power(estimator, slope):
    betas = np.array([0.2, 0.1, 0.05, 0.025])
    errs = []
    for b in betas:
        g, x, y = random_ep(estimator, b)
        errs.append(ep_error(g, x, y)[0])
    fitted = np.polyfit(np.log(betas), np.log(errs), 1)[0]
    assert abs(fitted - slope) <= 0.3, (errs, fitted)


# ------------------------------------------------------------------------------ circuits
def circuit_case(family, h, seed=4):
    g = resistor_network(4, 2, 5, density=0.8, family=family, eta=h, beta=h, lr=0.05, seed=seed)
    rng = np.random.default_rng(seed)
    return g, rng.uniform(size=(6, 4)), rng.uniform(0.2, 0.5, size=(6, 2))


def circuit_metrics(g, x, y, cost):
    u = circuit.local_update(g, x, y)
    scale = 2 * g.rule.lr if cost == "kron" else g.rule.lr
    ref = {k: -scale * v for k, v in circuit.exact_gradient(g, x, y, cost).items()}
    return metrics.compare(u, ref)["global"]


def test_circuit_ep_matches_the_mse_gradient():
    g, x, y = circuit_case("circuit_ep", 1e-4)
    assert circuit_metrics(g, x, y, "task")["cosine"] >= 0.99999


def test_coupled_learning_matches_the_kron_weighted_gradient_with_error_shrinking_with_eta():
    etas = [1e-2, 1e-3, 1e-4]
    errs = [circuit_metrics(*circuit_case("coupled_learning", eta), "kron")["rel_error"] for eta in etas]
    assert errs[-1] <= 1e-3
    slope = np.polyfit(np.log(etas), np.log(errs), 1)[0]
    assert abs(slope - 1.0) <= 0.3, (errs, slope)


def test_coupled_learning_vs_mse_is_reported_not_equal():
    """With two outputs S is not a multiple of the identity: CL does not descend the MSE."""
    g, x, y = circuit_case("coupled_learning", 1e-4)
    vs_mse = circuit_metrics(g, x, y, "task")
    vs_kron = circuit_metrics(g, x, y, "kron")
    assert vs_kron["rel_error"] < 1e-3 < vs_mse["rel_error"]


# ------------------------------------------------------------------------------ conservation law
def gradient_flow(g, x, y, lr, steps, input_mode="voltage"):
    before = invariant(g)
    total_k = sum(float(np.sum(v)) for v in g.params().values())
    for _ in range(steps):
        grad = circuit.exact_gradient(g, x, y, "task", input_mode=input_mode)
        g.set_params({k: g.params()[k] - lr * v for k, v in grad.items()})
    moved = abs(sum(float(np.sum(v)) for v in g.params().values()) - total_k) / total_k
    return relative_drift(before, invariant(g)), moved


def test_gradient_flow_conserves_sum_k_squared_with_voltage_sources():
    g, x, y = circuit_case("circuit_ep", 0.1, seed=8)
    drift, moved = gradient_flow(g, x, y, lr=0.05, steps=1000)
    assert drift <= 1e-4
    assert moved >= 0.01  # Σk itself changes visibly


def test_current_source_input_breaks_the_invariant():
    g, x, y = circuit_case("circuit_ep", 0.1, seed=8)
    drift, _ = gradient_flow(g, x, 0.5 * y, lr=0.05, steps=1000, input_mode="current")
    assert drift > 1e-2
