"""The array of resistive devices: hidden per-device state and its response to pulses.

Device-to-device parameters are drawn once from ``seed``; cycle-to-cycle and read noise come
from ``noise_seed``. Pulses act one at a time, so n pulses near a bound give less than n steps —
but never by looping over devices: a deterministic response (no cycle-to-cycle noise, constant
step or soft bounds) is applied in closed form, and otherwise each round of pulses updates every
device that still has one to take at once.
"""
from __future__ import annotations

import numpy as np

from .devices import DeviceConfig


def response_factor(config: DeviceConfig, x: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Step factor at the relative state x = (g − g_lo)/(g_hi − g_lo): 1 (constant), the distance
    to the bound the pulse moves towards (soft bounds, 2(1 − x) up and 2x down: 1 at the middle of
    the range, where aihwkit's w = 0 is, so dw_min is the step there), or the measured table (piecewise)."""
    if config.response == "soft_bounds":
        return np.where(up, 2.0 * (1.0 - x), 2.0 * x)
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
        """Apply ``counts[i, j]`` signed pulses to device (i, j), as if one at a time."""
        counts = np.where(self.stuck, 0, np.asarray(counts, dtype=np.int64))
        if not counts.any():
            return
        c = self.config
        if not c.dw_min_std and c.response in ("constant_step", "soft_bounds"):
            self._pulse_closed_form(counts)
        else:
            self._pulse_rounds(counts)

    def _pulse_closed_form(self, counts: np.ndarray) -> None:
        """n pulses of one sign at once. Constant step: the steps never change sign, so clipping
        the sum once equals clipping after each pulse. Soft bounds: each pulse shrinks the distance
        to the bound it moves towards by the factor 1 − 2·dw/(g_hi − g_lo), so n pulses by its n-th power."""
        n, up = np.abs(counts), counts > 0
        g, lo, hi = self.g, self.g_lo, self.g_hi
        if self.config.response == "constant_step":
            new = g + np.where(up, self.dw_up, -self.dw_down) * n
        else:
            span = hi - lo
            shrink = np.maximum(0.0, 1.0 - 2.0 * np.where(up, self.dw_up, self.dw_down) / span) ** n
            new = np.where(up, hi - (hi - g) * shrink, lo + (g - lo) * shrink)
        np.copyto(g, np.clip(new, lo, hi), where=n > 0)

    def _pulse_rounds(self, counts: np.ndarray) -> None:
        """Round k applies the k-th pulse of every device that has more than k: devices sorted by
        count, so each round is a leading slice (work ∝ the pulses sent, not rounds × devices)."""
        flat = counts.reshape(-1)
        idx = np.flatnonzero(flat)
        n = np.abs(flat[idx])
        order = np.argsort(-n, kind="stable")
        idx, n = idx[order], n[order]
        up = flat[idx] > 0
        g, lo, hi = self.g.reshape(-1)[idx], self.g_lo.reshape(-1)[idx], self.g_hi.reshape(-1)[idx]
        dw = np.where(up, self.dw_up.reshape(-1)[idx], -self.dw_down.reshape(-1)[idx])
        std = self.config.dw_min_std
        for m in np.searchsorted(-n, -np.arange(n[0]), side="left"):  # devices with more than k pulses
            step = dw[:m] * response_factor(self.config, (g[:m] - lo[:m]) / (hi[:m] - lo[:m]), up[:m])
            if std:
                step *= 1.0 + std * self.noise.standard_normal(m)
            g[:m] = np.clip(g[:m] + step, lo[:m], hi[:m])
        self.g.reshape(-1)[idx] = g

    def write_analog(self, dg: np.ndarray) -> None:
        """Exact analog update (ideal model): g += Δg, clipped to the device's range."""
        free = ~self.stuck
        self.g[free] = np.clip(self.g[free] + dg[free], self.g_lo[free], self.g_hi[free])

    def read_noise(self, shape, full_scale: float) -> np.ndarray:
        std = self.config.periphery.read_noise
        return std * full_scale * self.noise.standard_normal(shape) if std else np.zeros(shape)
