"""Firmware 1.2: READ_DEVICES (a listed sample of devices read back) and LOCAL_LEARN's lean flags
(free state only; no voltages in the reply), over the driver and on a firmware 1.1 board."""
from __future__ import annotations

import numpy as np
import pytest

import neurophys.firmware_interface as fi
from neurophys.firmware_interface.protocol import Msg


def _old_board(version=(1, 1)) -> fi.Board:
    import serial

    from neurophys.firmware_interface.emulator import BoardConfig, Emulator

    port = serial.serial_for_url("emu://")
    port.emulator = Emulator(BoardConfig(firmware_version=version))
    return fi.Board(port)


def test_read_devices_returns_the_listed_conductances_in_the_order_asked():
    rng = np.random.default_rng(0)
    with fi.Board.open("emu://?model=ideal&rows=12&cols=20") as b:
        assert b.caps.device_reads
        b.program(rng.uniform(b.caps.g_min, b.caps.g_max, (12, 20)), max_iters=5)
        full = b.read_conductances()
        index = rng.permutation(240)[:37]
        before = b.stats.bytes_received
        got = b.read_devices(index)
        np.testing.assert_array_equal(got, full.reshape(-1)[index])
        assert b.stats.bytes_received - before < 2 * 240  # fewer bytes than reading the array
        with pytest.raises(fi.EnvelopeError, match=r"each must be in 0\.\.239"):
            b.read_devices([240])
        from neurophys.firmware_interface.codec import Writer
        with pytest.raises(fi.BoardError, match=r"BAD_ARGUMENT: READ_DEVICES: device index 999 >= R\*C = 240"):
            b._transact(Msg.READ_DEVICES, Writer().put("u32", 1).array([999], "u4").bytes())


def test_an_older_board_has_no_read_devices_and_no_lean_flags():
    with _old_board() as old:
        assert not old.caps.device_reads
        with pytest.raises(fi.EnvelopeError, match=r"READ_DEVICES needs firmware >= 1\.2; the board has 1\.1"):
            old.read_devices([0])
        from neurophys.firmware_interface.codec import Writer
        with pytest.raises(fi.BoardError, match="UNKNOWN_TYPE"):
            old._transact(Msg.READ_DEVICES, Writer().put("u32", 1).array([0], "u4").bytes())
        old.configure_lines({old.row(0): 0.5, old.col(0): 0.0})
        with pytest.raises(fi.EnvelopeError, match=r"free_only/states=False need firmware >= 1\.2"):
            old.local_learn("cl", [old.col(3)], [0.2], eta=0.5, alpha=0.0, free_only=True)


def test_free_only_measures_the_free_state_alone_and_no_states_sends_none():
    rng = np.random.default_rng(1)
    with fi.Board.open("emu://?model=ideal") as b:
        b.program(rng.uniform(b.caps.g_min, b.caps.g_max, (16, 16)), max_iters=5)
        b.configure_lines({b.row(0): 0.8, b.row(1): 0.3, b.row(2): 0.0})
        outs, targets = [b.col(2), b.col(7)], rng.uniform(0, 0.5, (4, 2))
        inputs = rng.uniform(0, 1, (4, 3))
        both = b.local_learn("cl", outs, targets, eta=0.5, alpha=0.0, inputs=inputs)
        t0 = b.stats.device_time_s
        free = b.local_learn("cl", outs, targets, eta=0.5, alpha=0.0, inputs=inputs, free_only=True)
        t_free = b.stats.device_time_s - t0
        np.testing.assert_array_equal(free.floating_lines, both.floating_lines)
        np.testing.assert_array_equal(free.free_v, both.free_v)
        assert free.second_v.shape == (4, 0)
        conv = (b.caps.t_settle_ns + b.caps.t_adc_ns) * 1e-9
        assert t_free == pytest.approx(b.caps.t_command_ns * 1e-9 + 4 * conv, abs=2e-6)  # one phase, not two
        with pytest.raises(fi.EnvelopeError, match="free_only learns nothing, alpha must be 0"):
            b.local_learn("cl", outs, targets, eta=0.5, alpha=1e-6, inputs=inputs, free_only=True)
        g0 = b.read_conductances()
        quiet = b.local_learn("cl", outs, targets, eta=0.5, alpha=1e-6, inputs=inputs, states=False)
        assert quiet.free_v.shape == (4, 0) and quiet.second_v.shape == (4, 0)
        assert not np.array_equal(b.read_conductances(), g0)  # it learned all the same
