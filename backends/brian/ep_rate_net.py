"""The rate twin of an EP graph: one Brian2 `NeuronGroup` + one `Synapses`, the phase replicas side
by side, one run of 2K steps per learning step, the update read from the phase-end states.

Units follow the reference engine's projected Euler step exactly:
    s ← clip(s + dt·(g(s)·(h + b) − s − β_now·(s − y)), lo, hi),  h = Σ w·ρ(s_pre) (summed)
with g = 1 for boxed (hard_sigmoid: [lo, hi] = [0, 1], `box`) units and ρ′ otherwise (as
`Hopfield.drift`; unboxed units have [lo, hi] = ℝ), inputs clamped,
β_now = ±β on output units from step K on (0 before: every replica relaxes freely first, exactly
like the reference's nudged phases starting from the free state).

Replicas: the symmetric estimator contrasts +β with −β, so it needs those two only; the one-sided
estimator contrasts +β with the free phase, so only there a "free" replica runs, frozen after K
steps (`frz`). Free-phase outputs come from a run of K steps (standalone: the whole program with
every replica frozen after K steps). Nothing is accumulated on the target: after the run the host
reads s once and forms ρ(s_pre)·ρ(s_post) per coupling (mean over the batch).

On the numpy target every variable and subexpression costs on every run (Brian re-creates its
code objects per run), so the equations carry only what the graph needs. With hard_sigmoid and
linear units only ("plain"), ρ(s) is s itself once the box projection has run, so the synapses
sum w·s_pre; a clamped input holds ρ(x) as its state and as its bias, so with no incoming
coupling its drift b − s is exactly 0 and no `free` mask is needed. Other activations take the general form (`free`, per-unit activation code,
ρ and ρ′ as subexpressions).
"""
from __future__ import annotations

import numpy as np

from neurophys import activations as act

from ._runtime import time_unit
from .hopfield_net import CODES, GAIN, RHO, DenseNet, _select
from .layout import Layout

PLAIN = {"hard_sigmoid", "linear"}  # ρ(s) is s after the box projection (linear: none), gain 1
LATE = "int(t >= t_on)"  # the nudge phase: from step K on


def ep_replicas(graph) -> tuple[str, ...]:
    """±β for the symmetric estimator; the free phase and +β for the one-sided one."""
    return ("plus", "minus") if graph.rule.estimator == "symmetric" else ("free", "plus")


def replicas_note(graph) -> str:
    """Why these replicas run (for `info()`)."""
    if graph.rule.estimator == "symmetric":
        return "+β and −β only: the symmetric estimator contrasts them; free-phase outputs come from a free-only run"
    return "free and +β: the one-sided estimator contrasts +β with the free phase (frozen after K steps)"


def _plain(graph) -> bool:
    """Only boxed/linear units, and no coupling into a clamped population (inputs feel nothing)."""
    return ({p.activation for p in graph.populations} <= PLAIN
            and not any(graph.population(c.dst).clamped for c in graph.couplings))


class EPRateNet(DenseNet):
    def __init__(self, b, target, graph, batch, name="ep"):
        self.b, self.target, self.graph = b, target, graph
        rx = graph.rule.relaxation
        self.K = rx.max_steps
        self.steps = 2 * self.K
        self.layout = L = Layout.of(graph.populations, ep_replicas(graph), batch)
        self.plain = _plain(graph)
        # a free-only run on standalone is the whole program: every replica must be able to freeze
        self.freeze = target.standalone or "free" in L.replicas
        unit = time_unit(b)
        self.clock = b.Clock(dt=rx.dt * unit, name=f"{name}_clock*")
        used = {p.activation for p in graph.populations}
        nudge = f"bet*{LATE}*(s - y)"
        extra = ["frz : 1 (constant)"] if self.freeze else []
        if self.plain:
            drift, summed = f"hs + bias - s - {nudge}", "s"
        else:
            drift, summed = f"free*(({_select(GAIN, used)})*(hs + bias) - s - {nudge})", "r"
            extra += ["free : 1 (constant)", "act : integer (constant)", f"r = {_select(RHO, used)} : 1"]
        if self.freeze:
            drift = f"(1 - frz*{LATE})*({drift})"
        namespace = {"tau": 1.0 * unit}
        self.t_on = (self.K - 0.5) * self.clock.dt  # from the run's start; half a step of slack against rounding
        if target.standalone:  # every run of the program starts from t = 0
            namespace["t_on"] = self.t_on
        else:  # the runtime clock continues across runs: set before each run
            extra.append("t_on : second (shared)")
        eqs = "\n".join([f"ds/dt = ({drift})/tau : 1", "hs : 1", "bias : 1", "y : 1", "bet : 1 (constant)",
                         "box : 1 (constant)"] + extra)
        self.group = G = b.NeuronGroup(L.N, eqs, method="euler", clock=self.clock, namespace=namespace,
                                       name=f"{name}_units*")
        G.run_regularly("s = box*clip(s, 0, 1) + (1 - box)*s", when="end", name=f"{name}_box*")  # exact either way
        self.s_ = G.s_
        self._init_neurons(graph, L)
        self.syn = S = b.Synapses(G, G, f"w : 1\nhs_post = w*{summed}_pre : 1 (summed)", clock=self.clock,
                                  name=f"{name}_syn*")
        self._connect(graph, L, S, mirror=True)
        self.net = b.Network(G, S)
        target.attach(self.net)
        self.write_params(graph)
        self.durations = {True: self.steps * self.clock.dt, False: self.K * self.clock.dt}  # Brian quantities: made once
        self.clamped = np.concatenate([L.units(p.name).ravel() for p in graph.inputs])
        self.rates = None

    def _init_neurons(self, graph, L):
        G = self.group
        G.box = L.per_neuron({p.name: 1.0 for p in graph.populations
                              if act.box(p.activation) and (self.plain or not p.clamped)})
        if not self.plain:
            G.free = L.per_neuron({p.name: 1.0 for p in graph.populations if not p.clamped})
            G.act = L.per_neuron({p.name: CODES[p.activation] for p in graph.populations}).astype(int)
        if self.freeze:
            G.frz = np.array([r == "free" for r in L.replicas], float)[L.replica_of()]
        signs = np.array([{"free": 0.0, "plus": 1.0, "minus": -1.0}[r] for r in L.replicas])
        G.bet = graph.rule.beta * signs[L.replica_of()] * L.per_neuron({graph.cost.output: 1.0})

    def run(self, x: np.ndarray, y: np.ndarray, phases: bool = True) -> None:
        """Load a (padded) batch and run all phases (2K steps) or the free phase only (K steps;
        standalone: all 2K steps with every replica frozen after K)."""
        G, T = self.group, self.target
        s = self._inputs(x, rho=self.plain)
        T.set(self.s_, s)
        if self.plain:  # bias = state: a clamped input's drift is 0
            T.put(self.bias_, self.clamped, s[self.clamped])
        T.set(G.y_, self._targets(y))
        self.rates = None
        if T.standalone:  # every run of the program starts from t = 0 and runs all 2K steps
            if not phases:
                T.set(G.frz_, np.ones(self.layout.N))
            T.run(self.durations[True])
            T.drop(G.frz_)
            if self.order is not None:
                self._check_order()
            return
        G.t_on = self.net.t + self.t_on
        T.run(self.durations[phases])

    def _rates(self) -> dict[str, np.ndarray]:
        """ρ(s) per population, (R, B, size), from one read of the phase-end states."""
        if self.rates is None:
            s = self.target.get(self.s_)
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
        return self.target.take(self.s_, self.layout.units(self.graph.cost.output)[0])
