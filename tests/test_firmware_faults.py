"""Exactly-once execution under link faults and board resets."""
from __future__ import annotations

import time

import numpy as np
import pytest

import neurophys.firmware_interface as fi
from neurophys.firmware_interface.codec import Writer
from neurophys.firmware_interface.emulator.faults import FaultConfig, FaultInjector
from neurophys.firmware_interface.framing import fragment
from neurophys.firmware_interface.protocol import Msg

FAULTS = "drop=1e-3,flip=1e-3,insert=1e-3,delay=0.01,duplicate=0.01"
CONFIG = {0: 0.5, 1: -0.25, 2: 0.125, 16: 0.0}  # three driven rows, one grounded column


class Log:
    """The host's own record: pulses per device it knows the board applied, and the executed
    operations in order (to replay them on a fresh board)."""

    def __init__(self, shape):
        self.up, self.down = np.zeros(shape, np.int64), np.zeros(shape, np.int64)
        self.ops: list[tuple] = []

    def executed(self, op, result):
        self.ops.append(op)
        name = op[0]
        counts = {"pulse": lambda: op[1], "learn": lambda: result.pulse_map,
                  "outer": lambda: result.pulse_map}.get(name, lambda: None)()
        if counts is not None:
            self.up += np.maximum(counts, 0)
            self.down += np.maximum(-counts, 0)


def call(board, op):
    name, *args = op
    if name == "pulse":
        return board.pulse(args[0])
    if name == "learn":
        return board.local_learn("cl", [20, 21], args[0], eta=0.5, alpha=2e-7, report_pulses=True)
    if name == "outer":
        return board.update_outer(args[0], args[1], lr=2e-7, bl=40, report_pulses=True)
    if name == "mvm":
        return board.mvm(args[0])
    if name == "read":
        return board.read_conductances((args[0], args[1]), (4, 4))
    if name == "config":
        return board.configure_lines(CONFIG)
    return board.ping(args[0])


def make_op(i, rng):
    kind = i % 6
    if kind == 0:
        return ("pulse", rng.integers(-3, 4, (16, 16)))
    if kind == 1:
        return ("learn", np.round(rng.uniform(-0.3, 0.3, 2), 3))
    if kind == 2:
        return ("outer", rng.uniform(-1, 1, 16), rng.uniform(-1, 1, 16))
    if kind == 3:
        return ("mvm", rng.uniform(-1, 1, 16))
    if kind == 4:
        return ("read", int(rng.integers(0, 12)), int(rng.integers(0, 12)))
    return ("ping", bytes(rng.integers(0, 256, 8, dtype=np.uint8)))


def run_mixed(board, n, seed):
    log = Log((16, 16))
    resets = []
    rng = np.random.default_rng(seed)
    board.configure_lines(CONFIG)
    log.executed(("config",), None)
    for i in range(n):
        op = make_op(i, rng)
        try:
            log.executed(op, call(board, op))
        except fi.BoardReset as exc:
            resets.append(exc)
            if exc.executed:
                log.executed(op, exc.result)
            board.configure_lines(CONFIG)  # the reset cleared the line configuration
            log.executed(("config",), None)
    return log, resets


def check_counters(board, emu, log):
    injected = emu.faults.injected
    assert min(injected[k] for k in ("drop", "flip", "insert", "delay", "duplicate")) > 0
    emu.faults = FaultInjector(FaultConfig())  # read the counters over a clean link
    c = board.counters()
    assert (c.pulses_up == log.up).all() and (c.pulses_down == log.down).all()
    return c


def test_exactly_once_10000_commands_with_faults_and_a_reset():
    url = f"emu://?model=reram&seed=7&faults={FAULTS},reset_at=5003"
    with fi.Board.open(url, retries=40) as board:
        emu = board.serial.emulator
        log, resets = run_mixed(board, 10_000, seed=1)
        assert emu.faults.injected["delay"] > 50 and emu.faults.injected["duplicate"] > 50
        assert len(resets) == 1 and resets[0].boot_count == 1
        c = check_counters(board, emu, log)
        assert c.boot_count == 1 and c.cache_hits > 100 and c.crc_errors > 1000  # faults did happen
        assert board.stats.retries > 1000
        assert log.up.sum() > 10_000
        final = emu.conductances
    # Replay the executed operations on a fault-free twin: identical devices and noise streams
    # give bit-identical conductances only if nothing ran twice and nothing was lost.
    with fi.Board.open("emu://?model=reram&seed=7") as twin:
        for op in log.ops:
            call(twin, op)
        np.testing.assert_array_equal(twin.serial.emulator.conductances, final)


def test_exactly_once_over_the_pty_with_faults_and_a_reset():
    spec = f"{FAULTS},delay_s=0.1,reset_at=703"
    with fi.serve_pty(model="reram", seed=3, faults=spec) as srv, fi.Board.open(srv.path, retries=40) as board:
        log, resets = run_mixed(board, 1500, seed=2)
        assert len(resets) == 1
        check_counters(board, srv.emulator, log)


def test_reset_between_commands_is_reported_and_command_not_executed():
    with fi.Board.open("emu://?model=ideal") as board:
        emu = board.serial.emulator
        board.configure_lines(CONFIG)
        emu.reset()
        with pytest.raises(fi.BoardReset, match="was NOT executed") as err:
            board.pulse(np.ones((16, 16), int))
        assert not err.value.executed and err.value.result is None
        assert board.counters().pulses_up.sum() == 0
        with pytest.raises(fi.BoardError, match="NOT_CONFIGURED"):
            board.measure()  # the line configuration really is gone


def test_reset_after_execution_returns_the_recovered_result():
    with fi.Board.open("emu://?model=reram&faults=reset_at=3") as board:  # HELLO, config, LOCAL_LEARN
        board.configure_lines(CONFIG)
        with pytest.raises(fi.BoardReset, match="was executed") as err:
            board.local_learn("cl", [20], [0.3], eta=1.0, alpha=1e-4, report_pulses=True)
        assert err.value.executed and err.value.result.pulses > 0
        counters = board.counters()
        pm = err.value.result.pulse_map
        assert (counters.pulses_up == np.maximum(pm, 0)).all() and counters.boot_count == 1


def test_explicit_hello_reports_a_reset():
    with fi.Board.open("emu://") as board:
        board.serial.emulator.reset()
        with pytest.raises(fi.BoardReset):
            board.hello()
        assert board.hello().rows == 16  # the new session is fine


def test_rx_fifo_overflows_while_the_board_is_busy():
    with fi.Board.open("emu://?model=ideal&timing=1") as board:
        emu = board.serial.emulator
        counts = np.full((16, 16), 100)
        pulse = fragment(1, Msg.PULSE, 60000, 0, 0, Writer().array([0, 0, 16, 16], "u2").put("u16", 1000)
                         .put("u32", 100_000).array(counts, "i1").bytes(), 8192)  # 16 × 100 × 100 µs
        ping = fragment(1, Msg.PING, 60001, 0, 0, bytes(range(256)) * 4, 8192)
        board.serial.write(pulse)
        board.serial.write(ping)  # arrives while the board pulses: only the FIFO's 256 bytes survive
        time.sleep(0.25)
        c = board.counters()
        assert c.rx_overflows == len(ping) - emu.link.rx_fifo
        assert c.pulses_up.sum() == 100 * 256 and c.nacks >= 1  # the pulse ran; the ping was mangled


def test_fault_spec_errors_name_the_item():
    with pytest.raises(ValueError, match="'drip=1'"):
        FaultConfig.parse("drip=1")
    with pytest.raises(ValueError, match="drop=2.0"):
        FaultConfig.parse("drop=2")
