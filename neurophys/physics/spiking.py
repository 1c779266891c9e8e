"""Reference simulator for spiking networks (neurophys.ir.SpikingNetwork): NIR's ODEs stepped at dt.

`NIREuler` is the discretisation of NIR's own reference implementation (NIR paper, repository
paper/03_rnn/extras/debug_CubaLIF/nir_reference_impl.py): forward Euler with every state advanced
from the previous step's values (a CubaLIF's voltage uses the synaptic current *before* this step's
update), a node's input held constant over the step, spikes as 1 (one per step at most) where
v > v_threshold, then v ← v_reset. Brian2's `euler` integrator on the same ODEs is the same scheme,
which is why the two agree to rounding. A producer's own discretisation (snnTorch, Norse, Sinabs,
Rockpool) is a subclass of `NIREuler` that overrides the models it treats differently
(neurophys.interop.conventions).

Everything is vectorised over units and over any batch axes: the input is (T, …, n_in) and every
node's value is (…, size); the loop is over time steps and nodes only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir.errors import ValidationError
from ..ir.maps import Affine, Input, Scale, Threshold
from ..ir.neurons import Neurons
from ..ir.spiking_network import SpikingNetwork


METHOD = {"LI": "li", "LIF": "lif", "CubaLI": "cubali", "CubaLIF": "cubalif", "I": "integrator", "IF": "if_"}


class NIREuler:
    """NIR's equations, forward Euler at dt. Methods take (population, state dict, input, dt) and
    return the node's output for this step, updating the state in place."""
    name = "nir"

    def initial(self, n: Neurons, shape: tuple) -> dict:
        return {"v": np.zeros(shape + (n.size,)), "i": np.zeros(shape + (n.size,))}

    def step(self, n: Neurons, s: dict, x: np.ndarray, dt: float) -> np.ndarray:
        return getattr(self, METHOD[n.model])(n, s, x, dt)

    # -------------------------------------------------------------- the six models
    def li(self, n, s, x, dt):
        s["v"] = s["v"] + dt / n.tau * (n.v_leak - s["v"] + n.r * x)
        return s["v"]

    def lif(self, n, s, x, dt):
        return self.fire(n, s, self.li(n, s, x, dt))

    def cubali(self, n, s, x, dt):
        i_old = s["i"]
        s["i"] = i_old + dt / n.tau_syn * (n.w_in * x - i_old)
        s["v"] = s["v"] + dt / n.tau_mem * (n.v_leak - s["v"] + n.r * i_old)
        return s["v"]

    def cubalif(self, n, s, x, dt):
        return self.fire(n, s, self.cubali(n, s, x, dt))

    def integrator(self, n, s, x, dt):
        s["v"] = s["v"] + dt * n.r * x
        return s["v"]

    def if_(self, n, s, x, dt):
        return self.fire(n, s, self.integrator(n, s, x, dt))

    def fire(self, n, s, v):
        z = v > n.v_threshold
        s["v"] = np.where(z, n.v_reset, v)
        return z.astype(float)

    def implied_dt(self, net: SpikingNetwork) -> float | None:
        """The time step the file's parameters were written for, where the convention encodes one."""
        return None



@dataclass
class Run:
    output: np.ndarray              # (T, …, n_out): the output node's value per step
    counts: dict                    # spiking node → total spikes (summed over time, units and batch)
    traces: dict                    # recorded node → (T, …, size)


def simulate(net: SpikingNetwork, x, dt: float, dynamics: NIREuler | None = None, record=()) -> Run:
    """Run `net` on inputs x (T, …, n_in; one row per step) with time step dt (seconds)."""
    dyn = dynamics or NIREuler()
    x = np.asarray(x, float)
    if x.ndim < 2 or x.shape[-1] != net.n_in:
        raise ValidationError("input", f"shape {x.shape}: expected (T, …, {net.n_in}) — one row of {net.n_in} "
                              "input values per time step")
    if not (isinstance(dt, (int, float)) and np.isfinite(dt) and dt > 0):
        raise ValidationError("dt", f"{dt!r} must be a positive number of seconds")
    for r in record:
        if r not in net.node_index:
            raise ValidationError("record", f"{r!r} is not a node")
    batch = x.shape[1:-1]
    nodes = net.node_index
    cols, at = {}, 0
    for inp in net.inputs:
        cols[inp.name] = slice(at, at + inp.size)
        at += inp.size
    states = {n.name: dyn.initial(n, batch) for n in net.nodes if isinstance(n, Neurons)}
    prev = {n.name: np.zeros(batch + (n.out_size,)) for n in net.nodes}
    sources = {name: net.sources(name) for name in net.order}
    T = x.shape[0]
    out = np.zeros((T,) + batch + (net.n_out,))
    traces = {r: np.zeros((T,) + batch + (nodes[r].out_size,)) for r in record}
    counts = {n.name: 0.0 for n in net.nodes if isinstance(n, (Threshold, Neurons)) and _spikes(n)}
    for t in range(T):
        now = {}
        for name in net.order:
            node = nodes[name]
            if isinstance(node, Input):
                now[name] = x[t][..., cols[name]]
                continue
            inp = sum((prev[s] if late else now[s] for s, late in sources[name]), np.zeros(batch + (node.in_size,)))
            if isinstance(node, Affine):
                y = inp @ node.weight.T + (0.0 if node.bias is None else node.bias)
            elif isinstance(node, Scale):
                y = inp * node.scale
            elif isinstance(node, Threshold):
                y = (inp > node.threshold).astype(float)
            else:
                y = dyn.step(node, states[name], inp, dt)
            now[name] = y
        for name in counts:
            counts[name] += float(np.sum(now[name]))
        out[t] = now[net.output]
        for r in record:
            traces[r][t] = now[r]
        prev = now
    return Run(out, counts, traces)


def _spikes(node) -> bool:
    return isinstance(node, Threshold) or node.spiking
