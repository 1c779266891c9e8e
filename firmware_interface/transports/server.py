"""Serve an emulated board on a pseudo-terminal or a TCP port from a background thread.

The thread moves bytes between the file descriptor and the :class:`Emulator`, writing each
reply byte when the link model says it arrives. ``close()`` stops the thread and closes every
descriptor it opened.
"""
from __future__ import annotations

import os
import select
import socket
import threading
import tty

from ..emulator.clock import RealClock
from ..emulator.factory import make_emulator


class _Server:
    def __init__(self, options: dict) -> None:
        self.emulator = make_emulator(**options, clock=RealClock())
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None

    def _start(self, name: str) -> None:
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _pump(self, fd: int) -> bool:
        """Serve one byte stream until it ends (False) or we are told to stop (True)."""
        emu, pending = self.emulator, b""
        while True:
            nxt = emu.next_arrival()
            timeout = 0.5 if nxt is None else max(0.0, nxt - emu.clock.now())
            readable, writable, _ = select.select([fd, self._wake_r], [fd] if pending else [], [], timeout)
            if self._wake_r in readable:
                return True
            if fd in readable:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    return False
                emu.host_write(data)
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
    """The board on a pty: hand ``path`` to pyserial (or to ``Board.open``)."""

    def __init__(self, **options) -> None:
        super().__init__(options)
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
    """The board on ``socket://127.0.0.1:PORT`` (one client at a time)."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", **options) -> None:
        super().__init__(options)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._listener.bind((host, port))
        except OSError as exc:
            self._listener.close()
            os.close(self._wake_r)
            os.close(self._wake_w)
            raise OSError(exc.errno, f"cannot serve the board on {host}:{port}: {exc.strerror}") from None
        self._listener.listen(1)
        self.port = self._listener.getsockname()[1]
        self.url = f"socket://{host}:{self.port}"
        self._start(f"board-tcp {self.port}")

    def _run(self) -> None:
        while True:
            readable, _, _ = select.select([self._listener, self._wake_r], [], [])
            if self._wake_r in readable:
                return
            conn, _ = self._listener.accept()
            with conn:
                conn.setblocking(False)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self._pump(conn.fileno()):
                    return

    def _close_fds(self) -> None:
        self._listener.close()


def serve_pty(**options) -> PtyServer:
    """``with serve_pty(model="ideal", seed=1) as srv: Board.open(srv.path)``"""
    return PtyServer(**options)


def serve_tcp(port: int = 0, **options) -> TcpServer:
    """``with serve_tcp(model="reram") as srv: Board.open(srv.url)``"""
    return TcpServer(port, **options)
