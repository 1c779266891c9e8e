"""θ ← θ + Δθ with the graph's bounds and a target's narrower range (Backend.limits)."""
import numpy as np

from neurophys.ir.builders import resistor_network
from neurophys.train import apply_update


def _net(k):
    g = resistor_network(len(k), 1, 0, family="coupled_learning", eta=0.1, lr=0.1, seed=0)
    name = g.couplings[0].name
    g.set_params({name: np.asarray(k, float)})
    return g, name


def test_graph_bounds_clip():
    g, name = _net([0.5, 0.5])
    lo, hi = g.couplings[0].bounds
    applied = apply_update(g, {name: np.array([-10.0, 0.1])})
    np.testing.assert_allclose(g.params()[name], [lo, 0.6])
    np.testing.assert_allclose(applied[name], [lo - 0.5, 0.1])


def test_limits_clip_but_never_pull_a_value_already_outside():
    g, name = _net([0.5, 0.01, 3.0])
    applied = apply_update(g, {name: np.array([-1.0, -0.005, 0.5])}, limits={name: (0.02, 2.0)})
    # inside → stops at the floor; below the floor already → may not go lower, is not lifted;
    # above the ceiling already → may not go higher, is not pulled down
    np.testing.assert_allclose(applied[name], [0.02 - 0.5, 0.0, 0.0])
    applied = apply_update(g, {name: np.array([0.1, 0.005, -0.5])}, limits={name: (0.02, 2.0)})
    np.testing.assert_allclose(applied[name], [0.1, 0.005, -0.5])
