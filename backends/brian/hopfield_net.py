"""The spiking twin of an EP graph as one Brian2 `NeuronGroup` + one `Synapses`, replicated over
phases × batch (the rate twin is `ep_rate_net`; the dense-coupling plumbing here is shared).

Units follow the reference engine's projected Euler step exactly:
    s ← clip(s + dt·(g(s)·(h + b) − s − β_now·[out]·(s − y)), lo, hi),  h = Σ w·ρ(s_pre) (summed)
with g = 1 for boxed (hard_sigmoid) units and ρ′ otherwise (as `Hopfield.drift`), inputs clamped.
Replicas: "free" relaxes K steps and then holds; "plus"/"minus" relax K free steps, then K steps
at ±β — the reference's nudged phases, which start from the free state. Each synapse then holds
the product of its replica's pre and post spike traces summed over a measurement window of M
steps (the free replica also gives the free-phase outputs of a standalone program, which always
runs every phase).

Every unit also fires Poisson spikes at rate r_max·clip(ρ(s), 0, 1) with one trace
x per unit (τ_trace, jump 1/(r_max·τ_trace), so E[x] = ρ). The three phase replicas of a unit
draw the same uniform number each step (a linked variable into a noise group): common random
numbers, so the contrast between phases is not buried in independent spike noise.
"""
from __future__ import annotations

import numpy as np

from neurophys import activations as act

from ._runtime import time_unit
from .layout import Layout, check_synapse_order

RHO = {"hard_sigmoid": "clip(s, 0, 1)", "sigmoid": "0.5*(1 + tanh(0.5*s))", "tanh": "tanh(s)",
       "relu": "s*int(s > 0)", "linear": "s"}
DRHO = {"hard_sigmoid": "int(s > 0)*int(s < 1)", "sigmoid": "(0.5*(1 + tanh(0.5*s)))*(1 - 0.5*(1 + tanh(0.5*s)))",
        "tanh": "(1 - tanh(s)**2)", "relu": "int(s > 0)", "linear": "1.0"}  # ρ′, as activations.drho
GAIN = {**DRHO, "hard_sigmoid": "1.0"}  # boxed units: the projection (clip to [0, 1]) stands in for ρ′
CODES = {a: i for i, a in enumerate(RHO)}


def _select(table, used):
    """One expression if every unit has the same activation, else a sum gated by each unit's code."""
    if len(used) == 1:
        return table[next(iter(used))]
    return " + ".join(f"int(act == {CODES[a]})*({table[a]})" for a in sorted(used))


class DenseNet:
    """Parameter plumbing shared by the dense-coupling networks: one `group` holding `bias` and a
    per-unit accumulator `A`, one `syn` holding `w` and a per-synapse accumulator `C`, and index
    maps `fwd` (the coupling's own direction) and `bwd` (its mirror, where the rule has one), each
    (R, B, dst, src) synapse indices."""

    def _connect(self, graph, L, S, mirror: bool):
        """Every dense coupling's synapses, src → dst (`fwd`), and with `mirror` also dst → src
        (`bwd`) where the source is free; checks Brian kept the order the index maps assume."""
        pre, post, self.fwd, self.bwd = [], [], {}, {}
        count = 0
        for c in graph.couplings:
            nd, ns = c.weight.shape
            ii, jj = np.meshgrid(np.arange(nd), np.arange(ns), indexing="ij")
            p, q = L.pairs(c.src, c.dst, jj.ravel(), ii.ravel())
            pre.append(p.ravel()), post.append(q.ravel())
            self.fwd[c.name] = count + np.arange(p.size).reshape(p.shape[:2] + (nd, ns))
            count += p.size
            if mirror and not graph.population(c.src).clamped:  # symmetric: the source feels the destination
                pre.append(q.ravel()), post.append(p.ravel())
                self.bwd[c.name] = count + np.arange(p.size).reshape(p.shape[:2] + (nd, ns))
                count += p.size
        pre, post = np.concatenate(pre), np.concatenate(post)
        S.connect(i=pre, j=post)
        self.w_, self.bias_ = S.w_, self.group.bias_  # Brian makes a new view on every attribute access
        self.n_syn = len(pre)
        self.order = (pre, post)
        if not self.target.standalone:  # standalone synapses exist only once the program has run
            self._check_order()

    def _check_order(self):
        check_synapse_order(self.syn, self.order)
        self.order = None

    def _inputs(self, x: np.ndarray, rho: bool = False) -> np.ndarray:
        """A neuron array holding the (padded) batch x — or ρ(x), with `rho` — on the input units of
        every replica, 0 elsewhere."""
        L, out, off = self.layout, np.zeros(self.layout.N), 0
        for p in self.graph.inputs:
            v = x[None, :, off:off + p.size]
            out[L.units(p.name)] = act.rho(p.activation, v) if rho else v
            off += p.size
        return out

    def _targets(self, y: np.ndarray) -> np.ndarray:
        """A neuron array holding the (padded) targets y on the output units of every replica."""
        out = np.zeros(self.layout.N)
        out[self.layout.units(self.graph.cost.output)] = y[None]
        return out

    def _run_with_targets(self, y: np.ndarray, steps: int, **shared) -> None:
        """Load the targets and run: a standalone program always runs all `self.steps` from t = 0
        with its accumulators A and C at zero; a runtime network has them cleared, takes the
        `shared` variables, and runs `steps`."""
        G, T = self.group, self.target
        T.set(G.y_, self._targets(y))
        if T.standalone:
            T.run(self.steps * self.clock.dt)
            if self.order is not None:
                self._check_order()
            return
        G.A_[:] = 0.0
        self.syn.C_[:] = 0.0
        for name, value in shared.items():
            setattr(G, name, value)
        G.t0 = self.net.t
        T.run(steps * self.clock.dt)

    def write_params(self, graph):
        """All weights and biases at once (a standalone program takes whole arrays)."""
        w, bias = np.zeros(self.n_syn), np.zeros(self.layout.N)
        for c in graph.couplings:
            for idx in (self.fwd[c.name], self.bwd.get(c.name)):
                if idx is not None:
                    w[idx] = c.weight
        for p in graph.populations:
            if not p.clamped:
                bias[self.layout.units(p.name)] = 0.0 if p.bias is None else p.bias
        self.target.set(self.w_, w, held=True)
        self.target.set(self.bias_, bias, held=True)

    def read(self, name: str) -> np.ndarray:
        """A parameter as the target holds it (replica 0, sample 0)."""
        if name.endswith(".bias"):
            return self.target.take(self.bias_, self.layout.units(name[:-5])[0, 0])
        return self.target.take(self.w_, self.fwd[name][0, 0])

    def write(self, values: dict[str, np.ndarray]) -> None:
        """Parameters by name; each Brian variable is read and written once, whole."""
        T, w, bias = self.target, None, None
        for name, value in values.items():
            if name.endswith(".bias"):
                bias = np.array(T.get(self.bias_)) if bias is None else bias
                bias[self.layout.units(name[:-5])] = value
                continue
            w = np.array(T.get(self.w_)) if w is None else w
            for idx in (self.fwd[name], self.bwd.get(name)):
                if idx is not None:
                    w[idx] = value
        if w is not None:
            T.set(self.w_, w, held=True)
        if bias is not None:
            T.set(self.bias_, bias, held=True)

    def contrast(self, name: str, hi: str, lo: str | None, batch: int) -> np.ndarray:
        """mean over the batch of (⟨pre·post⟩_hi − ⟨pre·post⟩_lo) for a coupling, or of post alone
        for a bias, each ⟨·⟩ the window average the target accumulated; lo None: a single-replica
        rule, ⟨·⟩_hi alone."""
        R = {r: i for i, r in enumerate(self.layout.replicas)}
        if name.endswith(".bias"):
            acc = self.target.take(self.group.A_, self.layout.units(name[:-5]))
        else:
            acc = self.target.take(self.syn.C_, self.fwd[name])
        acc_lo = 0.0 if lo is None else acc[R[lo], :batch]
        d = (acc[R[hi], :batch] - acc_lo) / self.window
        return d.mean(axis=0)


class HopfieldNet(DenseNet):
    def __init__(self, b, target, graph, replicas, batch, spiking, name="ep"):
        """`target`: a `_runtime.Target`; `spiking`: dict(rate_max [Hz], trace_tau [IR units],
        window [steps], seed)."""
        self.b, self.target, self.graph = b, target, graph
        rx = graph.rule.relaxation
        self.K = rx.max_steps
        self.window = spiking["window"]
        self.steps = 2 * self.K + self.window
        self.layout = L = Layout.of(graph.populations, replicas, batch)
        unit = time_unit(b)
        self.clock = b.Clock(dt=rx.dt * unit, name=f"{name}_clock*")
        used = {p.activation for p in graph.populations}
        eqs = f"""
        ds/dt = mov*(gain*(hs + bias) - s - bnow*nud*(s - y))/tau : 1
        hs : 1
        bias : 1
        y : 1
        A : 1
        nud : 1 (constant)
        bet : 1 (constant)
        frz : 1 (constant)
        free : 1 (constant)
        lo : 1 (constant)
        hi : 1 (constant)
        act : integer (constant)
        t0 : second (shared)
        K : 1 (shared, constant)
        Nw : 1 (shared)
        nst = (t - t0)/dt + 0.5 : 1
        mov = free*(1 - frz*int(nst >= K)) : 1
        bnow = bet*int(nst >= K) : 1
        r = {_select(RHO, used)} : 1
        gain = {_select(GAIN, used)} : 1
        dx/dt = -x/tau_tr : 1
        u : 1 (linked)
        rcl = clip(r, 0, 1) : 1
        """
        end_code = "\n".join(["s = clip(s, lo, hi)", "x = x + int(nst >= Nw - 1)*int(nst < Nw)*(rcl - x)",
                              "A = A + int(nst >= Nw)*x"])
        ns = {"tau": 1.0 * unit, "tau_tr": spiking["trace_tau"] * unit, "rmax": spiking["rate_max"] * b.Hz,
              "jump": float(1.0 / (spiking["rate_max"] * b.Hz * spiking["trace_tau"] * unit))}
        self.group = G = b.NeuronGroup(L.N, eqs, method="euler", clock=self.clock, namespace=ns,
                                       name=f"{name}_units*", threshold="u < rmax*rcl*dt", reset="x += jump")
        G.K = self.K
        G.t0 = 0 * unit
        G.Nw = self.steps - self.window
        G.run_regularly(end_code, when="end", order=0, name=f"{name}_end*")
        self._init_neurons(graph, L)
        self.noise = b.NeuronGroup(batch * L.n, "u : 1", clock=self.clock, name=f"{name}_noise*")
        self.noise.run_regularly("u = rand()", when="start", name=f"{name}_draw*")
        G.u = b.linked_var(self.noise, "u", index=np.arange(L.N) % (batch * L.n))
        self.syn = S = b.Synapses(G, G, """
            w : 1
            hs_post = w*r_pre : 1 (summed)
            C : 1
            """, clock=self.clock, name=f"{name}_syn*")
        self._connect(graph, L, S, mirror=True)
        S.run_regularly("C = C + int(nst_post >= Nw_post)*x_pre*x_post", when="end", order=1,
                        name=f"{name}_corr*")
        self.net = b.Network(G, self.noise, S)
        target.attach(self.net)
        target.seed(spiking["seed"])
        self.write_params(graph)

    # ------------------------------------------------------------------ construction
    def _init_neurons(self, graph, L):
        G = self.group
        free = {p.name: 1.0 for p in graph.populations if not p.clamped}
        G.free = L.per_neuron(free)
        boxed = {p.name: 0.0 for p in graph.populations if not p.clamped and act.box(p.activation)}
        G.lo = np.where(L.per_neuron(boxed, default=1.0) == 0.0, 0.0, -np.inf)
        G.hi = np.where(L.per_neuron(boxed, default=1.0) == 0.0, 1.0, np.inf)
        G.act = L.per_neuron({p.name: CODES[p.activation] for p in graph.populations}).astype(int)
        G.nud = L.per_neuron({graph.cost.output: 1.0})
        beta = graph.rule.beta
        rep = L.replica_of()
        signs = np.array([{"free": 0.0, "plus": 1.0, "minus": -1.0}[r] for r in L.replicas])
        G.bet = beta * signs[rep]
        G.frz = (np.array([r == "free" for r in L.replicas])[rep]).astype(float)

    # ------------------------------------------------------------------ running
    def run(self, x: np.ndarray, y: np.ndarray, phases: bool = True) -> None:
        """Load a (padded) batch and run the free phase only, or all phases and the window. A
        standalone program always runs everything (the free replica holds its state after K steps)."""
        self.target.set(self.group.s_, self._inputs(x))
        steps = self.steps if phases else self.K
        # a free-only run has no window
        self._run_with_targets(y, steps, Nw=self.steps - self.window if phases else steps + 1)

    def outputs(self) -> np.ndarray:
        """(B, n_out) free-phase output states."""
        return self.target.take(self.group.s_, self.layout.units(self.graph.cost.output)[0])
