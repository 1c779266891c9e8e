"""NIR spiking networks on Brian2: every neuron population a NeuronGroup whose equations are NIR's
ODEs as written (nir.ir.neuron), integrated by Brian's `euler` at dt.

  LI       dv/dt = (v_leak − v + r·I)/τ
  CubaLI   dI_s/dt = (w_in·I − I_s)/τ_syn ;  dv/dt = (v_leak − v + r·I_s)/τ_mem
  I        dv/dt = r·I / (1 s)
  (LIF, CubaLIF, IF add threshold `v > v_threshold` and reset `v = v_reset`; a Threshold node is a
  group with no state whose threshold is `I > θ`.)

I, a population's input, is held over the step (as in NIR's reference implementation): the part
coming from the Input nodes is a TimedArray (physics/spiking_layout.py precomputes it), spikes add
their weight to an accumulator `I_acc` through Synapses (`on_pre: I_acc_post += w`), and analog
sources (LI, CubaLI, I outputs) are summed variables. Brian's default schedule would delay each
layer by one step (all groups update before any spike is propagated); here every object runs in the
`groups` slot in the network's evaluation order — update, threshold, reset, propagate, per
population — so a spike reaches the next layer within its step, and a recurrent projection one step
late, exactly as on the reference engine. Both use forward Euler from the previous step's state, so
they agree to floating-point rounding (tests/test_nir_brian.py, bench/nir_agreement.py).
"""
from __future__ import annotations

import numpy as np

from neurophys.backend import UnsupportedGraph
from neurophys.ir.maps import Threshold
from neurophys.ir.spiking_network import SpikingNetwork
from neurophys.physics.spiking import Run
from neurophys.physics.spiking_layout import layout

RHS = {
    "LI": ["dv/dt = (v_leak - v + r*I_in)/tau : 1"],
    "CubaLI": ["dI_s/dt = (w_in*I_in - I_s)/tau_syn : 1", "dv/dt = (v_leak - v + r*I_s)/tau_mem : 1"],
    "I": ["dv/dt = r*I_in/second : 1"],
}
RHS["LIF"], RHS["CubaLIF"], RHS["IF"] = RHS["LI"], RHS["CubaLI"], RHS["I"]
TIME_PARAMS = ("tau", "tau_syn", "tau_mem")
SLOT = 10  # schedule orders per unit: +0 update, +1 threshold, +2 reset/zero, +3 propagate


def _brian():
    try:
        import brian2
    except ImportError as exc:  # pragma: no cover - the extra is installed in the dev venv
        raise UnsupportedGraph("backend", f"brian2 is not importable ({exc}); install neurophys[brian]") from None
    if type(brian2.get_device()).__name__ != "RuntimeDevice":
        brian2.set_device("runtime")
    brian2.prefs.codegen.target = "numpy"
    return brian2


def simulate(net: SpikingNetwork, x, dt: float) -> Run:
    """Run `net` on x (T × n_in) at dt seconds; the same Run record as the reference engine."""
    b = _brian()
    x = np.asarray(x, float)
    lay = layout(net)
    nodes = net.node_index
    if net.output not in lay.units:
        raise UnsupportedGraph(f"nodes.{net.output}", "brian-spiking records a neuron or Threshold node as the output; "
                               f"{net.output!r} is a {type(nodes[net.output]).__name__}")
    T = x.shape[0]
    clock_dt = dt * b.second
    drive = lay.drive(x)
    groups, objects, analog_in = {}, [], {u: [] for u in lay.units}
    for p in lay.projections:
        if not _spiking(nodes[p.src]):
            analog_in[p.dst].append(p)
    for k, u in enumerate(lay.units):
        node = nodes[u]
        arr = b.TimedArray(drive[u], dt=clock_dt)
        an = [f"I_an{j} : 1" for j in range(len(analog_in[u]))]
        total = " + ".join(["drive_%d(t, i)" % k, "I_acc"] + [f"I_an{j}" for j in range(len(analog_in[u]))])
        if isinstance(node, Threshold):
            eqs = [f"I_in = {total} : 1", "theta : 1"]
            g = b.NeuronGroup(node.out_size, "\n".join(eqs + ["I_acc : 1"] + an), threshold="I_in > theta", reset="",
                              dt=clock_dt, namespace={f"drive_{k}": arr})
            g.theta = node.threshold
        else:
            params = [f"{p} : {'second' if p in TIME_PARAMS else '1'}" for p in node.params]
            eqs = RHS[node.model] + [f"I_in = {total} : 1", "I_acc : 1"] + params + an
            extra = {"threshold": "v > v_threshold", "reset": "v = v_reset"} if node.spiking else {}
            g = b.NeuronGroup(node.size, "\n".join(eqs), method="euler", dt=clock_dt,
                              namespace={f"drive_{k}": arr}, **extra)
            for p, value in node.params.items():
                setattr(g, p, value * b.second if p in TIME_PARAMS else value)
            g.state_updater.when, g.state_updater.order = "groups", SLOT * k
        if "spike" in g.thresholder:
            g.thresholder["spike"].when, g.thresholder["spike"].order = "groups", SLOT * k + 1
        if "spike" in g.resetter:
            g.resetter["spike"].when, g.resetter["spike"].order = "groups", SLOT * k + 2
        zero = g.run_regularly("I_acc = 0", when="groups", order=SLOT * k + 2)
        groups[u] = g
        objects += [g, zero]
    rank = {u: k for k, u in enumerate(lay.units)}
    for j, p in enumerate(lay.projections):
        src, dst = groups[p.src], groups[p.dst]
        k = rank[p.src]
        if _spiking(nodes[p.src]):
            syn = b.Synapses(src, dst, "w : 1", on_pre="I_acc_post += w", dt=clock_dt)
            syn.pre.when, syn.pre.order = "groups", SLOT * k + 3
        else:
            var = f"I_an{analog_in[p.dst].index(p)}"
            syn = b.Synapses(src, dst, f"w : 1\n{var}_post = w * v_pre : 1 (summed)", dt=clock_dt)
            updater = syn.summed_updaters[var + "_post"]
            updater.when, updater.order = "groups", SLOT * k + 3
        post, pre = np.nonzero(p.weight)
        syn.connect(i=pre, j=post)
        syn.w = p.weight[post, pre]
        objects.append(syn)
    spike_mons = {u: b.SpikeMonitor(groups[u]) for u in lay.units if _spiking(nodes[u])}
    objects += list(spike_mons.values())
    out_node = nodes[net.output]
    state_mon = None if _spiking(out_node) else b.StateMonitor(groups[net.output], "v", record=True, when="end")
    if state_mon is not None:
        objects.append(state_mon)
    network = b.Network(*objects)
    network.run(T * clock_dt, namespace={})
    if state_mon is None:
        out = np.zeros((T, out_node.out_size))
        mon = spike_mons[net.output]
        steps = np.rint(np.asarray(mon.t / clock_dt)).astype(int)
        np.add.at(out, (steps, np.asarray(mon.i)), 1.0)
    else:
        out = np.asarray(state_mon.v).T[:T]
    counts = {u: float(m.num_spikes) for u, m in spike_mons.items()}
    return Run(out, counts, {})


def _spiking(node) -> bool:
    return isinstance(node, Threshold) or node.spiking
