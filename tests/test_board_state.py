"""Board state survives a restart (issue 14, item 6): `board serve --state FILE` is a board's FRAM,
a restarted server resumes it (real subprocesses, killed with SIGKILL: no shutdown hook helps), and
a run refuses to continue on a board whose uid, boot count or state changed underneath it."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import neurophys.firmware_interface as fi
from neurophys.hil.identity import IdentityGuard, TargetChanged, compare_identity

NEUROPHYS = Path(sys.executable).with_name("neurophys")


class Served:
    """`neurophys board serve --tcp 0 ARGS` in a subprocess: its URL and token from stdout."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([str(NEUROPHYS), "board", "serve", "--tcp", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()
        self.token = self.proc.stdout.readline().split()[-1] if "--token" in args else None
        assert self.url.startswith("socket://127.0.0.1:"), self.proc.stderr.read()

    def open(self) -> fi.Board:
        return fi.Board.open(self.url, token=self.token)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=20)
        self.proc.stdout.close()
        self.proc.stderr.close()


def test_a_restarted_board_keeps_its_state_and_says_it_rebooted(tmp_path):
    state = tmp_path / "board.npz"
    served = Served("--model", "reram", "--state", str(state), "--token", "auto")
    try:
        with served.open() as board:
            first = board.identity()
            target = np.random.default_rng(3).uniform(2e-5, 8e-5, (16, 16))
            board.program(target)
            board.pulse(np.ones((16, 16), int))
            after = board.identity()
            g, counters = board.read_conductances(), board.counters()
        assert after["state_crc"] != first["state_crc"] and after["boot_count"] == first["boot_count"] == 0
    finally:
        served.kill()
    assert served.token and len(served.token) == 16
    restarted = Served("--model", "reram", "--state", str(state), "--token", "auto")
    try:
        with restarted.open() as board:
            now = board.identity()
            assert now == {**after, "boot_count": 1}  # same board, same devices, one boot more
            np.testing.assert_allclose(board.read_conductances(), g, atol=0.05 * np.abs(g).max())
            again = board.counters()
            np.testing.assert_array_equal(again.pulses_up, counters.pulses_up)
            assert again.commands > counters.commands and again.boot_count == 1
        with pytest.raises(TargetChanged, match=r"board: the target changed underneath the run \(boot_count 0 -> 1\)"):
            compare_identity(after, now)
    finally:
        restarted.kill()
    blank = Served("--model", "reram")  # the same board without its FRAM file: another uid, blank devices
    try:
        with blank.open() as board:
            fresh = board.identity()
        with pytest.raises(TargetChanged, match=r"board_uid \d+ -> \d+, state_crc"):
            compare_identity(after, fresh)
    finally:
        blank.kill()


def test_a_state_file_of_another_board_is_refused(tmp_path):
    state = tmp_path / "board.npz"
    with fi.serve_tcp(model="ideal", state=state) as srv, fi.Board.open(srv.url) as board:
        board.ping()
    out = subprocess.run([str(NEUROPHYS), "board", "serve", "--tcp", "0", "--rows", "8", "--state", str(state)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "made for a board with rows 16, this one has 8" in out.stderr
    state.write_bytes(b"not a board")
    with pytest.raises(ValueError, match="not a board state file"):
        fi.serve_tcp(model="ideal", state=state)


def test_the_guard_refuses_a_step_on_a_board_changed_in_between(tmp_path):
    """Someone else pulses the board between two steps: the digest moved, the next step is refused."""
    from neurophys.backends.crossbar.backend import CrossbarBackend

    with fi.serve_tcp(model="ideal", state=tmp_path / "fram.npz") as srv:
        backend = CrossbarBackend(board=srv.url)
        guard = IdentityGuard(backend)
        guard.before_step()
        guard.after_step()
        guard.before_step()  # nothing happened in between
        backend.close()  # the run pauses; another host uses the board meanwhile
        with fi.Board.open(srv.url) as other:
            other.pulse(np.ones((16, 16), int))
        backend = CrossbarBackend(board=srv.url)
        with pytest.raises(TargetChanged, match=r"state_crc \d+ -> \d+"):
            IdentityGuard(backend, recorded=guard.last).before_step()
        backend.close()


def test_the_harness_refuses_a_step_after_the_board_changed():
    """A run's backend is guarded: the board is reset behind the run's back between two steps."""
    from neurophys.backends.crossbar.backend import CrossbarBackend
    from neurophys.data import load_split
    from neurophys.hil.identity import GuardedBackend
    from neurophys.ir.io import load

    graph = load(Path(__file__).resolve().parents[1] / "examples" / "cl_iris.json")
    split = load_split(graph.dataset)
    x, y = split.x_train[:4], split.y_train[:4]
    rows, cols = CrossbarBackend.board_shape(graph)
    with fi.serve_pty(model="ideal", rows=rows, cols=cols) as srv:
        backend = CrossbarBackend(board=srv.path)
        backend.compile(graph)
        guarded = GuardedBackend(backend)
        guarded.step(x, y)
        guarded.step(x, y)  # nothing happened in between
        srv.emulator.reset()  # a watchdog reset between steps
        with pytest.raises(fi.BoardReset, match=r"HELLO .* board reset \(boot 1\)"):
            guarded.step(x, y)
        backend.close()


def test_resume_is_refused_on_a_board_changed_since_the_run_stopped(tmp_path):
    """A run on a TCP board stops; it resumes on the untouched board, and is refused (exit-2 error,
    the folder left as it was) once someone else pulsed the board in between."""
    import neurophys.hil as hil
    from neurophys.backends.crossbar.backend import CrossbarBackend
    from neurophys.ir.io import load

    graph = load(Path(__file__).resolve().parents[1] / "examples" / "cl_iris.json")
    rows, cols = CrossbarBackend.board_shape(graph)
    out = tmp_path / "run"
    with fi.serve_tcp(model="ideal", rows=rows, cols=cols) as srv:
        command = {"board": srv.url, "model": None}
        options = dict(eval_every=1, progress=False, plot=False, command=command)
        with CrossbarBackend(board=srv.url) as b:
            hil.run(graph, b, "train", 1, out, **options)
        recorded = json.loads((out / "identity.json").read_text())
        with CrossbarBackend(board=srv.url) as b:
            assert hil.run(graph, b, "train", 2, out, resume=True, **options)["status"] == "completed"
        with fi.Board.open(srv.url) as other:
            other.pulse(np.ones((rows, cols), int))
        log = (out / "log.jsonl").read_text()
        with CrossbarBackend(board=srv.url) as b, pytest.raises(TargetChanged, match=r"state_crc \d+ -> \d+"):
            hil.run(graph, b, "train", 3, out, resume=True, **options)
        assert (out / "log.jsonl").read_text() == log
    assert recorded["board_uid"] == json.loads((out / "identity.json").read_text())["board_uid"]
