"""The board behind the backend, with its time split the way the harness reports it.

`device` is what the board says it spent executing (exec_us of every reply) and `link` the bytes
on the wire at the declared baud plus the per-transfer latency (the driver's model of the serial
link); `host` is the wall time the backend spends outside board calls (encoding, activations,
unit conversion). The emulator's own simulation cost is none of the three: on a real board it
does not exist, so it is left out rather than charged to the host.
"""
from __future__ import annotations

import time
from contextlib import contextmanager

from firmware_interface import Board


class BoardLink:
    def __init__(self, board: Board):
        self.board = board
        self.in_calls = 0.0  # wall time spent inside board commands

    @classmethod
    def open(cls, url: str, baudrate: int = 921600, timeout_base_s: float = 0.5) -> "BoardLink":
        """A generous base timeout: a busy host (or emulator) must not turn slowness into retries."""
        return cls(Board.open(url, baudrate=baudrate, timeout_base_s=timeout_base_s))

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

    def close(self) -> None:
        self.board.close()
