"""What a board is, apart from its devices: size, safe envelope, execution timing, identity."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..protocol import MAX_FRAGMENTS, MAX_TOKEN, PROTOCOL_VERSION, largest_reply
from .devices import DeviceConfig, ideal

MAX_SIDE = 1024  # rows and cols of the largest board made (row/column lines of one crossbar)


@dataclass(frozen=True)
class EnvelopeConfig:
    """Limits the board enforces (and declares in HELLO so the host can refuse early)."""

    pulse_amp_max: float = 2.5  # V
    pulse_width_min_ns: int = 10
    pulse_width_max_ns: int = 1_000_000
    max_pulse_count: int = 100  # per device per command (≤ 127: PULSE counts are int8)
    max_bl: int = 255  # UPDATE_OUTER pulse-train length
    max_batch: int = 64  # vectors per MVM, samples per LOCAL_LEARN
    max_program_iters: int = 100


@dataclass(frozen=True)
class TimingConfig:
    """Device execution time model (what the board spends, not the link)."""

    t_command_ns: int = 5_000  # per command: parse, dispatch
    t_settle_ns: int = 1_000  # analog settling after the lines change
    t_adc_ns: int = 1_000  # one conversion (all lines in parallel)
    pulse_width_ns: int = 1_000  # width of the pulses the board generates itself
    pulse_gap_ns: int = 200  # between consecutive pulses on one row


@dataclass(frozen=True)
class BoardConfig:
    rows: int = 16
    cols: int = 16
    device: DeviceConfig = field(default_factory=lambda: ideal)
    envelope: EnvelopeConfig = field(default_factory=EnvelopeConfig)
    timing: TimingConfig = field(default_factory=TimingConfig)
    seed: int = 0  # device-to-device variation
    noise_seed: int = 1  # cycle-to-cycle and read noise, stochastic rounding and pulse trains
    board_id: int = 0xE5_0001
    # 1.1: state-aware pulse counts; 1.2: READ_DEVICES, lean LOCAL_LEARN; 1.3: CALIBRATE, update policies;
    # 1.4: board uid / session id / state digest in HELLO, BYE, pairing token, reply window;
    # 1.5: mixed-precision thresholds of 3, 5, 6, 7 steps, χ kept 3 % from a bound
    firmware_version: tuple[int, int] = (1, 5)
    protocol_version: int = PROTOCOL_VERSION  # only changed to emulate an old or new firmware
    max_payload: int = 8192
    max_window: int = 8  # replies kept in FRAM (firmware 1.4): commands a host may have outstanding
    token: bytes = b""  # pairing token HELLO must carry (firmware 1.4); empty: none asked

    def __post_init__(self) -> None:
        if not (1 <= self.rows <= MAX_SIDE and 1 <= self.cols <= MAX_SIDE):
            raise ValueError(f"board size {self.rows}x{self.cols}: rows and cols must be in [1, {MAX_SIDE}]")
        if not 64 <= self.max_payload <= 65535:
            raise ValueError(f"max_payload {self.max_payload} must be in [64, 65535]")
        if not 1 <= self.max_window <= 64:
            raise ValueError(f"max_window {self.max_window} must be in [1, 64]")
        if len(self.token) > MAX_TOKEN:
            raise ValueError(f"token of {len(self.token)} bytes: at most {MAX_TOKEN}")
        if not 1 <= self.envelope.max_pulse_count <= 127:
            raise ValueError(f"max_pulse_count {self.envelope.max_pulse_count} must be in [1, 127]")
        largest = largest_reply(self.rows, self.cols, self.envelope.max_batch, self.max_payload)
        if largest > MAX_FRAGMENTS * self.max_payload:
            raise ValueError(f"max_payload {self.max_payload} is too small for a {self.rows}x{self.cols} board: "
                             f"its largest reply ({largest} bytes) needs at least "
                             f"{-(-largest // MAX_FRAGMENTS)} bytes per fragment")
