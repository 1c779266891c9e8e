"""Host driver, wire protocol and emulator of the analog crossbar board (see PROTOCOL.md).

Importing this package registers the ``emu://`` pyserial URL handler, so
``serial.serial_for_url("emu://?model=ideal&seed=1")`` and ``Board.open("emu://...")`` work.
"""
import serial as _serial

from .board import Board
from .capabilities import Capabilities, SessionInfo
from .emulator import (BoardConfig, DeviceConfig, Emulator, FaultConfig, LinkConfig, PeripheryConfig,
                       ideal, load_device_config, make_emulator, reram)
from .errors import (BoardBusy, BoardChanged, BoardError, BoardException, BoardReset, BoardTimeout,
                     CapabilityError, EnvelopeError, MalformedFrame, PortError, ProtocolMismatch)
from .protocol import PROTOCOL_VERSION, LineMode, Msg, Status
from .results import Counters, LearnResult, LinkStats, Measurement, ProgramResult, UpdateResult
from .transports.server import serve_pty, serve_tcp

if "neurophys.firmware_interface.transports" not in _serial.protocol_handler_packages:
    _serial.protocol_handler_packages.append("neurophys.firmware_interface.transports")

__all__ = [
    "Board", "Capabilities", "SessionInfo", "BoardConfig", "DeviceConfig", "Emulator", "FaultConfig",
    "LinkConfig", "PeripheryConfig", "ideal", "reram", "load_device_config", "make_emulator",
    "BoardBusy", "BoardChanged", "BoardError", "BoardException", "BoardReset", "BoardTimeout", "CapabilityError",
    "EnvelopeError", "MalformedFrame",
    "PortError", "ProtocolMismatch", "PROTOCOL_VERSION", "LineMode", "Msg", "Status", "Counters",
    "LearnResult", "LinkStats", "Measurement", "ProgramResult", "UpdateResult", "serve_pty", "serve_tcp",
]
