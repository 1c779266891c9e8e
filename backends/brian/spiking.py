"""`brian-spiking`: EP learned from spike traces, with its gradient agreement measured, not assumed.

Units keep the EP state s (the rate twin's dynamics) and fire Poisson spikes at r_max·ρ(s). After
each phase has settled, every synapse accumulates the product of its pre and post spike traces
over a measurement window (`phase_duration`), every unit its own trace; the update is
    ΔW = (lr/2β)·(⟨x_post x_pre⟩₊ − ⟨x_post x_pre⟩₋)   (one-sided: (lr/β)(⟨·⟩_β − ⟨·⟩₀))
so the rule is the rate twin's with spike-trace correlations in place of ρρ: unbiased for the
EP update, with a variance that shrinks as r_max·phase_duration grows. The knobs that trade time
for accuracy: `phase_duration` (IR time units, = ms), `rate_max` (Hz), `trace_tau` (IR units),
and `seed` (the spike noise; a rerun with the same seed is identical).
"""
from __future__ import annotations

from neurophys.ir.errors import ValidationError
from neurophys.ir.graph import Graph

from .hopfield_net import HopfieldNet
from .twin import BrianTwin, check_ep, replicas

DEFAULTS = {"phase_duration": 100.0, "rate_max": 1000.0, "trace_tau": 5.0, "seed": 0}


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValidationError(name, f"{value!r} must be a positive number")
    return float(value)


class BrianSpikingBackend(BrianTwin):
    """Spiking twin. Options: `phase_duration` (measurement window per phase, IR time units),
    `rate_max` (Hz at ρ = 1), `trace_tau` (IR time units), `seed`, `codegen`, `batch`."""

    name = "brian-spiking"
    families = ("ep",)

    def __init__(self, phase_duration: float = DEFAULTS["phase_duration"], rate_max: float = DEFAULTS["rate_max"],
                 trace_tau: float = DEFAULTS["trace_tau"], seed: int = DEFAULTS["seed"], codegen: str = "numpy",
                 batch: int | None = None):
        super().__init__(codegen=codegen, batch=batch, phase_duration=phase_duration, rate_max=rate_max,
                         trace_tau=trace_tau, seed=seed)
        self.phase_duration = _positive("phase_duration", phase_duration)
        self.rate_max = _positive("rate_max", rate_max)
        self.trace_tau = _positive("trace_tau", trace_tau)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValidationError("seed", f"{seed!r} must be a non-negative integer")
        self.seed = seed

    def _make_net(self, b, graph: Graph):
        check_ep(graph)
        dt = graph.rule.relaxation.dt
        if self.rate_max * dt * 1e-3 > 1.0:
            raise ValidationError("rate_max", f"{self.rate_max:g} Hz fires more than once per step of {dt:g} ms "
                                  f"(at most {1e3 / dt:g} Hz)")
        window = max(1, int(round(self.phase_duration / dt)))
        b.seed(self.seed)
        return HopfieldNet(b, graph, replicas(graph), self.capacity,
                           spiking={"rate_max": self.rate_max, "trace_tau": self.trace_tau, "window": window})

    def info(self):
        return {**super().info(), "phase_duration": self.phase_duration, "rate_max": self.rate_max,
                "trace_tau": self.trace_tau, "seed": self.seed}
