"""The `loihi-lif` backend: a rate-coded spiking mapping of the EP network on Lava (spiking_net.py).

What it approximates: the EP update of the `loihi` float backend (the reference engine's symmetric
or one-sided estimator), with ρ(s) replaced by firing rates measured over a window of integrate-
and-fire spikes, fields carried by binary spikes through Dense, and the relaxation integrated at
dt/substeps. The error has three sources: the spike-driven field is noisy (s low-pass filters it,
finer with `substeps`), the rates are counts (resolution 1/window), and the phases run longer
(max_steps·substeps + window steps of dt/substeps). How close it gets is measured against the exact
gradient (tests/test_loihi_lif.py, bench/loihi_backend.py), not assumed. Deterministic: no noise
source, so the same inputs give the same update.
"""
from __future__ import annotations

from neurophys.ir.errors import ValidationError
from neurophys.ir.graph import Graph

from .backend import LoihiBackend
from .spiking_net import SpikingNet

DEFAULTS = {"substeps": 4, "window": 100}


def _count(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(name, f"{value!r} must be a positive integer")
    return value


class LoihiLifBackend(LoihiBackend):
    """Options: `hw`; `substeps` (spiking steps per reference Euler step); `window` (measuring steps per phase)."""
    name = "loihi-lif"
    families = ("ep",)

    def __init__(self, hw: bool = False, substeps: int = DEFAULTS["substeps"], window: int = DEFAULTS["window"]):
        super().__init__(hw=hw, substeps=_count("substeps", substeps), window=_count("window", window))

    def _net(self, graph: Graph) -> SpikingNet:
        return SpikingNet(graph, self.options["substeps"], self.options["window"], self.options["hw"])

    def info(self):
        o = self.options
        return {**super().info(), "substeps": o["substeps"], "window": o["window"],
                "approximates": "the EP update of the float `loihi` backend (reference engine, same estimator), with "
                                "ρ(s) replaced by integrate-and-fire firing rates counted over the last "
                                f"{o['window']} steps of each phase, fields carried by binary spikes, and the relaxation "
                                f"at dt/{o['substeps']}; its agreement with the exact gradient is measured, not assumed",
                "neuron": "custom integrate-and-fire ProcessModel (subtractive reset, rate = ρ(s)); not Lava's stock "
                          "LIF, whose reset-to-zero rate is a staircase in the current"}
