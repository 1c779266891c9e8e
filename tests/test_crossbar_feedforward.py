"""Crossbar backend, least action: the doubled field measured through MVM/MVM_T over differential
pairs, and the board's stochastic UPDATE_OUTER pulse trains, against the core's reference engine."""
import numpy as np
import pytest

from neurophys import hil
from neurophys.hil.batches import batches
from neurophys.backends.crossbar import CrossbarBackend
from neurophys.firmware_interface import serve_pty
from neurophys import ir
from neurophys.data import load_split
from neurophys.families import family
from neurophys.families.least_action import DoubledField


def small_mlp():
    return ir.load("examples/least_action_iris.json")  # 4-6-3 tanh, mse, lr 1, batch 8


def test_fields_and_outputs_are_the_reference_doubled_field():
    g = small_mlp()
    assert CrossbarBackend.board_shape(g) == (7, 18)  # 6 source rows + bias row; 2·(6 + 3) columns
    split = load_split(g.dataset)
    x, y = split.x_train[:8], split.y_train[:8]
    with serve_pty(model="ideal", rows=7, cols=18) as srv, CrossbarBackend(board=srv.path) as b:
        b.compile(g)
        theta = b.get_params()
        twin = g.copy()
        twin.set_params(theta)
        a, d = b.engine.fields(x, y)
        a_ref, d_ref = DoubledField(twin).run(x, y)
        for p in ("h1", "out"):
            np.testing.assert_allclose(a[p], a_ref[p], atol=1e-4)
            np.testing.assert_allclose(d[p], d_ref[p], atol=1e-4)
        np.testing.assert_allclose(b.outputs(split.x_test), family(twin).outputs(twin, split.x_test), atol=1e-4)
        info = b.info()
        assert "f(z)" in info["on_host"] and "UPDATE_OUTER" in info["learning"]


def _stat(tmp_path, model, repeats):
    g = small_mlp()
    with hil.open_backend(CrossbarBackend, graph=g, notify=lambda m: None, emulator={"model": model}) as b:
        s = hil.run(g, b, "stat", repeats, tmp_path, progress=False)
    st = s["stat"]
    print(f"stat on {model}: passed={st['passed']} pass_fraction={st['pass_fraction']:.3f} z_max={st['z_max']:.2f} "
          f"bias_max={st['bias_max']:.3g} std_max={st['std_max']:.3g} "
          f"mean-vs-reference cosine={st['mean_vs_reference_update']['cosine']:.4f}")
    return s


def test_update_outer_is_unbiased_on_ideal(tmp_path):
    """E[ΔW] = −lr·δ·aᵀ: |mean(u) − E[u]| ≤ 4σ/√n on every device, E[u] from the reference engine."""
    s = _stat(tmp_path, "ideal", 40)
    assert s["stat"]["passed"], s["stat"]
    assert s["stat"]["mean_vs_reference_update"]["cosine"] > 0.99


@pytest.mark.slow
def test_update_outer_bias_is_reported_on_reram(tmp_path):
    s = _stat(tmp_path, "reram", 40)
    assert s["stat"]["bias_max"] > 0 and 0 <= s["stat"]["pass_fraction"] <= 1


@pytest.mark.slow
@pytest.mark.parametrize("model, floor", [("ideal", 0.90), ("reram", 0.0)])
def test_least_action_mlp_learns_digits_through_the_serial_link(model, floor):
    g = ir.load("examples/least_action_mlp.json")
    split = load_split(g.dataset)
    steps = 240  # ≈ 5.7 epochs of batch 32
    with hil.open_backend(CrossbarBackend, graph=g, notify=lambda m: None, emulator={"model": model}) as b:
        b.compile(g)
        data = batches(split, g.training.batch_size, 0)
        for _ in range(steps):
            b.step(*next(data))
        acc = float(np.mean(b.outputs(split.x_test).argmax(axis=1) == split.labels_test))
    print(f"least_action_mlp on {model}: test accuracy {acc:.3f} after {steps} steps")
    assert acc >= floor
