"""The block relaxation of layered clip nets (neurophys/physics/block_relax.py) lands where plain
sweeps land, to the same residual; other nets keep the general path."""
import numpy as np
import pytest

from neurophys import ir
from neurophys.data import load_split
from neurophys.ir import Coupling, Graph, Relaxation
from neurophys.ir.builders import layered_ep
from neurophys.physics import block_relax
from neurophys.physics.hopfield import Hopfield

TOL = 1e-10


def alternating_loop(W1, b1, W2, b2, x, y, beta, h, o, tol=1e-13, max_iter=20000):
    """The plain alternating-layer fixed-point loop of a 1-hidden-layer net (the bench's baseline)."""
    a = x @ W1.T + b1
    for _ in range(max_iter):
        h_new = np.clip(a + o @ W2, 0.0, 1.0)
        o_new = np.clip(h_new @ W2.T + b2 - (beta * (o - y) if beta else 0.0), 0.0, 1.0)
        moved = max(np.abs(h_new - h).max(), np.abs(o_new - o).max())
        h, o = h_new, o_new
        if moved <= tol:
            return h, o
    raise AssertionError("the plain loop did not converge")


def test_block_path_lands_where_the_plain_loop_does_on_ep_digits(examples_dir):
    """128 digits, all three EP phases. Sample 106 of this batch has a saddle with the same saturated
    units as the sweeps' state: a Newton step without the stability check stops there."""
    g = ir.load(examples_dir / "ep_digits.json")
    g.rule.relaxation = Relaxation("newton", tol=TOL, max_steps=5000)
    split = load_split(g.dataset)
    x, y = split.x_train[:128], split.y_train[:128]
    W1, W2 = g.coupling("W1").weight, g.coupling("W2").weight
    b1, b2 = g.pop_index["h1"].bias, g.pop_index["out"].bias
    net = Hopfield(g)
    assert net.block is not None
    h0, o0 = alternating_loop(W1, b1, W2, b2, x, None, 0.0, np.zeros((128, 128)), np.zeros((128, 10)))
    s0, info = net.relax(x)
    assert np.abs(s0 - np.hstack([h0, o0])).max() < 1e-8
    assert info["residual"] <= TOL and info["newton"] > 0
    for beta in (g.rule.beta, -g.rule.beta):
        h, o = alternating_loop(W1, b1, W2, b2, x, y, beta, h0, o0)
        s, info = net.relax(x, y, beta, s0)
        assert np.abs(s - np.hstack([h, o])).max() < 1e-8, beta


@pytest.mark.parametrize("sizes", [[6, 9, 7, 5, 4], [6, 5, 12, 4], [6, 3, 4]])
def test_newton_lands_where_the_sweeps_go_on_layered_nets(sizes, monkeypatch):
    """Deeper nets put several populations in a class; [6, 3, 4] puts the output in the larger
    class (the nudge on the class that Newton eliminates). Against the same sweeps without Newton,
    and, for the nudged phases (the free phase's basin depends on the sweep order), the general
    path's population-by-population sweeps and Newton."""
    g = layered_ep(sizes, beta=0.3, seed=2, gain=2.0, bias_scale=0.3,
                   relaxation=Relaxation("newton", tol=TOL, max_steps=20000))
    rng = np.random.default_rng(3)
    x, y = rng.uniform(size=(16, sizes[0])), rng.uniform(0.1, 0.9, size=(16, sizes[-1]))
    net = Hopfield(g)
    assert net.block is not None
    x_rho = net.rho_in(x)
    s0, _ = net.relax(x)
    for beta, start in ((0.0, None), (0.3, s0), (-0.3, s0)):
        s, info = net.relax(x, y, beta, start)
        assert net.residual(s, x_rho, y, beta) <= info["residual"] + 1e-15 <= TOL + 1e-15
        with monkeypatch.context() as m:
            m.setattr(block_relax, "FIRST_CHECK", 10 ** 9)
            m.setattr(block_relax, "CHECK_EVERY", 10 ** 9)
            sweeps, info = net.relax(x, y, beta, start)
        assert info["newton"] == 0
        assert np.abs(s - sweeps).max() < 1e-7, beta
        if beta:
            general, _ = net.newton(s0.copy(), x_rho, y, beta, TOL, 5000)
            assert np.abs(s - general).max() < 1e-7, beta


def test_nets_that_are_not_layered_clip_nets_keep_the_general_path():
    g = layered_ep([4, 6, 5, 3], seed=1, bias_scale=0.3, relaxation=Relaxation("newton", tol=TOL, max_steps=5000))
    skip = Coupling("skip", "h1", "out", weight=np.random.default_rng(0).normal(scale=0.3, size=(3, 6)))
    odd_cycle = Graph(g.populations, g.couplings + [skip], g.cost, g.rule, g.dataset, g.training, "skip")
    smooth = layered_ep([4, 6, 3], activation="sigmoid", relaxation=Relaxation("newton", tol=TOL, max_steps=5000))
    x = np.random.default_rng(1).uniform(size=(5, 4))
    for graph in (odd_cycle, smooth):
        net = Hopfield(graph)
        assert net.block is None
        s, info = net.relax(x)
        assert net.residual(s, net.rho_in(x), None, 0.0) <= TOL


def test_the_step_budget_is_kept_and_the_residual_reported_honestly(examples_dir):
    g = ir.load(examples_dir / "ep_digits.json")
    g.rule.relaxation = Relaxation("newton", tol=TOL, max_steps=5)
    x = load_split(g.dataset).x_train[:32]
    net = Hopfield(g)
    s, info = net.relax(x)
    assert info["steps"] + info["newton"] <= 5
    assert info["residual"] > TOL
    assert net.residual(s, net.rho_in(x), None, 0.0) <= info["residual"] + 1e-15
