"""Host driver against the in-process emu:// board: typed methods, physics, envelope, errors."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import serial

import neurophys.firmware_interface as fi
from neurophys.firmware_interface.codec import Writer
from neurophys.firmware_interface.emulator import BoardConfig, Emulator
from neurophys.firmware_interface.protocol import Msg

from conftest_firmware import edge_drops_squared, kirchhoff


@pytest.fixture
def board():
    with fi.Board.open("emu://?model=ideal&seed=3") as b:
        yield b


def true_g(board: fi.Board) -> np.ndarray:
    return board.serial.emulator.conductances


def dac_exact(board, volts):
    """Voltages the DAC represents exactly (integer codes), so the reference uses what is applied."""
    return np.rint(np.asarray(volts) / board.caps.v_lsb) * board.caps.v_lsb


def test_hello_declares_the_board(board):
    caps = board.caps
    assert (caps.rows, caps.cols, caps.protocol_version, caps.model_id) == (16, 16, fi.PROTOCOL_VERSION, "ideal")
    assert caps.v_lsb == pytest.approx(caps.v_max / (2 ** (caps.dac_bits - 1) - 1))
    assert board.session.boot_count == 0


def test_program_read_back_and_mvm_against_independent_product(board):
    rng = np.random.default_rng(0)
    target = rng.uniform(2e-6, 9e-5, (16, 16))
    result = board.program(target, tol=board.caps.g_lsb)
    assert result.unconverged == 0
    readback = board.read_conductances()
    np.testing.assert_allclose(readback, target, rtol=0, atol=board.caps.g_lsb)  # code rounding: ½ LSB each way
    G = true_g(board)
    v = dac_exact(board, rng.uniform(-1, 1, 16))
    np.testing.assert_allclose(board.mvm(v), G.T @ v, rtol=0, atol=board.caps.i_adc_lsb / 2 * 1.0001)
    u = dac_exact(board, rng.uniform(-1, 1, (3, 16)))
    np.testing.assert_allclose(board.mvm_t(u), u @ G.T, rtol=0, atol=board.caps.i_adc_lsb / 2 * 1.0001)


def test_window_read_and_pulse_steps_exactly_on_ideal(board):
    board.program(np.full((16, 16), 5e-5), tol=board.caps.g_lsb)
    before = true_g(board)
    counts = np.zeros((4, 5), int)
    counts[0, 0], counts[3, 4], counts[2, 1] = 7, -3, 100
    assert board.pulse(counts, origin=(2, 3)) == 110
    expected = before.copy()
    expected[2:6, 3:8] += counts * board.caps.dw_min
    np.testing.assert_allclose(true_g(board), expected, rtol=1e-12, atol=0)
    window = board.read_conductances(origin=(2, 3), shape=(4, 5))
    np.testing.assert_allclose(window, expected[2:6, 3:8], atol=board.caps.g_lsb / 2 * 1.0001)
    c = board.counters()
    assert c.pulses_up[2, 3] == 7 and c.pulses_down[5, 7] == 3 and c.pulses_up.sum() == 107


def test_measure_solves_kirchhoff(board):
    board.program(np.random.default_rng(1).uniform(1e-6, 1e-4, (16, 16)), tol=board.caps.g_lsb)
    drive = {0: 0.8, 3: -0.25, board.col(2): 0.5}
    drive = {k: float(dac_exact(board, v)) for k, v in drive.items()}
    sense = [board.col(0), board.row(7)]
    board.configure_lines(drive, sense)
    m = board.measure()
    V = kirchhoff(true_g(board), {**drive, **{s: 0.0 for s in sense}})
    np.testing.assert_allclose(m.voltages, V, rtol=0, atol=board.caps.v_adc_lsb)
    G = true_g(board)
    col0_current = G[:, 0] @ V[:16]  # into the virtual-ground column: Σ_r G_r0 (V_r − 0)
    assert m.col_i[0] == pytest.approx(col0_current, abs=board.caps.i_adc_lsb)
    assert np.all(m.currents[[i for i in range(32) if i not in drive and i not in sense]] == 0)


def _cl_setup(board, rng):
    board.program(rng.uniform(2e-5, 8e-5, (16, 16)), tol=board.caps.g_lsb)
    inputs = {board.row(0): float(dac_exact(board, 0.9)), board.row(1): float(dac_exact(board, -0.4))}
    ground = board.col(0)
    board.configure_lines({**inputs, ground: 0.0})
    return {**inputs, ground: 0.0}


def test_local_learn_cl_equals_the_coupled_learning_rule_on_ideal(board):
    fixed = _cl_setup(board, np.random.default_rng(2))
    outs = [board.col(5), board.row(9)]
    targets = dac_exact(board, [0.3, -0.1])
    eta, alpha = 0.5, 2e-6
    G0 = true_g(board)
    VF = kirchhoff(G0, fixed)
    clamp = VF[outs] + eta * (targets - VF[outs])
    VC = kirchhoff(G0, {**fixed, **dict(zip(outs, clamp))})
    expected = alpha / eta * (edge_drops_squared(VF, 16) - edge_drops_squared(VC, 16))
    result = board.local_learn("cl", outs, targets, eta=eta, alpha=alpha)
    delta = true_g(board) - G0
    assert np.abs(expected).max() > 1e-9  # the update is not trivially zero
    np.testing.assert_allclose(delta, expected, rtol=1e-9, atol=1e-18)
    floating = result.floating_lines
    np.testing.assert_allclose(result.free_v[0], VF[floating], atol=board.caps.v_adc_lsb)
    assert result.pulses == 0  # analog update on the ideal model


def test_local_learn_ep_equals_the_circuit_ep_rule_on_ideal(board):
    fixed = _cl_setup(board, np.random.default_rng(3))
    outs = [board.col(3)]
    targets = dac_exact(board, [0.25])
    beta, alpha = 1e-5, 1e-8
    G0 = true_g(board)
    V0 = kirchhoff(G0, fixed)
    Vb = kirchhoff(G0, fixed, nudge={outs[0]: targets[0]}, beta=beta)
    expected = -alpha / (2 * beta) * (edge_drops_squared(Vb, 16) - edge_drops_squared(V0, 16))
    result = board.local_learn("ep", outs, targets, beta=beta, alpha=alpha)
    np.testing.assert_allclose(true_g(board) - G0, expected, rtol=1e-9, atol=1e-18)
    i = list(result.floating_lines).index(outs[0])
    assert result.second_v[0, i] == pytest.approx(Vb[outs[0]], abs=board.caps.v_adc_lsb)


def test_local_learn_batch_sums_per_sample_updates(board):
    fixed = _cl_setup(board, np.random.default_rng(4))
    driven = sorted(k for k, v in fixed.items() if k < 16)
    inputs = dac_exact(board, [[0.5, 0.1, 0.0], [-0.7, 0.3, 0.0]])  # rows 0, 1 and the grounded column
    targets = dac_exact(board, [[0.2], [-0.3]])
    out, eta, alpha = board.col(4), 0.25, 1e-6
    G0 = true_g(board)
    expected = np.zeros_like(G0)
    for x, t in zip(inputs, targets):
        fx = {driven[0]: x[0], driven[1]: x[1], board.col(0): x[2]}
        VF = kirchhoff(G0, fx)
        VC = kirchhoff(G0, {**fx, out: VF[out] + eta * (t[0] - VF[out])})
        expected += alpha / eta * (edge_drops_squared(VF, 16) - edge_drops_squared(VC, 16))
    board.local_learn("cl", [out], targets, eta=eta, alpha=alpha, inputs=inputs)
    np.testing.assert_allclose(true_g(board) - G0, expected, rtol=1e-9, atol=1e-18)


def test_update_outer_is_unbiased_on_ideal(board):
    board.program(np.full((16, 16), 5e-5), tol=board.caps.g_lsb)
    rng = np.random.default_rng(5)
    x, d = rng.uniform(-1, 1, 16), rng.uniform(-1, 1, 16)
    bl = 64
    lr = 0.5 * board.caps.dw_min * bl
    n = 300
    g_start = true_g(board)
    samples = np.empty((n, 16, 16))
    for s in range(n):
        samples[s] = board.update_outer(x, d, lr, bl, report_pulses=True).pulse_map * board.caps.dw_min
        if s == 4:  # still far from the bounds: constant steps, so Δg is exactly pulses × dw_min
            np.testing.assert_allclose(true_g(board) - g_start, samples[:5].sum(axis=0), rtol=1e-9, atol=1e-15)
    xq, dq = np.rint(x * 32767) / 32767, np.rint(d * 32767) / 32767
    expected = -lr * np.outer(xq, dq)
    sigma = samples.std(axis=0, ddof=1)
    assert np.all(np.abs(samples.mean(axis=0) - expected) <= 5 * sigma / np.sqrt(n) + 1e-15)


def test_reram_nonidealities_are_visible():
    with fi.Board.open("emu://?model=reram&seed=4") as b:
        cb = b.serial.emulator.firmware.crossbar
        assert cb.stuck.any() and np.std(cb.dw_up) > 0 and np.std(cb.g_hi) > 0
        b.program(np.full((16, 16), 2e-5), tol=2 * b.caps.dw_min)
        g0 = b.serial.emulator.conductances
        b.pulse(np.full((16, 16), 100))
        gained = b.serial.emulator.conductances - g0
        free = ~cb.stuck
        # soft bounds, one pulse at a time: 100 pulses give less than 100 of the largest step (at g_lo: 2·dw)
        assert np.all(gained[free] < 100 * 2 * cb.dw_up[free])
        assert np.all(gained[cb.stuck] == 0)
        r1, r2 = b.read_conductances(), b.read_conductances()
        assert np.any(r1 != r2)  # read noise


def test_envelope_errors_are_raised_before_sending(board):
    written = []
    real_write = board.serial.write
    board.serial.write = lambda data: written.append(bytes(data)) or real_write(data)  # a tap on the port
    nv = board.serial.emulator.firmware.nv
    board_saw = (nv.commands, nv.crc_errors)
    sent = board.stats.bytes_sent
    with pytest.raises(fi.EnvelopeError, match=r"line\[0\] = 1.5 V .*±1.0 V"):
        board.configure_lines({0: 1.5})
    with pytest.raises(fi.EnvelopeError, match="exceeds the board's limit of 100"):
        board.pulse(np.full((16, 16), 101))
    with pytest.raises(fi.EnvelopeError, match="pulse amplitude"):
        board.pulse(np.ones((2, 2), int), amplitude=3.0)
    with pytest.raises(fi.EnvelopeError, match="pulse width"):
        board.pulse(np.ones((2, 2), int), width_ns=1)
    with pytest.raises(fi.EnvelopeError, match="outside the 16x16 array"):
        board.pulse(np.ones((17, 16), int))
    with pytest.raises(fi.EnvelopeError, match="programmable range"):
        board.program(np.full((16, 16), 5e-4))
    with pytest.raises(fi.EnvelopeError, match="lr"):
        board.update_outer(np.zeros(16), np.zeros(16), lr=1.0, bl=10)
    with pytest.raises(fi.EnvelopeError, match="shape"):
        board.mvm(np.zeros(15))
    with pytest.raises(fi.EnvelopeError, match="line 40 does not exist"):
        board.configure_lines(sense=[40])
    with pytest.raises(fi.EnvelopeError, match=r"MVM input\[3\] = -1.2 V"):
        board.mvm(np.array([0, 0, 0, -1.2] + [0] * 12))
    with pytest.raises(fi.EnvelopeError, match=r"MVM_T input\[0\] = nan V"):
        board.mvm_t(np.full(16, np.nan))
    with pytest.raises(fi.EnvelopeError, match="local_learn target"):
        board.local_learn("cl", [20], [2.0], eta=0.5, alpha=1e-6)
    with pytest.raises(fi.EnvelopeError, match="x must lie in"):
        board.update_outer(np.full(16, 1.5), np.zeros(16), lr=1e-7, bl=10)
    with pytest.raises(fi.EnvelopeError, match="read_conductances: window rows 8..23"):
        board.read_conductances(origin=(8, 0), shape=(16, 16))
    with pytest.raises(fi.EnvelopeError, match="program: window"):
        board.program(np.full((16, 17), 5e-5))
    with pytest.raises(fi.EnvelopeError, match="counts must be integers"):
        board.pulse(np.full((2, 2), 0.5))
    with pytest.raises(fi.EnvelopeError, match="ping: 8189 bytes"):
        board.ping(bytes(board.caps.max_payload - 3))
    assert written == [] and board.stats.bytes_sent == sent  # nothing left the host
    assert (nv.commands, nv.crc_errors) == board_saw  # and nothing reached the board


def test_board_enforces_its_own_envelope(board):
    payload = (Writer().array([0, 0, 1, 1], "u2").put("u16", 9000).put("u32", 1000).array([1], "i1").bytes())
    with pytest.raises(fi.BoardError, match="ENVELOPE: PULSE: pulse amplitude 9000 mV") as err:
        board._transact(Msg.PULSE, payload)
    assert err.value.status == fi.Status.ENVELOPE
    assert board.counters().pulses_up.sum() == 0  # nothing half-applied


def test_board_refuses_too_large_ping_and_too_small_host_frames(board):
    with pytest.raises(fi.BoardError, match="board answered TOO_LARGE: PING: 8189 bytes") as err:
        board._transact(Msg.PING, bytes(board.caps.max_payload - 3))
    assert err.value.status == fi.Status.TOO_LARGE
    # a 16x16 board's largest reply (LOCAL_LEARN with its pulse map) needs >= 71 bytes per fragment
    with pytest.raises(fi.BoardError, match="BAD_ARGUMENT: HELLO: host max payload 70 is too small"):
        board._transact(Msg.HELLO, Writer().put("u16", 70).bytes())
    assert board.hello().rows == 16


def test_board_error_status_is_named(board):
    with pytest.raises(fi.BoardError, match="MEASURE: board answered NOT_CONFIGURED: .*all lines float"):
        board.measure()


def test_missing_port_is_named():
    with pytest.raises(fi.PortError, match="/dev/ttyNO_SUCH_BOARD"):
        fi.Board.open("/dev/ttyNO_SUCH_BOARD")
    with pytest.raises(fi.PortError, match="bogus"):
        fi.Board.open("emu://?bogus=1")


def test_protocol_mismatch():
    port = serial.serial_for_url("emu://")
    port.emulator = Emulator(BoardConfig(protocol_version=2))
    with pytest.raises(fi.ProtocolMismatch, match="protocol version 2"):
        fi.Board(port)
    assert not port.is_open


def test_thread_safe_sharing(board):
    errors = []

    def worker(seed):
        rng = np.random.default_rng(seed)
        try:
            for _ in range(100):
                board.mvm(dac_exact(board, rng.uniform(-1, 1, 16)))
                board.ping(bytes(rng.integers(0, 256, 20, dtype=np.uint8)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert board.stats.retries == 0 and board.stats.stale_frames == 0


def test_time_split_is_tracked():
    with fi.Board.open("emu://?model=ideal&baud=115200") as b:
        link0, dev0 = b.stats.link_time_s, b.stats.device_time_s
        b.pulse(np.full((16, 16), 50), width_ns=10_000)
        # 16 rows × 50 pulses × (10 µs + 0.2 µs gap) of device time
        assert b.stats.device_time_s - dev0 == pytest.approx(16 * 50 * 10.2e-6 + 5e-6, rel=1e-3)
        assert b.stats.link_time_s - link0 >= 2 * 1e-3 + 280 * 10 / 115200
