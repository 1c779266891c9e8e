"""The board behind the backend, with its time split the way the harness reports it.

`device` is what the board says it spent executing (exec_us of every reply) and `link` the bytes
on the wire at the declared baud plus the per-transfer latency (the driver's model of the serial
link) — both modelled; `host` is the wall time the backend spends outside board calls (encoding,
activations, unit conversion) and `board` the wall time spent inside them (on a pty that is the
emulator's simulation and the transfer; on a real board the real link and execution).
"""
from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np

from neurophys.firmware_interface import Board


class BoardLink:
    def __init__(self, board: Board, reads: int = 1):
        self.board, self.reads = board, reads
        self.in_calls = 0.0  # wall time spent inside board commands

    @classmethod
    def open(cls, url: str, baudrate: int = 921600, reads: int = 1, timeout_base_s: float = 0.5) -> "BoardLink":
        """A generous base timeout: a busy host (or emulator) must not turn slowness into retries."""
        return cls(Board.open(url, baudrate=baudrate, timeout_base_s=timeout_base_s), reads)

    @property
    def caps(self):
        return self.board.caps

    def __getattr__(self, command):
        """board.<command>(...), timed as board time."""
        fn = getattr(self.board, command)

        def call(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.in_calls += time.perf_counter() - t0

        return call

    def read_window(self, shape: tuple[int, int]) -> np.ndarray:
        """The conductances of the window at the origin, averaged over `reads` read-backs: a measured
        update is the difference of two reads, so the board's read noise would otherwise enter it
        twice at full size; averaging shrinks it by √reads (devices do not change while read)."""
        return np.mean([self.read_conductances((0, 0), shape) for _ in range(self.reads)], axis=0)

    def read_listed(self, index: np.ndarray) -> np.ndarray:
        """The listed devices (flat r·C + c), averaged over `reads` READ_DEVICES like `read_window`."""
        return np.mean([self.read_devices(index) for _ in range(self.reads)], axis=0)

    @contextmanager
    def account(self, timing: dict):
        """Add this block's host/link/device seconds to `timing`."""
        stats = self.board.stats
        link0, dev0, calls0, t0 = stats.link_time_s, stats.device_time_s, self.in_calls, time.perf_counter()
        try:
            yield
        finally:
            wall = time.perf_counter() - t0
            timing["host"] += max(0.0, wall - (self.in_calls - calls0))
            timing["link"] += stats.link_time_s - link0
            timing["device"] += stats.device_time_s - dev0
            timing["board"] = timing.get("board", 0.0) + self.in_calls - calls0

    def close(self) -> None:
        self.board.close()
