"""Board server sessions (issue 14, item 5), over real TCP sockets and a real pty: one owner at a
time, a pairing token, dropped frames of a departed client, idle sessions closed, bounded buffers,
exclusive ptys, and no reply served across sessions."""
from __future__ import annotations

import socket
import time

import numpy as np
import pytest

import neurophys.firmware_interface as fi
from neurophys.firmware_interface.codec import Writer
from neurophys.firmware_interface.framing import FrameDecoder, fragment
from neurophys.firmware_interface.protocol import PROTOCOL_VERSION, Msg, Status
from neurophys.firmware_interface.transports.server import OUT_LIMIT


def _frame(msg: Msg, seq: int, payload: bytes = b"") -> bytes:
    return fragment(PROTOCOL_VERSION, msg, seq, 0, 0, payload, 8192)


def _connect(srv) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    return sock


def _hello(sock: socket.socket) -> None:
    sock.sendall(b"\0" + _frame(Msg.HELLO, 1, Writer().put("u16", 65535).bytes()))
    decoder, frames = FrameDecoder(65535), []
    while not frames:
        frames = [f for _, f in decoder.feed(sock.recv(4096)) if not hasattr(f, "reason")]
    assert frames[0].status == Status.OK


def test_one_owner_at_a_time_and_the_next_one_after_bye():
    with fi.serve_tcp(model="ideal") as srv:
        first = fi.Board.open(srv.url)
        with pytest.raises(fi.BoardBusy, match=r"HELLO \(seq 1\): board on socket://127\.0\.0\.1:\d+ is busy: "
                                               r"another host owns this board") as caught:
            fi.Board.open(srv.url)
        assert (caught.value.command, caught.value.seq) == ("HELLO", 1)
        first.ping()  # the owner was not disturbed
        first.close()  # BYE: the board is free at once
        with fi.Board.open(srv.url) as second:
            second.ping()
        assert srv.refused == 1 and srv.sessions == 2


def test_a_paired_board_needs_its_token():
    with fi.serve_tcp(model="ideal", token="s3cret") as srv:
        for token in (None, "wrong"):
            with pytest.raises(fi.BoardError, match="DENIED: HELLO: this board is paired") as caught:
                fi.Board.open(srv.url, token=token)
            assert caught.value.status == Status.DENIED
        with fi.Board.open(srv.url, token="s3cret") as board:
            board.ping()


def test_an_idle_session_is_closed_so_it_cannot_block_others():
    with fi.serve_tcp(model="ideal", idle_s=0.4) as srv:
        idle = _connect(srv)
        _hello(idle)
        with pytest.raises(fi.BoardBusy):
            fi.Board.open(srv.url)
        time.sleep(0.7)
        with fi.Board.open(srv.url) as board:  # the idle one was closed
            board.ping()
        idle.settimeout(2)
        assert idle.recv(4096) == b""
        idle.close()


def test_a_client_that_never_reads_is_not_read_and_what_it_queued_dies_with_it():
    """Back-pressure: a client that sends PINGs and never reads their echoes is no longer read from
    once OUT_LIMIT bytes wait (its sends block: the kernel's buffers are fixed-size too), the server
    holds a bounded number of bytes throughout, and the requests it still had queued never run
    after it left."""
    with fi.serve_tcp(model="ideal") as srv:
        hostile = socket.socket()
        hostile.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hostile.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        hostile.connect(("127.0.0.1", srv.port))
        hostile.settimeout(5)
        _hello(hostile)
        hostile.setblocking(False)
        sent, seq, blocked_since, t0 = 0, 2, None, time.monotonic()
        frame = _frame(Msg.PING, seq, bytes(8000))
        while blocked_since is None or time.monotonic() - blocked_since < 0.5:
            assert time.monotonic() - t0 < 20, "the server kept reading a client that does not read"
            try:
                sent += hostile.send(frame)
                blocked_since = None
            except BlockingIOError:
                blocked_since = blocked_since or time.monotonic()
                time.sleep(0.01)
        executed = srv.emulator.firmware.nv.commands
        assert sent > 2 * OUT_LIMIT and executed - 1 < 0.9 * sent / len(frame)  # sent more than ran
        hostile.close()  # unread echoes: the connection is reset
        time.sleep(0.5)
        assert srv.emulator.firmware.nv.commands == executed  # nothing it queued ran after it left
        assert srv.max_buffered <= OUT_LIMIT + 65536 + 8192  # one read's worth of requests past the limit
        with fi.Board.open(srv.url) as board:  # and the board is free again
            board.ping()


def test_frames_of_a_client_that_sent_and_left_are_dropped():
    """The issue's hostile client: 200 PULSEs and a RESET in one write, then gone. The server checks
    before each frame that its sender is still there; the RESET (200 PULSEs behind, milliseconds of
    work, while the FIN follows the data at once) never runs."""
    with fi.serve_tcp(model="ideal") as srv:
        hostile = _connect(srv)
        _hello(hostile)
        pulses = Writer().array([0, 0, 16, 16], "u2").put("u16", 1000).put("u32", 1000).array(np.ones(256), "i1").bytes()
        hostile.sendall(b"".join(_frame(Msg.PULSE, 2 + i, pulses) for i in range(200)) + _frame(Msg.RESET, 202))
        hostile.close()
        time.sleep(0.5)
        nv = srv.emulator.firmware.nv
        assert nv.boot_count == 0 and nv.pulses_up[0, 0] < 200
        assert not srv.emulator.firmware.session  # its session ended with it


def test_a_pty_is_exclusive():
    with fi.serve_pty(model="ideal") as srv:
        first = fi.Board.open(srv.path)
        with pytest.raises(fi.BoardBusy, match="busy"):
            fi.Board.open(srv.path)
        first.close()
        with fi.Board.open(srv.path) as second:
            second.ping()


def test_another_sessions_cached_reply_is_never_served():
    """Host A pulses under seq 2 and vanishes without BYE; host B's own PULSE under seq 2 with the
    same bytes must run (it used to be answered from A's cached reply: 7 pulses instead of 14)."""
    with fi.serve_pty(model="ideal") as srv:
        counts = np.full((16, 16), 7)
        a = fi.Board.open(srv.path)
        a.pulse(counts)
        a.serial.close()  # gone without BYE
        with fi.Board.open(srv.path) as b:
            assert b._seq == 1
            b.pulse(counts)
            assert b.stats.retries == 0
            np.testing.assert_array_equal(b.counters().pulses_up, 14)
        assert a.session.session_id != b.session.session_id


def test_the_tcp_board_listens_on_loopback_unless_told():
    with fi.serve_tcp(model="ideal") as srv:
        assert srv._listener.getsockname()[0] == "127.0.0.1" and srv.url.startswith("socket://127.0.0.1:")
    with fi.serve_tcp(model="ideal", host="0.0.0.0") as srv:
        assert srv._listener.getsockname()[0] == "0.0.0.0"
