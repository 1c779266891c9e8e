"""The chip path: one Lava network for a graph, learning on Lava's learning engine, samples one
after another (a chip learns online).

Populations become neuron Processes holding the ring schedule (procs/ring.py); each coupling a
synapse carrying graded spikes forward (W) and, from a free source, a second one backward (Wᵀ)
that learns the same update; each trainable bias a synapse from the population's always-on unit.
A synapse is the list of connection processes the numerics object makes for one parameter, all from
the same pre to the same post port (which sums them): one LearningDense (a Dense if not trainable),
or in fixed point a static coarse Dense plus a fine LearningDense; the learning one is last, and the
host consolidates the parts between runs after a learning step (numerics.py). No plasticity process:
the learning rule is the LearningDense's (numerics.py), the neurons send it the third factors. Every
value written to or read from a process goes through a numerics object (float or Loihi 2 fixed
point). Inputs and targets come from source RingBuffers; the output
population records its state in a trace Var (procs/trace.py). The network is compiled once (a
first run on zeros) and every batch is then one `run(RunSteps(T))` per ring of `slots` samples;
the weights move once, on the apply steps of the batch's last ring.
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
from .procs.doubled_neuron import DoubledNeuron
from .procs.rate_neuron import RateNeuron
from .runcfg import run_config


def check(graph: Graph) -> None:
    """Refuse, naming the part, what the Lava mappings cannot host."""
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


def phases_of(graph: Graph, learn: bool):
    rule = graph.rule
    if rule.family == "ep":
        return sch.ep_phases(rule.beta, rule.lr, rule.estimator, learn)
    return sch.least_action_phases(rule.lr, learn)


class ChipNet:
    window = 1  # steps at each phase's end flagged MEASURE (the spiking units count spikes there)

    def __init__(self, graph: Graph, numerics=None, hw: bool = False):
        check(graph)
        self.graph = graph
        self.num = numerics or FloatNumerics()
        self.ep = graph.rule.family == "ep"
        self.steps = self._phase_steps(graph.rule.relaxation)
        self.learn_phases, self.eval_phases = phases_of(graph, True), phases_of(graph, False)
        self.magnitude = sch.magnitude(self.learn_phases)
        self.slots = graph.training.batch_size
        self.apply_at = self.slots * sch.sample_steps(self.learn_phases, self.steps)
        self.T = self.apply_at + self.num.apply_steps
        self.eval_slots = self.T // sch.sample_steps(self.eval_phases, self.steps)
        self.learn_ctrl = self.num.control(sch.control(self.learn_phases, self.steps, self.slots, self.T,
                                                       self.num.apply_steps, self.window))
        self.eval_ctrl = self.num.control(sch.control(self.eval_phases, self.steps, self.eval_slots, self.T, 0,
                                                      self.window))
        self._build()
        self.run_cfg = run_config(self.num.select_tag, hw, self.processes())
        self._set = {}  # last value written to each ring Var (written only when it changes)
        self.running = False

    # ------------------------------------------------------------------ construction
    def _build(self):
        g, T, num = self.graph, self.T, self.num
        out = g.population(g.cost.output)
        self._make_inputs()
        self.target = Source(data=num.state_in(np.zeros((out.size, T))))
        self.neurons = {}
        for p in g.populations:
            if p.clamped:
                continue
            bias = p.bias if p.bias is not None and not p.trainable_bias else np.zeros(p.size)
            common = dict(size=p.size, bias=num.state_in(bias), activation=p.activation, name=p.name,
                          cost=g.cost.kind if p.name == out.name else None, learn_ctrl=self.learn_ctrl,
                          eval_ctrl=self.eval_ctrl, apply_at=self.apply_at, apply_steps=num.apply_steps,
                          record=T if p.name == out.name else 0)
            self.neurons[p.name] = self._neuron(p, common)
        self.target.s_out.connect(self.neurons[out.name].y_in)
        self.fwd, self.bwd, self.bias = {}, {}, {}
        for c in g.couplings:
            dst = self.neurons[c.dst]
            fwd = self.fwd[c.name] = num.synapse(c.name, c.weight, f"{c.name}.fwd", c.trainable)
            self._connect(fwd, self._pre_port(c.src), dst.a_in if self.ep else dst.z_in)
            if c.trainable:
                self._learn_from(fwd[-1], dst, "y")
            if c.src in self.neurons:
                src = self.neurons[c.src]
                bwd = self.bwd[c.name] = num.synapse(c.name, c.weight.T, f"{c.name}.bwd", c.trainable)
                self._connect(bwd, dst.s_out if self.ep else dst.d_out, src.a_in if self.ep else src.e_in)
                if c.trainable:
                    self._learn_from(bwd[-1], src, "y" if self.ep else "u")
        for p in g.populations:
            if p.name in self.neurons and p.bias is not None and p.trainable_bias:
                n = self.neurons[p.name]
                b = self.bias[p.name] = num.synapse(f"{p.name}.bias", p.bias[:, None], f"{p.name}.bias", True)
                self._connect(b, n.one_out, n.a_in if self.ep else n.z_in)
                self._learn_from(b[-1], n, "y")

    @staticmethod
    def _connect(synapse, pre, post):
        """Every process of a synapse from the same pre port to the same post port (which sums them)."""
        for conn in synapse:
            pre.connect(conn.s_in)
            conn.a_out.connect(post)

    @staticmethod
    def _learn_from(conn, post, factor: str):
        """Wire the post neuron's third factors into a LearningDense (y2/y3, or u2/u3 for a backward one)."""
        post.y1_out.connect(conn.s_in_y1)
        getattr(post, f"{factor}2_out").connect(conn.s_in_y2)
        getattr(post, f"{factor}3_out").connect(conn.s_in_y3)
        post.bap_out.connect(conn.s_in_bap)

    # hooks: what a population becomes, the phases' length, how inputs are coded
    def _phase_steps(self, rx) -> int:
        return rx.max_steps

    def _make_inputs(self):
        self.inputs = {p.name: Source(data=self.num.payload_in(np.zeros((p.size, self.T)))) for p in self.graph.inputs}

    def _neuron(self, p, common):
        rx = self.graph.rule.relaxation
        if self.ep:
            return RateNeuron(dt=self.num.fraction(rx.dt), **common)
        return DoubledNeuron(k=rx.dt / p.tau, **common)

    def _pre_port(self, name):
        """The port carrying a population's activity into its outgoing forward connections."""
        if name in self.inputs:
            return self.inputs[name].s_out
        return self.neurons[name].s_out if self.ep else self.neurons[name].a_out

    def _set_input(self, name, x_rho, per_sample):
        self.inputs[name].data.set(self.num.payload_in(self._ring(x_rho, per_sample)))

    def processes(self):
        synapses = [*self.fwd.values(), *self.bwd.values(), *self.bias.values()]
        return [*self.inputs.values(), self.target, *self.neurons.values(), *(p for s in synapses for p in s)]

    # ------------------------------------------------------------------ running
    def start(self):
        """Compile and start the runtime once (a run on zeros: no sample is real, nothing is applied)."""
        self._run()
        self.running = True

    def _ring_var(self, name, value):
        """Write a ring Var of every neuron, only when its value changes (each write is a runtime round trip)."""
        value = np.atleast_1d(value)
        if name in self._set and np.array_equal(self._set[name], value):
            return
        for n in self.neurons.values():
            getattr(n, name).set(value)
        self._set[name] = value

    def _set_samples(self, x, y, per_sample: int):
        off = 0
        for p in self.graph.inputs:
            self._set_input(p.name, act.rho(p.activation, x[:, off:off + p.size]), per_sample)
            off += p.size
        self.target.data.set(self.num.state_in(self._ring(y, per_sample)))

    def _ring(self, rows, per_sample):
        data = np.zeros((rows.shape[1], self.T))
        data[:, :len(rows) * per_sample] = np.repeat(rows.T, per_sample, axis=1)
        return data

    def _run(self):
        self.target.run(condition=RunSteps(num_steps=self.T), run_cfg=self.run_cfg)

    def learn(self, x, y):
        """One local learning step on the batch: the samples one after another, the tag accumulating
        their contrasts, the weights moving once at the end."""
        B = len(x)
        y1 = self.num.apply_y1(self.magnitude, B)
        per = sch.sample_steps(self.learn_phases, self.steps)
        self._ring_var("learn", 1)
        for i in range(0, B, self.slots):
            xb, yb = x[i:i + self.slots], y[i:i + self.slots]
            self._ring_var("n_real", len(xb))
            self._ring_var("apply_y1", y1 if i + self.slots >= B else np.zeros_like(y1))
            self._set_samples(xb, yb, per)
            self._run()
        for k, synapses in self._learning_synapses().items():
            self.num.consolidate(k, synapses)

    def _learning_synapses(self):
        """Each trainable parameter's synapses (forward and transposed, or its bias connection)."""
        out = {c.name: [self.fwd[c.name]] + ([self.bwd[c.name]] if c.name in self.bwd else [])
               for c in self.graph.couplings if c.trainable}
        return {**out, **{f"{p}.bias": [b] for p, b in self.bias.items()}}

    def outputs(self, x):
        """Output states at the end of the free phase (EP) / the flow (least action)."""
        per = sch.sample_steps(self.eval_phases, self.steps)
        n_out = self.graph.population(self.graph.cost.output).size
        self._ring_var("learn", 0)
        res = []
        for i in range(0, len(x), self.eval_slots):
            xb = x[i:i + self.eval_slots]
            self._set_samples(xb, np.zeros((len(xb), n_out)), per)
            self._run()
            trace = self.neurons[self.graph.cost.output].trace.get()
            res.append(self.num.state_out(trace)[:, sch.phase_ends(self.eval_phases, self.steps, len(xb))].T)
        return np.concatenate(res)

    # ------------------------------------------------------------------ parameters
    def names(self):
        return [c.name for c in self.graph.couplings] + [f"{p.name}.bias" for p in self.graph.populations
                                                         if p.bias is not None]

    def get_params(self):
        out = {c.name: self.num.read(c.name, self.fwd[c.name]) for c in self.graph.couplings}
        for p in self.graph.populations:
            if p.bias is None:
                continue
            k = f"{p.name}.bias"
            out[k] = (self.num.read(k, self.bias[p.name])[:, 0] if p.name in self.bias
                      else self.num.state_out(self.neurons[p.name].bias.get()))
        return out

    def set_params(self, params):
        names = set(self.names())
        for k, v in params.items():
            if k not in names:
                raise UnsupportedGraph(f"params.{k}", f"no such parameter (have {', '.join(sorted(names))})")
            v = np.asarray(v, float)
            if k.endswith(".bias"):
                pop = k[:-5]
                if pop in self.bias:
                    self.num.write(k, self.bias[pop], v[:, None])
                else:
                    self.neurons[pop].bias.set(self.num.state_in(v))
            else:
                self.num.write(k, self.fwd[k], v)
                if k in self.bwd:
                    self.num.write(k, self.bwd[k], v.T.copy())

    def transpose_mismatch(self) -> float:
        """max |W_fwd − W_bwdᵀ| over couplings with a backward connection: both learn the same update,
        up to the learning engine's rounding (fixed point) — read back, not assumed."""
        m = 0.0
        for k, b in self.bwd.items():
            m = max(m, float(np.abs(self.num.read(k, self.fwd[k]) - self.num.read(k, b).T).max()))
        return m

    def stop(self):
        if self.running:
            self.target.stop()
            self.running = False
