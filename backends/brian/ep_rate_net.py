"""The rate twin of an EP graph: one Brian2 `NeuronGroup` + one `Synapses`, the phase replicas side
by side, one run of 2K steps per learning step, the update read from the phase-end states.

Units follow the reference engine's projected Euler step exactly:
    s ← clip(s + dt·(g(s)·(h + b) − s − β_now·(s − y)), lo, hi),  h = Σ w·ρ(s_pre) (summed)
with g = 1 for boxed (hard_sigmoid) units and ρ′ otherwise (as `Hopfield.drift`), inputs clamped,
β_now = ±β on output units from step K on (0 before: every replica relaxes freely first, exactly
like the reference's nudged phases starting from the free state).

Replicas: the symmetric estimator contrasts +β with −β, so it needs those two only; the one-sided
estimator contrasts +β with the free phase, so only there a "free" replica runs, frozen after K
steps (`frz`). Free-phase outputs come from a run of K steps (standalone: the whole program with
every replica frozen after K steps). Nothing is accumulated on the target: after the run the host
reads s once and forms ρ(s_pre)·ρ(s_post) per coupling (mean over the batch) — per learning step
that is one read instead of two per-step accumulators, which Brian would otherwise run 2K times.
The equations carry only what the graph needs (one `act` code and gain only for activations other
than hard_sigmoid/linear), because on the numpy target every variable costs on every run.
"""
from __future__ import annotations

import numpy as np

from neurophys import activations as act

from ._runtime import time_unit
from .hopfield_net import CODES, GAIN, RHO, DenseNet, _select
from .layout import Layout

PLAIN = {"hard_sigmoid", "linear"}  # ρ(s) = clip(s, lo, hi) with the unit's box (±∞: linear), gain 1


def ep_replicas(graph) -> tuple[str, ...]:
    """±β for the symmetric estimator; the free phase and +β for the one-sided one."""
    return ("plus", "minus") if graph.rule.estimator == "symmetric" else ("free", "plus")


def replicas_note(graph) -> str:
    """Why these replicas run (for `info()`)."""
    if graph.rule.estimator == "symmetric":
        return "+β and −β only: the symmetric estimator contrasts them; free-phase outputs come from a free-only run"
    return "free and +β: the one-sided estimator contrasts +β with the free phase (frozen after K steps)"


class EPRateNet(DenseNet):
    window = 1

    def __init__(self, b, target, graph, batch, name="ep"):
        self.b, self.target, self.graph = b, target, graph
        rx = graph.rule.relaxation
        self.K = rx.max_steps
        self.steps = 2 * self.K
        self.layout = L = Layout.of(graph.populations, ep_replicas(graph), batch)
        unit = time_unit(b)
        self.clock = b.Clock(dt=rx.dt * unit, name=f"{name}_clock*")
        used = {p.activation for p in graph.populations}
        plain = used <= PLAIN
        rho = "clip(s, lo, hi)" if plain else _select(RHO, used)
        gain = "" if plain else f"({_select(GAIN, used)})*"
        eqs = f"""
        ds/dt = mov*({gain}(hs + bias) - s - bet*late*(s - y))/tau : 1
        hs : 1
        bias : 1
        y : 1
        free : 1 (constant)
        frz : 1 (constant)
        bet : 1 (constant)
        lo : 1 (constant)
        hi : 1 (constant)
        t_on : second (shared)
        late = int(t >= t_on) : 1
        mov = free*(1 - frz*late) : 1
        r = {rho} : 1
        """ + ("" if plain else "act : integer (constant)\n")
        self.group = G = b.NeuronGroup(L.N, eqs, method="euler", clock=self.clock, namespace={"tau": 1.0 * unit},
                                       name=f"{name}_units*")
        G.run_regularly("s = clip(s, lo, hi)", when="end", name=f"{name}_box*")
        self._init_neurons(graph, L, plain)
        self.syn = S = b.Synapses(G, G, "w : 1\nhs_post = w*r_pre : 1 (summed)", clock=self.clock,
                                  name=f"{name}_syn*")
        self._connect(graph, L, S, mirror=True)
        self.net = b.Network(G, S)
        target.attach(self.net)
        self.write_params(graph)
        self.rates = None

    def _init_neurons(self, graph, L, plain):
        G = self.group
        G.free = L.per_neuron({p.name: 1.0 for p in graph.populations if not p.clamped})
        boxed = [p.name for p in graph.populations if act.box(p.activation) and (plain or not p.clamped)]
        G.lo = L.per_neuron({n: 0.0 for n in boxed}, default=-np.inf)
        G.hi = L.per_neuron({n: 1.0 for n in boxed}, default=np.inf)
        if not plain:
            G.act = L.per_neuron({p.name: CODES[p.activation] for p in graph.populations}).astype(int)
        signs = np.array([{"free": 0.0, "plus": 1.0, "minus": -1.0}[r] for r in L.replicas])
        G.bet = graph.rule.beta * signs[L.replica_of()] * L.per_neuron({graph.cost.output: 1.0})
        G.frz = np.array([r == "free" for r in L.replicas], float)[L.replica_of()]
        G.t_on = (self.K - 0.5) * self.clock.dt

    def run(self, x: np.ndarray, y: np.ndarray, phases: bool = True) -> None:
        """Load a (padded) batch and run all phases (2K steps) or the free phase only (K steps;
        standalone: all 2K steps with every replica frozen after K)."""
        G, T = self.group, self.target
        T.set(G.s_, self._inputs(x))
        T.set(G.y_, self._targets(y))
        self.rates = None
        if T.standalone:  # every run of the program starts from t = 0 and runs all 2K steps
            if not phases:
                T.set(G.frz_, np.ones(self.layout.N))
            T.run(self.steps * self.clock.dt)
            T.drop(G.frz_)
            if self.order is not None:
                self._check_order()
            return
        G.t_on = self.net.t + (self.K - 0.5) * self.clock.dt
        T.run((self.steps if phases else self.K) * self.clock.dt)

    def _rates(self) -> dict[str, np.ndarray]:
        """ρ(s) per population, (R, B, size), from one read of the phase-end states."""
        if self.rates is None:
            s = self.target.get(self.group.s_)
            self.rates = {p.name: act.rho(p.activation, s[self.layout.units(p.name)]) for p in self.graph.populations}
        return self.rates

    def contrast(self, name: str, hi: str, lo: str, batch: int) -> np.ndarray:
        """mean over the batch of ρ_post·ρ_pre (a bias: ρ_post) at the end of replica hi minus replica lo."""
        R = {r: i for i, r in enumerate(self.layout.replicas)}
        rates = self._rates()
        if name.endswith(".bias"):
            post = rates[name[:-5]]
            return (post[R[hi], :batch] - post[R[lo], :batch]).mean(axis=0)
        c = self.graph.coupling(name)
        pre, post = rates[c.src], rates[c.dst]
        corr = {k: np.einsum("bi,bj->ij", post[R[k], :batch], pre[R[k], :batch]) for k in (hi, lo)}
        return (corr[hi] - corr[lo]) / batch

    def outputs(self) -> np.ndarray:
        """(B, n_out) free-phase output states (replica 0 after K steps)."""
        return self.target.take(self.group.s_, self.layout.units(self.graph.cost.output)[0])
