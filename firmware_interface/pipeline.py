"""Pipelining (firmware >= 1.4): up to ``max_window`` commands outstanding, so a bulk transfer runs
at the line rate instead of waiting a round trip per command (PROTOCOL.md §2.2).

Exactly-once is kept the same way as stop-and-wait: a command whose reply does not come in time is
resent under its own sequence number, and the board answers it from its reply cache, which holds
the last ``max_window`` replies — as many as the host may have outstanding. NACKs and corrupt
frames cannot be attributed to one command here, so only timeouts trigger resends. After a lost
frame the board may run the commands of one pipeline out of order: pipeline independent commands
(bulk reads, writes of different windows, repeated programming), not a write and the read that
must see it. A reset in flight is resolved before the session is reopened: each outstanding
command is resent while the board has no session, and it either comes back from the board's
reply cache (it ran) or is refused with NO_SESSION (it did not); each gets a :class:`BoardReset`
saying which.
"""
from __future__ import annotations

import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass

import serial

from .codec import Reader
from .errors import BoardBusy, BoardError, BoardException, BoardReset, BoardTimeout, EnvelopeError, ProtocolMismatch
from .framing import BadFrame, fragment
from .protocol import MIN_FRAME, PROTOCOL_VERSION, REPLY_BIT, Flag, Msg, Status


class Pending:
    """The future result of a command sent in a pipeline: :meth:`result` once the pipeline ended."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.done = False
        self._value = None
        self._error: BaseException | None = None

    def _finish(self, value=None, error: BaseException | None = None) -> None:
        self.done, self._value, self._error = True, value, error

    def result(self):
        if not self.done:
            raise BoardException(f"{self.command}: its pipeline has not finished")
        if self._error is not None:
            raise self._error
        return self._value


@dataclass
class _Flight:
    steps: object  # the command's generator
    pending: Pending
    msg: Msg
    seq: int
    wire: bytes
    crc: int
    reply_bytes: int
    timeout: float
    deadline: float
    t_end: float
    attempts: int = 1


class Pipeline:
    def __init__(self, board, window: int) -> None:
        self.board = board
        self.window = window
        self.thread = threading.get_ident()  # commands from this thread are pipelined
        self.flights: dict[int, _Flight] = {}
        self.waiting: deque = deque()  # (steps, pending, request) not sent yet
        self.order: list[Pending] = []
        self.resets: list[tuple] = []  # (flight, executed, result) of the commands a reset caught
        self.recovering = False
        self.boot_count = 0

    # -- queue ----------------------------------------------------------------------------------------
    def submit(self, command: str, steps) -> Pending:
        """Run the command's checks now (an envelope error raises here), send it when the window has room."""
        pending = Pending(command)
        request = next(steps)
        self.order.append(pending)
        self.waiting.append((steps, pending, request))
        self._fill()
        return pending

    def _fill(self) -> None:
        while self.waiting:
            if self.recovering:
                self._receive()
                if self.recovering:
                    continue
            if self.resets:  # the board reset under this pipeline: nothing more is sent
                for steps, pending, request in self.waiting:
                    pending._finish(error=BoardReset(request.msg.name, 0, False, self.boot_count))
                self.waiting.clear()
                return
            if self._room():
                self._send(*self.waiting.popleft())
            else:
                self._receive()

    def _room(self) -> bool:
        """A sliding window: the next sequence number stays within ``window`` of the oldest one
        still outstanding, so while a command waits for its reply the board runs at most
        ``window`` commands from it on, and its reply is still in the board's cache if it ran."""
        if not self.flights:
            return True
        oldest = next(iter(self.flights))  # flights are kept in the order they were sent
        return ((self.board._seq + 1 - oldest) & 0xFFFF) < self.window

    def finish(self, raise_first: bool = True) -> None:
        """Send what is queued, wait for every reply; raise the first command's error, if any."""
        while self.waiting or self.flights or self.recovering:
            self._fill()
            if self.flights or self.recovering:
                self._receive()
        if raise_first:
            for pending in self.order:
                if pending._error is not None:
                    raise pending._error

    # -- wire -----------------------------------------------------------------------------------------
    def _send(self, steps, pending: Pending, request) -> None:
        b = self.board
        caps = b.caps
        if len(request.payload) > 255 * caps.max_payload:
            pending._finish(error=EnvelopeError(f"{request.msg.name}: {len(request.payload)} bytes exceed 255 "
                                                f"fragments of {caps.max_payload}"))
            return
        b._seq = (b._seq + 1) & 0xFFFF
        seq = b._seq
        wire = fragment(PROTOCOL_VERSION, request.msg, seq, 0, 0, request.payload, caps.max_payload)
        reply = request.reply_size + MIN_FRAME + 4
        ahead = sum(f.reply_bytes for f in self.flights.values())  # replies due before this one
        timeout = b._timeout(len(wire), reply + ahead, request.exec_s)
        now = time.monotonic()
        flight = _Flight(steps, pending, request.msg, seq, wire, zlib.crc32(bytes([request.msg]) + request.payload),
                         reply, timeout, now + min(timeout, b.attempt_timeout_s), now + b.command_timeout_s)
        self.flights[seq] = flight
        b.stats.commands += 1
        self._write(flight)

    def _write(self, flight: _Flight) -> None:
        b = self.board
        try:
            b.serial.write(flight.wire)
        except (serial.SerialException, OSError) as exc:
            raise b._lost(flight.msg, flight.seq, exc) from None
        b.stats.bytes_sent += len(flight.wire)
        b.stats.link_time_s += len(flight.wire) * 10.0 / b._baud()

    def _receive(self) -> None:
        """Resend what timed out, then read what arrives until the earliest deadline."""
        b = self.board
        now = time.monotonic()
        for f in list(self.flights.values()):
            if now < f.deadline:
                continue
            if f.attempts > b.retries or now >= f.t_end:
                del self.flights[f.seq]
                f.pending._finish(error=BoardTimeout(
                    f"{f.msg.name} (seq {f.seq}): no valid reply from {b.serial.port} after {f.attempts} attempts "
                    "in a pipeline; whether it ran is unknown (see GET_COUNTERS last_seq)", f.seq, f.msg.name))
                continue
            f.attempts += 1
            b.stats.retries += 1
            f.deadline = now + min(f.timeout, b.attempt_timeout_s)
            self._write(f)
        if not self.flights:
            self._reopen_if_reset()
            return
        first = min(self.flights.values(), key=lambda f: f.deadline)
        try:
            b.serial.timeout = max(0.0, first.deadline - time.monotonic())
            chunk = b.serial.read(max(1, b._in_waiting()))
        except (serial.SerialException, OSError) as exc:
            raise b._lost(first.msg, first.seq, exc) from None
        if not chunk:  # the port waited out the timeout (on a virtual clock that takes no wall time)
            first.deadline = min(first.deadline, time.monotonic())
            return
        b.stats.bytes_received += len(chunk)
        b.stats.link_time_s += len(chunk) * 10.0 / b._baud()
        for _, item in b._decoder.feed(chunk):
            if isinstance(item, BadFrame):
                b.stats.bad_frames += 1
                continue
            if item.type == Msg.NACK:
                b.stats.nacks += 1
                continue
            f = self.flights.get(item.seq)
            if f is None or item.type != (f.msg | REPLY_BIT) & 0xFF:
                b.stats.stale_frames += 1
                continue
            payload = b._assembly.add(item)
            if payload is not None:
                del self.flights[f.seq]
                self._answer(f, item, payload)
        if not self.flights:
            self._reopen_if_reset()

    # -- replies --------------------------------------------------------------------------------------
    def _answer(self, f: _Flight, frame, payload: bytes) -> None:
        b = self.board
        r = Reader(payload, f.msg.name)
        try:
            if frame.version != PROTOCOL_VERSION:
                raise ProtocolMismatch(f"{f.msg.name}: board replied with protocol version {frame.version}, "
                                       f"this host speaks {PROTOCOL_VERSION}")
            b.stats.device_time_s += r.get("u32") * 1e-6
        except BoardException as exc:
            f.pending._finish(error=exc)
            return
        status = frame.status
        if status == Status.NO_SESSION or not frame.flags & Flag.SESSION:
            self._after_reset(f, status, r)
        elif status == Status.BUSY:
            f.pending._finish(error=BoardBusy(f"{f.msg.name} (seq {f.seq}): board on {b.serial.port} is busy: "
                                              f"{r.rest().decode('utf-8', 'replace')}", f.msg.name, f.seq))
        elif status != Status.OK:
            f.pending._finish(error=BoardError(f.msg.name, status, r.rest().decode("utf-8", "replace")))
        else:
            self._advance(f, r)

    def _advance(self, f: _Flight, r: Reader) -> None:
        try:
            request = f.steps.send(r)
        except StopIteration as done:
            f.pending._finish(done.value)
        except BoardException as exc:
            f.pending._finish(error=exc)
        else:  # the command's next request (MVM of more than max_batch vectors) goes first
            self.waiting.appendleft((f.steps, f.pending, request))

    def _after_reset(self, f: _Flight, status: int, r: Reader) -> None:
        """This reply says the board rebooted. It ran iff it came back (from the reply cache) rather
        than as NO_SESSION; the other commands in flight are resent at once to learn the same."""
        if not self.recovering and not self.resets:
            self.recovering = True
            for other in self.flights.values():
                other.attempts += 1
                self.board.stats.retries += 1
                self._write(other)
        executed, result = status != Status.NO_SESSION, None
        if executed and status == Status.OK:
            try:
                f.steps.send(r)
            except StopIteration as done:
                result = done.value
            except BoardException:
                pass
        self.resets.append((f, executed, result))

    def _reopen_if_reset(self) -> None:
        """Once every command in flight is resolved, reopen the session (HELLO) as stop-and-wait
        does, and hand each of those commands its :class:`BoardReset`."""
        if not self.recovering:
            return
        b = self.board
        b._in_session = False
        b.line_modes = None
        info = b._open_session()
        self.recovering = False
        for f, executed, result in self.resets:
            reset = BoardReset(f.msg.name, f.seq, executed, info.boot_count)
            reset.result = result
            f.pending._finish(error=reset)
        self.boot_count = info.boot_count
