"""The board over a real tty (pty + pyserial), over TCP, from the CLI, and clean shutdown."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import serial

import neurophys.firmware_interface as fi

from conftest_firmware import edge_drops_squared, kirchhoff

NEUROPHYS = Path(sys.executable).with_name("neurophys")


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def _children() -> set[int]:
    """Live (not yet reaped included) child processes of this test process."""
    me, out = os.getpid(), set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me:
            out.add(int(pid))
    return out


def test_must_show_over_pty():
    with fi.serve_pty(model="ideal", seed=11) as srv:
        assert os.path.realpath(srv.path).startswith("/dev/pts/")
        port = serial.Serial(srv.path, baudrate=921600, timeout=0.1)  # plain pyserial on a real tty
        with fi.Board(port) as board:
            emu = srv.emulator
            assert board.caps.rows == board.caps.cols == 16 and board.caps.model_id == "ideal"
            rng = np.random.default_rng(1)
            target = rng.uniform(2e-5, 8e-5, (16, 16))
            assert board.program(target, tol=board.caps.g_lsb).unconverged == 0
            np.testing.assert_allclose(board.read_conductances(), target, atol=board.caps.g_lsb)
            counts = rng.integers(-5, 6, (16, 16))
            before = emu.conductances
            board.pulse(counts)
            np.testing.assert_allclose(emu.conductances, before + counts * board.caps.dw_min, rtol=1e-12)
            G = emu.conductances
            v = np.rint(rng.uniform(-1, 1, 16) / board.caps.v_lsb) * board.caps.v_lsb
            np.testing.assert_allclose(board.mvm(v), G.T @ v, rtol=0, atol=board.caps.i_adc_lsb / 2 * 1.0001)
            # LOCAL_LEARN (coupled learning) against the rule computed from the true conductances
            fixed = {board.row(0): 0.6, board.row(1): -0.3, board.col(0): 0.0}
            fixed = {k: float(np.rint(v / board.caps.v_lsb) * board.caps.v_lsb) for k, v in fixed.items()}
            board.configure_lines(fixed)
            outs = [board.col(7), board.col(8)]
            targets = np.rint(np.array([0.2, -0.05]) / board.caps.v_lsb) * board.caps.v_lsb
            eta, alpha = 0.3, 1e-6
            G0 = emu.conductances
            VF = kirchhoff(G0, fixed)
            VC = kirchhoff(G0, {**fixed, **dict(zip(outs, VF[outs] + eta * (targets - VF[outs])))})
            expected = alpha / eta * (edge_drops_squared(VF, 16) - edge_drops_squared(VC, 16))
            board.local_learn("cl", outs, targets, eta=eta, alpha=alpha)
            np.testing.assert_allclose(emu.conductances - G0, expected, rtol=1e-9, atol=1e-18)


def test_tcp_transport():
    with fi.serve_tcp(model="reram", seed=2) as srv, fi.Board.open(srv.url) as board:
        assert srv.url.startswith("socket://127.0.0.1:")
        assert board.caps.model_id == "reram"
        g = board.read_conductances()
        assert g.shape == (16, 16) and np.all(g > 0)


def test_no_leaked_threads_or_fds():
    threads, fds = set(threading.enumerate()), _fds()
    for serve in (fi.serve_pty, fi.serve_tcp):
        with serve(model="ideal") as srv:
            board = fi.Board.open(srv.url)
            board.ping()
            board.close()
            board.close()  # idempotent
    board = fi.Board.open("emu://?model=reram")
    board.counters()
    board.close()
    with pytest.raises(fi.BoardException, match="closed"):
        board.ping()
    assert set(threading.enumerate()) == threads
    assert _fds() == fds


def test_pty_timing_paces_bytes():
    with fi.serve_pty(model="ideal", rows=64, cols=64, baud=115200, timing=True) as srv, fi.Board.open(srv.path) as b:
        b.read_conductances()  # warm up
        t = b.ping(bytes(1000))
        wire = 2 * (1000 + 20)  # request + echo, each with ~20 bytes of framing
        assert t >= wire * 10 / 115200 + 2 * 1e-3


def _run_cli(*args, timeout=60):
    return subprocess.run([str(NEUROPHYS), "board", *args], capture_output=True, text=True, timeout=timeout)


def test_cli_serve_pty_and_info():
    proc = subprocess.Popen([str(NEUROPHYS), "board", "serve", "--pty", "--model", "reram", "--rows", "8",
                             "--cols", "4", "--seed", "5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/pts/")
        with fi.Board.open(path) as board:
            assert (board.caps.rows, board.caps.cols, board.caps.model_id) == (8, 4, "reram")
            board.pulse(np.ones((8, 4), int))
        info = _run_cli("info", path)
        assert info.returncode == 0, info.stderr
        assert "rows                 8" in info.stdout and "pulses_up            32" in info.stdout
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    assert _children() == set()  # the server process is gone, nothing else was left behind


def test_a_link_lost_mid_session_is_a_port_error_naming_the_command():
    proc = subprocess.Popen([str(NEUROPHYS), "board", "serve", "--tcp", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        url = proc.stdout.readline().strip()
        with fi.Board.open(url) as board:
            board.ping()
            proc.terminate()
            proc.wait(timeout=20)
            with pytest.raises(fi.PortError, match=r"^PING \(seq \d+\): link to socket://127\.0\.0\.1:\d+ lost"):
                for _ in range(5):  # the first write after the close may still be buffered by the OS
                    board.ping()
    finally:
        proc.kill()
        proc.wait(timeout=20)
        proc.stdout.close()


def test_cli_serve_tcp_and_errors():
    proc = subprocess.Popen([str(NEUROPHYS), "board", "serve", "--tcp", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("socket://127.0.0.1:")
        with fi.Board.open(url) as board:
            assert board.caps.model_id == "ideal"
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    assert _children() == set()
    missing = _run_cli("info", "/dev/ttyNO_SUCH_BOARD")
    assert missing.returncode == 2 and "/dev/ttyNO_SUCH_BOARD" in missing.stderr
    bad_model = _run_cli("serve", "--model", "nonsense")
    assert bad_model.returncode == 2 and "nonsense" in bad_model.stderr
