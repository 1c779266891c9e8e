"""The HIL harness against the reference backend (and small Backend subclasses that misbehave in
known ways): the harness must report agreement where there is agreement and catch what is wrong."""
import json

import numpy as np
import pytest

from neurophys import hil
from neurophys.backends.reference import ReferenceBackend
from neurophys.hil.measure import measure_step
from neurophys import metrics
from neurophys.families import family
from neurophys.ir import builders
from neurophys.ir.dataset import Dataset
from neurophys.ir.errors import ValidationError
from neurophys.ir.training import Training

EPS = np.finfo(float).eps
METRIC_KEYS = ("cosine", "nrmse", "sign_error", "rel_error")


def circuit(family_name="circuit_ep", **kw):
    return builders.resistor_network(4, 3, 0, family=family_name, dataset=Dataset("iris"),
                                     training=Training(batch_size=8, seed=0), **kw)


def mlp():
    return builders.feedforward([4, 5, 3], dataset=Dataset("iris"), training=Training(batch_size=8))


class HalfStep(ReferenceBackend):
    """Applies half the rule's update: right direction, wrong size."""
    name = "half"

    def step(self, x, y):
        before = self.get_params()
        update = self.family.local_update(self.graph, x, y)
        self.graph.set_params({k: before[k] + 0.5 * update[k] for k in update})
        return {k: 0.5 * v for k, v in update.items()}


class Noisy(ReferenceBackend):
    """The rule's update plus Gaussian noise of a given std and a constant bias, per device."""
    name = "noisy"

    def __init__(self, std=1e-4, bias=0.0, seed=0):
        super().__init__()
        self.std, self.bias, self.rng = std, bias, np.random.default_rng(seed)

    def step(self, x, y):
        before = self.get_params()
        update = self.family.local_update(self.graph, x, y)
        update = {k: v + self.bias + self.std * self.rng.normal(size=v.shape) for k, v in update.items()}
        self.graph.set_params({k: before[k] + update[k] for k in update})
        return update


def batch(graph, n=8):
    from neurophys.data import load_split

    s = load_split(graph.dataset)
    return s.x_train[:n], s.y_train[:n]


def test_measure_step_matches_the_core_oracle_at_the_measured_theta():
    g = circuit(beta=1e-4)
    x, y = batch(g)
    fam = family(g)
    cost, lr = fam.descended(g)
    expected_u = fam.local_update(g, x, y)
    exact = {k: -lr * v for k, v in fam.exact_gradient(g, x, y, cost).items()}
    with ReferenceBackend() as b:
        b.compile(g)
        m = measure_step(b, g, x, y)
    want = metrics.compare(expected_u, exact)
    for k in METRIC_KEYS:
        assert m.record["global"][k] == pytest.approx(want["global"][k], rel=1e-9, abs=1e-12)
    theta_after = {k: m.theta[k] + m.u[k] for k in m.u}
    # u = fl(θ + Δ) − θ: the only error is the rounding of the sum, ≤ ε‖θ′‖
    bound = EPS * np.linalg.norm(metrics.flatten(theta_after)) / np.linalg.norm(metrics.flatten(expected_u))
    assert m.record["reference_rel_error"] <= bound
    assert m.record["invariant"]["before"] == pytest.approx(0.5 * np.sum(metrics.flatten(m.theta) ** 2))


def test_measure_step_catches_a_backend_that_applies_half_the_update():
    g = circuit(beta=1e-4)
    x, y = batch(g)
    with HalfStep() as b:
        b.compile(g)
        m = measure_step(b, g, x, y)
    assert m.record["reference_rel_error"] == pytest.approx(0.5, rel=1e-9)
    assert m.record["global"]["rel_error"] == pytest.approx(0.5, abs=1e-3)
    assert m.record["global"]["cosine"] > 0.9999  # the direction is still right


class Forgetful(ReferenceBackend):
    """Learns, but reports only some of what it applied."""
    name = "forgetful"

    def step(self, x, y):
        return {k: v for k, v in super().step(x, y).items() if k != "k_gnd_out"}


def test_a_step_that_omits_a_parameter_is_named():
    g = circuit(beta=1e-4)
    with Forgetful() as b, pytest.raises(ValidationError, match="'forgetful' returned no update for k_gnd_out"):
        b.compile(g)
        measure_step(b, g, *batch(g))


def test_train_on_circuit_ep_agrees_every_step_and_writes_the_outputs(tmp_path):
    g = circuit(beta=1e-4)
    with hil.open_backend("reference") as b:
        s = hil.run(g, b, "train", 6, tmp_path, progress=False)
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert len(log) == 6 and [r["step"] for r in log] == list(range(6))
    assert all(r["global"]["cosine"] >= 0.9999 for r in log)
    assert all(set(r["params"]) == {"k_in_out", "k_gnd_out"} for r in log)
    assert all(set(r["time_s"]) == {"wall", "modelled"} and {"host", "board", "twin"} <= set(r["time_s"]["wall"])
               and set(r["time_s"]["modelled"]) == {"link", "device"} for r in log)
    # evaluated every 10 steps by default and after the last: here on the last step only
    assert [i for i, r in enumerate(log) if "backend" in r] == [5] and "eval" in log[5]["time_s"]["wall"]
    assert all("invariant" in r for r in log) and "twin" in log[5]
    assert s["reference_rel_error"]["max"] < 1e-12
    assert s["cosine"]["min"] >= 0.9999 and s["cosine"]["min"] <= s["cosine"]["median"] <= s["cosine"]["max"]
    assert s["vs_task"] is None and s["cost"] == "task"
    # the reference backend *is* the twin: identical curves and invariant drift
    assert s["train_accuracy"] == s["twin"]["train_accuracy"]
    assert s["loss"]["train"] == pytest.approx(s["twin"]["loss"]["train"], rel=1e-12)
    assert s["invariant_drift"]["total"] == pytest.approx(s["invariant_drift"]["twin_total"], rel=1e-9)
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    for key in ("backend", "board", "mode", "steps", "cosine", "nrmse", "sign_error", "rel_error", "reference_rel_error",
                "invariant_drift", "train_accuracy", "test_accuracy", "time_s"):
        assert key in on_disk, key
    assert on_disk["backend"] == "reference" and on_disk["board"] is None and on_disk["mode"] == "train"
    assert on_disk["steps"] == 6
    for m in METRIC_KEYS:
        assert set(on_disk[m]) == {"min", "median", "max", "undefined"} and on_disk[m]["undefined"] == 0
    assert set(on_disk["reference_rel_error"]) == {"median", "max", "undefined"}
    assert {"host", "board", "twin", "eval"} == set(on_disk["time_s"]["wall"])
    assert {"link", "device"} == set(on_disk["time_s"]["modelled"])
    assert 0.0 <= on_disk["train_accuracy"] <= 1.0 and 0.0 <= on_disk["test_accuracy"] <= 1.0
    assert set(s["plots"]) == {"agreement.png", "scatter.png", "curves.png", "invariant.png"}
    for p in s["plots"]:
        assert (tmp_path / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_coupled_learning_is_compared_with_the_cost_it_descends_and_with_the_task(tmp_path):
    with hil.open_backend("reference") as b:
        s = hil.run(circuit("coupled_learning", eta=1e-3), b, "train", 2, tmp_path, progress=False)
    assert s["cost"] == "kron"
    assert s["cosine"]["min"] > 0.9999  # small η: CL descends the Kron-weighted error
    assert set(s["vs_task"]) == set(METRIC_KEYS)
    assert s["vs_task"]["cosine"]["max"] < s["cosine"]["min"]  # several outputs: not the MSE gradient


def test_least_action_has_no_invariant_and_matches_backprop(tmp_path):
    with hil.open_backend("reference") as b:
        s = hil.run(mlp(), b, "train", 2, tmp_path, progress=False)
    assert s["invariant_drift"] is None
    assert s["rel_error"]["max"] < 1e-12
    assert "invariant.png" not in s["plots"]


def test_stat_on_the_reference_backend_is_exact(tmp_path):
    with hil.open_backend("reference") as b:
        s = hil.run(circuit(beta=1e-3), b, "stat", 3, tmp_path, progress=False)
    st = s["stat"]
    assert st["n"] == 3 and st["passed"] and st["pass_fraction"] == 1.0 and st["std_max"] == 0.0
    assert set(st["params"]) == {"k_in_out", "k_gnd_out"}
    assert st["mean_vs_reference_update"]["rel_error"] < 1e-12
    assert "stat.png" in s["plots"]


def test_stat_passes_unbiased_noise_and_fails_a_bias(tmp_path):
    g = circuit(beta=1e-3)
    with Noisy(std=1e-4) as b:
        ok = hil.run(g, b, "stat", 30, tmp_path / "ok", k=5.0, progress=False)["stat"]
    assert ok["passed"] and ok["std_max"] > 0
    with Noisy(std=1e-4, bias=1e-3) as b:  # bias = 10σ per repeat, ≈ 55 σ/√n
        bad = hil.run(g, b, "stat", 30, tmp_path / "bad", k=5.0, progress=False)["stat"]
    assert not bad["passed"] and bad["pass_fraction"] < 0.01 and bad["z_max"] > 20


def test_sweep_small_beta_is_closer_to_the_gradient(tmp_path):
    with hil.open_backend("reference") as b:
        s = hil.run(circuit(beta=0.1), b, "sweep", 2, tmp_path, values=(1e-4, 0.5), progress=False)
    res = s["sweep"]["results"]
    assert s["sweep"]["parameter"] == "beta" and [r["value"] for r in res] == [1e-4, 0.5]
    assert res[0]["rel_error"]["median"] < 1e-3 < res[1]["rel_error"]["median"]
    assert s["steps"] == 4 and "sweep.png" in s["plots"]


@pytest.mark.parametrize("kw, path", [
    (dict(mode="bogus"), "mode"), (dict(steps=0), "steps"), (dict(mode="stat", steps=1), "steps"),
    (dict(k=0.0), "k"), (dict(values=(0.1,)), "values"), (dict(mode="sweep", values=(-1.0,)), "values"),
])
def test_bad_arguments_name_the_field(tmp_path, kw, path):
    with hil.open_backend("reference") as b, pytest.raises(ValidationError) as e:
        hil.run(circuit(beta=0.1), b, out=tmp_path, progress=False, **{"steps": 2, **kw})
    assert e.value.path == path


def test_sweep_refuses_a_family_without_a_nudge(tmp_path):
    with hil.open_backend("reference") as b, pytest.raises(ValidationError, match="sweep varies"):
        hil.run(mlp(), b, "sweep", 2, tmp_path, progress=False)


def test_graph_without_data_is_refused(tmp_path):
    g = builders.resistor_network(2, 1, 0, family="circuit_ep", beta=0.1)
    with hil.open_backend("reference") as b, pytest.raises(ValidationError, match="dataset"):
        hil.run(g, b, "train", 2, tmp_path, progress=False)


def test_open_backend_errors():
    with pytest.raises(ValidationError, match=r"'nope' is not installed \(have .*reference"):
        with hil.open_backend("nope"):
            pass
    with pytest.raises(ValidationError, match="does not drive a board"):
        with hil.open_backend("reference", board="socket://127.0.0.1:1"):
            pass
