"""How a learning step becomes pulses on the board: the update policies a run chooses.

* ``direct`` — the rule's Δg as stochastic pulse trains (UPDATE_OUTER) or rounded pulse counts
  (LOCAL_LEARN), state-aware where the firmware can.
* ``managed`` — UPDATE_OUTER with aihwkit's update management and bit-length management
  (``PulsedUpdateMetaParameter.performUpdateManagement``): the pulse-train length BL is the
  smallest that carries the largest update and x and d are rescaled so that their largest entries
  fire equally often (:func:`managed_trains`).
* ``mixed`` — mixed precision (Nandakumar et al. 2018/2020): Δg is accumulated digitally per
  device (χ) and only whole device steps are pulsed; χ lives in the board's RAM for LOCAL_LEARN
  (firmware 1.3) and on the host for UPDATE_OUTER (:class:`HostAccumulator`, pulses by PULSE).
* ``tiki-taka`` — Tiki-Taka v2 (Gokmen & Haensch 2020, Gokmen 2021) for UPDATE_OUTER: the gradient
  into a second (fast) array, a digital buffer between it and the weights (tiki_taka.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

POLICIES = ("direct", "managed", "mixed", "tiki-taka")


def managed_trains(x: np.ndarray, d: np.ndarray, lr: float, dw_min: float, max_bl: int):
    """aihwkit's update + bit-length management for one outer product −lr·x dᵀ (lr in S per unit
    x·d): returns (x', d', lr', BL) for UPDATE_OUTER, whose trains fire with probability |x'|, |d'|
    (a = √(lr'/(dw_min·BL)) = 1). Following aihwkit: k = lr·xmax·dmax/dw_min, BL = min(⌈k⌉, max_bl),
    a = √(lr/(dw_min·BL)); d_val = dmax·(max_bl/k if k > max_bl); x is fired with probability
    a·√(d_val/xmax)·|x| and d with a·√(xmax/d_val)·|d|, so the largest of both fire equally often
    (√(k/BL) ≤ 1 when BL = ⌈k⌉). Probabilities above 1 are clipped (as aihwkit's trains are). None
    when there is nothing to update."""
    xmax, dmax = float(np.abs(x).max(initial=0.0)), float(np.abs(d).max(initial=0.0))
    if lr <= 0 or xmax == 0 or dmax == 0:
        return None
    k = lr * xmax * dmax / dw_min
    bl = int(min(max(np.ceil(k), 1), max_bl))
    a = np.sqrt(lr / (dw_min * bl))
    d_val = dmax * (max_bl / k if k > max_bl else 1.0)
    px = np.clip(a * np.sqrt(d_val / xmax) * x, -1.0, 1.0)
    pd = np.clip(a * np.sqrt(xmax / d_val) * d, -1.0, 1.0)
    return px, pd, dw_min * bl, bl


@dataclass
class HostAccumulator:
    """χ per device on the host (mixed precision for UPDATE_OUTER): Δg in, whole steps out.
    `dw` is each device's step at its symmetric point (CALIBRATE, or dw_min), `threshold` in steps."""

    dw: np.ndarray
    threshold: float = 1.0
    max_count: int = 100

    def __post_init__(self) -> None:
        self.chi = np.zeros(self.dw.shape)

    def pulses(self, dg: np.ndarray, blocked: np.ndarray | None = None) -> np.ndarray:
        """Add Δg; return the signed pulse counts of the devices whose |χ| reached the threshold
        (χ keeps the remainder). `blocked` devices (stuck) accumulate nothing."""
        chi = self.chi + dg
        if blocked is not None:
            chi[blocked] = 0.0
        q = np.abs(chi) / self.dw
        n = np.where(q >= self.threshold, np.floor(q - self.threshold) + 1, 0)
        n = (np.minimum(n, self.max_count) * np.sign(chi)).astype(np.int64)
        self.chi = chi - n * self.dw
        return n
