"""The board as the host sees it through the wire: firmware + link timing + faults, on a clock.

Transports (``emu://``, pty, TCP) only move bytes in and out of :meth:`Emulator.host_write` and
:meth:`Emulator.host_read`; everything observable about timing and faults happens here, so all
three behave alike.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from .board_config import BoardConfig
from .clock import RealClock, VirtualClock
from .faults import FaultConfig, FaultInjector
from .firmware import Firmware
from .link import LinkConfig


class Emulator:
    def __init__(self, config: BoardConfig | None = None, link: LinkConfig | None = None,
                 faults: FaultConfig | None = None, clock=None) -> None:
        self.config = config or BoardConfig()
        self.link = link or LinkConfig()
        self.faults = FaultInjector(faults or FaultConfig())
        self.clock = clock or (RealClock() if self.link.timing else VirtualClock())
        self.firmware = Firmware(self.config, baud=self.link.baud, latency_s=self.link.latency_s)
        timing = self.link.timing
        self._bt = self.link.byte_time if timing else 0.0
        self._lat = self.link.latency_s if timing else 0.0
        self._rx_free = self._busy_until = self._boot_until = self._tx_free = float("-inf")
        self._fifo_used = 0
        self._out: deque[list] = deque()  # [t_first_byte, data, bytes already read]
        self._resets_left = sorted(set(self.faults.config.reset_at))

    # -- ground truth for tests and tools -----------------------------------------------------------
    @property
    def conductances(self) -> np.ndarray:
        """The devices' true conductances in siemens (a copy; the host can only read noisy codes)."""
        return self.firmware.crossbar.g.copy()

    def reset(self) -> None:
        """Reset the MCU now (like pressing the reset button)."""
        self.firmware.reset()
        self._boot_until = self.clock.now() + (self.link.boot_s if self.link.timing else 0.0)

    def end_session(self) -> None:
        """The host left (its connection closed): the firmware ends the session and what was on its
        way to that host is dropped, so nothing of it reaches the next one."""
        self.firmware.end_session()
        self._out.clear()
        self._fifo_used = 0

    def queued(self) -> int:
        """Reply bytes on their way to the host, not yet read: what a server bounds (back-pressure)."""
        return sum(len(data) - sent for _, data, sent in self._out)

    # -- host → board ----------------------------------------------------------------------------
    def host_write(self, data: bytes, t: float | None = None) -> None:
        t = self.clock.now() if t is None else t
        data = self.faults.corrupt(bytes(data))
        if not data:
            return
        n = len(data)
        start = max(t, self._rx_free)
        self._rx_free = start + n * self._bt
        arrival = start + self._lat + self._bt * np.arange(1, n + 1)
        buf = np.frombuffer(data, np.uint8)
        pos = 0
        while pos < n:
            end = data.find(0, pos)
            end = n if end < 0 else end + 1
            self._deliver(buf[pos:end], arrival[pos:end])
            pos = end

    def _deliver(self, chunk: np.ndarray, arrival: np.ndarray) -> None:
        keep = arrival >= self._boot_until
        busy = keep & (arrival < self._busy_until)
        if busy.any():  # the MCU is executing: the FIFO takes what fits, the rest is lost
            room = max(0, self.link.rx_fifo - self._fifo_used)
            idx = np.flatnonzero(busy)
            lost = idx[room:]
            keep[lost] = False
            self._fifo_used += idx.size - lost.size
            self.firmware.nv.rx_overflows += lost.size
        if not keep.any():
            return
        t_proc = max(float(arrival[keep][-1]), self._busy_until)
        for _, reply, exec_s in self.firmware.receive(chunk[keep].tobytes()):
            t_done = t_proc + (exec_s if self.link.timing else 0.0)
            self._busy_until, self._fifo_used = t_done, 0
            if self._resets_left and self.firmware.nv.commands >= self._resets_left[0]:
                self._resets_left.pop(0)
                self.firmware.reset()
                self._boot_until = t_done + (self.link.boot_s if self.link.timing else 0.0)
                return
            self._send(reply, t_done)

    def _send(self, reply: bytes, t_ready: float) -> None:
        if self.faults.delayed():
            t_ready += self.faults.config.delay_s
        for _ in range(2 if self.faults.duplicated() else 1):
            data = self.faults.corrupt(reply)
            if not data:  # every byte dropped
                continue
            t0 = max(t_ready + self._lat, self._tx_free)
            self._tx_free = t0 + len(data) * self._bt
            self._out.append([t0, data, 0])

    # -- board → host ----------------------------------------------------------------------------
    def inject(self, data: bytes) -> None:
        """Bytes that appear on the host's receive line now: line noise, a confused board."""
        if not data:
            return
        self._out.append([max(self.clock.now(), self._tx_free), bytes(data), 0])
        self._tx_free = self._out[-1][0] + len(data) * self._bt

    def _available(self, seg: list, t: float) -> int:
        t0, data, _ = seg
        if t < t0:
            return 0
        if not self._bt:
            return len(data)
        k = min(len(data), int((t - t0) / self._bt + 1e-6))  # + ε: at next_arrival() exactly, the packet is there
        return k if k == len(data) else k - k % self.link.packet

    def host_read(self, size: int, t: float | None = None) -> bytes:
        """Up to ``size`` bytes that have reached the host by time ``t``."""
        t = self.clock.now() if t is None else t
        out = bytearray()
        while self._out and len(out) < size:
            seg = self._out[0]
            avail = self._available(seg, t) - seg[2]
            if avail <= 0:
                break
            take = min(avail, size - len(out))
            out += seg[1][seg[2]:seg[2] + take]
            seg[2] += take
            if seg[2] < len(seg[1]):
                break
            self._out.popleft()
        return bytes(out)

    def in_waiting(self, t: float | None = None) -> int:
        t = self.clock.now() if t is None else t
        total = 0
        for seg in self._out:
            avail = self._available(seg, t) - seg[2]
            total += max(avail, 0)
            if seg[2] + avail < len(seg[1]):
                break
        return total

    def next_arrival(self) -> float | None:
        """When more bytes become readable (None: nothing is on its way)."""
        if not self._out:
            return None
        t0, data, sent = self._out[0]
        if not self._bt:
            return t0
        return t0 + min(len(data), sent - sent % self.link.packet + self.link.packet) * self._bt
