"""Wire-protocol constants shared by the host driver and the board (see PROTOCOL.md).

Kept in one place so that host and emulator cannot disagree on a number.
"""
from __future__ import annotations

import struct
from enum import IntEnum, IntFlag

PROTOCOL_VERSION = 1

#: version, type, seq, flags, status, frag_index, frag_count, payload length (little-endian)
HEADER = struct.Struct("<BBHBBBBH")
CRC_SIZE = 4
MIN_FRAME = HEADER.size + CRC_SIZE
REPLY_BIT = 0x80

#: Voltage and current codes of the DAC/ADC are signed; x/d codes of UPDATE_OUTER are ±32767.
UNIT_CODE = 32767


class Msg(IntEnum):
    HELLO = 0x01
    PING = 0x02
    RESET = 0x03
    BYE = 0x04
    CONFIGURE_LINES = 0x10
    MEASURE = 0x11
    MVM = 0x12
    MVM_T = 0x13
    READ_CONDUCTANCES = 0x20
    PROGRAM = 0x21
    PULSE = 0x22
    UPDATE_OUTER = 0x23
    LOCAL_LEARN = 0x24
    READ_DEVICES = 0x25
    CALIBRATE = 0x26
    GET_COUNTERS = 0x30
    NACK = 0x7F


class Status(IntEnum):
    OK = 0
    BAD_VERSION = 1
    UNKNOWN_TYPE = 2
    BAD_LENGTH = 3
    BAD_ARGUMENT = 4
    ENVELOPE = 5
    NO_SESSION = 6
    NOT_CONFIGURED = 7
    TOO_LARGE = 8
    BAD_FRAME = 9
    BUSY = 10
    DENIED = 11


class Flag(IntFlag):
    NONE = 0
    SESSION = 0x01  # reply: the board has an open session (cleared by any reset)
    CACHED = 0x02  # reply: served from the reply cache, the command was not executed again


class LineMode(IntEnum):
    FLOAT = 0
    DRIVE = 1
    SENSE = 2


class LearnMode(IntEnum):
    CL = 0
    EP = 1


#: Commands a board accepts without an open session.
SESSIONLESS = frozenset({Msg.HELLO, Msg.PING, Msg.RESET, Msg.BYE, Msg.GET_COUNTERS})
#: Commands whose execution is recorded as "last executed" in non-volatile memory.
RECORDED = frozenset(Msg) - {Msg.HELLO, Msg.BYE, Msg.NACK}
#: Request flag bit of UPDATE_OUTER and LOCAL_LEARN: append the per-device pulse map to the reply.
REPORT_PULSES = 0x01
#: Request flag bit of LOCAL_LEARN: count pulses with each device's step at its present conductance.
STATE_AWARE = 0x02
#: Request flag bit of LOCAL_LEARN (firmware 1.2): relax the free state only (α must be 0), no second state.
FREE_ONLY = 0x04
#: Request flag bit of LOCAL_LEARN (firmware 1.2): reply without the measured line voltages.
NO_STATES = 0x08
#: Request flag bit of LOCAL_LEARN (firmware 1.3): mixed precision, Δg accumulated per device in RAM,
#: pulses only for whole steps; bits 5–7 pick the threshold (MIXED_THRESHOLDS[code], in steps: code 0
#: is Nandakumar's one step; larger thresholds let more of the rule's back-and-forth cancel in χ).
#: Codes 0–3 (1, 2, 4, 8 steps) are firmware 1.3's, codes 4–7 (3, 5, 6, 7 steps: bit7) firmware 1.5's.
MIXED = 0x10
MIXED_THRESHOLD_SHIFT = 5
MIXED_THRESHOLDS = (1.0, 2.0, 4.0, 8.0, 3.0, 5.0, 6.0, 7.0)
MIXED_THRESHOLD_CODES_1_3 = 4
#: State-aware pulse counts assume a step no smaller than this fraction of dw_min (≤ 10× the pulses).
MIN_STEP_FACTOR = 0.1
#: Firmware 1.3's own update rules do not push a device that is within this fraction of its range
#: from the bound it would move towards (soft-bounds steps vanish there: pulses would buy nothing).
BOUND_MARGIN = 0.02
#: From firmware 1.5 mixed precision's χ stops this far from the bound (3 % of the range): the last
#: percent before it cost about 8 % of cl_iris's pulses for conductance the devices barely gained.
MIXED_BOUND_MARGIN = 0.03
#: CALIBRATE reply bytes per device: g_lo, g_sym, g_hi (u16 codes), dw (f32, S), flags (u8).
CALIBRATION_BYTES = 11
#: Fragments per message are counted in a u8.
MAX_FRAGMENTS = 255
HELLO_BODY = 181  # 163 before firmware 1.4 (no identity record)
#: Longest pairing token a HELLO may carry (firmware 1.4).
MAX_TOKEN = 64


def largest_reply(rows: int, cols: int, max_batch: int, max_payload: int) -> int:
    """Bytes of the largest reply payload (``exec_us`` included) a board of this size can owe.

    Every reply must fit ``MAX_FRAGMENTS`` fragments, so HELLO refuses a host whose declared
    max payload is too small for it (PROTOCOL.md §2.1).
    """
    lines, devices = rows + cols, rows * cols
    return 4 + max(
        HELLO_BODY,
        max_payload - 4,  # PING echo (PING data is limited to max_payload - 4)
        8 * lines,  # MEASURE
        4 * max_batch * max(rows, cols),  # MVM, MVM_T
        10 + 2 * devices,  # PROGRAM (READ_CONDUCTANCES and READ_DEVICES are smaller)
        4 + 4 + 6 * devices,  # UPDATE_OUTER with its pulse map
        12 + 2 * lines + 8 * max_batch * lines + 6 * devices,  # LOCAL_LEARN with its pulse map
        31 + 8 * devices,  # GET_COUNTERS
    )
