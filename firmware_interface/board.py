"""Host driver: one :class:`Board` per serial port, safe to share between threads.

Stop-and-wait: every command gets a fresh sequence number and is resent under the same number
until a valid reply arrives; the board's reply cache makes the resend harmless. Everything that
the board declared in HELLO is checked here first, so an out-of-envelope request never leaves
the host.
"""
from __future__ import annotations

import fcntl
import functools
import socket
import struct
import termios
import threading
import time
import zlib
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
import serial

from .capabilities import FINE_THRESHOLDS_SINCE, UPDATE_POLICIES_SINCE, Capabilities, SessionInfo, decode_hello
from .codec import Reader, Writer
from .errors import (BoardBusy, BoardChanged, BoardError, BoardException, BoardReset, BoardTimeout,
                     EnvelopeError, MalformedFrame, PortError, ProtocolMismatch)
from .framing import BadFrame, FrameDecoder, Reassembler, fragment
from .protocol import (CALIBRATION_BYTES, FREE_ONLY, MAX_TOKEN, MIN_FRAME, MIXED, MIXED_THRESHOLD_CODES_1_3,
                       MIXED_THRESHOLD_SHIFT, MIXED_THRESHOLDS, NO_STATES, PROTOCOL_VERSION, REPLY_BIT, REPORT_PULSES,
                       STATE_AWARE, UNIT_CODE, Flag, LearnMode, LineMode, Msg, Status)
from .results import (Calibration, Counters, LearnResult, LinkStats, Measurement, ProgramResult,
                      UpdateResult)

HOST_MAX_PAYLOAD = 65535
_RETRY = object()


class Request(NamedTuple):
    """One command on the wire, as a command method yields it: the driver sends it (now, or in a
    pipeline when the window has room) and sends the reply's :class:`Reader` back in."""

    msg: Msg
    payload: bytes = b""
    exec_s: float = 0.0
    reply_size: int = 0


def _command(method):
    """A public command, written as a generator of :class:`Request`s. Outside a pipeline it runs
    under the lock, one request at a time; if the board turned out to have reset although this
    command's reply was recovered, :class:`BoardReset` is raised carrying the result. Inside
    ``board.pipeline()`` it is queued and a :class:`~.pipeline.Pending` is returned."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        steps = method(self, *args, **kwargs)
        if self._pipeline is not None and threading.get_ident() == self._pipeline.thread:
            return self._pipeline.submit(method.__name__, steps)
        with self._lock:
            self._pending_reset = None
            try:
                request = next(steps)
                while True:
                    request = steps.send(self._transact(*request))
            except StopIteration as done:
                result = done.value
            pending, self._pending_reset = self._pending_reset, None
            if pending is not None:
                pending.result = result
                raise pending
            return result

    return wrapper


class Board:
    """A crossbar board behind a serial port, pty or URL (``emu://``, ``socket://``)."""

    def __init__(self, port: serial.SerialBase, *, retries: int = 12, timeout_base_s: float = 0.05,
                 attempt_timeout_s: float = 5.0, command_timeout_s: float = 60.0, token: str | bytes | None = None) -> None:
        """``attempt_timeout_s`` caps the wait for one reply (it stretches only while bytes keep
        arriving: a long transfer at a slow baud is not cut off) and ``command_timeout_s`` a command
        with all its retries, whatever the board declared. ``token``: the pairing token a board
        served with ``--token`` asks for (firmware >= 1.4)."""
        self.serial = port
        self.retries = retries
        self.timeout_base_s = timeout_base_s
        self.attempt_timeout_s = attempt_timeout_s
        self.command_timeout_s = command_timeout_s
        self.token = token.encode() if isinstance(token, str) else token
        if self.token is not None and not 1 <= len(self.token) <= MAX_TOKEN:
            raise EnvelopeError(f"token: {len(self.token)} bytes; a pairing token has 1..{MAX_TOKEN} bytes")
        self.stats = LinkStats()
        self.caps: Capabilities | None = None
        self.session: SessionInfo | None = None
        self.line_modes: np.ndarray | None = None
        self._lock = threading.RLock()
        self._decoder = FrameDecoder(HOST_MAX_PAYLOAD)
        self._assembly = Reassembler(1 << 24)
        self._seq = 0
        self._in_session = False
        self._pending_reset: BoardReset | None = None
        self._pipeline = None
        try:
            self.hello()
        except BaseException:
            self.serial.close()
            raise

    @classmethod
    def open(cls, url_or_port: str, *, baudrate: int = 921600, retries: int = 12,
             timeout_base_s: float = 0.05, token: str | bytes | None = None, **options) -> "Board":
        """Open ``/dev/ttyACM0``, a pty path, ``socket://host:port`` or ``emu://?...`` and HELLO.

        Device paths are locked (``flock``) for this host: a second host gets :class:`BoardBusy`.
        ``options``: ``attempt_timeout_s``/``command_timeout_s`` (see the class), else pyserial's."""
        import neurophys.firmware_interface  # noqa: F401  (registers emu://)

        limits = {k: options.pop(k) for k in ("attempt_timeout_s", "command_timeout_s") if k in options}
        options.setdefault("exclusive", True)
        try:
            port = serial.serial_for_url(url_or_port, baudrate=baudrate, timeout=0.1, **options)
        except (serial.SerialException, OSError, ValueError) as exc:
            if "exclusively lock" in str(exc):
                raise BoardBusy(f"board on {url_or_port!r} is busy: another process holds the port ({exc})") from None
            raise PortError(f"cannot open board port {url_or_port!r}: {exc}") from None
        sock = getattr(port, "_socket", None)  # socket://: small requests must not wait for ACKs (Nagle)
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(port, retries=retries, timeout_base_s=timeout_base_s, token=token, **limits)

    def close(self) -> None:
        """Say BYE (firmware >= 1.4: the board ends the session at once instead of on a timeout),
        then close the port."""
        with self._lock:
            if self.serial.is_open:
                if self._in_session and self.caps is not None and self.caps.sessions:
                    try:
                        self._transact(Msg.BYE, exec_s=self._exec_bound(), attempts=1)
                    except BoardException:
                        pass  # the link is gone or the board rebooted: nothing left to end
                    self._in_session = False
                self.serial.close()

    def __enter__(self) -> "Board":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- lines ------------------------------------------------------------------------------------------
    def row(self, i: int) -> int:
        """Line index of row ``i`` (rows come first)."""
        if not 0 <= i < self.caps.rows:
            raise EnvelopeError(f"row {i} does not exist (0..{self.caps.rows - 1})")
        return i

    def col(self, j: int) -> int:
        """Line index of column ``j`` (after the rows)."""
        if not 0 <= j < self.caps.cols:
            raise EnvelopeError(f"column {j} does not exist (0..{self.caps.cols - 1})")
        return self.caps.rows + j

    # -- transport ---------------------------------------------------------------------------------------
    def _in_waiting(self) -> int:
        """Bytes ready to read. pyserial's socket:// says 1 whenever anything is there, which would
        make the host decode a reply byte by byte; the socket itself knows (FIONREAD)."""
        sock = getattr(self.serial, "_socket", None)
        if sock is not None:
            return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]
        return self.serial.in_waiting

    def _baud(self) -> int:
        caps = self.caps
        return (caps.baud if caps and caps.baud else self.serial.baudrate) or 9600

    def _timeout(self, tx_bytes: int, rx_bytes: int, exec_s: float) -> float:
        caps = self.caps
        baud = self._baud()
        latency = caps.latency_us * 1e-6 if caps else 0.02
        expected = 2 * latency + (tx_bytes + rx_bytes * 1.01 + 64) * 10.0 / baud + exec_s
        return self.timeout_base_s + 2.0 * expected

    def _exec_bound(self, conversions: int = 0, pulse_slots: int = 0, width_ns: int | None = None) -> float:
        c = self.caps
        width = c.pulse_width_ns if width_ns is None else width_ns
        return (c.t_command_ns + conversions * (c.t_settle_ns + c.t_adc_ns)
                + pulse_slots * (width + c.pulse_gap_ns)) * 1e-9

    def _transact(self, msg: Msg, payload: bytes = b"", exec_s: float = 0.0, reply_size: int = 0,
                  attempts: int | None = None) -> Reader:
        with self._lock:
            if not self.serial.is_open:
                raise BoardException(f"{msg.name}: board on {self.serial.port} is closed")
            self._seq = (self._seq + 1) & 0xFFFF
            seq = self._seq
            max_payload = self.caps.max_payload if self.caps else 256
            if self.caps and len(payload) > 255 * max_payload:
                raise EnvelopeError(f"{msg.name}: {len(payload)} bytes exceed 255 fragments of {max_payload}")
            wire = fragment(PROTOCOL_VERSION, msg, seq, 0, 0, payload, max_payload)
            timeout = self._timeout(len(wire), reply_size + MIN_FRAME + 4, exec_s)
            self.stats.commands += 1
            t_end = time.monotonic() + self.command_timeout_s
            tries = self.retries + 1 if attempts is None else attempts
            attempt = 0
            for attempt in range(tries):
                if attempt:
                    if time.monotonic() >= t_end:
                        break
                    self.stats.retries += 1
                try:
                    self.serial.write(wire)
                    self.stats.bytes_sent += len(wire)
                    self._account_link(len(wire))
                    outcome = self._await(msg, seq, timeout, t_end)
                except (serial.SerialException, OSError) as exc:  # unplugged, socket closed: no retry can help
                    raise self._lost(msg, seq, exc) from None
                if outcome is not None and outcome is not _RETRY:
                    return self._check_reply(msg, seq, payload, *outcome)
            raise BoardTimeout(f"{msg.name} (seq {seq}): no valid reply from {self.serial.port} after "
                               f"{attempt + 1} attempts of up to {min(timeout, self.attempt_timeout_s) * 1e3:.0f} ms "
                               f"(command limit {self.command_timeout_s:g} s); whether it ran is unknown "
                               "(see GET_COUNTERS last_seq)", seq, msg.name)

    def _lost(self, msg: Msg, seq: int, exc: BaseException) -> PortError:
        return PortError(f"{msg.name} (seq {seq}): link to {self.serial.port} lost ({exc}); whether it ran is "
                         "unknown (see GET_COUNTERS last_seq after reconnecting)", msg.name, seq)

    def _account_link(self, nbytes: int) -> None:
        caps = self.caps
        self.stats.link_time_s += nbytes * 10.0 / self._baud() + (caps.latency_us * 1e-6 if caps else 0.0)

    def _await(self, msg: Msg, seq: int, timeout: float, t_end: float):
        """The reply to (msg, seq); ``_RETRY`` after a corrupt frame or NACK; None on timeout.

        The wait is ``timeout`` but at most ``attempt_timeout_s`` past the last byte received (a
        long reply at a slow baud keeps it alive), and never past the command's end ``t_end``."""
        start = time.monotonic()
        cap = self.attempt_timeout_s
        deadline = min(start + min(timeout, cap), t_end)
        expected = (msg | REPLY_BIT) & 0xFF
        retry = False
        received = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.serial.timeout = remaining
            chunk = self.serial.read(max(1, self._in_waiting()))
            if not chunk:
                return None
            received += len(chunk)
            self.stats.bytes_received += len(chunk)
            if timeout > cap:
                deadline = min(start + timeout, time.monotonic() + cap, t_end)
            for _, item in self._decoder.feed(chunk):
                if isinstance(item, BadFrame):
                    self.stats.bad_frames += 1
                    retry = retry or item.size >= MIN_FRAME
                elif item.type == Msg.NACK:
                    self.stats.nacks += 1
                    retry = True
                elif item.type != expected or item.seq != seq:
                    self.stats.stale_frames += 1
                else:
                    payload = self._assembly.add(item)
                    if payload is not None:
                        self._account_link(received)
                        return item, payload
            if retry:
                self._account_link(received)
                return _RETRY

    def _check_reply(self, msg: Msg, seq: int, request: bytes, frame, payload: bytes) -> Reader:
        if frame.version != PROTOCOL_VERSION:
            raise ProtocolMismatch(f"{msg.name}: board replied with protocol version {frame.version}, "
                                   f"this host speaks {PROTOCOL_VERSION}")
        r = Reader(payload, msg.name)
        self.stats.device_time_s += r.get("u32") * 1e-6
        status = frame.status
        if status == Status.BAD_VERSION:
            raise ProtocolMismatch(f"{msg.name}: {r.rest().decode('utf-8', 'replace')}")
        if status == Status.BUSY:
            raise BoardBusy(f"{msg.name} (seq {seq}): board on {self.serial.port} is busy: "
                            f"{r.rest().decode('utf-8', 'replace')}", msg.name, seq)
        if self._in_session and status == Status.NO_SESSION:
            raise self._after_reset(msg, seq, zlib.crc32(bytes([msg]) + request))
        if self._in_session and not frame.flags & Flag.SESSION and msg not in (Msg.HELLO, Msg.RESET, Msg.BYE):
            # executed (this reply may come from the board's FRAM reply cache) but the board has
            # rebooted since: finish decoding, then raise (see _command)
            self._pending_reset = self._after_reset(msg, seq, zlib.crc32(bytes([msg]) + request))
        if status != Status.OK:
            raise BoardError(msg.name, status, r.rest().decode("utf-8", "replace"))
        return r

    def _after_reset(self, msg: Msg, seq: int, crc: int) -> BoardReset:
        """Reopen the session and learn from the board's FRAM record whether ``seq`` ran."""
        self._in_session = False
        self.line_modes = None
        info = self._open_session()
        executed = bool(info.last_valid and info.last_seq == seq and info.last_crc == crc)
        return BoardReset(msg.name, seq, executed, info.boot_count)

    # -- session -----------------------------------------------------------------------------------------
    def _open_session(self) -> SessionInfo:
        with self._lock:
            try:
                self.serial.reset_input_buffer()
                self.serial.write(b"\x00")  # ends any partial frame in the board's parser
            except (serial.SerialException, OSError) as exc:
                raise self._lost(Msg.HELLO, (self._seq + 1) & 0xFFFF, exc) from None
            self._decoder.reset()
            self._assembly.reset()
            self._in_session = False
            request = Writer().put("u16", HOST_MAX_PAYLOAD).raw(self.token or b"").bytes()
            r = self._transact(Msg.HELLO, request, reply_size=300)
            caps, info = decode_hello(r)
            if caps.protocol_version != PROTOCOL_VERSION:
                raise ProtocolMismatch(f"board declares protocol {caps.protocol_version}, host speaks {PROTOCOL_VERSION}")
            self.caps, self.session, self._in_session = caps, info, True
            if self.line_modes is None:
                self.line_modes = np.zeros(caps.lines, np.uint8)
            return info

    def hello(self) -> Capabilities:
        """Start (or re-check) the session. Raises :class:`BoardChanged` if another board answers
        (board uid, firmware >= 1.4) and :class:`BoardReset` if the board rebooted since."""
        with self._lock:
            before = self.session
            info = self._open_session()
            if before is not None and info.board_uid != before.board_uid:
                self.line_modes = np.zeros(self.caps.lines, np.uint8)
                raise BoardChanged(f"HELLO: board uid {info.board_uid:016x} answers on {self.serial.port}, "
                                   f"this host had {before.board_uid:016x} (another board, or one restarted "
                                   "without its state)", {"board_uid": (before.board_uid, info.board_uid)})
            if before is not None and info.boot_count != before.boot_count:
                self.line_modes = np.zeros(self.caps.lines, np.uint8)
                raise BoardReset(Msg.HELLO.name, self._seq, True, info.boot_count)
            return self.caps

    def identity(self) -> dict:
        """Who the board is now: board uid, boot count and the digest of its device state, from a
        fresh HELLO (firmware >= 1.4; older boards report zeros); raises like :meth:`hello` if the
        board changed under this driver. A run records it and compares it before each step and on
        resume."""
        with self._lock:
            self.hello()
            info = self.session
            return {"board_uid": info.board_uid, "boot_count": info.boot_count, "state_crc": info.state_crc}

    @contextmanager
    def pipeline(self, window: int | None = None):
        """Inside this block, commands of this thread return a :class:`~.pipeline.Pending` at once
        and up to ``window`` of them (default and at most the board's ``max_window``; 1 before
        firmware 1.4) are outstanding: bulk transfers run at the line rate. Use it for independent
        commands — after a lost frame the board may run them out of order. At the end every reply
        has arrived; the first command's error, if any, is raised.

        ``with board.pipeline(): reads = [board.read_conductances() for _ in range(100)]``"""
        from .pipeline import Pipeline

        with self._lock:
            if self._pipeline is not None:
                raise BoardException("pipeline: this board is already in a pipeline")
            limit = self.session.max_window if self.caps.sessions else 1
            pipe = Pipeline(self, max(1, min(limit, window or limit)))
            self._pipeline = pipe
            try:
                yield pipe
            except BaseException:
                self._pipeline = None
                pipe.finish(raise_first=False)
                raise
            self._pipeline = None
            pipe.finish()

    @_command
    def ping(self, data: bytes = b"") -> float:
        """Round trip in seconds (wall clock). ``data`` (echoed) is limited to max_payload - 4 bytes."""
        if len(data) > self.caps.max_payload - 4:
            raise EnvelopeError(f"ping: {len(data)} bytes of data exceed the board's limit of "
                                f"max_payload - 4 = {self.caps.max_payload - 4}")
        t0 = time.perf_counter()
        echo = (yield Request(Msg.PING, bytes(data), self._exec_bound(), len(data))).rest()
        if echo != bytes(data):
            raise MalformedFrame(f"PING: echo of {len(data)} bytes came back as {len(echo)} different bytes")
        return time.perf_counter() - t0

    def reset(self) -> None:
        """Soft-reset the board (line configuration cleared) and reopen the session."""
        with self._lock:
            self._transact(Msg.RESET, exec_s=self._exec_bound())
            self._in_session = False
            self.line_modes = np.zeros(self.caps.lines, np.uint8)
            self._open_session()

    # -- analog operations -------------------------------------------------------------------------------
    @_command
    def configure_lines(self, drive: Mapping[int, float] | None = None, sense: Iterable[int] = ()) -> None:
        """Drive the given lines at the given voltages, hold ``sense`` lines at virtual ground and
        let all other lines float."""
        caps = self.caps
        drive = dict(drive or {})
        driven = caps.check_lines(list(drive), "configure_lines drive")
        sensed = caps.check_lines(list(sense), "configure_lines sense")
        both = set(driven.tolist()) & set(sensed.tolist())
        if both:
            raise EnvelopeError(f"configure_lines: line {min(both)} is both driven and sensed")
        modes = np.zeros(caps.lines, np.uint8)
        codes = np.zeros(caps.lines, np.int16)
        modes[driven], modes[sensed] = LineMode.DRIVE, LineMode.SENSE
        if driven.size:
            codes[driven] = caps.dac_codes([drive[int(i)] for i in driven], "drive voltage of line")
        (yield Request(Msg.CONFIGURE_LINES, Writer().array(modes, "u1").array(codes, "i2").bytes(),
                       self._exec_bound(1)))
        self.line_modes = modes

    @_command
    def measure(self) -> Measurement:
        caps = self.caps
        r = (yield Request(Msg.MEASURE, exec_s=self._exec_bound(1), reply_size=8 * caps.lines))
        v, i = r.array("i4", caps.lines), r.array("i4", caps.lines)
        r.end()
        return Measurement(v * caps.v_adc_lsb, i * caps.i_adc_lsb, caps.rows)

    @_command
    def mvm(self, v) -> np.ndarray:
        """Rows driven with ``v`` (volts, shape (R,) or (k, R)), columns at virtual ground:
        the column currents ``Gᵀv`` in amperes."""
        return (yield from self._mvm(Msg.MVM, v, self.caps.rows, self.caps.cols))

    @_command
    def mvm_t(self, u) -> np.ndarray:
        """Columns driven with ``u`` (volts), rows at virtual ground: row currents ``G u``."""
        return (yield from self._mvm(Msg.MVM_T, u, self.caps.cols, self.caps.rows))

    def _mvm(self, msg: Msg, v, n_in: int, n_out: int) -> np.ndarray:
        caps = self.caps
        v = np.asarray(v, dtype=float)
        single = v.ndim == 1
        batch = np.atleast_2d(v)
        caps.check_shape(batch, (batch.shape[0], n_in), f"{msg.name} input")
        codes = caps.dac_codes(batch, f"{msg.name} input")
        out = []
        for s in range(0, len(codes), caps.max_batch):
            part = codes[s:s + caps.max_batch]
            r = (yield Request(msg, Writer().put("u16", len(part)).array(part, "i2").bytes(),
                               self._exec_bound(len(part)), 4 * len(part) * n_out))
            out.append(r.array("i4", len(part) * n_out).reshape(len(part), n_out))
            r.end()
        currents = np.concatenate(out) * caps.i_adc_lsb
        return currents[0] if single else currents

    # -- conductances -------------------------------------------------------------------------------------
    @_command
    def read_conductances(self, origin: tuple[int, int] = (0, 0), shape: tuple[int, int] | None = None) -> np.ndarray:
        """Conductances (S) of the whole array or a window."""
        caps = self.caps
        shape = shape or (caps.rows - origin[0], caps.cols - origin[1])
        caps.check_window(origin, shape, "read_conductances")
        r = (yield Request(Msg.READ_CONDUCTANCES, Writer().array([*origin, *shape], "u2").bytes(),
                           self._exec_bound(shape[0]), 2 * shape[0] * shape[1]))
        codes = r.array("u2", shape[0] * shape[1]).reshape(shape)
        r.end()
        return codes * caps.g_lsb

    @_command
    def read_devices(self, index) -> np.ndarray:
        """Conductances (S) of the listed devices (flat index r·C + c, any order), as READ_DEVICES
        returns them (firmware >= 1.2): what a sampled audit reads instead of the whole array."""
        caps = self.caps
        if not caps.device_reads:
            raise EnvelopeError(f"read_devices: READ_DEVICES needs firmware >= 1.2; the board has "
                                f"{caps.firmware_major}.{caps.firmware_minor}")
        index = np.asarray(index, dtype=np.int64).ravel()
        if index.size == 0 or ((index < 0) | (index >= caps.rows * caps.cols)).any():
            raise EnvelopeError(f"read_devices: {index.size} indices; each must be in 0..{caps.rows * caps.cols - 1}")
        rows = np.unique(index // caps.cols).size
        r = (yield Request(Msg.READ_DEVICES, Writer().put("u32", index.size).array(index, "u4").bytes(),
                           self._exec_bound(rows), 2 * index.size))
        codes = r.array("u2", index.size)
        r.end()
        return codes * caps.g_lsb

    @_command
    def program(self, targets, origin: tuple[int, int] = (0, 0), tol: float | None = None,
                max_iters: int | None = None) -> ProgramResult:
        """Write-verify ``targets`` (S). ``tol`` defaults to the nominal pulse step."""
        caps = self.caps
        targets = np.atleast_2d(np.asarray(targets, dtype=float))
        caps.check_window(origin, targets.shape, "program")
        bad = ~np.isfinite(targets) | (targets < caps.g_min) | (targets > caps.g_max)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise EnvelopeError(f"program: target[{i}, {j}] = {targets[i, j]!r} S is outside the "
                                f"programmable range [{caps.g_min}, {caps.g_max}] S")
        tol = caps.dw_min if tol is None else tol
        caps.check_range(tol, 0.0, 65535 * caps.g_lsb, "program tol", " S")
        iters = caps.max_program_iters if max_iters is None else max_iters
        caps.check_range(iters, 1, caps.max_program_iters, "program max_iters")
        lo = int(np.ceil(caps.g_min / caps.g_lsb))
        hi = int(np.floor(caps.g_max / caps.g_lsb))
        codes = np.clip(np.rint(targets / caps.g_lsb), lo, hi)
        nr, nc = targets.shape
        payload = (Writer().array([*origin, nr, nc], "u2").put("u16", int(round(tol / caps.g_lsb)))
                   .put("u16", int(iters)).array(codes, "u2").bytes())
        r = (yield Request(Msg.PROGRAM, payload,
                           iters * self._exec_bound(nr, nr * caps.max_pulse_count), 2 * nr * nc + 10))
        it, unconverged, pulses = r.get("u16"), r.get("u32"), r.get("u32")
        reached = r.array("u2", nr * nc).reshape(nr, nc) * caps.g_lsb
        r.end()
        return ProgramResult(reached, it, unconverged, pulses)

    @_command
    def pulse(self, counts, origin: tuple[int, int] = (0, 0), amplitude: float = 1.0,
              width_ns: int | None = None) -> int:
        """Apply signed pulse counts (positive = potentiate) to a window; returns pulses sent."""
        caps = self.caps
        raw = np.atleast_2d(np.asarray(counts))
        if not np.issubdtype(raw.dtype, np.integer):
            raise EnvelopeError(f"pulse: counts must be integers, got {raw.dtype}")
        caps.check_window(origin, raw.shape, "pulse")
        if raw.size and np.abs(raw).max() > caps.max_pulse_count:
            i, j = np.argwhere(np.abs(raw) > caps.max_pulse_count)[0]
            raise EnvelopeError(f"pulse: count[{i}, {j}] = {raw[i, j]} exceeds the board's limit of "
                                f"{caps.max_pulse_count} pulses per device per command")
        caps.check_range(amplitude, 1e-3, caps.pulse_amp_max, "pulse amplitude", " V")
        width = caps.pulse_width_ns if width_ns is None else int(width_ns)
        caps.check_range(width, caps.pulse_width_min_ns, caps.pulse_width_max_ns, "pulse width", " ns")
        nr, nc = raw.shape
        payload = (Writer().array([*origin, nr, nc], "u2").put("u16", int(round(amplitude * 1000)))
                   .put("u32", width).array(raw, "i1").bytes())
        slots = int(np.abs(raw).max(axis=1).sum())
        r = (yield Request(Msg.PULSE, payload, self._exec_bound(0, slots, width), 4))
        total = r.get("u32")
        r.end()
        return total

    @_command
    def calibrate(self, pulses: int = 50, segments: int = 16, reads: int = 8) -> Calibration:
        """CALIBRATE (firmware >= 1.3) every row block: each device's bounds, symmetric point and step
        there, measured with `segments` runs of ±`pulses` pulses and reads averaged over `reads`
        conversions; the devices are left at their symmetric points. The default 800 pulses each way
        carry a reram device across most of its range (a soft-bounds step shrinks by 1 − 2·dw/span a
        pulse): 4 runs of 40 saw a fifth of it, and the steps extrapolated to the rest were off by
        17 % (std over devices, at 70 % of the range; 2 % with the default). Blocks are sized so that each
        reply fits one frame."""
        caps = self.caps
        caps.need(UPDATE_POLICIES_SINCE, "calibrate: CALIBRATE")
        caps.check_range(pulses, 1, caps.max_pulse_count, "calibrate pulses per run")
        caps.check_range(segments, 2, 16, "calibrate segments")
        caps.check_range(reads, 1, 64, "calibrate reads")
        block = max(1, (caps.max_payload - 12) // (CALIBRATION_BYTES * caps.cols))
        parts, total = [], 0
        for r0 in range(0, caps.rows, block):
            nr = min(block, caps.rows - r0)
            n = nr * caps.cols
            payload = (Writer().put("u16", r0).put("u16", nr).put("u16", int(pulses)).put("u8", int(segments))
                       .put("u8", int(reads)).bytes())
            conversions = nr * reads * (2 * segments + 1) + caps.max_program_iters * nr * 4
            slots = 2 * segments * nr * pulses + caps.max_program_iters * nr * caps.max_pulse_count
            r = (yield Request(Msg.CALIBRATE, payload, self._exec_bound(conversions, slots), 8 + CALIBRATION_BYTES * n))
            total += r.get("u32")
            r.get("u32")
            g = [r.array("u2", n).reshape(nr, caps.cols) * caps.g_lsb for _ in range(3)]
            dw = r.array("f4", n).reshape(nr, caps.cols).astype(float)
            flags = r.array("u1", n).reshape(nr, caps.cols)
            r.end()
            parts.append((*g, dw, flags))
        cat = [np.concatenate([p[i] for p in parts]) for i in range(5)]
        return Calibration(*cat, total)

    @_command
    def update_outer(self, x, d, lr: float, bl: int | None = None, report_pulses: bool = False,
                     state_aware: bool = False) -> UpdateResult:
        """Stochastic pulse trains generated on the board: E[ΔG] = −lr · x dᵀ (S), with x (rows)
        and d (columns) in [−1, 1] (sent as ±32767 codes). ``state_aware`` (firmware >= 1.3): each
        coincidence gives dw_min/step pulses on average, step the device's own at its conductance, so
        the expectation holds on soft-bounds devices too."""
        caps = self.caps
        if state_aware:
            caps.need(UPDATE_POLICIES_SINCE, "update_outer: state-aware pulse trains")
        x, d = np.asarray(x, dtype=float), np.asarray(d, dtype=float)
        caps.check_shape(x, (caps.rows,), "update_outer x")
        caps.check_shape(d, (caps.cols,), "update_outer d")
        for name, a in (("x", x), ("d", d)):
            if not np.isfinite(a).all() or np.abs(a).max(initial=0) > 1:
                raise EnvelopeError(f"update_outer: {name} must lie in [-1, 1]")
        bl = caps.max_bl if bl is None else int(bl)
        caps.check_range(bl, 1, caps.max_bl, "update_outer BL")
        caps.check_range(lr, 0.0, caps.dw_min * bl, "update_outer lr (needs lr <= dw_min*BL)", " S")
        flags = (REPORT_PULSES if report_pulses else 0) | (STATE_AWARE if state_aware else 0)
        payload = (Writer().put("f64", float(lr)).put("u16", bl).put("u8", flags)
                   .array(np.rint(x * UNIT_CODE), "i2").array(np.rint(d * UNIT_CODE), "i2").bytes())
        size = 4 + (4 + 6 * caps.rows * caps.cols if report_pulses else 0)
        r = (yield Request(Msg.UPDATE_OUTER, payload,
                           self._exec_bound(caps.rows if state_aware else 0,
                                            bl * (caps.max_pulse_count if state_aware else 1)), size))
        total = r.get("u32")
        pulse_map = r.sparse((caps.rows, caps.cols)) if report_pulses else None
        r.end()
        return UpdateResult(total, pulse_map)

    @_command
    def local_learn(self, mode: str, outputs, targets, *, alpha: float, eta: float | None = None,
                    beta: float | None = None, inputs=None, report_pulses: bool = False,
                    state_aware: bool = False, free_only: bool = False, states: bool = True,
                    mixed: float | None = None) -> LearnResult:
        """Coupled learning (``mode="cl"``, nudge ``eta``) or circuit EP (``mode="ep"``, nudge
        conductance ``beta`` in S) run by the board on its configured lines.

        ``targets``: (n_out,) or (k, n_out) volts for the ``outputs`` lines (which must float).
        ``inputs``: optional (k, n_driven) volts replacing the driven lines' voltages per sample,
        in ascending line order; the board sums the k updates. ``state_aware``: the board counts
        pulses with each device's nominal step at its present conductance (PROTOCOL.md, LOCAL_LEARN).
        ``free_only`` (α = 0): relax the free state alone; ``states=False``: no voltages come back
        (firmware >= 1.2 for either; ``second`` is then empty, and ``free`` too without states).
        ``mixed`` (firmware >= 1.3): mixed precision with this threshold in steps (1, 2, 4, 8; 3, 5, 6, 7
        from firmware 1.5): the board accumulates Δg per device and pulses whole steps only.
        """
        caps = self.caps
        mixed_bits = 0
        if mixed is not None:
            caps.need(UPDATE_POLICIES_SINCE, "local_learn: mixed precision")
            if mixed not in MIXED_THRESHOLDS:
                raise EnvelopeError(f"local_learn: mixed threshold {mixed!r} is not one of {sorted(MIXED_THRESHOLDS)} steps")
            code = MIXED_THRESHOLDS.index(mixed)
            if code >= MIXED_THRESHOLD_CODES_1_3:
                caps.need(FINE_THRESHOLDS_SINCE, f"local_learn: a mixed threshold of {mixed:g} steps")
            mixed_bits = MIXED | (code << MIXED_THRESHOLD_SHIFT)
        if (free_only or not states) and not caps.device_reads:
            raise EnvelopeError(f"local_learn: free_only/states=False need firmware >= 1.2; the board has "
                                f"{caps.firmware_major}.{caps.firmware_minor}")
        if free_only and alpha != 0:
            raise EnvelopeError(f"local_learn: free_only learns nothing, alpha must be 0 (got {alpha!r})")
        if state_aware and not caps.state_aware_learning:
            raise EnvelopeError(f"local_learn: state-aware pulse counts need firmware >= 1.1; the board has "
                                f"{caps.firmware_major}.{caps.firmware_minor}")
        m = {"cl": LearnMode.CL, "ep": LearnMode.EP}.get(str(mode).lower())
        if m is None:
            raise EnvelopeError(f"local_learn: mode {mode!r} is neither 'cl' nor 'ep'")
        param = eta if m == LearnMode.CL else beta
        if param is None:
            raise EnvelopeError(f"local_learn: mode {mode!r} needs {'eta' if m == LearnMode.CL else 'beta'}")
        if m == LearnMode.CL:
            caps.check_range(param, 1e-300, 1.0, "local_learn eta")
        else:
            caps.check_range(param, 1e-300, np.inf, "local_learn beta", " S")
        caps.check_range(alpha, 0.0, np.inf, "local_learn alpha")
        outs = caps.check_lines(outputs, "local_learn outputs")
        if outs.size == 0:
            raise EnvelopeError("local_learn: no output lines")
        if self.line_modes is not None:
            driven_outs = [int(o) for o in outs if self.line_modes[o] != LineMode.FLOAT]
            if driven_outs:
                raise EnvelopeError(f"local_learn: output line {driven_outs[0]} is not floating in the "
                                    "current configuration")
        tgt = np.atleast_2d(np.asarray(targets, dtype=float))
        k = tgt.shape[0]
        caps.check_shape(tgt, (k, outs.size), "local_learn targets")
        caps.check_range(k, 1, caps.max_batch, "local_learn batch")
        n_driven = int((self.line_modes == LineMode.DRIVE).sum()) if self.line_modes is not None else 0
        if inputs is None:
            drive = np.zeros((k, 0), np.int16)
        else:
            drive_v = np.atleast_2d(np.asarray(inputs, dtype=float))
            caps.check_shape(drive_v, (k, n_driven), "local_learn inputs")
            drive = caps.dac_codes(drive_v, "local_learn input")
        samples = np.concatenate([drive, caps.dac_codes(tgt, "local_learn target")], axis=1)
        flags = ((REPORT_PULSES if report_pulses else 0) | (STATE_AWARE if state_aware else 0)
                 | (FREE_ONLY if free_only else 0) | (0 if states else NO_STATES) | mixed_bits)
        payload = (Writer().put("u8", m).put("u8", flags)
                   .put("f64", float(param)).put("f64", float(alpha)).put("u16", outs.size).put("u16", k)
                   .put("u16", drive.shape[1]).array(outs, "u2").array(samples, "i2").bytes())
        n_float = caps.lines - n_driven
        phases = 1 if free_only else 2
        size = 8 + (2 * n_float + 4 * phases * k * n_float if states else 0) + (4 + 6 * caps.rows * caps.cols if report_pulses else 0)
        r = (yield Request(Msg.LOCAL_LEARN, payload,
                           self._exec_bound(phases * k + (caps.rows if state_aware or mixed_bits else 0),
                                            caps.rows * caps.max_pulse_count), size))
        total, nf, kk = r.get("u32"), r.get("u16"), r.get("u16")
        shown = nf if states else 0
        lines = r.array("u2", shown).astype(np.int64)
        free = r.array("i4", kk * shown).reshape(kk, shown) * caps.v_adc_lsb
        second = (r.array("i4", kk * shown).reshape(kk, shown) if phases == 2 else np.zeros((kk, 0))) * caps.v_adc_lsb
        pulse_map = r.sparse((caps.rows, caps.cols)) if report_pulses else None
        r.end()
        return LearnResult(lines, free, second, total, pulse_map)

    @_command
    def counters(self) -> Counters:
        caps = self.caps
        n = caps.rows * caps.cols
        r = (yield Request(Msg.GET_COUNTERS, exec_s=self._exec_bound(), reply_size=35 + 8 * n))
        head = [r.get("u32") for _ in range(6)]
        last_valid, last_seq, last_crc = r.get("u8"), r.get("u16"), r.get("u32")
        up = r.array("u4", n).reshape(caps.rows, caps.cols).astype(np.int64)
        down = r.array("u4", n).reshape(caps.rows, caps.cols).astype(np.int64)
        r.end()
        return Counters(*head, last_valid, last_seq, last_crc, up, down)
