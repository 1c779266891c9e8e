"""The fast path: the fewest Lava processes that run the graph's dynamics faithfully — one neuron
Process holding the whole batch side by side (procs/batch_units.py) and one block-diagonal Dense
(library process) with a copy of the couplings per sample — and one `run()` per learning step
(several when the block-diagonal Dense for the whole batch would exceed BLOCK_ENTRIES).

The update is computed on the host from the states the units read at the phase ends, with the
core's own `update_from_phases` / `update_from_fields`, and written back into the Dense (which holds
the biases too, as the column of an always-on unit): this path simulates the dynamics, the chip
path (network.py) learns on the chip.
"""
from __future__ import annotations

import numpy as np
from lava.magma.core.run_conditions import RunSteps
from lava.proc.dense.process import Dense

from neurophys.backend import UnsupportedGraph
from neurophys.families import ep, least_action
from neurophys.ir.graph import Graph
from neurophys.physics.hopfield import Hopfield

from . import schedule as sch
from .network import check, phases_of
from .procs.batch_units import BatchUnits
from .runcfg import run_config

MESSAGE_BITS = 24
BLOCK_ENTRIES = 1 << 20  # cap on the block-diagonal Dense (slots² copies of a sample's matrix)


def slot_matrix(graph: Graph) -> np.ndarray:
    """One sample's coupling matrix: payload [ρ(x), 1, ρ(s)] → field h (EP); [a_in, 1, a, δ] → [z, e]
    (least action). The always-on unit's column holds the biases, so every parameter is in the Dense."""
    net = Hopfield(graph)
    n, n_in = net.n, net.n_in + 1
    la = graph.rule.family != "ep"
    M = np.zeros((2 * n if la else n, n_in + (2 * n if la else n)))
    for p in net.free:
        if p.bias is not None:
            M[net.slices[p.name], net.n_in] = p.bias
    for b in net.blocks:
        W = b.coupling.weight
        dst = slice(n_in + b.dst.start, n_in + b.dst.stop) if la else None
        if b.src is None:
            M[b.dst, b.src_in] += W
            continue
        src = slice(n_in + b.src.start, n_in + b.src.stop)
        M[b.dst, src] += W
        if la:  # e_src = Σ Wᵀ δ_dst
            M[n + b.src.start:n + b.src.stop, n + dst.start:n + dst.stop] += W.T
        else:
            M[b.src, n_in + b.dst.start:n_in + b.dst.stop] += W.T
    return M


class FastNet:
    def __init__(self, graph: Graph, hw: bool = False):
        check(graph)
        self.graph = graph
        self.ep = graph.rule.family == "ep"
        self.net = Hopfield(graph)
        self.steps = graph.rule.relaxation.max_steps
        learn, evaluate = phases_of(graph, True), phases_of(graph, False)
        self.length = {True: sch.sample_steps(learn, self.steps), False: sch.sample_steps(evaluate, self.steps)}
        # the whole batch side by side, unless its block-diagonal Dense (∝ slots²) would be huge: then
        # the batch runs as several rings of `slots` samples and is applied once
        per = slot_matrix(graph).size
        self.slots = max(1, min(graph.training.batch_size, int(np.sqrt(BLOCK_ENTRIES / per))))
        self.written = self._block()  # what the Dense holds: written by the host, never read back (see get_params)
        self.dense = Dense(weights=self.written, num_message_bits=MESSAGE_BITS, name="couplings")
        self.units = BatchUnits(graph=graph, slots=self.slots, steps=self.steps, name="units",
                                phases={"learn": [(m, b) for m, b, _ in learn], "eval": [(m, b) for m, b, _ in evaluate]})
        self.units.s_out.connect(self.dense.s_in)
        self.dense.a_out.connect(self.units.a_in)
        self.run_cfg = run_config("floating_pt", hw, self.processes())
        self._learning = False
        self._xy = None  # the (x, y) the units hold: set again only when they change
        self.running = False

    def _block(self):
        return np.kron(np.eye(self.slots), slot_matrix(self.graph))

    def processes(self):
        return [self.units, self.dense]

    def start(self):
        self._run(False)
        self.running = True

    def _run(self, learn: bool):
        if learn != self._learning:
            self.units.learn.set(np.array([int(learn)]))
            self._learning = learn
        self.units.run(condition=RunSteps(num_steps=self.length[learn]), run_cfg=self.run_cfg)

    def _chunk(self, x, y, learn: bool):
        """Run up to `slots` samples (the rest of the slots padded with zeros); their phase-end states."""
        B = len(x)
        xs, ys = np.zeros(self.units.x.shape), np.zeros(self.units.y.shape)
        xs[:B], ys[:B] = x, y
        if self._xy is None or not (np.array_equal(xs, self._xy[0]) and np.array_equal(ys, self._xy[1])):
            self.units.x.set(xs)
            self.units.y.set(ys)
            self._xy = xs, ys
        self._run(learn)
        return self.units.ends.get()[:, :B]

    def learn(self, x, y):
        """One learning step: the batch's updates averaged, applied once."""
        g, B = self.graph, len(x)
        total = None
        for i in range(0, B, self.slots):
            xb, yb = x[i:i + self.slots], y[i:i + self.slots]
            ends = self._chunk(xb, yb, True)
            u = self._update(xb, ends)
            total = {k: v * len(xb) / B for k, v in u.items()} if total is None else {
                k: total[k] + v * len(xb) / B for k, v in u.items()}
        params = g.params()
        self.set_params({k: params[k] + v for k, v in total.items()})

    def _update(self, x, ends):
        g = self.graph
        if self.ep:
            names = ["free", "plus", "minus"] if g.rule.estimator == "symmetric" else ["free", "plus"]
            return ep.update_from_phases(g, self.net, x, dict(zip(names, ends)))
        a, d = least_action.input_rates(g, x), {}
        for p in self.net.free:
            sl = self.net.slices[p.name]
            a[p.name], d[p.name] = ends[0][:, sl], ends[1][:, sl]
        return least_action.update_from_fields(g, a, d)

    def outputs(self, x):
        out = []
        for i in range(0, len(x), self.slots):
            xb = x[i:i + self.slots]
            out.append(self._chunk(xb, np.zeros((len(xb), self.units.y.shape[1])), False)[0][:, self.net.out])
        return np.concatenate(out)

    def names(self):
        return list(self.graph.params())

    def get_params(self):
        """What the Dense holds (one copy per sample: the first), from the host's copy of what it wrote:
        the update is computed on the host on this path, and Lava moves a Var one element per message,
        so reading the block-diagonal matrix back would cost as much as writing it and tell nothing new
        (tests/test_loihi_backend.py reads it back to check the two agree)."""
        M = self.written[:self.written.shape[0] // self.slots, :self.written.shape[1] // self.slots]
        net = self.net
        out = {}
        for blk in net.blocks:
            out[blk.coupling.name] = M[blk.dst, blk.src_in if blk.src is None else
                                       slice(net.n_in + 1 + blk.src.start, net.n_in + 1 + blk.src.stop)].copy()
        for p in net.free:
            if p.bias is not None:
                out[f"{p.name}.bias"] = M[net.slices[p.name], net.n_in].copy()
        return out

    def set_params(self, params):
        names = set(self.names())
        for k in params:
            if k not in names:
                raise UnsupportedGraph(f"params.{k}", f"no such parameter (have {', '.join(sorted(names))})")
        self.graph.set_params({k: np.asarray(v, float) for k, v in params.items()})
        self.written = self._block()
        self.dense.weights.set(self.written)

    def stop(self):
        if self.running:
            self.units.stop()
            self.running = False
