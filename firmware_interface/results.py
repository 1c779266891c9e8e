"""Typed results of the driver's methods, in physical units (V, A, S)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Measurement:
    """Per line (rows first, then columns): voltage, and current flowing from the array into the
    line's driver or sense amplifier (zero on floating lines)."""

    voltages: np.ndarray
    currents: np.ndarray
    rows: int

    @property
    def row_v(self) -> np.ndarray:
        return self.voltages[:self.rows]

    @property
    def col_v(self) -> np.ndarray:
        return self.voltages[self.rows:]

    @property
    def row_i(self) -> np.ndarray:
        return self.currents[:self.rows]

    @property
    def col_i(self) -> np.ndarray:
        return self.currents[self.rows:]


@dataclass(frozen=True)
class ProgramResult:
    reached: np.ndarray  # last verify read, S
    iterations: int  # verify reads used
    unconverged: int  # devices still outside the tolerance (e.g. stuck)
    pulses: int


@dataclass(frozen=True)
class Calibration:
    """Per device (rows, cols), as CALIBRATE measured it: its bounds, symmetric point (where up and
    down steps are equal: aihwkit's w = 0) and step there (S), and flags (bit0 stuck, bit1 no soft
    bound found: nominal bounds). The board keeps the same fit for its own update rules."""

    g_lo: np.ndarray
    g_sym: np.ndarray
    g_hi: np.ndarray
    dw: np.ndarray
    flags: np.ndarray
    pulses: int

    @property
    def stuck(self) -> np.ndarray:
        return (self.flags & 1).astype(bool)

    def healthy(self, g: np.ndarray, margin: float = 0.05, index=(slice(None), slice(None))) -> np.ndarray:
        """Devices (those at `index`, conductances g) that respond and sit more than `margin` of their
        range away from either bound."""
        lo, hi = self.g_lo[index], self.g_hi[index]
        m = margin * (hi - lo)
        return ~self.stuck[index] & (g > lo + m) & (g < hi - m)

    def summary(self) -> dict:
        return {"devices": int(self.dw.size), "stuck": int(self.stuck.sum()), "pulses": self.pulses,
                "dw_S": {"median": float(np.median(self.dw)), "p10": float(np.percentile(self.dw, 10)),
                         "p90": float(np.percentile(self.dw, 90))},
                "g_sym_S": {"median": float(np.median(self.g_sym)), "p10": float(np.percentile(self.g_sym, 10)),
                            "p90": float(np.percentile(self.g_sym, 90))},
                "span_S": {"median": float(np.median(self.g_hi - self.g_lo))}}

    def to_dict(self) -> dict:
        return {"g_lo_S": self.g_lo.tolist(), "g_sym_S": self.g_sym.tolist(), "g_hi_S": self.g_hi.tolist(),
                "dw_S": self.dw.tolist(), "flags": self.flags.tolist(), "pulses": self.pulses}


@dataclass(frozen=True)
class UpdateResult:
    pulses: int
    pulse_map: np.ndarray | None  # signed pulses per device, if requested


@dataclass(frozen=True)
class LearnResult:
    floating_lines: np.ndarray  # line indices, in the order of the columns below
    free_v: np.ndarray  # (k, n_floating) free-state voltages the board measured, V
    second_v: np.ndarray  # (k, n_floating) clamped (CL) or nudged (EP) state, V
    pulses: int
    pulse_map: np.ndarray | None


@dataclass(frozen=True)
class Counters:
    commands: int  # commands executed (served-from-cache replies not included)
    crc_errors: int  # bad frames received
    cache_hits: int  # retries answered from the reply cache
    boot_count: int
    rx_overflows: int  # bytes lost because the RX FIFO was full
    nacks: int
    last_valid: int
    last_seq: int
    last_crc: int
    pulses_up: np.ndarray  # (rows, cols) potentiating pulses applied so far, all sessions
    pulses_down: np.ndarray


@dataclass
class LinkStats:
    """What the driver spent and saw, cumulative. ``link_time_s`` is modelled from the bytes on
    the wire, the baud rate and the declared latency; ``device_time_s`` is the execution time the
    board reported."""

    commands: int = 0
    retries: int = 0
    bad_frames: int = 0
    nacks: int = 0
    stale_frames: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    link_time_s: float = 0.0
    device_time_s: float = 0.0
