"""The driver's limits (issue 14, item 4): a board's HELLO is checked against sane ranges, every wait
is capped whatever the board declared, and every transport failure is a PortError naming the
command and its sequence number."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

import neurophys.firmware_interface as fi
from neurophys.firmware_interface.errors import CapabilityError

NEUROPHYS = Path(sys.executable).with_name("neurophys")


def _declaring(**fields) -> serial.SerialBase:
    """An emulated board whose firmware declares ``fields`` in HELLO (and otherwise works)."""
    port = serial.serial_for_url("emu://?model=ideal")
    fw = port.emulator.firmware
    fw.caps = dataclasses.replace(fw.caps, **fields)
    return port


@pytest.mark.parametrize("field, value, sane", [
    ("max_payload", 0, r"\[64, 65535\]"), ("latency_us", 2 ** 32 - 1, r"\[0, 500000\]"),
    ("baud", 1, r"\[1200, 50000000\]"), ("rows", 65535, r"\[1, 1024\]"), ("cols", 65535, r"\[1, 1024\]"),
    ("t_settle_ns", 2 ** 32 - 1, r"\[0, 100000000\]"), ("max_pulse_count", 0, r"\[1, 127\]"),
    ("g_lsb", float("nan"), r"\[1e-15, 1.0\]"),
])
def test_an_insane_hello_field_is_refused_by_name(field, value, sane):
    port = _declaring(**{field: value})
    with pytest.raises(CapabilityError, match=rf"board declares {field} = .*{sane}"):
        fi.Board(port)
    assert not port.is_open  # nothing left half-open


def test_board_info_on_an_insane_board_is_one_line_and_exit_2():
    with fi.serve_pty(model="ideal") as srv:
        fw = srv.emulator.firmware
        fw.caps = dataclasses.replace(fw.caps, max_payload=0)
        out = subprocess.run([str(NEUROPHYS), "board", "info", srv.path], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "max_payload = 0" in out.stderr and "Traceback" not in out.stderr


def test_waits_are_capped_whatever_the_timeout_model_says():
    """A silent pty (nobody behind it): one attempt stops at attempt_timeout_s although the base
    timeout asks for 100 s, and a command with many retries stops at command_timeout_s."""
    master, slave = os.openpty()
    try:
        name = os.ttyname(slave)
        t0 = time.monotonic()
        with pytest.raises(fi.BoardTimeout) as caught:
            fi.Board(serial.Serial(name, timeout=0.1), retries=0, timeout_base_s=100.0, attempt_timeout_s=0.3)
        assert 0.25 < time.monotonic() - t0 < 3.0
        assert (caught.value.command, caught.value.seq) == ("HELLO", 1)
        t0 = time.monotonic()
        with pytest.raises(fi.BoardTimeout, match=r"command limit 0.6 s"):
            fi.Board(serial.Serial(name, timeout=0.1), retries=1000, attempt_timeout_s=0.1, command_timeout_s=0.6)
        assert 0.5 < time.monotonic() - t0 < 3.0
    finally:
        os.close(master)
        os.close(slave)


def test_default_caps_are_5_s_per_attempt_and_60_s_per_command():
    board = fi.Board.open("emu://?model=ideal")
    assert (board.attempt_timeout_s, board.command_timeout_s) == (5.0, 60.0)
    board.close()


def test_hello_after_a_lost_link_is_a_port_error_with_command_and_seq():
    srv = fi.serve_tcp(model="ideal")
    board = fi.Board.open(srv.url)
    board.ping()
    srv.close()
    with pytest.raises(fi.PortError) as caught:
        for _ in range(5):  # the first write after the close may still be buffered by the OS
            board.hello()
    assert caught.value.command == "HELLO" and isinstance(caught.value.seq, int)
    assert f"HELLO (seq {caught.value.seq}): link to" in str(caught.value)
    board.close()


def test_another_board_behind_the_port_is_board_changed():
    port = serial.serial_for_url("emu://?model=ideal")
    board = fi.Board(port)
    uid = board.session.board_uid
    port.emulator.firmware.nv.board_uid = uid ^ 1
    with pytest.raises(fi.BoardChanged, match="board uid") as caught:
        board.hello()
    assert caught.value.changes == {"board_uid": (uid, uid ^ 1)}
    board.close()
