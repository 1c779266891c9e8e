"""A resistor circuit as one Brian2 `NeuronGroup` of node voltages + one `Synapses` of conductances.

The reference solves Kirchhoff's laws directly; here the circuit *settles* by its RC dynamics.
Each free node has a capacitance τ·G_i (G_i its total conductance, summed on the target), so
    τ dV_i/dt = (Σ_e k_e V_other + I_i − G_i V_i)/G_i
and one Euler step at dt = τ is a Jacobi sweep, converging geometrically (at once for a circuit
without free–free edges) to the Kirchhoff solution. I_i is the EP nudge current β(V_T − V_i) at
outputs. Replicas: "free"; "clamped" (coupled learning: after K steps the outputs are held at
V_F + η(V_T − V_F)); "plus"/"minus" (circuit EP: after K steps the ±β nudge is switched on). At
the last step each synapse holds (ΔV_e)² of its replica.
"""
from __future__ import annotations

import numpy as np

from ._runtime import time_unit
from .layout import Layout, check_synapse_order


class CircuitNet:
    def __init__(self, b, target, graph, replicas, batch, steps, name="circuit"):
        self.b, self.target, self.graph = b, target, graph
        self.K = steps
        self.steps = 2 * steps
        self.window = 1
        self.layout = L = Layout.of(graph.populations, replicas, batch)
        unit = time_unit(b)
        self.clock = b.Clock(dt=1.0 * unit, name=f"{name}_clock*")
        rule = graph.rule
        eqs = """
        dV/dt = mov*(Js + bnow*nud*y - Gt*V)/((Gt + int(Gt == 0))*tau) : 1
        Js : 1
        Gs : 1
        y : 1
        nud : 1 (constant)
        bet : 1 (constant)
        frz : 1 (constant)
        clp : 1 (constant)
        src : 1 (constant)
        t0 : second (shared)
        K : 1 (shared, constant)
        Nw : 1 (shared)
        nst = (t - t0)/dt + 0.5 : 1
        late = int(nst >= K) : 1
        Gt = Gs + bnow*nud : 1
        mov = (1 - src)*(1 - frz*late)*(1 - clp*nud*late) : 1
        bnow = bet*late : 1
        """
        ns = {"tau": 1.0 * unit, "eta": rule.eta if rule.eta is not None else 0.0}
        self.group = G = b.NeuronGroup(L.N, eqs, method="euler", clock=self.clock, namespace=ns, name=f"{name}_nodes*")
        G.K = self.K
        G.t0 = 0 * unit
        G.Nw = self.steps - 1
        G.run_regularly("V = V + clp*nud*int(nst >= K - 1)*int(nst < K)*eta*(y - V)", when="end", order=0,
                        name=f"{name}_clamp*")
        rep = L.replica_of()
        roles = {p.name: p.role for p in graph.populations}
        G.src = L.per_neuron({n: 1.0 for n, r in roles.items() if r in ("input", "ground")})
        G.nud = L.per_neuron({graph.cost.output: 1.0})
        beta = rule.beta or 0.0
        signs = {"free": 0.0, "clamped": 0.0, "plus": beta, "minus": -beta}
        G.bet = np.array([signs[r] for r in L.replicas])[rep]
        G.frz = np.array([r == "free" for r in L.replicas], float)[rep]
        G.clp = np.array([r == "clamped" for r in L.replicas], float)[rep]
        self.syn = S = b.Synapses(G, G, """
            k : 1
            Js_post = k*V_pre : 1 (summed)
            Gs_post = k : 1 (summed)
            C : 1
            """, clock=self.clock, name=f"{name}_edges*")
        pre, post, self.fwd, self.bwd, count = [], [], {}, {}, 0
        for c in graph.couplings:
            p, q = L.pairs(c.src, c.dst, c.edges[:, 0], c.edges[:, 1])
            for name_, (a, z) in (("fwd", (p, q)), ("bwd", (q, p))):
                pre.append(a.ravel()), post.append(z.ravel())
                getattr(self, name_)[c.name] = count + np.arange(a.size).reshape(a.shape)
                count += a.size
        pre, post = np.concatenate(pre), np.concatenate(post)
        S.connect(i=pre, j=post)
        self.n_syn = len(pre)
        self.order = (pre, post)
        if not target.standalone:  # standalone synapses exist only once the program has run
            self._check_order()
        S.run_regularly("C = C + int(nst_post >= Nw_post)*(V_pre - V_post)**2", when="end", order=1,
                        name=f"{name}_drops*")
        self.net = b.Network(G, S)
        target.attach(self.net)
        self.write_params(graph)

    def _check_order(self):
        check_synapse_order(self.syn, self.order)
        self.order = None

    def write_params(self, graph):
        """All conductances at once (a standalone program takes whole arrays)."""
        k = np.zeros(self.n_syn)
        for c in graph.couplings:
            k[self.fwd[c.name]] = c.conductance
            k[self.bwd[c.name]] = c.conductance
        self.target.set(self.syn.k_, k)

    def read(self, name: str) -> np.ndarray:
        return self.target.take(self.syn.k_, self.fwd[name][0, 0])

    def write(self, values: dict[str, np.ndarray]) -> None:
        """Conductances by name; the Brian variable is read and written once, whole."""
        k = np.array(self.target.get(self.syn.k_))
        for name, value in values.items():
            k[self.fwd[name]] = value
            k[self.bwd[name]] = value
        self.target.set(self.syn.k_, k)

    def run(self, x: np.ndarray, y: np.ndarray, phases: bool = True) -> None:
        G, L, g, T = self.group, self.layout, self.graph, self.target
        V = np.zeros(L.N)
        off = 0
        for p in g.inputs:
            V[L.units(p.name)] = x[None, :, off:off + p.size]
            off += p.size
        T.set(G.V_, V)
        yy = np.zeros(L.N)
        yy[L.units(g.cost.output)] = y[None]
        T.set(G.y_, yy)
        if T.standalone:  # every run of the program starts from t = 0 with C = 0, and runs all phases
            T.run(self.steps * self.clock.dt)
            if self.order is not None:
                self._check_order()
            return
        self.syn.C_[:] = 0.0
        steps = self.steps if phases else self.K
        G.Nw = self.steps - 1 if phases else steps + 1
        G.t0 = self.net.t
        T.run(steps * self.clock.dt)

    def outputs(self) -> np.ndarray:
        return self.target.take(self.group.V_, self.layout.units(self.graph.cost.output)[0])

    def contrast(self, name: str, hi: str, lo: str, batch: int) -> np.ndarray:
        R = {r: i for i, r in enumerate(self.layout.replicas)}
        acc = self.target.take(self.syn.C_, self.fwd[name])
        return (acc[R[hi], :batch] - acc[R[lo], :batch]).mean(axis=0)
