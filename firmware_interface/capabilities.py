"""HELLO: what the board declares about itself, and the envelope checks the host derives from it.

The field list below *is* the HELLO reply layout (after the common ``exec_us`` prefix), in order.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .codec import Reader, Writer
from .errors import CapabilityError, EnvelopeError

_LAYOUT = {
    "protocol_version": "u16", "firmware_major": "u8", "firmware_minor": "u8", "board_id": "u32",
    "model_id": "16s", "model_hash": "u32", "rows": "u16", "cols": "u16",
    "dac_bits": "u8", "adc_bits": "u8", "v_lsb": "f64", "v_adc_lsb": "f64", "i_adc_lsb": "f64",
    "g_lsb": "f64", "v_max": "f64", "g_min": "f64", "g_max": "f64", "dw_min": "f64",
    "pulse_amp_max": "f64", "pulse_width_min_ns": "u32", "pulse_width_max_ns": "u32",
    "max_pulse_count": "u16", "max_bl": "u16", "max_batch": "u16", "max_program_iters": "u16",
    "max_payload": "u16", "baud": "u32", "latency_us": "u32", "t_command_ns": "u32",
    "t_settle_ns": "u32", "t_adc_ns": "u32", "pulse_width_ns": "u32", "pulse_gap_ns": "u32",
}
_SESSION = {"boot_count": "u32", "last_valid": "u8", "last_seq": "u16", "last_crc": "u32"}
#: Firmware 1.4 appends who the board is and which session this is (PROTOCOL.md, HELLO).
_IDENTITY = {"board_uid": "u64", "session_id": "u32", "state_crc": "u32", "max_window": "u16"}


STATE_AWARE_SINCE = (1, 1)
READ_DEVICES_SINCE = (1, 2)  # READ_DEVICES; LOCAL_LEARN's free-only and no-states flags
#: CALIBRATE, LOCAL_LEARN's mixed-precision flags, state-aware UPDATE_OUTER, adaptive PROGRAM
UPDATE_POLICIES_SINCE = (1, 3)
SESSIONS_SINCE = (1, 4)  # board uid / session id / state digest in HELLO, BYE, pairing token, reply window
FINE_THRESHOLDS_SINCE = (1, 5)  # mixed-precision thresholds of 3, 5, 6, 7 steps; χ kept 3 % from a bound

#: What a sane board can declare: every timeout and buffer the host derives from HELLO is bounded
#: by these, so a confused or hostile board cannot make the host wait for hours or allocate
#: gigabytes. (low, high) inclusive; a field outside is refused with :class:`CapabilityError`.
SANE = {
    "rows": (1, 1024), "cols": (1, 1024), "dac_bits": (2, 16), "adc_bits": (2, 32),
    "v_lsb": (1e-9, 10.0), "v_adc_lsb": (1e-12, 10.0), "i_adc_lsb": (1e-18, 1.0), "g_lsb": (1e-15, 1.0),
    "v_max": (1e-3, 100.0), "g_min": (0.0, 1.0), "g_max": (1e-12, 1.0), "dw_min": (1e-15, 1.0),
    "pulse_amp_max": (1e-3, 100.0), "pulse_width_min_ns": (1, 10**9), "pulse_width_max_ns": (1, 10**9),
    "max_pulse_count": (1, 127), "max_bl": (1, 65535), "max_batch": (1, 4096), "max_program_iters": (1, 1000),
    "max_payload": (64, 65535), "latency_us": (0, 500_000), "t_command_ns": (0, 10**8),
    "t_settle_ns": (0, 10**8), "t_adc_ns": (0, 10**8), "pulse_width_ns": (1, 10**9), "pulse_gap_ns": (0, 10**9),
    "max_window": (1, 64),
}
#: baud 0 means native USB (the host's own setting); otherwise a real UART rate.
SANE_BAUD = (1200, 50_000_000)


@dataclass(frozen=True)
class Capabilities:
    protocol_version: int
    firmware_major: int
    firmware_minor: int
    board_id: int
    model_id: str
    model_hash: int
    rows: int
    cols: int
    dac_bits: int
    adc_bits: int
    v_lsb: float  # V per DAC code
    v_adc_lsb: float  # V per voltage-ADC code
    i_adc_lsb: float  # A per current-ADC code
    g_lsb: float  # S per conductance code (uint16)
    v_max: float  # drive limit, V
    g_min: float  # programmable range, S
    g_max: float
    dw_min: float  # nominal conductance step of one pulse, S
    pulse_amp_max: float
    pulse_width_min_ns: int
    pulse_width_max_ns: int
    max_pulse_count: int
    max_bl: int
    max_batch: int
    max_program_iters: int
    max_payload: int
    baud: int  # the board's UART rate (0 = native USB, use the host's setting)
    latency_us: int  # per-transfer latency the board adds (USB frame / latency timer)
    t_command_ns: int
    t_settle_ns: int
    t_adc_ns: int
    pulse_width_ns: int
    pulse_gap_ns: int

    @property
    def lines(self) -> int:
        return self.rows + self.cols

    @property
    def dac_max(self) -> int:
        return 2 ** (self.dac_bits - 1) - 1

    @property
    def state_aware_learning(self) -> bool:
        """LOCAL_LEARN flag bit1 (state-aware pulse counts) is firmware 1.1's; older boards refuse it."""
        return (self.firmware_major, self.firmware_minor) >= STATE_AWARE_SINCE

    @property
    def sessions(self) -> bool:
        """Board uid, session id and state digest in HELLO, BYE, pairing tokens and a reply window are firmware 1.4's."""
        return (self.firmware_major, self.firmware_minor) >= SESSIONS_SINCE

    @property
    def device_reads(self) -> bool:
        """READ_DEVICES (a list of devices read back) and LOCAL_LEARN flag bits 2–3 are firmware 1.2's."""
        return (self.firmware_major, self.firmware_minor) >= READ_DEVICES_SINCE

    @property
    def update_policies(self) -> bool:
        """CALIBRATE, mixed-precision LOCAL_LEARN, state-aware UPDATE_OUTER and a PROGRAM that counts
        pulses with each device's own step are firmware 1.3's."""
        return (self.firmware_major, self.firmware_minor) >= UPDATE_POLICIES_SINCE

    @property
    def fine_thresholds(self) -> bool:
        """Mixed-precision thresholds of 3, 5, 6 and 7 steps (LOCAL_LEARN bit7) are firmware 1.5's."""
        return (self.firmware_major, self.firmware_minor) >= FINE_THRESHOLDS_SINCE

    def need(self, since: tuple[int, int], what: str) -> None:
        """Refuse `what` on a board whose firmware predates `since`."""
        if (self.firmware_major, self.firmware_minor) < since:
            raise EnvelopeError(f"{what} needs firmware >= {since[0]}.{since[1]}; the board has "
                                f"{self.firmware_major}.{self.firmware_minor}")

    # -- envelope checks (raise before anything is sent) --------------------------------------
    def dac_codes(self, volts, what: str) -> np.ndarray:
        v = np.asarray(volts, dtype=float)
        bad = ~np.isfinite(v) | (np.abs(v) > self.v_max * (1 + 1e-12))
        if bad.any():
            i = int(np.flatnonzero(bad.ravel())[0])
            raise EnvelopeError(f"{what}[{i}] = {v.ravel()[i]!r} V is outside the board's drive range "
                                f"±{self.v_max} V")
        return np.clip(np.rint(v / self.v_lsb), -self.dac_max, self.dac_max).astype(np.int16)

    def check_shape(self, array: np.ndarray, shape: tuple[int, ...], what: str) -> None:
        if array.shape != shape:
            raise EnvelopeError(f"{what}: shape {array.shape} does not fit the board ({shape} expected)")

    def check_window(self, origin: tuple[int, int], shape: tuple[int, int], what: str) -> None:
        r0, c0 = origin
        nr, nc = shape
        if r0 < 0 or c0 < 0 or nr < 1 or nc < 1 or r0 + nr > self.rows or c0 + nc > self.cols:
            raise EnvelopeError(f"{what}: window rows {r0}..{r0 + nr - 1}, cols {c0}..{c0 + nc - 1} "
                                f"is outside the {self.rows}x{self.cols} array")

    def check_range(self, value, low, high, what: str, unit: str = "") -> None:
        if not (np.isfinite(value) and low <= value <= high):
            raise EnvelopeError(f"{what} = {value!r}{unit} is outside the board's envelope "
                                f"[{low}, {high}]{unit}")

    def check_lines(self, lines, what: str) -> np.ndarray:
        arr = np.asarray(lines, dtype=np.int64).ravel()
        bad = (arr < 0) | (arr >= self.lines)
        if bad.any():
            raise EnvelopeError(f"{what}: line {int(arr[bad][0])} does not exist (lines 0..{self.lines - 1}: "
                                f"rows 0..{self.rows - 1}, columns {self.rows}..{self.lines - 1})")
        if len(set(arr.tolist())) != arr.size:
            raise EnvelopeError(f"{what}: a line is listed twice")
        return arr


@dataclass(frozen=True)
class SessionInfo:
    """Non-volatile facts HELLO reports: boots so far and the last command executed (any session);
    from firmware 1.4 also who the board is (``board_uid``, made once and kept in its FRAM), which
    session this HELLO opened, a digest of the device state and the reply window (outstanding
    commands the board keeps replies for). Older boards report 0 and a window of 1."""

    boot_count: int
    last_valid: int
    last_seq: int
    last_crc: int
    board_uid: int = 0
    session_id: int = 0
    state_crc: int = 0
    max_window: int = 1


def _put(w: Writer, kind: str, value) -> None:
    if kind == "16s":
        w.raw(value.encode("ascii", "replace")[:16].ljust(16, b"\0"))
    else:
        w.put(kind, value)


def _get(r: Reader, kind: str):
    if kind == "16s":
        return bytes(r.array("u1", 16)).rstrip(b"\0").decode("ascii", "replace")
    return r.get(kind)


def encode_hello(caps: Capabilities, session: SessionInfo) -> bytes:
    w = Writer()
    for name, kind in _LAYOUT.items():
        _put(w, kind, getattr(caps, name))
    for name, kind in {**_SESSION, **(_IDENTITY if caps.sessions else {})}.items():
        _put(w, kind, getattr(session, name))
    return w.bytes()


def decode_hello(r: Reader) -> tuple[Capabilities, SessionInfo]:
    """Parse and sanity-check a HELLO reply body (:class:`CapabilityError` names a field out of range)."""
    caps = Capabilities(**{name: _get(r, kind) for name, kind in _LAYOUT.items()})
    layout = {**_SESSION, **(_IDENTITY if caps.sessions else {})}
    session = SessionInfo(**{name: _get(r, kind) for name, kind in layout.items()})
    r.end()
    check_sane(caps, session)
    return caps, session


def check_sane(caps: Capabilities, session: SessionInfo) -> None:
    values = {**{f.name: getattr(caps, f.name) for f in fields(caps)}, "max_window": session.max_window}
    for name, (low, high) in SANE.items():
        value = values[name]
        if not (np.isfinite(value) and low <= value <= high):
            raise CapabilityError(f"board declares {name} = {value!r}; a sane board declares {name} in "
                                  f"[{low}, {high}] (refused: the host derives timeouts and buffers from it)")
    if caps.baud and not SANE_BAUD[0] <= caps.baud <= SANE_BAUD[1]:
        raise CapabilityError(f"board declares baud = {caps.baud}; a sane board declares 0 (native USB) or "
                              f"baud in [{SANE_BAUD[0]}, {SANE_BAUD[1]}]")
    for low, high in (("g_min", "g_max"), ("pulse_width_min_ns", "pulse_width_max_ns")):
        if values[low] >= values[high] and not (low == "pulse_width_min_ns" and values[low] == values[high]):
            raise CapabilityError(f"board declares {low} = {values[low]!r} >= {high} = {values[high]!r}")


assert list(_LAYOUT) == [f.name for f in fields(Capabilities)]
