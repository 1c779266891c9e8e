"""A lab's HIL test for the crossbar backend: `pytest --np-board URL -m hil` runs it against that
board, plain `pytest -m hil` against the embedded emulator (the plugin's `hil_board` fixture).
It needs the default 16×16 board: a 15-input CL network with ground and 16 outputs fills it
exactly, so every device is an edge."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurophys.backends.crossbar import CrossbarBackend
from neurophys import metrics
from neurophys.families import family
from neurophys.ir.builders import resistor_network

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.hil
def test_board_learns_the_reference_cl_update(hil_board):
    g = resistor_network(15, 16, 0, family="coupled_learning", eta=1e-3, lr=0.05, seed=3)
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 15)), rng.uniform(0.2, 0.6, (8, 16))
    with CrossbarBackend(board=hil_board) as b:
        b.compile(g)
        assert b.info()["layout"]["parasitic_cells"] == 0
        theta = b.get_params()
        u = b.step(x, y)
        twin = g.copy()
        twin.set_params(theta)
        ref = family(twin).local_update(twin, x, y)
    assert metrics.compare(u, ref)["global"]["cosine"] >= 0.999


def test_pytest_board_against_a_separately_started_tcp_board():
    """`neurophys board serve --tcp 0` in its own process, then `pytest --np-board socket://… -m hil`."""
    exe = Path(sys.executable).with_name("neurophys")
    server = subprocess.Popen([str(exe), "board", "serve", "--tcp", "0"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        url = server.stdout.readline().strip()
        assert url.startswith("socket://127.0.0.1:")
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--np-board", url, "-m", "hil",
                str(Path(__file__))]
        p = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert p.returncode == 0, p.stdout + p.stderr
        assert "1 passed" in p.stdout
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stdout.close()
