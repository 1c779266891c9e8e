"""Random and mutated byte streams into the board's and the host's parsers: nothing escapes,
nothing hangs, and the link recovers to a working HELLO.

Hypothesis draws a seed and a mix per example; each example then derives 50 streams with a
seeded ``random.Random`` (random bytes, well-formed frames with random header fields, frames
whose payload has exactly the size a handler expects so that its argument checks run, and
mutations of those). Drawing every byte through Hypothesis would make 100,000 streams take many
minutes. The default suite runs a few thousand streams per side; ``-m slow`` runs the full
100,000 per side.
"""
from __future__ import annotations

import random
import signal
import time
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurophys.firmware_interface as fi
from neurophys.firmware_interface.framing import Frame, FrameDecoder, encode_frame
from neurophys.firmware_interface.protocol import REPLY_BIT, Msg, Status

STREAMS_PER_EXAMPLE = 50
DEFAULT_STREAMS = 4_000
FULL_STREAMS = 100_000
HANG_S = 60  # one example (50 streams and a HELLO) taking this long is a hang
MSG_TYPES = [int(m) for m in Msg]
# payload sizes that pass the length check on a 16×16 board, so the handlers' argument checks run
SIZED = [(Msg.CONFIGURE_LINES, 96), (Msg.READ_CONDUCTANCES, 8), (Msg.UPDATE_OUTER, 75), (Msg.MEASURE, 0),
         (Msg.MVM, 34), (Msg.PROGRAM, 524), (Msg.PULSE, 270), (Msg.GET_COUNTERS, 0), (Msg.HELLO, 2),
         (Msg.LOCAL_LEARN, 30), (Msg.PING, 5), (Msg.RESET, 0)]


def fuzz_settings(examples: int):
    return settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


class Streams:
    def __init__(self, seed: int, mix: tuple[float, float, float, float], avoid_seq: int | None = None):
        self.rng = random.Random(seed)
        self.mix = mix
        self.avoid_seq = avoid_seq  # host side: never forge the reply the host is waiting for

    def _int(self, low: int, high: int) -> int:
        return self.rng.randrange(low, high)

    def _seq(self) -> int:
        if self.avoid_seq is None:
            return self._int(0, 65536)
        return (self.avoid_seq + 100 + self._int(0, 65000)) % 65536

    def frame(self) -> bytes:
        version = self.rng.choice((1, 1, 1, 0, 2, 255))
        type_ = self.rng.choice(MSG_TYPES) if self.rng.random() < 0.8 else self._int(0, 256)
        if self.avoid_seq is not None:
            type_ |= REPLY_BIT
        count = self._int(1, 5) if self.rng.random() < 0.2 else 1
        return encode_frame(Frame(version, type_, self._seq(), self._int(0, 256), self._int(0, 256),
                                  self._int(0, count), count, self.rng.randbytes(self._int(0, 120))))

    def sized(self) -> bytes:
        type_, size = self.rng.choice(SIZED)
        return encode_frame(Frame(1, type_, self._seq(), 0, 0, 0, 1, self.rng.randbytes(size)))

    def mutated(self) -> bytes:
        buf = bytearray(self.frame() if self.rng.random() < 0.5 else self.sized())
        for _ in range(self._int(1, 5)):
            i = self._int(0, len(buf) + 1)
            kind = self._int(0, 3)
            if kind == 0 and i < len(buf):
                buf[i] ^= self._int(1, 256)
            elif kind == 1 and i < len(buf):
                del buf[i]
            else:
                buf.insert(i, self._int(0, 256))
        return bytes(buf)

    def one(self) -> bytes:
        makers = (lambda: self.rng.randbytes(self._int(0, 300)), self.frame, self.sized, self.mutated)
        return b"".join(self.rng.choices(makers, self.mix)[0]() for _ in range(self._int(1, 4)))


recipes = st.tuples(st.integers(0, 2 ** 32 - 1),
                    st.tuples(*[st.floats(0.05, 1.0, allow_nan=False) for _ in range(4)]))


@contextmanager
def hang_guard(seconds: int):
    """Fail (instead of blocking the suite forever) if the body does not return in time."""
    def on_alarm(signum, frame):
        raise AssertionError(f"hang: one fuzz example ran for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def reopen(board):
    try:
        return board.hello()
    except fi.BoardReset:  # a fuzzed RESET frame is a real reset: reported, then the session is new
        return board.hello()


def fuzz_board_parser(n_streams: int) -> dict:
    """Streams into the emulated board (link model, FIFO, COBS/CRC parser, reassembly, handlers)."""
    board = fi.Board.open("emu://?model=reram&seed=5")
    emu = board.serial.emulator
    seen = {"streams": 0, "slowest_s": 0.0}

    @fuzz_settings(n_streams // STREAMS_PER_EXAMPLE)
    @given(recipes)
    def feed(recipe):
        streams = Streams(*recipe)
        t0 = time.perf_counter()
        with hang_guard(HANG_S):
            for _ in range(STREAMS_PER_EXAMPLE):
                emu.host_write(streams.one())
            assert reopen(board).rows == 16
        seen["streams"] += STREAMS_PER_EXAMPLE
        seen["slowest_s"] = max(seen["slowest_s"], time.perf_counter() - t0)

    feed()
    board.ping(b"after")
    board.close()
    seen["nv"] = emu.firmware.nv
    return seen


def fuzz_host_parser(n_streams: int) -> dict:
    """Streams on the host's receive line, interleaved with real commands."""
    board = fi.Board.open("emu://?model=ideal")
    emu = board.serial.emulator
    seen = {"streams": 0, "slowest_s": 0.0}

    @fuzz_settings(n_streams // STREAMS_PER_EXAMPLE)
    @given(recipes)
    def feed(recipe):
        streams = Streams(*recipe, avoid_seq=0)
        t0 = time.perf_counter()
        with hang_guard(HANG_S):
            for i in range(STREAMS_PER_EXAMPLE):
                streams.avoid_seq = board._seq
                emu.inject(streams.one())  # garbage on the host's receive line, then a command
                if i % 2:
                    assert board.ping(b"x") >= 0
            assert board.hello().rows == 16
        seen["streams"] += STREAMS_PER_EXAMPLE
        seen["slowest_s"] = max(seen["slowest_s"], time.perf_counter() - t0)

    feed()
    board.ping(b"after")
    board.close()
    seen["stats"] = board.stats
    return seen


def check_board(seen: dict, n_streams: int) -> None:
    nv = seen["nv"]
    assert seen["streams"] == n_streams
    # the fuzz reached the deep paths: bad frames, executed commands (handler checks), resets
    assert nv.crc_errors > n_streams // 10 and nv.commands > n_streams // 10 and nv.boot_count > 0


def check_host(seen: dict, n_streams: int) -> None:
    stats = seen["stats"]
    assert seen["streams"] == n_streams
    assert stats.bad_frames > n_streams // 10 and stats.stale_frames > n_streams // 10


def test_board_parser_survives_random_streams():
    check_board(fuzz_board_parser(DEFAULT_STREAMS), DEFAULT_STREAMS)


def test_host_parser_survives_random_streams():
    check_host(fuzz_host_parser(DEFAULT_STREAMS), DEFAULT_STREAMS)


@pytest.mark.slow
def test_board_parser_survives_100000_streams():
    seen = fuzz_board_parser(FULL_STREAMS)
    check_board(seen, FULL_STREAMS)
    print(f"board parser: {seen['streams']} streams, slowest example {seen['slowest_s']:.2f} s")


@pytest.mark.slow
def test_host_parser_survives_100000_streams():
    seen = fuzz_host_parser(FULL_STREAMS)
    check_host(seen, FULL_STREAMS)
    print(f"host parser: {seen['streams']} streams, slowest example {seen['slowest_s']:.2f} s")


def test_host_reply_decoders_raise_only_driver_errors():
    """Replies with the right sequence number and type but arbitrary content."""
    board = fi.Board.open("emu://?model=ideal")
    emu = board.serial.emulator
    real_receive = emu.firmware.receive
    calls = [lambda b: b.ping(b"abc"), lambda b: b.measure(), lambda b: b.mvm(np.zeros(16)),
             lambda b: b.read_conductances(), lambda b: b.pulse(np.ones((2, 2), int)),
             lambda b: b.update_outer(np.zeros(16), np.zeros(16), 0.0, 1, report_pulses=True),
             lambda b: b.counters(), lambda b: b.program(np.full((2, 2), 5e-5)),
             lambda b: b.local_learn("cl", [20], [0.1], eta=0.5, alpha=1e-6, report_pulses=True)]
    decoder = FrameDecoder(1 << 16)
    raised = set()

    @fuzz_settings(600)
    @given(st.integers(0, len(calls) - 1), st.sampled_from([int(v) for v in Status]) | st.integers(0, 255),
           st.integers(0, 255), st.binary(max_size=64))
    def forge(which, status, flags, payload):
        def forged(data):
            return [(end, encode_frame(Frame(1, item.type | REPLY_BIT, item.seq, flags, status, 0, 1, payload)), 0.0)
                    for end, item in decoder.feed(data) if isinstance(item, Frame)]

        emu.firmware.receive = forged
        try:
            with hang_guard(HANG_S):
                calls[which](board)
        except fi.BoardException as exc:
            raised.add(type(exc).__name__)
        finally:
            emu.firmware.receive = real_receive
            decoder.reset()
        reopen(board)

    forge()
    assert {"MalformedFrame", "BoardError", "ProtocolMismatch"} <= raised  # and nothing else escaped
    board.close()


def test_empty_injection_does_not_stall_the_host_read():
    """Found by the fuzz: an empty segment on the board→host line made emu:// reads spin forever."""
    with fi.Board.open("emu://?model=ideal") as board, hang_guard(10):
        board.serial.emulator.inject(b"")
        assert board.ping(b"ok") >= 0
