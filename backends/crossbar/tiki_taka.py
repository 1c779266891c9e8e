"""Tiki-Taka v2 (Gokmen & Haensch 2020; Gokmen 2021, aihwkit's BufferedTransferCompound) on the
board: the gradient goes by UPDATE_OUTER into a second, fast array A whose devices start at their
own symmetric points; every step some rows of A are read (an MVM with one-hot inputs) into a digital
buffer H, and where |H| reaches a threshold the weights' array C gets one pulse pair and H gives up
what was sent. The network computes with C only.

Why it helps on asymmetric (soft-bounds) devices: A's devices drift back to their symmetric points
under the back-and-forth of the gradient's noise, so A is a leaky, zero-centred integral of the
gradient instead of a device pushed into a bound; only its persistent part reaches C, a pulse at
a time, filtered through H. A's zero is read once after programming (each pair's own offset) and
subtracted from every read.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurophys.ir.errors import ValidationError


@dataclass(frozen=True)
class TikiTakaConfig:
    """`transfer_lr`: H += transfer_lr·A per read (aihwkit's transfer_lr, not scaled by the SGD lr);
    `rows_per_step`: rows of A read per learning step (0: all of them); `threshold`: C is pulsed
    once |H| reaches this many of C's weight steps (aihwkit's thres_scale); `max_pulses`: pulses per
    device per transfer. aihwkit sends one (desired_bl = 1) but transfers a row every few mat-vecs;
    here every row is read once per learning step, and with one pulse C fell behind H (buffers of 5
    steps; digits, board seed 0: 86.9 % against 94.0 % with up to 5). transfer_lr 0.05: digits on
    reram seeds 0–2 94.2 / 93.5 / 92.2 % at 0.44 pulses per device per step (0.1: 94.0 / 90.9 /
    93.8 % at 0.80; 0.2: 92.4 / 92.7 / 93.3 % at 1.55)."""
    transfer_lr: float = 0.05
    rows_per_step: int = 0
    threshold: float = 1.0
    max_pulses: int = 5

    def __post_init__(self) -> None:
        for name in ("transfer_lr", "threshold"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise ValidationError(f"transfer.{name}", f"{v!r} must be a number > 0")
        for name, lo in (("rows_per_step", 0), ("max_pulses", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValidationError(f"transfer.{name}", f"{v!r} must be an integer ≥ {lo}")


class TikiTaka:
    """The transfer from A (rows fast_row0…) to C (rows 0…) of a feed-forward layout's window."""

    def __init__(self, link, layout, pair, dw: np.ndarray, config: TikiTakaConfig, volts: float):
        self.link, self.layout, self.pair, self.config, self.volts = link, layout, pair, config, volts
        nr, nc = layout.window
        # one C pulse pair (+1 on G+, −1 on G−) moves a weight by (dw+ + dw−)/s
        self.step = (dw[:nr, 0::2][:, :nc // 2] + dw[:nr, 1::2][:, :nc // 2]) / pair.siemens_per_unit
        self.H = np.zeros((nr, nc // 2))
        self.zero = np.zeros((nr, nc // 2))
        self.next_row = 0
        self.transfers = 0

    def read_rows(self, rows: np.ndarray) -> np.ndarray:
        """A at `rows` (weight units, every column pair) by one MVM with one-hot inputs."""
        v = np.zeros((len(rows), self.link.caps.rows))
        v[np.arange(len(rows)), self.layout.fast_row0 + rows] = self.volts
        I = self.link.mvm(v)[:, :self.layout.window[1]]
        return (I[:, 0::2] - I[:, 1::2]) / (self.pair.siemens_per_unit * self.volts) - self.zero[rows]

    def set_zero(self) -> None:
        """A's devices were programmed to their symmetric points: what A reads now is its zero."""
        self.zero[:] = 0.0
        self.zero[:] = self.read_rows(np.arange(self.layout.window[0]))

    def transfer(self) -> int:
        """Read the next rows of A into H and pulse C where |H| reached the threshold; pulses sent."""
        nr, nc = self.layout.window
        k = self.config.rows_per_step or nr
        rows = (self.next_row + np.arange(k)) % nr
        self.next_row = int((self.next_row + k) % nr)
        self.H[rows] += self.config.transfer_lr * self.read_rows(rows)
        q = self.H[rows] / (self.config.threshold * self.step[rows])
        n = np.clip(np.fix(q), -self.config.max_pulses, self.config.max_pulses).astype(np.int64)
        if not n.any():
            return 0
        self.H[rows] -= n * self.config.threshold * self.step[rows]
        counts = np.zeros((nr, nc), np.int64)
        counts[rows, 0::2] = n
        counts[rows, 1::2] = -n
        self.transfers += 1
        return self.link.pulse(counts)

    def info(self) -> dict:
        return {"policy": "tiki-taka v2: UPDATE_OUTER into the fast array A (rows from "
                          f"{self.layout.fast_row0}), rows of A read by one-hot MVM into a digital buffer H, one "
                          "pulse pair on C where |H| ≥ threshold·C's step",
                "config": {"transfer_lr": self.config.transfer_lr, "rows_per_step": self.config.rows_per_step,
                           "threshold": self.config.threshold, "max_pulses": self.config.max_pulses},
                "transfers": self.transfers, "buffer_abs_max": float(np.abs(self.H).max(initial=0.0))}
