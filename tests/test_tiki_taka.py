"""Tiki-Taka v2 on the crossbar (issue 16): the gradient goes into the fast array A (rows below the
weights), the weights' array C moves only by the transfer's pulse pairs where the digital buffer H
reached a C step, and A reads back (one-hot MVM) what its devices hold. Noise-free soft-bounds
devices, so every conductance change is a pulse's."""
from __future__ import annotations

import json

import numpy as np
import pytest

from neurophys import ir
from neurophys.backends.crossbar import CrossbarBackend
from neurophys.backends.crossbar.tiki_taka import TikiTakaConfig
from neurophys.cli import main
from neurophys.data import load_split
from neurophys.firmware_interface import serve_pty
from neurophys.firmware_interface.emulator import DeviceConfig
from neurophys.ir.errors import ValidationError

SOFT = DeviceConfig(name="soft", response="soft_bounds", dw_min=2.5e-7)


def test_the_fast_array_doubles_the_rows():
    g = ir.load("examples/least_action_iris.json")
    assert CrossbarBackend.board_shape(g) == (7, 18)
    assert CrossbarBackend.board_shape(g, update="tiki-taka") == (14, 18)


def test_gradient_into_a_weights_only_by_transfers(tmp_path):
    g = ir.load("examples/least_action_iris.json")
    split = load_split(g.dataset)
    model = tmp_path / "soft.json"
    model.write_text(json.dumps(SOFT.to_dict()))
    with serve_pty(model=str(model), rows=14, cols=18) as srv, \
            CrossbarBackend(board=srv.path, update="tiki-taka", transfer={"transfer_lr": 0.5}) as b:
        b.compile(g)
        tt, board = b.engine.tiki_taka, srv.emulator
        nr, nc = b.engine.layout.window
        np.testing.assert_allclose(tt.read_rows(np.arange(nr)), 0.0, atol=1e-12)  # A starts at its zero
        moved = False
        for i in range(4):
            g0, H0 = board.conductances, tt.H.copy()
            b.step(split.x_train[8 * i:8 * i + 8], split.y_train[8 * i:8 * i + 8])
            dG = board.conductances - g0
            a_now = tt.read_rows(np.arange(nr))
            # A moved, and reads back what its devices hold (relative to their start)
            assert np.abs(dG[nr:2 * nr]).max() > 0
            # C: a pulse pair exactly where H crossed a step, nothing elsewhere
            sent = np.round((H0 + 0.5 * a_now - tt.H) / (tt.config.threshold * tt.step)).astype(int)
            np.testing.assert_array_equal(np.sign(dG[:nr, 0::2]), np.sign(sent))
            np.testing.assert_array_equal(np.sign(dG[:nr, 1::2]), -np.sign(sent))
            assert np.all(np.abs(tt.H) < tt.config.threshold * tt.step + 1e-15) or np.abs(sent).max() == 5
            moved |= bool(np.any(sent))
        assert moved and tt.transfers > 0
        assert b.info()["tiki_taka"]["transfers"] == tt.transfers


def test_tiki_taka_refusals(tmp_path, capsys):
    with pytest.raises(ValidationError, match=r"^transfer\.transfer_lr"):
        TikiTakaConfig(transfer_lr=0)
    with pytest.raises(ValidationError, match=r"^transfer\.max_pulses"):
        TikiTakaConfig(max_pulses=0)
    out = tmp_path / "run"
    assert main(["hil", "examples/cl_iris.json", "--backend", "crossbar", "--update", "tiki-taka", "--steps", "1",
                 "--out", str(out)]) == 2
    assert "tiki-taka writes the gradient into a second array by UPDATE_OUTER" in capsys.readouterr().err
    assert main(["hil", "examples/least_action_iris.json", "--backend", "crossbar", "--update", "tiki-taka",
                 "--mode", "stat", "--steps", "2", "--out", str(out)]) == 2
    assert "error: --mode: stat tests that one step's mean update" in capsys.readouterr().err
    assert not out.exists()
