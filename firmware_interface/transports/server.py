"""Serve an emulated board on a pseudo-terminal or a TCP port from a background thread.

The thread moves bytes between the file descriptor and the :class:`Emulator`, writing each
reply byte when the link model says it arrives. The TCP server gives the board to one connection
at a time (PROTOCOL.md §5): a second one is answered BUSY, a departed owner's unexecuted frames
are dropped, an idle owner is closed, and a client that does not read its replies is not read
from either (back-pressure), so the server's memory stays bounded. With ``state`` the board's FRAM
and conductances are kept in a file (:mod:`..emulator.fram`). ``close()`` stops the thread and
closes every descriptor it opened.
"""
from __future__ import annotations

import os
import select
import socket
import threading
import time
import tty

from ..emulator.clock import RealClock
from ..emulator.factory import make_emulator
from ..emulator.fram import Fram
from ..framing import FrameDecoder, Frame, fragment
from ..protocol import PROTOCOL_VERSION, REPLY_BIT, Status

#: Reply bytes a client may leave unread before the server stops reading its requests.
OUT_LIMIT = 256 * 1024
#: Kernel buffers of a session's socket: fixed, so what waits for or from a client is bounded there too.
SOCKET_BUFFER = 64 * 1024
#: Seconds without a byte from the owner before its session is closed.
IDLE_S = 30.0
#: Seconds a refused (second) connection is kept to answer its requests BUSY.
REFUSE_S = 2.0
_GONE = select.POLLRDHUP | select.POLLHUP | select.POLLERR | select.POLLNVAL


class _Server:
    def __init__(self, options: dict, state: str | os.PathLike | None = None) -> None:
        self.emulator = make_emulator(**options, clock=RealClock())
        self.fram = Fram(state, self.emulator.firmware) if state is not None else None
        if self.fram is not None:
            self.fram.boot()
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None
        self.buffered = self.max_buffered = 0  # reply + request bytes the server holds for its client

    def _start(self, name: str) -> None:
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _to_board(self, inbox: bytes, pending: int, alive) -> bytes | None:
        """Hand received bytes to the board one complete frame at a time while fewer than
        ``OUT_LIMIT`` reply bytes wait unread (``pending`` of them already taken from the board),
        asking ``alive()`` before each frame. Returns what is left for later, or None when the
        sender left (the rest is dropped: nothing of a departed client runs). Saves the FRAM file."""
        emu, start = self.emulator, 0
        while start < len(inbox) and pending + emu.queued() < OUT_LIMIT:
            end = inbox.find(0, start)
            end = len(inbox) if end < 0 else end + 1
            if inbox[end - 1] == 0 and alive is not None and not alive():
                return None
            emu.host_write(inbox[start:end])
            start = end
        if self.fram is not None:
            self.fram.save()
        return inbox[start:]

    def _pump(self, fd: int, alive=None, idle_s: float | None = None) -> bool:
        """Serve one byte stream until it ends, idles or its owner leaves (False) or we are told to
        stop (True). Requests are read only while the replies waiting unread stay under
        ``OUT_LIMIT`` (back-pressure: a client that does not read is not read from either)."""
        emu, pending, inbox = self.emulator, b"", b""
        last_rx = time.monotonic()
        while True:
            now = time.monotonic()
            nxt = emu.next_arrival()
            timeout = 0.5 if nxt is None else max(0.0, nxt - emu.clock.now())
            if idle_s is not None:
                if now - last_rx > idle_s:
                    return False
                timeout = min(timeout, idle_s - (now - last_rx) + 1e-3)
            if inbox:
                inbox = self._to_board(inbox, len(pending), alive)
                if inbox is None:
                    return False
            reading = not inbox and len(pending) + emu.queued() < OUT_LIMIT
            self.buffered = len(pending) + emu.queued() + len(inbox)
            self.max_buffered = max(self.max_buffered, self.buffered)
            readable, writable, _ = select.select([fd, self._wake_r] if reading else [self._wake_r],
                                                  [fd] if pending else [], [], timeout if reading or not pending else 0.05)
            if self._wake_r in readable:
                return True
            if fd in readable:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    return False
                last_rx = time.monotonic()
                inbox = self._to_board(data, len(pending), alive)
                if inbox is None:
                    return False
            pending += emu.host_read(1 << 20)
            if pending and (fd in writable or not readable):
                try:
                    pending = pending[os.write(fd, pending):]
                except BlockingIOError:
                    pass
                except OSError:
                    return False

    def _run(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        if self._thread is not None:
            os.write(self._wake_w, b"x")
            self._thread.join()
            self._thread = None
            self._close_fds()
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _close_fds(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class PtyServer(_Server):
    """The board on a pty: hand ``path`` to pyserial (or to ``Board.open``, which locks it)."""

    def __init__(self, state=None, **options) -> None:
        super().__init__(options, state)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # the slave stays open here so the pty outlives host reconnects
        os.set_blocking(self._master, False)
        self.path = self.url = os.ttyname(self._slave)
        self._start(f"board-pty {self.path}")

    def _run(self) -> None:
        self._pump(self._master)

    def _close_fds(self) -> None:
        os.close(self._master)
        os.close(self._slave)


class TcpServer(_Server):
    """The board on ``socket://HOST:PORT``, one owner at a time (loopback unless ``host`` says otherwise)."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", idle_s: float = IDLE_S, state=None, **options) -> None:
        if not idle_s > 0:
            raise ValueError(f"idle timeout {idle_s!r} s must be > 0")
        super().__init__(options, state)
        self.idle_s = idle_s
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._listener.bind((host, port))
        except OSError as exc:
            self._listener.close()
            os.close(self._wake_r)
            os.close(self._wake_w)
            raise OSError(exc.errno, f"cannot serve the board on {host}:{port}: {exc.strerror}") from None
        self._listener.listen(8)
        self.port = self._listener.getsockname()[1]
        self.url = f"socket://{host}:{self.port}"
        self._lock = threading.Lock()
        self._owner: socket.socket | None = None
        self.sessions = 0  # connections served so far
        self.refused = 0  # connections answered BUSY
        self._refuser = threading.Thread(target=self._refuse_loop, name=f"board-busy {self.port}", daemon=True)
        self._waiting: list[tuple[socket.socket, FrameDecoder, float]] = []
        self._start(f"board-tcp {self.port}")
        self._refuser.start()

    def _run(self) -> None:
        """Accept a connection; while it owns the board, further ones go to the BUSY answerer."""
        while True:
            readable, _, _ = select.select([self._listener, self._wake_r], [], [])
            if self._wake_r in readable:
                return
            conn, _ = self._listener.accept()
            with conn:
                conn.setblocking(False)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for buffer in (socket.SO_SNDBUF, socket.SO_RCVBUF):  # fixed: no autotuning to megabytes
                    conn.setsockopt(socket.SOL_SOCKET, buffer, SOCKET_BUFFER)
                with self._lock:
                    self._owner = conn
                    self.sessions += 1
                poller = select.poll()
                poller.register(conn.fileno(), select.POLLRDHUP)
                try:
                    stop = self._pump(conn.fileno(), lambda: not poller.poll(0), self.idle_s)
                finally:
                    self.emulator.end_session()  # the owner left: its session and queued replies end
                    if self.fram is not None:
                        self.fram.save()
                    with self._lock:
                        self._owner = None
                if stop:
                    return

    def _refuse_loop(self) -> None:
        """While a session is open, answer every request of other connections BUSY, then close them."""
        while True:
            with self._lock:
                owned = self._owner is not None
                waiting = list(self._waiting)
            fds = [self._wake_r] + ([self._listener] if owned else []) + [s for s, _, _ in waiting]
            readable, _, _ = select.select(fds, [], [], 0.05)
            if self._wake_r in readable:
                for sock, _, _ in waiting:
                    sock.close()
                return
            if self._listener in readable:
                with self._lock:
                    if self._owner is None:  # the owner left meanwhile: let the server accept it
                        continue
                try:
                    conn, _ = self._listener.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                with self._lock:
                    self._waiting.append((conn, FrameDecoder(64), time.monotonic() + REFUSE_S))
                    self.refused += 1
            now = time.monotonic()
            for entry in waiting:
                sock, decoder, deadline = entry
                done = now > deadline
                if sock in readable:
                    try:
                        data = sock.recv(4096)
                    except OSError:
                        data = b""
                    frames = [f for _, f in decoder.feed(data) if isinstance(f, Frame)]
                    for frame in frames:
                        try:
                            sock.send(self._busy(frame))
                        except OSError:
                            pass
                    done = done or not data or bool(frames)
                if done:
                    sock.close()
                    with self._lock:
                        self._waiting.remove(entry)

    def _busy(self, frame: Frame) -> bytes:
        text = (f"another host owns this board (session {self.emulator.firmware.nv.session_id}); "
                "try again when it is done").encode()
        return fragment(PROTOCOL_VERSION, (frame.type | REPLY_BIT) & 0xFF, frame.seq, 0, Status.BUSY,
                        bytes(4) + text, 8192)

    def _close_fds(self) -> None:
        self._refuser.join()  # woken by the same pipe as the server thread
        self._listener.close()


def serve_pty(**options) -> PtyServer:
    """``with serve_pty(model="ideal", seed=1) as srv: Board.open(srv.path)``"""
    return PtyServer(**options)


def serve_tcp(port: int = 0, **options) -> TcpServer:
    """``with serve_tcp(model="reram") as srv: Board.open(srv.url)``"""
    return TcpServer(port, **options)
