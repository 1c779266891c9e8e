"""The board path of the harness without a crossbar backend: a board backend with no --board gets
the embedded emulator on a real pty, and the pytest plugin hands HIL tests a working board URL."""
import dataclasses
import os
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from neurophys import hil
import neurophys.hil.backends  # noqa: F401
from neurophys.backends.reference import ReferenceBackend
from neurophys.firmware_interface import Board
from neurophys.ir import builders
from neurophys.ir.dataset import Dataset
from neurophys.ir.training import Training


class BoardProbe(ReferenceBackend):
    """The reference engine plus a HELLO to the board it is given: stands in for a board backend."""
    name = "crossbar"

    def __init__(self, board):
        super().__init__(board=board)
        self.board = Board.open(board)

    def info(self):
        return dataclasses.asdict(self.board.caps)

    def close(self):
        self.board.close()


def test_a_board_backend_without_board_runs_on_the_emulator(monkeypatch, tmp_path):
    monkeypatch.setattr(hil.backends, "get_backend", lambda name: BoardProbe)
    said = []
    g = builders.resistor_network(4, 3, 0, family="circuit_ep", beta=1e-4, dataset=Dataset("iris"),
                                  training=Training(batch_size=8))
    with hil.open_backend("crossbar", notify=said.append) as b:
        path = b.options["board"]
        assert os.path.realpath(path).startswith("/dev/pts/")
        s = hil.run(g, b, "train", 1, tmp_path, progress=False)
    assert len(said) == 1 and path in said[0] and "emulator" in said[0]
    assert s["board"]["rows"] == 16 and s["board"]["cols"] == 16 and s["board"]["model_id"]
    assert not b.board.serial.is_open


PLUGIN_TEST = '''
import pytest
from neurophys.firmware_interface import Board

@pytest.mark.hil
def test_board(np_board_url, hil_board):
    assert np_board_url == EXPECTED
    with Board.open(hil_board) as b:
        assert b.caps.rows == 16

def test_not_hil():
    raise AssertionError("deselected by -m hil")
'''


@pytest.mark.parametrize("given", [None, "emu://?model=ideal&seed=3"])
def test_pytest_plugin(tmp_path, given):
    (tmp_path / "test_lab.py").write_text(PLUGIN_TEST.replace("EXPECTED", repr(given)))
    assert any(ep.value == "neurophys.hil.pytest_plugin" for ep in entry_points(group="pytest11"))
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "hil", "test_lab.py"]
    p = subprocess.run(argv + (["--np-board", given] if given else []), cwd=tmp_path, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "1 passed, 1 deselected" in p.stdout
    assert "PytestUnknownMarkWarning" not in p.stdout
