"""The `loihi-lif` backend: a rate-coded spiking mapping of the EP network on the chip path
(spiking_net.py), learning on the learning engine like `loihi-engine`.

What it approximates: the EP update of the reference engine (same estimator), with ρ(s) replaced by
firing rates of integrate-and-fire units — the post rate counted over a phase's last `window` steps
(y2/y3), the pre rate read from an exponential spike trace of time constant `tau` (x1) — fields
carried by binary spikes through (Learning)Dense, and the relaxation integrated at dt/substeps. The
error has four sources: the spike-driven field is noisy (s low-pass filters it, finer with
`substeps`), the post rates are counts (resolution 1/window), the trace ripples by about 1/tau and
remembers the steps before the window, and the phases run longer (max_steps·substeps + window steps
of dt/substeps). How close it gets is measured against the exact
gradient (tests/test_loihi_lif.py, bench/loihi_backend.py), not assumed. Deterministic: no noise
source, so the same inputs give the same update.
"""
from __future__ import annotations

from neurophys.ir.errors import ValidationError
from neurophys.ir.graph import Graph

from .engine import LoihiEngineBackend
from .spiking_net import SpikingNet

DEFAULTS = {"substeps": 4, "window": 100, "tau": 100}


def _count(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(name, f"{value!r} must be a positive integer")
    return value


class LoihiLifBackend(LoihiEngineBackend):
    """Options: `hw`; `substeps` (spiking steps per reference Euler step); `window` (measuring steps per
    phase); `tau` (time constant of the learning engine's pre-synaptic spike trace, in steps)."""
    name = "loihi-lif"
    families = ("ep",)

    def __init__(self, hw: bool = False, substeps: int = DEFAULTS["substeps"], window: int = DEFAULTS["window"],
                 tau: int = DEFAULTS["tau"]):
        super().__init__(hw=hw, substeps=_count("substeps", substeps),
                         window=_count("window", window), tau=_count("tau", tau))

    def _net(self, graph: Graph) -> SpikingNet:
        o = self.options
        return SpikingNet(graph, o["substeps"], o["window"], o["tau"], o["hw"])

    def info(self):
        o = self.options
        return {**super().info(), "substeps": o["substeps"], "window": o["window"], "tau": o["tau"],
                "approximates": "the reference EP update (same estimator), with ρ(s) replaced by integrate-and-fire "
                                f"firing rates: the post rate counted over the last {o['window']} steps of each phase "
                                f"(y2/y3), the pre rate an exponential spike trace of τ = {o['tau']} (x1); fields "
                                f"carried by binary spikes, the relaxation at dt/{o['substeps']}; learned on the "
                                "learning engine; its agreement with the exact gradient is measured, not assumed",
                "neuron": "custom integrate-and-fire ProcessModel (subtractive reset, rate = ρ(s)); not Lava's stock "
                          "LIF, whose reset-to-zero rate is a staircase in the current"}
