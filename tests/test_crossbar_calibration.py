"""The calibration report after PROGRAM names the devices that could not be programmed: checked
against the emulator's own hidden state (which devices are stuck, where each device's range ends)."""
import numpy as np

from neurophys.backends.crossbar import CrossbarBackend
from neurophys import ir
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cl_iris.json"


def test_devices_far_off_are_the_stuck_and_out_of_range_ones():
    graph = ir.load(EXAMPLE)
    rows, cols = CrossbarBackend.board_shape(graph)
    hits = 0
    for seed in range(4):
        with CrossbarBackend(board=f"emu://?model=reram&rows={rows}&cols={cols}&timing=0&seed={seed}") as b:
            b.compile(graph)
            cal = b.info()["calibration"]
            xbar = b.link.board.serial.emulator.firmware.crossbar
            caps = b.link.caps
            target = np.full(b.engine.layout.window, caps.g_min)
            for name, (r, c) in b.engine.layout.cells.items():
                target[r, c] = np.clip(b.engine.scale.to_device(graph.params()[name]), caps.g_min, caps.g_max)
            window = tuple(slice(0, n) for n in target.shape)
            g_lo, g_hi, stuck = xbar.g_lo[window], xbar.g_hi[window], xbar.stuck[window]
            unreachable = stuck | (target > g_hi) | (target < g_lo)
            far = np.abs(np.clip(target, g_lo, g_hi) - target) >= 10 * caps.dw_min
            expected = int((stuck & (np.abs(xbar.g[window] - target) >= 10 * caps.dw_min)).sum() + (far & ~stuck).sum())
            assert cal["off_by_10_steps_or_more"] == expected
            assert cal["devices"] == target.size
            assert cal["within_one_step"] <= target.size - int(unreachable.sum())
            hits += expected
    assert hits > 0  # the seeds include boards with devices that cannot be programmed
