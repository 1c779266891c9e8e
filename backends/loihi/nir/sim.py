"""NIR spiking networks on Lava: each population one stock Lava `LIF` process (Loihi 2's neuron),
each projection a `Dense`, the input-driven current a `RingBuffer` source, run on Loihi2SimCfg —
in floating point (`floating_pt`) or bit-accurate fixed point (`fixed_pt`, PyLifModelBitAcc and
PyDenseModelBitAcc, i.e. Loihi's own arithmetic).

Lava's LIF:  u[t] = u[t−1](1 − du) + a_in[t] ;  v[t] = v[t−1](1 − dv) + u[t] + bias ;
             spike where v > vth, then v ← 0.
NIR's Euler at dt maps onto it with u the current already scaled into volts per step:
  LIF / LI        du = 1 (u = a_in),       dv = dt/τ,     a_in = (dt/τ)·r·I
  CubaLIF/CubaLI  du = dt/τ_syn,           dv = dt/τ_mem, a_in = (dt/τ_mem)·r·(dt/τ_syn)·w_in·I
  IF / I          du = 1,                  dv = 0,        a_in = dt·r·I
  and for all:    v' = v − v_reset (Lava resets to 0): bias = (dt/τ)(v_leak − v_reset), vth = θ − v_reset,
                  v'(0) = −v_reset; a non-spiking model (LI, CubaLI, I) gets the largest vth.
Lava's u update uses this step's input where NIR's Euler uses last step's current; a Dense hands its
spikes over one step late (its pipeline register), which is exactly that shift for CubaLIF/CubaLI
targets (so their input from the RingBuffer is sent one step late too); a recurrent projection into
them is already one step late in NIR, so it becomes a DelayDense with one more step. LIF/IF/LI
targets have no current to absorb it: spikes from another population reach them one step later than
on the reference engine — what that costs is measured (bench/nir_agreement.py), not hidden.

Lava's LIF holds one du, dv and vth per process: a population whose τ or θ − v_reset varies across
units is refused by name, as are Threshold nodes and analog (LI/CubaLI/I) outputs feeding on.

Fixed point (Loihi 2): a real value z in volts is the integer 64·S·z in u and v (24-bit), where the
unit's scale S is the largest that keeps θ' (vth is 17-bit, shifted left by 6), the bias (13-bit
mantissa with exponent 6) and the per-step input (a_in is 16-bit, shifted left by 6) in range;
du = round(4096 dt/τ_syn) − 1 (Loihi adds 1), dv = round(4096 dt/τ_mem); Dense weights are 8-bit
(even, −256…254) × 2^weight_exp per projection, chosen from the projection's largest weight. The
decays' 12-bit resolution (dv = 10.24 → 10 is a 2.3 % leak error at dt/τ = 0.0025) and the weights'
8 bits bound the error; the bench states the agreement it gives.
"""
from __future__ import annotations

import numpy as np

from neurophys.backend import UnsupportedGraph
from neurophys.ir.maps import Threshold
from neurophys.ir.spiking_network import SpikingNetwork
from neurophys.physics.spiking import Run
from neurophys.physics.spiking_layout import layout

CUBA = ("CubaLIF", "CubaLI")
VTH_MAX, A_IN_MAX, BIAS_MANT_MAX, V_MAX = 2**17 - 1, 2**15 - 1, 2**12 - 1, 2**23 - 1


def simulate_float(net: SpikingNetwork, x, dt: float) -> Run:
    return _simulate(net, x, dt, fixed=False)


def simulate_fixed(net: SpikingNetwork, x, dt: float) -> Run:
    return _simulate(net, x, dt, fixed=True)


def _unit(node, dt):
    """(gain per unit on the incoming current, du, dv, bias, v threshold', v_reset) in real units."""
    if isinstance(node, Threshold):
        raise UnsupportedGraph(f"nodes.{node.name}", "a Threshold node has no Lava LIF equivalent here")
    p, m = node.params, node.model
    tau = p.get("tau", p.get("tau_mem"))
    if m in ("IF", "I"):
        gain, du, dv, bias = dt * p["r"], 1.0, 0.0, np.zeros(node.size)
    else:
        gain = dt / tau * p["r"] * (dt / p["tau_syn"] * p["w_in"] if m in CUBA else 1.0)
        du = dt / p["tau_syn"] if m in CUBA else 1.0
        dv = dt / tau
        bias = dt / tau * (p["v_leak"] - p.get("v_reset", 0.0))
    reset = p.get("v_reset", np.zeros(node.size))
    vth = p["v_threshold"] - reset if node.spiking else None
    for label, value in (("a time constant", np.atleast_1d(du)), ("a time constant", np.atleast_1d(dv)),
                         ("v_threshold − v_reset", vth if vth is not None else np.zeros(1))):
        if np.ptp(value) > 1e-12 * max(1.0, np.abs(value).max()):
            raise UnsupportedGraph(f"nodes.{node.name}", f"{label} varies across units; a Lava LIF process has one")
    if np.any(np.asarray(du) > 1) or np.any(np.asarray(dv) > 1):
        raise UnsupportedGraph(f"nodes.{node.name}", f"dt = {dt:g} s exceeds a time constant; Lava's decay is 1 − dt/τ ≥ 0")
    return gain, float(np.atleast_1d(du)[0]), float(np.atleast_1d(dv)[0]), bias, \
        None if vth is None else float(vth[0]), reset


def _scale(vth, bias, a_in_max):
    """Largest S with every integer in range (see the module docstring)."""
    limits = [VTH_MAX / max(vth, 1e-300)] if vth is not None else []
    limits.append(V_MAX / 64 / (2 * (vth if vth is not None else max(a_in_max, 1e-300) * 100)))
    if np.abs(bias).max() > 0:
        limits.append(BIAS_MANT_MAX / np.abs(bias).max())
    if a_in_max > 0:
        limits.append(A_IN_MAX / a_in_max)
    return min(limits)


def _weights(w, fixed):
    """Dense weights and weight_exp: 8-bit even mantissa (−256…254) × 2^exp."""
    if not fixed:
        return w, 0
    big = np.abs(w).max()
    exp = int(np.clip(np.ceil(np.log2(big / 254)) if big > 0 else 0, -8, 7))
    return np.clip(2 * np.round(w / 2 ** exp / 2), -256, 254).astype(np.int32), exp


def _simulate(net, x, dt, fixed):
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense, DelayDense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.process import Monitor

    x = np.asarray(x, float)
    T = x.shape[0]
    lay = layout(net)
    nodes = net.node_index
    if net.output not in lay.units:
        raise UnsupportedGraph(f"nodes.{net.output}", f"loihi-lif records a neuron population as the output; "
                               f"{net.output!r} is a {type(nodes[net.output]).__name__}")
    for p in lay.projections:
        if not nodes[p.src].spiking:
            raise UnsupportedGraph(f"nodes.{p.src}", f"its {nodes[p.src].model} output is a voltage; Lava's LIF sends "
                                   "spikes only")
    drive = lay.drive(x)
    incoming = {u: [p for p in lay.projections if p.dst == u] for u in lay.units}
    procs, sinks, scale, shape = {}, {}, {}, {}
    sources = []
    for u in lay.units:
        node = nodes[u]
        gain, du, dv, bias, vth, reset = _unit(node, dt)
        d = drive[u] * gain
        rec_max = sum(np.abs(p.weight * gain[:, None]).sum(axis=1).max() for p in incoming[u])
        s = _scale(vth, bias, np.abs(d).max() + rec_max) if fixed else 1.0
        scale[u] = s
        v0 = -reset
        if fixed:
            lif = LIF(shape=(node.size,), du=int(round(4096 * du)) - 1, dv=int(round(4096 * dv)),
                      bias_mant=np.round(s * bias).astype(int), bias_exp=6,
                      vth=int(round(s * vth)) if vth is not None else VTH_MAX, v=np.round(64 * s * v0).astype(int))
        else:
            lif = LIF(shape=(node.size,), du=du, dv=dv, bias_mant=bias, vth=vth if vth is not None else 1e300, v=v0)
        data = s * d
        if node.model in CUBA:  # sent one step late: see the module docstring
            data = np.vstack([np.zeros((1, node.size)), data[:-1]])
        src = Source(data=np.round(data).T.astype(np.int32) if fixed else data.T)
        src.s_out.connect(lif.a_in)
        sources.append(src)
        procs[u] = lif
        shape[u] = (gain, reset)
        if node.spiking:
            sinks[u] = Sink(shape=(node.size,), buffer=T)
            lif.s_out.connect(sinks[u].a_in)
    for p in lay.projections:
        gain = shape[p.dst][0]
        w, exp = _weights(scale[p.dst] * gain[:, None] * p.weight, fixed)
        extra = p.delayed and nodes[p.dst].model in CUBA
        kw = {"num_message_bits": 0}
        if fixed:
            kw["weight_exp"] = exp
        conn = DelayDense(weights=w, delays=1, **kw) if extra else Dense(weights=w, **kw)
        procs[p.src].s_out.connect(conn.s_in)
        conn.a_out.connect(procs[p.dst].a_in)
    monitor = None
    if not nodes[net.output].spiking:
        monitor = Monitor()
        monitor.probe(procs[net.output].v, T)
    root = procs[net.output]
    try:
        root.run(condition=RunSteps(num_steps=T), run_cfg=Loihi2SimCfg(select_tag="fixed_pt" if fixed else "floating_pt"))
        spikes = {u: np.asarray(k.data.get(), float).T for u, k in sinks.items()}
        if monitor is not None:
            v = np.asarray(monitor.get_data()[root.name]["v"], float).reshape(T, -1)
            out = (v / (64 * scale[net.output]) if fixed else v) + shape[net.output][1]
        else:
            out = spikes[net.output]
    finally:
        root.stop()
    return Run(out, {u: float(s.sum()) for u, s in spikes.items()}, {})
