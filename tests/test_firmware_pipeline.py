"""Pipelining keeps exactly-once: many commands outstanding under 1e-2 byte faults, delayed and
duplicated replies and a board reset in flight; the board's per-device pulse counters equal the
host's own record, so nothing ran twice and nothing was lost."""
from __future__ import annotations

import numpy as np
import pytest

import neurophys.firmware_interface as fi

FAULTS = "drop=4e-3,flip=3e-3,insert=3e-3,delay=0.01,duplicate=0.01"  # 1e-2 per byte in all


def _pulse_op(rng):
    origin = (int(rng.integers(0, 13)), int(rng.integers(0, 13)))
    return origin, rng.integers(-3, 4, (4, 4))


def test_exactly_once_pipelined_with_1e_2_byte_faults_and_a_reset():
    up, down = np.zeros((16, 16), np.int64), np.zeros((16, 16), np.int64)
    resets = []
    rng = np.random.default_rng(5)
    with fi.Board.open(f"emu://?model=reram&seed=4&faults={FAULTS},reset_at=431", retries=60) as board:
        emu = board.serial.emulator
        assert board.session.max_window == 8
        for _ in range(20):
            ops = [_pulse_op(rng) for _ in range(40)]
            try:
                with board.pipeline():
                    pending = [board.pulse(counts, origin) for origin, counts in ops]
                    reads = board.read_conductances((0, 0), (2, 2))
            except fi.BoardReset:
                pass
            for (origin, counts), p in zip(ops, pending):
                try:
                    ran = p.result() is not None
                except fi.BoardReset as exc:
                    resets.append(exc)
                    ran = exc.executed
                if ran:
                    window = (slice(origin[0], origin[0] + 4), slice(origin[1], origin[1] + 4))
                    up[window] += np.maximum(counts, 0)
                    down[window] += np.maximum(-counts, 0)
            assert reads.done
        injected = emu.faults.injected
        assert min(injected[k] for k in ("drop", "flip", "insert", "delay", "duplicate")) > 0
        assert board.stats.retries > 100 and len(resets) >= 1 and any(r.executed for r in resets)
        emu.faults = type(emu.faults)(type(emu.faults.config)())  # read the counters over a clean link
        c = board.counters()
        assert c.boot_count == 1 and c.cache_hits > 50
        np.testing.assert_array_equal(c.pulses_up, up)
        np.testing.assert_array_equal(c.pulses_down, down)


def test_a_pipeline_returns_what_stop_and_wait_returns():
    target = np.random.default_rng(1).uniform(2e-5, 8e-5, (16, 16))
    with fi.Board.open("emu://?model=ideal&timing=virtual") as board:
        with board.pipeline(4) as pipe:
            programmed = board.program(target, tol=board.caps.g_lsb)
            reads = [board.read_conductances() for _ in range(10)]
            assert pipe.window == 4 and len(pipe.flights) <= 4
        assert programmed.result().unconverged == 0
        for r in reads:
            np.testing.assert_allclose(r.result(), target, atol=board.caps.g_lsb)
        with pytest.raises(fi.EnvelopeError, match="outside the 16x16 array"):  # checks run at once
            with board.pipeline():
                board.read_conductances((10, 10), (8, 8))
        np.testing.assert_allclose(board.read_conductances(), target, atol=board.caps.g_lsb)  # board still fine
