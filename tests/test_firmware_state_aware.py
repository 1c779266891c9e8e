"""LOCAL_LEARN's state-aware pulse counts (flag bit1): on soft-bounds devices the board's applied
update is unbiased, E[Δg applied] = Δg of the rule; with nominal counts it is off by the step
factor (2(1 − x) up, 2x down: short of the rule towards a bound, past it away from one). The rule's Δg comes from an independent Kirchhoff solve at the true conductances."""
from __future__ import annotations

import json

import numpy as np
import pytest

import neurophys.firmware_interface as fi
from neurophys.firmware_interface.emulator import DeviceConfig

from conftest_firmware import edge_drops_squared, kirchhoff

SOFT = DeviceConfig(name="soft", response="soft_bounds", dw_min=5e-7)  # no noise of any kind
ETA = 0.5


def _trial(url: str, state_aware: bool, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rule's Δg, applied Δg, step factor of each device's first pulse) for one LOCAL_LEARN."""
    with fi.Board.open(url) as board:
        span = SOFT.g_max - SOFT.g_min
        board.program(SOFT.g_min + span * rng.uniform(0.15, 0.85, (16, 16)), max_iters=20)
        fixed = {board.row(0): 0.9, board.row(1): -0.4, board.col(0): 0.0}
        fixed = {k: np.rint(v / board.caps.v_lsb) * board.caps.v_lsb for k, v in fixed.items()}
        board.configure_lines(fixed)
        out, target = board.col(5), np.rint(0.3 / board.caps.v_lsb) * board.caps.v_lsb
        G0 = board.serial.emulator.conductances.copy()
        VF = kirchhoff(G0, fixed)
        VC = kirchhoff(G0, {**fixed, out: VF[out] + ETA * (target - VF[out])})
        per_alpha = (edge_drops_squared(VF, 16) - edge_drops_squared(VC, 16)) / ETA
        x = (G0 - SOFT.g_min) / span
        factor = np.where(per_alpha > 0, 2 * (1 - x), 2 * x)  # soft bounds, dw_min at mid-range
        # the largest α at which no device needs more than one pulse: each gets 0 or 1, so E is exact
        alpha = 0.99 * np.min(SOFT.dw_min * np.minimum(factor, 1) / np.maximum(np.abs(per_alpha), 1e-300))
        board.local_learn("cl", [out], [target], eta=ETA, alpha=alpha, state_aware=state_aware)
        return alpha * per_alpha, board.serial.emulator.conductances - G0, factor


def _bias_z(tmp_path, state_aware: bool) -> tuple[float, float]:
    """z of Σ sign(Δg)·(applied − Δg) over devices and trials, and z of the same sum weighted by
    (step factor − 1): how far the applied update follows the devices' state instead of the rule."""
    model = tmp_path / "soft.json"
    model.write_text(json.dumps(SOFT.to_dict()))
    rng = np.random.default_rng(0)
    bias = var = tilt = tilt_var = 0.0
    for trial in range(100):
        rule, applied, factor = _trial(f"emu://?model={model}&seed=0&noise_seed={trial}", state_aware, rng)
        step = SOFT.dw_min * (factor if state_aware else np.ones_like(factor))  # the step counted on
        real = SOFT.dw_min * factor                                               # the step a pulse gives
        p = np.abs(rule) / step                                                   # pulse probability
        assert p.max() <= 1
        s = np.sign(rule)
        bias += float((s * (applied - rule)).sum())
        var += float((real ** 2 * p * (1 - p)).sum())
        tilt += float((s * (applied - rule) * (factor - 1)).sum())
        tilt_var += float(((factor - 1) ** 2 * real ** 2 * p * (1 - p)).sum())
    return bias / np.sqrt(var), tilt / np.sqrt(tilt_var)


def test_state_aware_counts_apply_the_rule_unbiased(tmp_path):
    z, tilt = _bias_z(tmp_path, state_aware=True)
    assert abs(z) <= 4 and abs(tilt) <= 4, (z, tilt)


def test_nominal_counts_follow_the_step_factor_on_soft_bounds(tmp_path):
    z, tilt = _bias_z(tmp_path, state_aware=False)
    assert tilt >= 6, (z, tilt)  # 9.5 measured; state-aware counts give |tilt| <= 4


def test_the_flag_changes_nothing_on_an_analog_board():
    results = []
    for state_aware in (False, True):
        with fi.Board.open("emu://?model=ideal&seed=3") as board:
            board.configure_lines({board.row(0): 0.5, board.col(0): 0.0})
            board.program(np.full((16, 16), 5e-5), tol=board.caps.g_lsb)
            board.local_learn("cl", [board.col(3)], [0.2], eta=0.5, alpha=1e-6, state_aware=state_aware)
            results.append(board.serial.emulator.conductances.copy())
    np.testing.assert_array_equal(*results)
    assert not np.allclose(results[0], 5e-5)  # the update did something


def _old_board(version=(1, 0)) -> fi.Board:
    """A board running firmware 1.0 (by default), which predates state-aware counts."""
    import serial

    from neurophys.firmware_interface.emulator import BoardConfig, Emulator

    port = serial.serial_for_url("emu://")
    port.emulator = Emulator(BoardConfig(firmware_version=version))
    return fi.Board(port)


def _learn_payload(flags: int) -> bytes:
    from neurophys.firmware_interface.codec import Writer

    return (Writer().put("u8", 0).put("u8", flags).put("f64", 0.5).put("f64", 1e-6).put("u16", 1).put("u16", 1)
            .put("u16", 0).array([16 + 3], "u2").array([100], "i2").bytes())


def test_a_board_refuses_flag_bits_its_firmware_does_not_define():
    from neurophys.firmware_interface.protocol import Msg

    with _old_board() as old, _old_board((1, 4)) as new:  # 1.5 defines every bit of the byte
        for board in (old, new):
            board.configure_lines({board.row(0): 0.5, board.col(0): 0.0})
        with pytest.raises(fi.BoardError, match=r"BAD_ARGUMENT: LOCAL_LEARN: flags 0x02: unknown bits for firmware 1\.0"):
            old._transact(Msg.LOCAL_LEARN, _learn_payload(0x02))
        with pytest.raises(fi.BoardError, match=r"BAD_ARGUMENT: LOCAL_LEARN: flags 0x80: unknown bits for firmware 1\.4"):
            new._transact(Msg.LOCAL_LEARN, _learn_payload(0x80))
        assert old.counters().pulses_up.sum() == new.counters().pulses_up.sum() == 0  # nothing applied
        new._transact(Msg.LOCAL_LEARN, _learn_payload(0x02))  # defined from 1.1 on


def test_the_host_asks_for_state_aware_counts_only_where_the_firmware_has_them():
    from neurophys.backends.crossbar import CrossbarBackend
    from neurophys.ir.errors import ValidationError

    with _old_board() as old:
        assert not old.caps.state_aware_learning
        with pytest.raises(fi.EnvelopeError, match=r"state-aware pulse counts need firmware >= 1\.1; the board has 1\.0"):
            old.local_learn("cl", [old.col(3)], [0.2], eta=0.5, alpha=1e-6, state_aware=True)
    with fi.serve_tcp(model="reram") as srv:
        with CrossbarBackend(board=srv.url) as b:
            assert b.options["state_aware"] is True  # firmware >= 1.1: on by default
        with CrossbarBackend(board=srv.url, state_aware=False) as b:
            assert b.options["state_aware"] is False
