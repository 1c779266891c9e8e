"""Exceptions of the host driver: each says what happened and names the thing involved."""
from __future__ import annotations

from .protocol import Status


class BoardException(Exception):
    """Base of everything the driver raises on purpose."""


class PortError(BoardException, OSError):
    """The serial port (device path, pty or URL) could not be opened, or the link failed under a
    command: ``command`` and ``seq`` name the command in flight (None while opening)."""

    def __init__(self, message: str, command: str | None = None, seq: int | None = None):
        BoardException.__init__(self, message)
        self.command, self.seq = command, seq

    def __str__(self) -> str:
        return self.args[0]


class BoardBusy(PortError):
    """Another host owns the board (a TCP server's current session, or a pty locked by another
    process): try again when it is done."""


class BoardChanged(BoardException):
    """The board behind the port is not the one this host had (another board uid), or it rebooted or
    its state changed underneath (boot count, state digest): ``changes`` names what differs."""

    def __init__(self, message: str, changes: dict | None = None):
        super().__init__(message)
        self.changes = changes or {}


class CapabilityError(BoardException, ValueError):
    """The board declared a HELLO field outside the sane range (the message names field and range)."""


class BoardTimeout(BoardException):
    """No valid reply after all retries; whether the command ran is unknown (see ``seq``)."""

    def __init__(self, message: str, seq: int | None = None, command: str | None = None):
        super().__init__(message)
        self.seq, self.command = seq, command


class BoardError(BoardException):
    """The board answered with an error status."""

    def __init__(self, command: str, status: int, detail: str = ""):
        try:
            name = Status(status).name
        except ValueError:
            name = f"status {status}"
        super().__init__(f"{command}: board answered {name}" + (f": {detail}" if detail else ""))
        self.command = command
        self.status = status
        self.status_name = name
        self.detail = detail


class BoardReset(BoardError):
    """The board rebooted: its session and line configuration are gone.

    ``executed`` says whether the command in flight (``seq``) ran before the reset, from the
    board's non-volatile record of the last executed command. When it ran and its reply was
    recovered from the board's non-volatile reply cache, ``result`` holds what the method would
    have returned (e.g. the pulses LOCAL_LEARN applied); otherwise ``result`` is None.
    """

    def __init__(self, command: str, seq: int, executed: bool, boot_count: int):
        BoardException.__init__(
            self,
            f"{command} (seq {seq}): board reset (boot {boot_count}); the command "
            f"{'was' if executed else 'was NOT'} executed before the reset; the line "
            "configuration is lost and the session was reopened",
        )
        self.command, self.seq, self.executed, self.boot_count = command, seq, executed, boot_count
        self.result = None
        self.status, self.status_name, self.detail = int(Status.NO_SESSION), "NO_SESSION", ""


class ProtocolMismatch(BoardException):
    """Host and board speak different protocol versions."""


class EnvelopeError(BoardException, ValueError):
    """A request lies outside the envelope the board declared in HELLO; nothing was sent."""


class MalformedFrame(BoardException):
    """A CRC-valid frame whose payload does not have the declared layout."""
