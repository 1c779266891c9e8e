"""The emulator's Kirchhoff solver (one factorisation per line configuration, a batch per solve)
and its vectorised pulses, against independent dense references: a full Laplacian solve per
sample (conftest_firmware.kirchhoff) and one pulse at a time, device by device."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from neurophys.firmware_interface.emulator import DeviceConfig, reram
from neurophys.firmware_interface.emulator.crossbar import Crossbar, response_factor
from neurophys.firmware_interface.emulator.network import Network, NoReference
from neurophys.firmware_interface.protocol import LineMode

from conftest_firmware import kirchhoff

R, C = 7, 9


def _config(rng, floating_rows, floating_cols):
    modes = np.full(R + C, LineMode.DRIVE, np.uint8)
    modes[rng.choice(R, floating_rows, replace=False)] = LineMode.FLOAT
    modes[R + rng.choice(C, floating_cols, replace=False)] = LineMode.FLOAT
    modes[np.flatnonzero(modes == LineMode.DRIVE)[:1]] = LineMode.SENSE
    return modes


@pytest.mark.parametrize("floating_rows, floating_cols", [(0, 9), (7, 0), (5, 3), (2, 8), (6, 8)])
@pytest.mark.parametrize("nudged", [False, True])
def test_batched_solve_is_the_dense_laplacian_solve_of_each_sample(floating_rows, floating_cols, nudged):
    rng = np.random.default_rng(floating_rows * 10 + floating_cols)
    G = rng.uniform(1e-6, 1e-4, (R, C))
    modes = _config(rng, floating_rows, floating_cols)
    floating = np.flatnonzero(modes == LineMode.FLOAT)
    nudge = floating[:2] if nudged else None
    volts = rng.uniform(-1, 1, (5, R + C))
    targets = rng.uniform(-1, 1, (5, 2))
    net = Network(G, modes, nudge, 3e-5)
    V = net.voltages(volts, targets if nudged else None)
    I = net.currents(V)
    for s in range(5):
        fixed = {int(i): (volts[s, i] if modes[i] == LineMode.DRIVE else 0.0) for i in np.flatnonzero(modes != LineMode.FLOAT)}
        ref = kirchhoff(G, fixed, dict(zip(nudge.tolist(), targets[s])) if nudged else None, 3e-5)
        np.testing.assert_allclose(V[s], ref, atol=1e-12)
        # current into each fixed line's circuit: Σ_devices g·(V_other − V_line); none leaves a floating line
        into = np.concatenate([G @ ref[R:] - G.sum(1) * ref[:R], ref[:R] @ G - G.sum(0) * ref[R:]])
        np.testing.assert_allclose(I[s][modes != LineMode.FLOAT], into[modes != LineMode.FLOAT], atol=1e-16)
        assert not I[s][floating].any()


def test_no_reference_is_refused():
    G = np.full((R, C), 1e-5)
    with pytest.raises(NoReference, match="all lines float"):
        Network(G, np.zeros(R + C, np.uint8))


def _one_at_a_time(cb: Crossbar, counts: np.ndarray) -> np.ndarray:
    g = cb.g.copy()
    for (i, j), c in np.ndenumerate(counts):
        if cb.stuck[i, j]:
            continue
        for _ in range(abs(int(c))):
            x = (g[i, j] - cb.g_lo[i, j]) / (cb.g_hi[i, j] - cb.g_lo[i, j])
            step = (cb.dw_up[i, j] if c > 0 else -cb.dw_down[i, j]) * response_factor(cb.config, np.array(x), np.array(c > 0))
            g[i, j] = min(max(g[i, j] + float(step), cb.g_lo[i, j]), cb.g_hi[i, j])
    return g


@pytest.mark.parametrize("config", [
    DeviceConfig(), DeviceConfig(dw_min=3e-5),  # constant step: closed form, and clipping at the bounds
    replace(reram, dw_min_std=0.0),  # soft bounds, device-to-device spread, stuck devices: closed form
    replace(reram, dw_min_std=0.0, response="piecewise", piecewise_up=(1, .5, .2), piecewise_down=(.2, .7, 1.)),
], ids=["constant", "constant-clipping", "soft-bounds", "piecewise-rounds"])
def test_vectorised_pulses_are_one_pulse_at_a_time(config):
    rng = np.random.default_rng(3)
    cb = Crossbar(8, 9, config, seed=1)
    cb.g[~cb.stuck] = rng.uniform(cb.g_lo, cb.g_hi)[~cb.stuck]
    for _ in range(3):
        counts = rng.integers(-100, 101, (8, 9))
        want = _one_at_a_time(cb, counts)
        cb.pulse(counts)
        np.testing.assert_allclose(cb.g, want, rtol=0, atol=1e-11 * config.dw_min)


def test_noisy_pulses_are_applied_per_round_with_the_cycle_to_cycle_spread():
    """n constant-step pulses with relative noise σ: mean n·dw and std σ·dw·√n per device."""
    config = DeviceConfig(dw_min=1e-7, dw_min_std=0.3)
    cb = Crossbar(64, 64, config, seed=0, noise_seed=5)
    cb.g[:] = 5e-5
    n = np.where(np.arange(64)[None, :] % 2, 30, -10) * np.ones((64, 1), int)
    cb.pulse(n)
    step = (cb.g - 5e-5) / (n * 1e-7)  # per device: the mean relative step size
    for k in (30, -10):
        s = step[n == k]
        sigma = 0.3 / np.sqrt(abs(k))
        assert abs(s.mean() - 1.0) <= 4 * sigma / np.sqrt(s.size)
        assert abs(s.std(ddof=1) / sigma - 1.0) < 0.1
