"""pyserial URL handler ``emu://?model=ideal&seed=1&rows=16&cols=16&timing=0&faults=...``.

The board runs inside the host process: a write hands the bytes to the emulator, a read
collects what the link model says has arrived. With ``timing=0`` time is virtual, so a read
timeout costs no wall time and runs are deterministic; ``timing=virtual`` runs the link model
(baud, latency, packets) on that virtual clock: what a link would take, without waiting for it.
"""
from __future__ import annotations

import urllib.parse

from serial.serialutil import PortNotOpenError, SerialBase, SerialException

from ..emulator.clock import VirtualClock
from ..emulator.factory import OPTIONS, make_emulator


class Serial(SerialBase):
    BAUDRATES = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1000000, 2000000)

    def __init__(self, *args, **kwargs) -> None:
        self.emulator = None
        super().__init__(*args, **kwargs)

    def open(self) -> None:
        if self.is_open:
            raise SerialException("Port is already open.")
        if self._port is None:
            raise SerialException("Port must be configured before it can be used.")
        self.emulator = make_emulator(**self.from_url(self._port))
        self.is_open = True

    def from_url(self, url: str) -> dict:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "emu":
            raise SerialException(f"expected a URL of the form emu://?model=...: not starting with emu:// ({url!r})")
        options = {}
        for key, values in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items():
            if key not in OPTIONS:
                raise SerialException(f"{url}: unknown option {key!r}; known: {', '.join(OPTIONS)}")
            options[key] = values[-1]
        if options.get("timing") == "virtual":  # the link model in virtual time: modelled seconds, no waiting
            options["clock"] = VirtualClock()
        if "timing" in options:
            options["timing"] = options["timing"] not in ("0", "", "false", "no")
        return options

    def close(self) -> None:
        self.is_open = False
        self.emulator = None
        super().close()

    def _reconfigure_port(self) -> None:
        """Settings have no effect: the emulated link runs at the board's own rate."""

    def _check(self):
        if not self.is_open:
            raise PortNotOpenError()
        return self.emulator

    @property
    def in_waiting(self) -> int:
        return self._check().in_waiting()

    def read(self, size: int = 1) -> bytes:
        emu = self._check()
        clock = emu.clock
        deadline = None if self._timeout is None else clock.now() + self._timeout
        data = bytearray()
        while len(data) < size:
            data += emu.host_read(size - len(data))
            if len(data) >= size:
                break
            nxt = emu.next_arrival()
            if deadline is None and nxt is None:
                raise SerialException("emu: read would block forever: nothing is on its way to the host")
            if nxt is None or (deadline is not None and nxt > deadline):
                clock.sleep_until(deadline)
                data += emu.host_read(size - len(data))
                break
            clock.sleep_until(nxt)
        return bytes(data)

    def write(self, data) -> int:
        self._check().host_write(bytes(data))
        return len(data)

    def reset_input_buffer(self) -> None:
        emu = self._check()
        while emu.host_read(1 << 20):
            pass

    def reset_output_buffer(self) -> None:
        self._check()

    @property
    def out_waiting(self) -> int:
        self._check()
        return 0

    def _update_break_state(self) -> None:
        pass

    def _update_rts_state(self) -> None:
        pass

    def _update_dtr_state(self) -> None:
        pass

    @property
    def cts(self) -> bool:
        return True

    @property
    def dsr(self) -> bool:
        return True

    @property
    def ri(self) -> bool:
        return False

    @property
    def cd(self) -> bool:
        return True
