"""What the firmware believes one pulse does to each device (firmware 1.3): the nominal response from
HELLO until CALIBRATE has measured the devices, then a per-device fit.

The fit is linear in g per direction, step_up(g) = p_up + q_up·g and step_down(g) = p_dn + q_dn·g:
exact for soft bounds (p_up + q_up·g = a_up·(g_hi − g)) and for constant steps (q = 0), and a fair
first-order model of a measured (piecewise) response. From it come each device's bounds (where a
step vanishes), its symmetric point (where up and down steps are equal: aihwkit's w = 0 of that
device) and its step there. Kept in RAM: a reset forgets it, the host calibrates again.
"""
from __future__ import annotations

import numpy as np

from ..protocol import BOUND_MARGIN, MIN_STEP_FACTOR
from .crossbar import response_factor
from .devices import DeviceConfig

#: Calibration flag bits per device.
STUCK = 0x01  # no measurable response: the firmware sends it no pulses
NOMINAL_BOUNDS = 0x02  # the step does not vanish inside the measured span: bounds are the nominal ones


class StepModel:
    """Per-device arrays of the whole board; devices not calibrated yet use the nominal response."""

    def __init__(self, config: DeviceConfig, rows: int, cols: int):
        self.config = c = config
        shape = (rows, cols)
        self.cal = np.zeros(shape, bool)
        self.p_up, self.q_up, self.p_dn, self.q_dn = (np.zeros(shape) for _ in range(4))
        self.g_lo, self.g_hi = np.full(shape, c.g_min), np.full(shape, c.g_max)
        self.g_sym, self.dw = np.full(shape, 0.5 * (c.g_min + c.g_max)), np.full(shape, c.dw_min)
        self.flags = np.zeros(shape, np.uint8)

    @property
    def stuck(self) -> np.ndarray:
        return (self.flags & STUCK).astype(bool)

    def step(self, g: np.ndarray, up: np.ndarray) -> np.ndarray:
        """The step one pulse in direction `up` is expected to give at conductance g (whole array),
        never below MIN_STEP_FACTOR of the device's step at its symmetric point (≤ 10× the pulses)."""
        c = self.config
        x = np.clip((g - c.g_min) / (c.g_max - c.g_min), 0.0, 1.0)
        nominal = c.dw_min * response_factor(c, x, up)
        fitted = np.where(up, self.p_up + self.q_up * g, self.p_dn + self.q_dn * g)
        return np.maximum(np.where(self.cal, fitted, nominal), MIN_STEP_FACTOR * self.dw)

    def pulses(self, g: np.ndarray, dg: np.ndarray) -> np.ndarray:
        """How many pulses (real, ≥ 0) move each device by dg from g (whole arrays). A calibrated
        soft-bounds device's steps shrink pulse by pulse towards the bound L it moves to, so n pulses
        move it by (L − g)(1 − rⁿ), r = 1 + q: inverted exactly, E[Δg] = dg however large dg is
        against L − g (dg/step(g) falls short by about dg/(2(L − g)) of it: 5-10 % for a device
        at 95 % of its range). Beyond L: as many as step(g) counts. Otherwise dg/step(g)."""
        up = dg > 0
        linear = np.abs(dg) / self.step(g, up)
        p = np.where(up, self.p_up, -self.p_dn)  # signed step p + q·g
        q = np.where(up, self.q_up, -self.q_dn)
        soft = self.cal & ((self.flags & (NOMINAL_BOUNDS | STUCK)) == 0) & (q < 0) & (q > -1)
        bound = -p / np.where(soft, q, -1.0)
        f = dg / np.where(soft & (bound != g), bound - g, np.inf)  # fraction of the way to the bound
        reachable = soft & (f >= 0) & (f < 1)
        exact = np.log1p(-np.where(reachable, f, 0.0)) / np.log1p(np.where(reachable, q, -0.5))
        return np.where(reachable, exact, linear)

    def headroom(self, g: np.ndarray, margin: float = BOUND_MARGIN) -> tuple[np.ndarray, np.ndarray]:
        """How far each device may still be moved down (≤ 0) and up (≥ 0) before it is within
        `margin` of its range from a bound, where soft-bounds steps vanish and pulses buy nothing."""
        m = margin * (self.g_hi - self.g_lo)
        return np.minimum(0.0, self.g_lo + m - g), np.maximum(0.0, self.g_hi - m - g)

    def fit(self, rows: slice, pulses: int, up_before, up_after, dn_before, dn_after) -> None:
        """Per device and direction, the per-pulse map g → r·g + c that carries each run's start
        conductance to its end after `pulses` pulses, for the devices of `rows`; (segments, nr, C)
        arrays in. A linear step p + q·g makes every run geometric, g_end = s·g_start + c_run with
        s = (1 + q)^pulses, so a least-squares line of end on start conductance is exact however far
        a run moves a device — a run's mean step belongs to its mean pre-pulse conductance, not to
        the midpoint of its ends (which, towards a bound, sits nearer the bound: steps came out low
        by up to 5 %). Devices that barely move are flagged stuck and get no pulses from the
        firmware's own update rules."""
        c = self.config

        def per_pulse(before, after):
            """(p, q): one pulse's step p + q·g from the runs' (start, end) pairs."""
            xm, ym = before.mean(0), after.mean(0)
            var = ((before - xm) ** 2).sum(0)
            s = np.where(var > 0, ((before - xm) * (after - ym)).sum(0) / np.where(var > 0, var, 1.0), 1.0)
            s = np.maximum(s, 1e-9)  # a run cannot reverse the order of two starts
            run = ym - s * xm  # g_end = s·g_start + run
            q = np.expm1(np.log(s) / pulses)
            near = np.abs(s - 1.0) < 1e-9  # constant step: q → 0, run = pulses·p
            return run * np.where(near, 1.0 / pulses, q / np.where(near, 1.0, s - 1.0)), np.where(near, 0.0, q)

        steps_up = (up_after - up_before) / pulses
        steps_dn = (dn_after - dn_before) / pulses
        p_up, q_up = per_pulse(up_before, up_after)
        p_dn, q_dn = per_pulse(dn_before, dn_after)
        p_dn, q_dn = -p_dn, -q_dn  # down steps as positive magnitudes
        up_mean, dn_mean = np.abs(steps_up).mean(0), np.abs(steps_dn).mean(0)
        span = c.g_max - c.g_min
        # soft bounds: the up step falls and the down step grows with g, by a visible fraction over the range
        soft = (q_up < 0) & (q_dn > 0) & (-q_up * span > 0.2 * up_mean) & (q_dn * span > 0.2 * dn_mean)
        fs = c.periphery.g_fullscale
        g_hi = np.clip(np.where(soft, -p_up / np.where(soft, q_up, -1.0), c.g_max), 0.0, fs)
        g_lo = np.clip(np.where(soft, -p_dn / np.where(soft, q_dn, 1.0), c.g_min), 0.0, fs)
        p_up, p_dn = np.where(soft, p_up, up_mean), np.where(soft, p_dn, dn_mean)
        q_up, q_dn = np.where(soft, q_up, 0.0), np.where(soft, q_dn, 0.0)
        denom = np.where(soft, q_up - q_dn, -1.0)
        g_sym = np.clip(np.where(soft, (p_dn - p_up) / denom, 0.5 * (g_lo + g_hi)), g_lo, g_hi)
        dw = p_up + q_up * g_sym
        # by the run that moved it most: long runs park a short-range device at its bounds
        stuck = np.maximum(np.abs(steps_up).max(0), np.abs(steps_dn).max(0)) < 0.1 * c.dw_min
        dw = np.where(stuck | (dw <= 0), c.dw_min, dw)
        flags = np.where(soft, 0, NOMINAL_BOUNDS) | np.where(stuck, STUCK, 0)
        for name, value in (("p_up", p_up), ("q_up", q_up), ("p_dn", p_dn), ("q_dn", q_dn), ("g_lo", g_lo),
                            ("g_hi", g_hi), ("g_sym", g_sym), ("dw", dw), ("flags", flags)):
            getattr(self, name)[rows] = value
        self.cal[rows] = True
