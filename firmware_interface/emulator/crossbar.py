"""The array of resistive devices: hidden per-device state and its response to pulses.

Device-to-device parameters are drawn once from ``seed``; cycle-to-cycle and read noise come
from ``noise_seed``. Pulses are applied one at a time, so n pulses near a bound give less than
n steps.
"""
from __future__ import annotations

import numpy as np

from .devices import DeviceConfig


def response_factor(config: DeviceConfig, x: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Step factor at the relative state x = (g − g_lo)/(g_hi − g_lo): 1 (constant), the distance
    to the bound the pulse moves towards (soft bounds), or the measured table (piecewise)."""
    if config.response == "soft_bounds":
        return np.where(up, 1.0 - x, x)
    if config.response == "piecewise":
        f_up = np.interp(x, np.linspace(0, 1, len(config.piecewise_up)), config.piecewise_up)
        f_down = np.interp(x, np.linspace(0, 1, len(config.piecewise_down)), config.piecewise_down)
        return np.where(up, f_up, f_down)
    return np.ones_like(x)


class Crossbar:
    def __init__(self, rows: int, cols: int, config: DeviceConfig, seed: int = 0, noise_seed: int = 1):
        self.rows, self.cols, self.config = rows, cols, config
        rng = np.random.default_rng(seed)
        shape = (rows, cols)
        c = config
        dw = c.dw_min * np.maximum(0.0, 1.0 + c.dw_min_dtod * rng.standard_normal(shape))
        asym = c.up_down + c.up_down_dtod * rng.standard_normal(shape)
        self.dw_up = dw * np.maximum(0.0, 1.0 + asym)
        self.dw_down = dw * np.maximum(0.0, 1.0 - asym)
        span = (c.g_max - c.g_min) * np.maximum(0.1, 1.0 + c.bounds_dtod * rng.standard_normal(shape))
        self.g_lo = np.full(shape, c.g_min)
        self.g_hi = np.minimum(c.g_min + span, c.periphery.g_fullscale)
        self.stuck = rng.random(shape) < c.stuck_fraction
        self.g = self.g_lo.copy()
        self.g[self.stuck] = rng.uniform(self.g_lo, self.g_hi)[self.stuck]
        self.noise = np.random.default_rng(noise_seed)

    def pulse(self, counts: np.ndarray) -> None:
        """Apply ``counts[i, j]`` signed pulses to device (i, j), one pulse at a time."""
        counts = np.asarray(counts)
        n = np.abs(counts)
        up = counts > 0
        for k in range(int(n.max(initial=0))):
            active = (n > k) & ~self.stuck
            if not active.any():
                continue
            g = self.g[active]
            lo, hi, u = self.g_lo[active], self.g_hi[active], up[active]
            step = np.where(u, self.dw_up[active], -self.dw_down[active]) * response_factor(self.config, (g - lo) / (hi - lo), u)
            if self.config.dw_min_std:
                step = step * (1.0 + self.config.dw_min_std * self.noise.standard_normal(step.shape))
            self.g[active] = np.clip(g + step, lo, hi)

    def write_analog(self, dg: np.ndarray) -> None:
        """Exact analog update (ideal model): g += Δg, clipped to the device's range."""
        free = ~self.stuck
        self.g[free] = np.clip(self.g[free] + dg[free], self.g_lo[free], self.g_hi[free])

    def read_noise(self, shape, full_scale: float) -> np.ndarray:
        std = self.config.periphery.read_noise
        return std * full_scale * self.noise.standard_normal(shape) if std else np.zeros(shape)
