"""The Brian2 rate twin against the reference engine: same discretisation ⇒ the same update, to
float rounding, step after step (the reference engine is independent code: numpy, not Brian)."""
import os
from pathlib import Path

import numpy as np
import pytest

from neurophys import metrics
from neurophys.backend import UnsupportedGraph, get_backend
from neurophys.data import load_split
from neurophys.families import family
from neurophys.ir import builders
from neurophys.ir.dataset import Dataset
from neurophys.ir.coupling import Coupling
from neurophys.ir.errors import ValidationError
from neurophys.ir.rule import Relaxation, Rule
from neurophys.ir.training import Training

pytest.importorskip("brian2")
from neurophys.backends.brian import BrianRateBackend  # noqa: E402

pytestmark = pytest.mark.backend
TOL = 1e-6


def ep_xor(activation="hard_sigmoid", estimator="symmetric", sizes=(2, 4, 2), steps=40):
    return builders.layered_ep(list(sizes), activation=activation, beta=0.5, lr=0.1, estimator=estimator,
                               relaxation=Relaxation("euler", dt=0.5, max_steps=steps, tol=0),
                               dataset=Dataset("xor"), training=Training(batch_size=4), seed=1)


def cl_iris(n_hidden=0, family_name="coupled_learning", **kw):
    return builders.resistor_network(8, 3, n_hidden, family=family_name,
                                     dataset=Dataset("iris", complement=True), training=Training(batch_size=16), **kw)


def run_against_reference(graph, n_steps=3, **options):
    """Step the backend and the reference side by side; return the worst relative error."""
    split = load_split(graph.dataset)
    bs = graph.training.batch_size
    fam, twin = family(graph), graph.copy()
    worst = 0.0
    with BrianRateBackend(**options) as be:
        be.compile(graph)
        for k in range(n_steps):
            idx = (k * bs + np.arange(bs)) % len(split.x_train)
            x, y = split.x_train[idx], split.y_train[idx]
            theta = be.get_params()
            for name, v in theta.items():  # the backend really holds the twin's θ
                np.testing.assert_allclose(v, twin.params()[name], rtol=0, atol=1e-12)
            ref = fam.local_update(twin, x, y)
            u = be.step(x, y)
            assert set(u) == set(ref)
            after = be.get_params()
            measured = {n: after[n] - theta[n] for n in ref}
            worst = max(worst, metrics.rel_error(metrics.flatten(measured, list(ref)), metrics.flatten(ref)),
                        metrics.rel_error(metrics.flatten(u, list(ref)), metrics.flatten(ref)))
            twin.set_params({n: twin.params()[n] + ref[n] for n in ref})
        out = be.outputs(split.x_train)
    np.testing.assert_allclose(out, fam.outputs(twin, split.x_train), rtol=0, atol=1e-9)
    return worst


def test_ep_xor_matches_reference():
    assert run_against_reference(ep_xor()) <= TOL


def test_ep_three_layer_sigmoid_one_sided_matches_reference():
    g = ep_xor(activation="sigmoid", estimator="one_sided", sizes=(2, 5, 3, 2), steps=30)
    assert run_against_reference(g) <= TOL


@pytest.mark.parametrize("estimator", ["symmetric", "one_sided"])
def test_linear_inputs_outside_the_box_stay_clamped(estimator):
    """hard_sigmoid/linear graphs run the lean equations (an input holds ρ(x) as state and bias, the
    box clip is the activation): inputs outside [0, 1] must still enter unclipped."""
    g = ep_xor(estimator=estimator)
    x = np.array([[-1.5, 0.3], [2.0, 1.2], [0.5, -0.2], [3.0, 3.0]])
    y = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    ref = family(g).local_update(g.copy(), x, y)
    with BrianRateBackend() as be:
        be.compile(g)
        out = be.outputs(x)
        u = be.step(x, y)
    assert metrics.rel_error(metrics.flatten(u, list(ref)), metrics.flatten(ref)) <= TOL
    np.testing.assert_allclose(out, family(g).outputs(g, x), rtol=0, atol=1e-9)


def test_cl_iris_matches_reference():
    assert run_against_reference(cl_iris()) <= TOL


@pytest.mark.parametrize("estimator", ["symmetric", "one_sided"])
def test_circuit_ep_with_hidden_nodes_matches_reference(estimator):
    g = cl_iris(n_hidden=5, family_name="circuit_ep", beta=0.1)
    g.rule.estimator = estimator
    assert run_against_reference(g, n_steps=2) <= TOL


def test_coupled_learning_with_hidden_nodes_matches_reference():
    assert run_against_reference(cl_iris(n_hidden=5), n_steps=2) <= TOL


@pytest.mark.parametrize("estimator, replicas", [("symmetric", ["plus", "minus"]), ("one_sided", ["free", "plus"])])
def test_ep_runs_only_the_replicas_its_estimator_contrasts(estimator, replicas):
    """The free phase is a replica only where the estimator reads it (one-sided); the symmetric
    estimator's free-phase outputs come from a free-only run (checked in run_against_reference)."""
    with BrianRateBackend() as be:
        be.compile(ep_xor(estimator=estimator))
        info = be.info()
        assert info["replicas"] == replicas
        assert info["steps_per_learning_step"] == 2 * be.graph.rule.relaxation.max_steps
        assert ("one-sided" in info["replicas_note"]) == (estimator == "one_sided")


def test_registered_under_its_name():
    assert get_backend("brian") is BrianRateBackend


def test_params_round_trip_and_bad_writes():
    g = ep_xor()
    with BrianRateBackend() as be:
        be.compile(g)
        new = {k: v + 0.25 for k, v in g.params().items()}
        be.set_params(new)
        for k, v in be.get_params().items():
            np.testing.assert_array_equal(v, new[k])
        with pytest.raises(ValidationError, match=r"params\.W1"):
            be.set_params({"W1": np.zeros((2, 2))})
        with pytest.raises(ValidationError, match=r"params\.nope"):
            be.set_params({"nope": np.zeros(1)})
        with pytest.raises(ValidationError, match="capacity 4"):
            be.step(np.zeros((5, 2)), np.zeros((5, 2)))


@pytest.mark.parametrize("mutate, path", [
    (lambda g: setattr(g.rule, "relaxation", Relaxation("anderson", tol=1e-10)), "rule.relaxation.method"),
    (lambda g: setattr(g.rule.relaxation, "tol", 1e-8), "rule.relaxation.tol"),
    (lambda g: setattr(g.cost, "kind", "cross_entropy"), "cost.kind"),
])
def test_unsupported_ep_graphs_are_refused_by_path(mutate, path):
    g = ep_xor()
    mutate(g)
    with pytest.raises(UnsupportedGraph, match=path.replace(".", r"\.")):
        BrianRateBackend().compile(g)


def test_unsupported_family_is_refused():
    g = builders.pc_alm([2, 3, 2], dataset=Dataset("xor"))
    with pytest.raises(UnsupportedGraph, match=r"rule\.family"):
        BrianRateBackend().compile(g)


def test_lateral_coupling_is_refused_by_path():
    g = ep_xor()
    g.couplings.append(Coupling("lat", "h1", "h1", "dense", weight=np.zeros((4, 4)), symmetric=True))
    with pytest.raises(UnsupportedGraph, match=r"couplings\[2\].*lateral"):
        BrianRateBackend().compile(g)


def test_bad_options_are_refused():
    with pytest.raises(ValidationError, match="codegen"):
        BrianRateBackend(codegen="fortran")
    with pytest.raises(ValidationError, match="build_dir"):
        BrianRateBackend(build_dir="/tmp/somewhere")
    with pytest.raises(ValidationError, match="circuit_steps"):
        BrianRateBackend(circuit_steps=0)
    with pytest.raises(ValidationError, match="batch"):
        BrianRateBackend(batch=0)


@pytest.mark.slow
def test_cpp_standalone_is_built_once_and_matches_reference():
    """The compiled program (one C++ build, re-run with run_args every step) is the same twin; two
    standalone networks (each on its own Brian device) and a numpy one live side by side."""
    assert run_against_reference(ep_xor(), codegen="cpp_standalone") <= TOL
    with BrianRateBackend(codegen="cpp_standalone") as be, BrianRateBackend(codegen="cpp_standalone") as other:
        be.compile(cl_iris())
        other.compile(ep_xor())
        build = be.info()["build_dir"]
        stamp = Path(build, "main").stat().st_mtime_ns
        split, xor = load_split(be.graph.dataset), load_split(other.graph.dataset)
        for k in range(2):
            be.step(split.x_train[:16], split.y_train[:16])
            u = other.step(xor.x_train, xor.y_train)
            with BrianRateBackend() as runtime:  # numpy target in between
                runtime.compile(ep_xor())
        assert Path(build, "main").stat().st_mtime_ns == stamp  # not rebuilt
        inputs = [f for f in os.listdir(Path(build, "static_arrays")) if f.startswith("init_") and f.endswith(".dat")]
        assert len(inputs) <= len(be.target.args)  # only the last run's input files are kept
        assert all(np.all(np.isfinite(v)) for v in u.values())
    assert not Path(build).exists()  # the temporary build folder is removed on close
