"""Update policies (issue 16): aihwkit's update management as formulas, mixed precision's
accumulator (host and firmware), state-aware UPDATE_OUTER unbiased on soft-bounds devices, and the
command line's choices and refusals."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import serial

import neurophys.firmware_interface as fi
from neurophys.backends.crossbar.update_policy import HostAccumulator, managed_trains
from neurophys.cli import main
from neurophys.firmware_interface.emulator import BoardConfig, DeviceConfig, Emulator, reram

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SOFT = DeviceConfig(name="soft", response="soft_bounds", dw_min=2.5e-7)  # no noise of any kind


def test_managed_trains_follow_aihwkit():
    rng = np.random.default_rng(0)
    x, d = rng.standard_normal(20), 0.01 * rng.standard_normal(30)
    dw, lr = 2.5e-7, 3e-5
    px, pd, lr_b, bl = managed_trains(x, d, lr, dw, 255)
    k = lr * np.abs(x).max() * np.abs(d).max() / dw
    assert bl == int(np.ceil(k)) and lr_b == dw * bl
    # both trains fire their largest entry equally often, and E[pulses]·dw_min = lr·x dᵀ (nothing clipped here)
    assert np.isclose(np.abs(px).max(), np.abs(pd).max()) and np.abs(px).max() <= 1
    np.testing.assert_allclose(np.outer(px, pd) * bl * dw, lr * np.outer(x, d), rtol=1e-12)
    # bit-length management caps BL; x is then not clipped but d is scaled down as aihwkit does
    px, pd, lr_b, bl = managed_trains(x, d, 1e3 * lr, dw, 31)
    assert bl == 31 and np.abs(pd).max() <= 1 and np.abs(px).max() <= 1
    assert managed_trains(np.zeros(3), d, lr, dw, 31) is None


def test_host_accumulator_pulses_whole_steps_and_cancels_back_and_forth():
    acc = HostAccumulator(np.full(4, 2.0), threshold=1.0)
    total = sum(acc.pulses(np.array([0.7, -0.7, 0.0, 5.1])) for _ in range(10))
    np.testing.assert_array_equal(total, [3, -3, 0, 25])  # whole steps of 7, −7, 0 and 51 accumulated
    np.testing.assert_allclose(acc.chi, [1.0, -1.0, 0.0, 1.0], atol=1e-9)  # the rest stays in χ
    acc = HostAccumulator(np.full(2, 1.0), threshold=2.0)
    sent = sum(np.abs(acc.pulses(np.array([0.9, -0.9]) * (-1) ** i)) for i in range(20))
    assert sent.sum() == 0  # alternating updates cancel in χ


def _learn_pulses(mixed):
    """Pulses of 12 LOCAL_LEARN commands whose targets alternate: the rule's Δg swings back and forth."""
    with fi.Board.open("emu://?model=reram&rows=8&cols=8&seed=2") as b:
        b.program(np.full((8, 8), 3e-5), max_iters=20)
        b.configure_lines({b.row(0): 0.8, b.row(1): 0.3, b.col(0): 0.0})
        total = 0
        for i in range(12):
            total += b.local_learn("cl", [b.col(5)], [0.2 if i % 2 else 0.5], eta=0.5, alpha=4e-6, mixed=mixed).pulses
        return total


def test_mixed_local_learn_sends_far_fewer_pulses_for_back_and_forth_updates():
    direct, mixed = _learn_pulses(None), _learn_pulses(2.0)
    assert direct > 50 and mixed < 0.3 * direct, (direct, mixed)


@pytest.mark.parametrize("threshold", [6.0, 3.0])
def test_mixed_threshold_codes_of_firmware_1_5_reach_the_board(tmp_path, threshold):
    """Codes 4–7 (bit7) carry 3, 5, 6, 7 steps: after every command each device's accumulator holds
    less than the threshold in steps of its pre-command conductance, and fired devices hold at least
    threshold − 1 of them (⌊q − θ⌋ + 1 pulses leave q − n ∈ [θ − 1, θ)). Noise-free soft-bounds
    devices: the firmware's read of the array is the conductance itself."""
    model = tmp_path / "soft.json"
    model.write_text(json.dumps(SOFT.to_dict()))
    with fi.Board.open(f"emu://?model={model}&rows=8&cols=8") as b:
        fw = b.serial.emulator.firmware
        b.configure_lines({b.row(0): 0.8, b.row(1): 0.3, b.col(0): 0.0})
        fired = 0
        for i in range(12):
            g = b.serial.emulator.conductances
            res = b.local_learn("cl", [b.col(5)], [0.2 if i % 3 else 0.6], eta=0.5, alpha=3e-5, mixed=threshold,
                                report_pulses=True)
            n = np.abs(res.pulse_map)
            up = (fw.chi > 0) | ((fw.chi == 0) & (res.pulse_map > 0))
            q = np.abs(fw.chi) / fw.steps.step(g, up)
            free = n < b.caps.max_pulse_count  # a device at the cap keeps the rest of its χ
            assert q[free].max() < threshold + 1e-9, (i, q[free].max())
            assert np.all(q[(n > 0) & free] >= threshold - 1 - 1e-9), (i, q[(n > 0) & free].min())
            fired += int(n.sum())
        assert fired > 0


def test_firmware_1_4_refuses_the_finer_thresholds():
    port = serial.serial_for_url("emu://")
    port.emulator = Emulator(BoardConfig(rows=8, cols=8, device=reram, firmware_version=(1, 4)))
    with fi.Board(port) as b:
        b.configure_lines({b.row(0): 0.8, b.col(0): 0.0})
        with pytest.raises(fi.EnvelopeError, match=r"a mixed threshold of 6 steps needs firmware >= 1\.5; the board has 1\.4"):
            b.local_learn("cl", [b.col(5)], [0.2], eta=0.5, alpha=1e-6, mixed=6.0)
        b.local_learn("cl", [b.col(5)], [0.2], eta=0.5, alpha=1e-6, mixed=8.0)  # 1.3's codes still work


def _outer_stats(tmp_path, state_aware: bool, trials: int = 60) -> tuple[float, float]:
    """z of the mean per-trial Σ sign(e)(ΔG − e) and of the same weighted by (step factor − 1), with
    e = −lr·x dᵀ the requested update and the spread estimated from the trials."""
    model = tmp_path / "soft.json"
    model.write_text(json.dumps(SOFT.to_dict()))
    rng = np.random.default_rng(1)
    with fi.Board.open(f"emu://?model={model}&seed=0") as b:
        span = SOFT.g_max - SOFT.g_min
        b.program(SOFT.g_min + span * rng.uniform(0.15, 0.85, (16, 16)), max_iters=30)
        x, d = rng.uniform(-1, 1, 16), rng.uniform(-1, 1, 16)
        lr = 0.5 * SOFT.dw_min
        e = -lr * np.outer(np.rint(x * 32767) / 32767, np.rint(d * 32767) / 32767)
        s = np.sign(e)
        bias, tilt = [], []
        for _ in range(trials):
            g0 = b.serial.emulator.conductances
            xr = (g0 - SOFT.g_min) / span
            factor = np.where(e > 0, 2 * (1 - xr), 2 * xr)
            b.update_outer(x, d, lr, bl=31, state_aware=state_aware)
            dG = b.serial.emulator.conductances - g0
            bias.append(float((s * (dG - e)).sum()))
            tilt.append(float((s * (dG - e) * (factor - 1)).sum()))
    z = lambda v: float(np.mean(v) / (np.std(v, ddof=1) / np.sqrt(len(v))))
    return z(bias), z(tilt)


def test_state_aware_update_outer_is_unbiased_on_soft_bounds(tmp_path):
    z, tilt = _outer_stats(tmp_path, True)
    assert abs(z) <= 4 and abs(tilt) <= 4, (z, tilt)


def test_nominal_update_outer_follows_the_step_factor(tmp_path):
    z, tilt = _outer_stats(tmp_path, False)
    assert tilt >= 6, (z, tilt)


def test_state_aware_update_outer_counts_the_shrinking_steps_near_a_bound(tmp_path):
    """A calibrated soft-bounds device asked to move half way to the bound it moves towards: each
    pulse's step is smaller than the last, so dw_min·c/step(g) pulses fell ~20 % short (the first
    step counted for all); the count that inverts n pulses' geometric approach reaches the target.
    All trains fire (x = d = 1): c = BL coincidences on every device, nothing random but rounding."""
    with fi.Board.open("emu://?model=reram&seed=5&noise_seed=2") as b:
        cal = b.calibrate()
        cb = b.serial.emulator.firmware.crossbar
        bl = 40
        want = bl * b.caps.dw_min  # S on every device, half its distance to its upper bound
        start = cal.g_hi - 2 * want
        b.program(np.clip(start, b.caps.g_min, b.caps.g_max), max_iters=30)
        g0 = b.serial.emulator.conductances
        ok = ~cal.stuck & (start < b.caps.g_max) & (want < 0.6 * (cal.g_hi - g0)) & (want > 0.3 * (cal.g_hi - g0))
        b.update_outer(-np.ones(b.caps.rows), np.ones(b.caps.cols), want, bl=bl, state_aware=True)
        got = (b.serial.emulator.conductances - g0)[ok]
        assert ok.sum() >= 20
        ratio = got.sum() / (want * ok.sum())  # devices' c2c noise and rounding average out
        assert abs(ratio - 1) < 0.05, ratio


def _fails(argv, capsys) -> str:
    assert main(argv) == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--backend", "crossbar", "--update", "tiki-taka"], "update: tiki-taka writes the gradient into a second array"),
    (["--backend", "crossbar", "--update", "sgd"], "update: 'sgd' is not an update policy"),
    (["--backend", "crossbar", "--update", "managed"], "update: managed (aihwkit's update management) shapes"),
    (["--update", "mixed"], "--update: backend 'reference' has no update policies"),
    (["--backend", "crossbar", "--threshold", "6"], "--threshold: is mixed precision's pulse threshold"),
    (["--backend", "crossbar", "--update", "mixed", "--threshold", "9"], "--threshold: 9 is not one of 1, 2, 3, 4, 5, 6"),
    (["--backend", "crossbar", "--board-seed", "3", "--board", "socket://127.0.0.1:9"],
     "--board-seed: the seed draws the embedded emulator's devices"),
])
def test_bad_update_options_are_named(tmp_path, capsys, argv, message):
    err = _fails(["hil", str(EXAMPLES / "cl_iris.json"), "--steps", "1", "--out", str(tmp_path / "run"), *argv], capsys)
    assert err.splitlines()[-1].startswith(f"error: {message}")
    assert not (tmp_path / "run").exists()


def test_mixed_run_reports_calibration_pulses_and_windowed_cosine(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["hil", str(EXAMPLES / "cl_iris.json"), "--backend", "crossbar", "--model", "reram", "--update", "mixed",
                 "--board-seed", "3", "--steps", "12", "--eval-every", "12", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    board = summary["board"]
    assert board["update"] == "mixed" and board["device_calibration"]["stuck"] == 2  # seed 3 draws 2 stuck devices
    assert board["pulses_per_device_per_step"]["steps"] == 12
    windows = summary["windowed_cosine"]
    assert windows["K=1"]["windows"] == 12 and windows["K=10"]["windows"] == 1 and windows["K=50"] is None
    cal = json.loads((out / "calibration.json").read_text())
    assert np.array(cal["g_sym_S"]).shape == (17, 3)


def test_stat_passes_on_reram_for_update_outer(tmp_path, capsys):
    """Issue 16 item 3: the least-action graph's UPDATE_OUTER on reram is unbiased — every tested
    parameter's mean update within 4σ/√n of the twin's. Before: nominal steps in the state-aware
    counts (pass fraction 0.47), then a calibration that saw a fifth of each device's range and
    read long runs' steps low, and counts that took the first pulse's step for all (0.93-0.96)."""
    argv = ["hil", str(EXAMPLES / "least_action_iris.json"), "--backend", "crossbar", "--model", "reram",
            "--mode", "stat", "--steps", "60", "--out", str(tmp_path / "run"), "--json"]
    main(argv)
    st = json.loads(capsys.readouterr().out)["stat"]
    assert st["passed"] and st["tested"] >= 40, {k: st[k] for k in ("pass_fraction", "z_max", "tested")}
