"""Parameter ↔ device conductance: one linear scale per quantity, chosen once at compile time.

Resistor networks: a conductance k (IR units) is the device conductance g = s·k (siemens), node
voltages are volts·v per IR unit; scaling every conductance by s leaves the node voltages
unchanged, so the board's network *is* the graph's network. Signed weights use a differential
pair around a reference: G± = g_ref ± s·w/2, so w = (G+ − G−)/s.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ConductanceScale:
    siemens_per_unit: float   # s
    volts_per_unit: float     # v

    @classmethod
    def fit(cls, k: np.ndarray, g_min: float, g_max: float, volts: float = 1.0, headroom: float = 2.0):
        """Put the largest initial conductance at g_max / headroom, leaving room to grow."""
        top = float(np.max(k)) if np.size(k) else 1.0
        return cls(g_max / (headroom * max(top, 1e-12)), volts)

    def to_device(self, k):
        return np.asarray(k, float) * self.siemens_per_unit

    def from_device(self, g):
        return np.asarray(g, float) / self.siemens_per_unit

    def range(self, g_min: float, g_max: float) -> tuple[float, float]:
        """The conductances (IR units) the devices can hold."""
        return g_min / self.siemens_per_unit, g_max / self.siemens_per_unit


@dataclass(frozen=True)
class DifferentialPair:
    siemens_per_unit: float   # s
    g_ref: float              # S, the pair's common level

    @classmethod
    def fit(cls, w: np.ndarray, g_min: float, g_max: float, headroom: float = 4.0, floor: float = 1.0):
        """Centre the pair in the device range; |w| up to max(headroom·max|w0|, floor) is representable."""
        w_max = max(headroom * float(np.max(np.abs(w), initial=0.0)), floor)
        return cls((g_max - g_min) / w_max, 0.5 * (g_min + g_max))

    def to_device(self, w) -> tuple[np.ndarray, np.ndarray]:
        half = 0.5 * self.siemens_per_unit * np.asarray(w, float)
        return self.g_ref + half, self.g_ref - half

    def from_device(self, g_plus, g_minus):
        return (np.asarray(g_plus, float) - np.asarray(g_minus, float)) / self.siemens_per_unit

    def w_max(self, g_min: float, g_max: float) -> float:
        return 2 * min(g_max - self.g_ref, self.g_ref - g_min) / self.siemens_per_unit


# Write-verify rounds for calibration: an analog-write board converges in two; a pulsed one gets
# within about a pulse step in a few rounds, after which more rounds only dither around the target.
PROGRAM_ITERS = 20


def calibration_report(res, target: np.ndarray, tol: float, dw_min: float, siemens_per_unit: float,
                       clipped: int) -> dict:
    """What PROGRAM reached, in units a user can judge: graph units and nominal device steps. A pulsed
    device lands within about half a step at best, so `unconverged` (outside a tolerance of a few
    ADC codes) counts nearly every device on such a board; a device still many steps off after every
    round did not respond (stuck) or cannot get there (its own bounds)."""
    err = np.abs(res.reached - target)
    steps = err / dw_min
    return {"iterations": res.iterations, "unconverged": res.unconverged, "pulses": res.pulses,
            "clipped_to_device_range": clipped, "tol_S": tol, "devices": int(err.size),
            "max_error_units": float(err.max() / siemens_per_unit),
            "median_error_steps": float(np.median(steps)), "within_one_step": int((steps <= 1).sum()),
            "off_by_10_steps_or_more": int((steps >= 10).sum())}
