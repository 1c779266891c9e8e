"""Build one Lava network for a graph and run batches through it.

Populations become neuron Processes, couplings Dense connections with graded spikes (forward W and,
from a free source, backward Wᵀ), each trainable coupling a Plasticity Process writing both Dense
weight Vars. Every value written to or read from a process goes through a numerics object
(numerics.py: unchanged for `floating_pt`, Loihi 2 fixed-point formats for `fixed_pt`). Inputs, targets and the control word come from source RingBuffers; the output
population records its state in a trace Var (procs/trace.py). The network is compiled once (a first run on zeros) and every batch is
then one `run(RunSteps(T))` of the same ring length T, so the rings stay aligned.
"""
from __future__ import annotations

import numpy as np
from lava.magma.core.run_conditions import RunSteps
from lava.proc.io.source import RingBuffer as Source

from neurophys import activations as act
from neurophys.backend import UnsupportedGraph
from neurophys.ir.graph import Graph

from . import schedule as sch
from .numerics import FloatNumerics
from .runcfg import run_config
from .procs.doubled_neuron import DoubledNeuron
from .procs.plasticity import Plasticity
from .procs.rate_neuron import RateNeuron

def check(graph: Graph) -> None:
    """Refuse, naming the part, what this mapping cannot host."""
    rx = graph.rule.relaxation
    if graph.rule.family == "ep" and rx.method != "euler":
        raise UnsupportedGraph("rule.relaxation.method", f"{rx.method!r}: Loihi neurons integrate with Euler steps; "
                               "use Relaxation('euler', dt, max_steps, tol=0)")
    if rx.tol > 0:
        raise UnsupportedGraph("rule.relaxation.tol", f"{rx.tol}: stopping on a residual needs a global reduction "
                               "every step; the chip runs a fixed max_steps (set tol=0)")
    for i, p in enumerate(graph.populations):
        if not p.clamped and p.kind != "rate":
            raise UnsupportedGraph(f"populations[{i}]", f"{p.name!r} is a {p.kind!r} population; this backend maps "
                                   "only 'rate' populations (and clamped inputs)")
    for i, c in enumerate(graph.couplings):
        if c.kind != "dense":
            raise UnsupportedGraph(f"couplings[{i}]", f"{c.name!r} is a {c.kind!r} coupling; only 'dense' maps to Dense")
        if c.src == c.dst:
            raise UnsupportedGraph(f"couplings[{i}]", f"{c.name!r} is lateral ({c.src}→{c.src}); lateral couplings "
                                   "are not mapped yet")


class LavaNet:
    window = 1  # steps at each phase's end flagged MEASURE in the control word (the spiking units count spikes there)

    def __init__(self, graph: Graph, numerics=None, hw: bool = False):
        check(graph)
        self.graph = graph
        self.num = numerics or FloatNumerics()
        rule, rx = graph.rule, graph.rule.relaxation
        self.ep = rule.family == "ep"
        self.steps = self._phase_steps(rx)
        if self.ep:
            self.learn_phases = sch.ep_phases(rule.beta, rule.lr, rule.estimator, True)
            self.eval_phases = sch.ep_phases(rule.beta, rule.lr, rule.estimator, False)
        else:
            self.learn_phases, self.eval_phases = sch.least_action_phases(rule.lr, True), sch.least_action_phases(
                rule.lr, False)
        self.slots = graph.training.batch_size
        self.S = sch.sample_steps(self.learn_phases, self.steps)
        self.T = self.slots * self.S
        self.eval_slots = self.T // sch.sample_steps(self.eval_phases, self.steps)
        self._build()
        self.run_cfg = run_config(self.num.select_tag, hw, self.processes())
        self._ctrl_key = None
        self.running = False

    # ------------------------------------------------------------------ construction
    def _build(self):
        g, T, num = self.graph, self.T, self.num
        out = g.population(g.cost.output)
        self.ctrl = Source(data=num.control(np.zeros((sch.WIDTH, T))))
        self._make_inputs()
        self.target = Source(data=num.state_in(np.zeros((out.size, T))))
        self.neurons = {}
        for p in g.populations:
            if p.clamped:
                continue
            bias = p.bias if p.bias is not None else np.zeros(p.size)
            common = dict(size=p.size, bias=num.state_in(bias), activation=p.activation, name=p.name,
                          cost=g.cost.kind if p.name == out.name else None,
                          trainable_bias=p.bias is not None and p.trainable_bias,
                          record=T if p.name == out.name else 0)
            n = self._neuron(p, common)
            self.ctrl.s_out.connect(n.ctrl)
            self.neurons[p.name] = n
        self.target.s_out.connect(self.neurons[out.name].y_in)
        self.fwd, self.bwd, self.plastic = {}, {}, {}
        for c in g.couplings:
            pre, pre_learn = self._src_ports(c.src)
            dst = self.neurons[c.dst]
            post, post_learn = self._dst_ports(dst)
            self.fwd[c.name] = num.dense(c, c.weight, f"{c.name}.fwd")
            pre.connect(self.fwd[c.name].s_in)
            self.fwd[c.name].a_out.connect(dst.a_in if self.ep else dst.z_in)
            if c.src in self.neurons:
                src = self.neurons[c.src]
                self.bwd[c.name] = num.dense(c, c.weight.T, f"{c.name}.bwd")
                post.connect(self.bwd[c.name].s_in)
                self.bwd[c.name].a_out.connect(src.a_in if self.ep else src.e_in)
            if c.trainable:
                pl = Plasticity(shape=c.weight.shape, shift=num.shifts.get(c.name, 0), name=f"{c.name}.plasticity")
                pre_learn.connect(pl.pre)
                post_learn.connect(pl.post)
                self.ctrl.s_out.connect(pl.ctrl)
                pl.w_fwd.connect_var(self.fwd[c.name].weights)
                if c.name in self.bwd:
                    pl.w_bwd.connect_var(self.bwd[c.name].weights)
                self.plastic[c.name] = pl

    # hooks: what a population becomes and which ports carry its activity to Dense and to plasticity
    def _phase_steps(self, rx) -> int:
        return rx.max_steps

    def _make_inputs(self):
        self.inputs = {p.name: Source(data=self.num.state_in(np.zeros((p.size, self.T)))) for p in self.graph.inputs}

    def _neuron(self, p, common):
        rx = self.graph.rule.relaxation
        return RateNeuron(dt=self.num.fraction(rx.dt), **common) if self.ep else DoubledNeuron(k=rx.dt / p.tau, **common)

    def _src_ports(self, name):
        """(port into the forward Dense, port into the plasticity's pre) of a coupling's source."""
        port = self.inputs[name].s_out if name in self.inputs else (
            self.neurons[name].s_out if self.ep else self.neurons[name].a_out)
        return port, port

    def _dst_ports(self, n):
        """(port into the backward Dense, port into the plasticity's post) of a coupling's destination."""
        port = n.s_out if self.ep else n.d_out
        return port, port

    def _set_input(self, name, x_rho, per_sample):
        self.inputs[name].data.set(self.num.state_in(self._ring(x_rho, per_sample)))

    def processes(self):
        return [self.ctrl, self.target, *self.inputs.values(), *self.neurons.values(), *self.fwd.values(),
                *self.bwd.values(), *self.plastic.values()]

    # ------------------------------------------------------------------ running
    def start(self):
        """Compile and start the runtime once (a run on zeros: no updates are applied)."""
        self.ctrl.run(condition=RunSteps(num_steps=self.T), run_cfg=self.run_cfg)
        self.running = True

    def _set_ctrl(self, learn: bool, n_real: int, scale: float):
        key = (learn, n_real, scale)
        if key != self._ctrl_key:
            phases, slots = (self.learn_phases, self.slots) if learn else (self.eval_phases, self.eval_slots)
            self.ctrl.data.set(self.num.control(sch.control(phases, self.steps, slots, n_real, scale, self.window)))
            self._ctrl_key = key

    def _set_samples(self, x, y, per_sample: int):
        g = self.graph
        off = 0
        for p in g.inputs:
            xr = act.rho(p.activation, x[:, off:off + p.size])
            off += p.size
            self._set_input(p.name, xr, per_sample)
        self.target.data.set(self.num.state_in(self._ring(y, per_sample)))

    def _ring(self, rows, per_sample):
        data = np.zeros((rows.shape[1], self.T))
        data[:, :len(rows) * per_sample] = np.repeat(rows.T, per_sample, axis=1)
        return data

    def _run(self):
        self.ctrl.run(condition=RunSteps(num_steps=self.T), run_cfg=self.run_cfg)

    def learn(self, x, y):
        """One local learning step on the batch: phases per sample, update applied at the end."""
        B = len(x)
        for i in range(0, B, self.slots):
            xb, yb = x[i:i + self.slots], y[i:i + self.slots]
            last = i + self.slots >= B
            self._set_ctrl(True, len(xb), 1.0 / B if last else 0.0)
            self._set_samples(xb, yb, self.S)
            self._run()

    def outputs(self, x):
        """Output states at the end of the free phase (EP) / the flow (least action)."""
        per = sch.sample_steps(self.eval_phases, self.steps)
        n_out = self.graph.population(self.graph.cost.output).size
        res = []
        for i in range(0, len(x), self.eval_slots):
            xb = x[i:i + self.eval_slots]
            self._set_ctrl(False, 0, 0.0)
            self._set_samples(xb, np.zeros((len(xb), n_out)), per)
            self._run()
            trace = self.neurons[self.graph.cost.output].trace.get()
            res.append(self.num.state_out(trace)[:, sch.phase_ends(self.eval_phases, self.steps, len(xb))].T)
        return np.concatenate(res)

    # ------------------------------------------------------------------ parameters
    def get_params(self):
        out = {c.name: self.num.weights_out(c.name, self.fwd[c.name].weights.get()) for c in self.graph.couplings}
        for p in self.graph.populations:
            if p.bias is not None:
                out[f"{p.name}.bias"] = self.num.state_out(self.neurons[p.name].bias.get())
        return out

    def set_params(self, params):
        names = {c.name for c in self.graph.couplings} | {f"{p.name}.bias" for p in self.graph.populations
                                                        if p.bias is not None}
        for k, v in params.items():
            if k not in names:
                raise UnsupportedGraph(f"params.{k}", f"no such parameter (have {', '.join(sorted(names))})")
            v = np.asarray(v, float)
            if k.endswith(".bias"):
                self.neurons[k[:-5]].bias.set(self.num.state_in(v))
            else:
                w = self.num.weights_in(k, v)
                self.fwd[k].weights.set(w)
                if k in self.bwd:
                    self.bwd[k].weights.set(w.T.copy())

    def stop(self):
        if self.running:
            self.ctrl.stop()
            self.running = False
