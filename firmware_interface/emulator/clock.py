"""Time source of the link model: real (paced) or virtual (instant, deterministic).

A virtual clock only advances when the reader waits, so timeouts cost nothing and a fault
run is reproducible bit for bit.
"""
from __future__ import annotations

import time


class RealClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep_until(self, t: float) -> None:
        delay = t - time.monotonic()
        if delay > 0:
            time.sleep(delay)


class VirtualClock:
    def __init__(self) -> None:
        self._t = 0.0

    def now(self) -> float:
        return self._t

    def sleep_until(self, t: float) -> None:
        self._t = max(self._t, t)
