"""`brian-spiking`: EP learned from spike traces, with its gradient agreement measured, not assumed.

Units keep the EP state s (the rate twin's dynamics) and fire Poisson spikes at r_max·ρ(s). After
each phase has settled, every synapse accumulates the product of its pre and post spike traces
over a measurement window (`phase_duration`), every unit its own trace; the update is
    ΔW = (lr/2β)·(⟨x_post x_pre⟩₊ − ⟨x_post x_pre⟩₋)   (one-sided: (lr/β)(⟨·⟩_β − ⟨·⟩₀))
so the rule is the rate twin's with spike-trace correlations in place of ρρ: unbiased for the
EP update, with a variance that shrinks as r_max·phase_duration grows. The knobs that trade time
for accuracy: `phase_duration` (IR time units, = ms; default 400: the worst of 3 noise draws on
ep_xor / 2-4-2 / 2-6-4-2 xor graphs is then cos ≥ 0.986 with the exact gradient, vs ≥ 0.948 at
100 — bench/brian_backend.py tabulates it), `rate_max` (Hz), `trace_tau` (IR units), and `seed`
(the spike noise; a rerun with the same seed is identical).

The twin nudges with its own `beta` (default 0.1) and `estimator` (default "symmetric"), not the
graph's: finite-β EP is itself a biased estimate of the gradient (on examples/ep_xor.json, EP at
the graph's β = 0.5 has cosine 0.93 with the exact gradient; at β = 0.1 symmetric, 0.997), and
with common random numbers across phases the spike noise of the contrast grows only like 1/√β, so
a smaller nudge buys more gradient agreement than it costs in noise. `beta=None` /
`estimator=None` follow the graph's rule instead — which is what *training* a hard-sigmoid graph
like ep_xor needs: there the exact gradient itself stalls on saturated units (the reference
engine's rate EP at β = 0.1 does not learn xor either), and the finite-β bias is what trains it.

On the cpp_standalone target every run of the compiled program is seeded from (seed, run number),
so the noise is fresh each step and a rerun with the same seed is identical.
"""
from __future__ import annotations

import dataclasses

from neurophys.ir.errors import ValidationError
from neurophys.ir.graph import Graph
from neurophys.ir.rule import ESTIMATORS

from .hopfield_net import HopfieldNet
from .twin import BrianTwin, check_ep, replicas

DEFAULTS = {"phase_duration": 400.0, "rate_max": 1000.0, "trace_tau": 5.0, "seed": 0, "beta": 0.1,
            "estimator": "symmetric"}


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValidationError(name, f"{value!r} must be a positive number")
    return float(value)


class BrianSpikingBackend(BrianTwin):
    """Spiking twin. Options: `phase_duration` (measurement window per phase, IR time units),
    `rate_max` (Hz at ρ = 1), `trace_tau` (IR time units), `seed`, `beta` (the twin's nudge
    strength; None = the graph's rule.beta), `estimator` ('symmetric' | 'one_sided'; None = the
    graph's), `codegen` ('numpy', 'cython', 'cpp_standalone'), `build_dir`, `batch` (as the rate twin)."""

    name = "brian-spiking"
    families = ("ep",)

    def __init__(self, phase_duration: float = DEFAULTS["phase_duration"], rate_max: float = DEFAULTS["rate_max"],
                 trace_tau: float = DEFAULTS["trace_tau"], seed: int = DEFAULTS["seed"],
                 beta: float | None = DEFAULTS["beta"], estimator: str | None = DEFAULTS["estimator"],
                 codegen: str = "numpy", batch: int | None = None, build_dir: str | None = None):
        super().__init__(codegen=codegen, batch=batch, build_dir=build_dir, phase_duration=phase_duration, rate_max=rate_max,
                         trace_tau=trace_tau, seed=seed, beta=beta, estimator=estimator)
        self.phase_duration = _positive("phase_duration", phase_duration)
        self.rate_max = _positive("rate_max", rate_max)
        self.trace_tau = _positive("trace_tau", trace_tau)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValidationError("seed", f"{seed!r} must be a non-negative integer")
        self.seed = seed
        self.beta = None if beta is None else _positive("beta", beta)
        if estimator is not None and estimator not in ESTIMATORS:
            raise ValidationError("estimator", f"{estimator!r} is not an EP estimator (use 'symmetric' or 'one_sided')")
        self.estimator = estimator

    def _build(self, graph: Graph) -> None:
        """Nudge with the twin's own β / estimator (on the backend's private copy of the graph)."""
        if graph.rule.family == "ep":
            graph.rule = dataclasses.replace(graph.rule, beta=self.beta or graph.rule.beta,
                                             estimator=self.estimator or graph.rule.estimator)
        super()._build(graph)

    def _make_net(self, b, target, graph: Graph):
        check_ep(graph)
        dt = graph.rule.relaxation.dt
        if self.rate_max * dt * 1e-3 > 1.0:
            raise ValidationError("rate_max", f"{self.rate_max:g} Hz fires more than once per step of {dt:g} ms "
                                  f"(at most {1e3 / dt:g} Hz)")
        window = max(1, int(round(self.phase_duration / dt)))
        return HopfieldNet(b, target, graph, replicas(graph), self.capacity,
                           spiking={"rate_max": self.rate_max, "trace_tau": self.trace_tau, "window": window,
                                    "seed": self.seed})

    def info(self):
        return {**super().info(), "phase_duration": self.phase_duration, "rate_max": self.rate_max,
                "trace_tau": self.trace_tau, "seed": self.seed,
                "beta": self.graph.rule.beta, "estimator": self.graph.rule.estimator}
