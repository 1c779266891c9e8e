"""The same NIR network on the reference engine, Brian2 and Lava; the rate-coded twin export."""
import numpy as np
import pytest

from neurophys.ir import builders
from neurophys.ir.maps import Affine, Input, Scale
from neurophys.ir.neurons import Neurons
from neurophys.ir.spiking_network import SpikingNetwork
from neurophys.physics.spiking import simulate

RNG = np.random.default_rng(3)


def recurrent_net(first="CubaLIF", out="LI"):
    h, o = 10, 3
    p1 = (dict(tau_syn=5e-3, tau_mem=1e-2, r=2.0, v_leak=0.1, v_threshold=1.0, v_reset=-0.1, w_in=1.5) if first == "CubaLIF"
          else dict(tau=1e-2, r=2.0, v_leak=0.1, v_threshold=1.0, v_reset=0.0))
    p2 = (dict(tau=2e-2, r=1.0, v_leak=0.0) if out == "LI" else
          dict(tau_syn=5e-3, tau_mem=1e-2, r=2.0, v_leak=0.0, v_threshold=0.5, w_in=1.0))
    nodes = [Input("in", 4), Affine("fc1", RNG.normal(0, 1, (h, 4)), RNG.normal(0, .2, h)), Neurons("l1", first, h, p1),
             Affine("rec", RNG.normal(0, .5, (h, h))), Affine("fc2", RNG.normal(0, 1, (o, h))), Scale("sc", [1., 2., 3.]),
             Neurons("out", out, o, p2)]
    edges = [("in", "fc1"), ("fc1", "l1"), ("l1", "rec"), ("rec", "l1"), ("l1", "fc2"), ("fc2", "sc"), ("sc", "out")]
    return SpikingNetwork(nodes, edges, "out")


def test_brian_equals_reference_to_rounding():
    from neurophys.backends.brian.nir_sim import simulate as brian

    net = recurrent_net()
    x = RNG.random((300, 4)) * 3
    ref, b = simulate(net, x, 1e-3), brian(net, x, 1e-3)
    assert b.counts == ref.counts and ref.counts["l1"] > 100
    np.testing.assert_allclose(b.output, ref.output, rtol=0, atol=1e-12)


def test_lava_float_equals_reference_and_fixed_point_is_close():
    from neurophys.backends.loihi.nir.sim import simulate_fixed, simulate_float

    net = recurrent_net(out="CubaLIF")
    x = RNG.random((120, 4)) * 3
    ref = simulate(net, x, 1e-3)
    flo = simulate_float(net, x, 1e-3)
    assert flo.counts == ref.counts and ref.counts["out"] > 10
    np.testing.assert_allclose(flo.output, ref.output, atol=1e-9)
    fix = simulate_fixed(net, x, 1e-3)
    for k, v in ref.counts.items():  # 12-bit decays, 8-bit weights: a few spikes in a few hundred
        assert abs(fix.counts[k] - v) <= 0.05 * v + 2


def test_lava_refuses_what_its_lif_cannot_hold():
    from neurophys.backend import UnsupportedGraph
    from neurophys.backends.loihi.nir.sim import simulate_float

    net = recurrent_net()
    net.node("l1").params["tau_mem"][0] *= 2
    with pytest.raises(UnsupportedGraph, match=r"^nodes\.l1: a time constant varies across units"):
        simulate_float(net, np.zeros((3, 4)), 1e-3)


@pytest.mark.slow
def test_twin_codes_the_rate_network():
    pytest.importorskip("nir")
    from neurophys.families import family
    from neurophys.interop import conventions, nir_spiking, nir_twin

    g = builders.feedforward([3, 6, 2], activation="relu", out_activation="hard_sigmoid")
    tw = nir_twin.twin(g, steps_per_spike=50)
    net = nir_spiking.from_nir(tw.graph)
    x = RNG.random((4, 3))
    want = family(g).outputs(g, x)
    T = 6000
    xs = np.broadcast_to(x, (T,) + x.shape)
    for name, bound in (("nir", 0.05), ("snntorch", 0.03)):  # reset to v_reset loses up to ρ/K per spike
        got = nir_twin.decode(simulate(net, xs, tw.dt, conventions.get(name)).output[T // 10:], 50)
        assert np.linalg.norm(got - want) / np.linalg.norm(want) < bound, name
    with pytest.raises(Exception, match=r"^populations\[1\]: 'h1' has activation 'tanh'"):
        nir_twin.twin(builders.feedforward([3, 4, 2], activation="tanh"))
