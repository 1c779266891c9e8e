"""The board's firmware: frames in, replies out, commands executed exactly once.

It owns the volatile MCU state (session, line configuration, partial frames) and the
non-volatile record (counters, last executed command, last reply) that survives a reset. Byte timing
and faults live in :mod:`.link`; physics in :mod:`.crossbar` and :mod:`.network`.
"""
from __future__ import annotations

import os
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from neurophys.blas import small_matrices

from ..capabilities import Capabilities, SessionInfo, encode_hello
from ..codec import Reader, Writer
from ..errors import MalformedFrame
from ..framing import BadFrame, Frame, FrameDecoder, Reassembler, fragment
from ..protocol import (BOUND_MARGIN, CALIBRATION_BYTES, FREE_ONLY, MAX_FRAGMENTS, MAX_TOKEN, MIN_FRAME, MIN_STEP_FACTOR, MIXED,
                        MIXED_BOUND_MARGIN, MIXED_THRESHOLD_SHIFT, MIXED_THRESHOLDS, NO_STATES, RECORDED, REPLY_BIT, REPORT_PULSES,
                        SESSIONLESS, STATE_AWARE, UNIT_CODE, Flag, LearnMode, LineMode, Msg, Status, largest_reply)
from .board_config import BoardConfig
from .crossbar import Crossbar, response_factor
from .network import Network, NoReference, solve
from .step_model import StepModel


def drop_squares_difference(V0: np.ndarray, V1: np.ndarray, R: int) -> np.ndarray:
    """Σ over samples of (ΔV0)² − (ΔV1)² per device, ΔV = V_row − V_col; (k, R + C) line voltages in.

    Written as Σ (ΔV0 − ΔV1)(ΔV0 + ΔV1), which splits into per-line sums and two (R, k)·(k, C)
    matrix products: no (k, R, C) temporary, and no cancellation between the two squares (whose
    difference is O(η) of either in coupled learning)."""
    p, q = V0[:, :R] - V1[:, :R], V0[:, R:] - V1[:, R:]
    r, t = V0[:, :R] + V1[:, :R], V0[:, R:] + V1[:, R:]
    return (p * r).sum(axis=0)[:, None] + (q * t).sum(axis=0)[None, :] - p.T @ t - r.T @ q


class CommandError(Exception):
    def __init__(self, status: Status, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


@dataclass
class NonVolatile:
    """FRAM contents: survive any reset, including the boot counter itself."""

    rows: int
    cols: int
    commands: int = 0
    crc_errors: int = 0
    cache_hits: int = 0
    boot_count: int = 0
    rx_overflows: int = 0
    nacks: int = 0
    last_valid: int = 0
    last_seq: int = 0
    last_crc: int = 0
    board_uid: int = field(default_factory=lambda: int.from_bytes(os.urandom(8), "little"))  # made once
    session_id: int = 0  # the last HELLO's session; part of the reply-cache key
    #: the last replies, oldest first: (session, seq, request CRC) → (status, body, exec_s)
    reply_cache: OrderedDict = field(default_factory=OrderedDict)
    pulses_up: np.ndarray = field(init=False)
    pulses_down: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.pulses_up = np.zeros((self.rows, self.cols), np.int64)
        self.pulses_down = np.zeros((self.rows, self.cols), np.int64)

    def cache(self, key: tuple, entry: tuple, depth: int) -> None:
        self.reply_cache[key] = entry
        self.reply_cache.move_to_end(key)
        while len(self.reply_cache) > depth:
            self.reply_cache.popitem(last=False)

    def count_pulses(self, counts: np.ndarray) -> None:
        self.pulses_up += np.maximum(counts, 0)
        self.pulses_down += np.maximum(-counts, 0)


class Firmware:
    def __init__(self, config: BoardConfig, baud: int = 0, latency_s: float = 0.0):
        self.config = c = config
        self.R, self.C = c.rows, c.cols
        d, p = c.device, c.device.periphery
        self.crossbar = Crossbar(c.rows, c.cols, d, c.seed, c.noise_seed)
        self.nv = NonVolatile(c.rows, c.cols)
        adc_max = 2 ** (p.adc_bits - 1) - 1
        self.caps = Capabilities(
            protocol_version=c.protocol_version, firmware_major=c.firmware_version[0],
            firmware_minor=c.firmware_version[1], board_id=c.board_id, model_id=d.name[:16],
            model_hash=d.model_hash, rows=c.rows, cols=c.cols, dac_bits=p.dac_bits, adc_bits=p.adc_bits,
            v_lsb=p.v_max / (2 ** (p.dac_bits - 1) - 1), v_adc_lsb=p.v_max / adc_max,
            i_adc_lsb=p.i_max / adc_max, g_lsb=p.g_fullscale / 65535, v_max=p.v_max, g_min=d.g_min,
            g_max=d.g_max, dw_min=d.dw_min, pulse_amp_max=c.envelope.pulse_amp_max,
            pulse_width_min_ns=c.envelope.pulse_width_min_ns,
            pulse_width_max_ns=c.envelope.pulse_width_max_ns,
            max_pulse_count=c.envelope.max_pulse_count, max_bl=c.envelope.max_bl,
            max_batch=c.envelope.max_batch, max_program_iters=c.envelope.max_program_iters,
            max_payload=c.max_payload, baud=baud, latency_us=round(latency_s * 1e6),
            t_command_ns=c.timing.t_command_ns, t_settle_ns=c.timing.t_settle_ns,
            t_adc_ns=c.timing.t_adc_ns, pulse_width_ns=c.timing.pulse_width_ns,
            pulse_gap_ns=c.timing.pulse_gap_ns)
        self._adc_max = adc_max
        self._decoder = FrameDecoder(c.max_payload)
        self._assembly = Reassembler(16 * (c.rows + 1) * (c.cols + 1) + 8 * c.envelope.max_batch * (c.rows + c.cols))
        self._handlers = {
            Msg.HELLO: self._hello, Msg.PING: self._ping, Msg.RESET: self._reset, Msg.BYE: self._bye,
            Msg.CONFIGURE_LINES: self._configure_lines, Msg.MEASURE: self._measure,
            Msg.MVM: self._mvm, Msg.MVM_T: self._mvm, Msg.READ_CONDUCTANCES: self._read_conductances,
            Msg.PROGRAM: self._program, Msg.PULSE: self._pulse, Msg.UPDATE_OUTER: self._update_outer,
            Msg.LOCAL_LEARN: self._local_learn, Msg.GET_COUNTERS: self._get_counters,
        }
        if self.caps.device_reads:
            self._handlers[Msg.READ_DEVICES] = self._read_devices
        if self.caps.update_policies:
            self._handlers[Msg.CALIBRATE] = self._calibrate
        if not self.caps.sessions:
            del self._handlers[Msg.BYE]
        self._reply_window = c.max_window if self.caps.sessions else 1
        self._boot()

    # -- MCU state ------------------------------------------------------------------------------
    def _boot(self) -> None:
        self.session = False
        self.modes = np.zeros(self.R + self.C, np.uint8)
        self.volts = np.zeros(self.R + self.C)
        self._reply_max = self.config.max_payload
        self.steps = StepModel(self.config.device, self.R, self.C)  # RAM: calibration is lost on reset
        self.chi = np.zeros((self.R, self.C))  # RAM: mixed-precision accumulators of LOCAL_LEARN
        self._decoder.reset()
        self._assembly.reset()

    def reset(self) -> None:
        """Power-cycle / watchdog reset: volatile state is lost, FRAM and devices are kept."""
        self.nv.boot_count += 1
        self._boot()

    def end_session(self) -> None:
        """The host left (BYE, or its connection closed): no session, lines float, partial frames dropped."""
        self._boot()

    @property
    def state_crc(self) -> int:
        """Digest of the device state (the true conductances): changes iff a device changed."""
        return zlib.crc32(np.ascontiguousarray(self.crossbar.g, "<f8").tobytes())

    # -- bytes → replies ------------------------------------------------------------------------
    def receive(self, data: bytes) -> list[tuple[int, bytes, float]]:
        """Feed received bytes; return ``(end_offset, reply_bytes, exec_s)`` per reply."""
        out = []
        for end, item in self._decoder.feed(data):
            if isinstance(item, BadFrame):
                self.nv.crc_errors += 1
                if item.size >= MIN_FRAME:
                    self.nv.nacks += 1
                    out.append((end, self._encode(Msg.NACK, 0, Status.BAD_FRAME, item.reason.encode(), 0.0), 0.0))
                continue
            payload = self._assembly.add(item)
            if payload is not None:
                out.append((end, *self._handle(item, payload)))
        return out

    def _encode(self, type_: int, seq: int, status: int, body: bytes, exec_s: float, flags: int = 0) -> bytes:
        flags |= Flag.SESSION if self.session else 0
        payload = min(round(exec_s * 1e6), 2 ** 32 - 1).to_bytes(4, "little") + body
        return fragment(self.config.protocol_version, type_, seq, flags, status, payload, self._reply_max)

    def _handle(self, frame: Frame, payload: bytes) -> tuple[bytes, float]:
        t_cmd = self.config.timing.t_command_ns * 1e-9
        reply_type = (frame.type | REPLY_BIT) & 0xFF
        if frame.version != self.config.protocol_version:
            detail = f"board speaks protocol {self.config.protocol_version}, frame has {frame.version}"
            return self._encode(reply_type, frame.seq, Status.BAD_VERSION, detail.encode(), t_cmd), t_cmd
        handler = self._handlers.get(frame.type)
        if handler is None:
            detail = f"unknown message type 0x{frame.type:02x}"
            return self._encode(reply_type, frame.seq, Status.UNKNOWN_TYPE, detail.encode(), t_cmd), t_cmd
        msg = Msg(frame.type)
        crc = zlib.crc32(bytes([frame.type]) + payload)
        # HELLO always runs (it opens a session: a cached one would open nothing); other replies of
        # another session never match, the session id is in the key
        cached = None if msg == Msg.HELLO else self.nv.reply_cache.get((self.nv.session_id, frame.seq, crc))
        if cached is not None:
            self.nv.cache_hits += 1
            status, body, exec_s = cached
            return self._encode(reply_type, frame.seq, status, body, exec_s, Flag.CACHED), t_cmd
        if not self.session and msg not in SESSIONLESS:
            detail = f"{msg.name} needs a session: send HELLO first (boot {self.nv.boot_count})"
            return self._encode(reply_type, frame.seq, Status.NO_SESSION, detail.encode(), t_cmd), t_cmd
        self.nv.commands += 1
        try:
            with small_matrices():
                body, exec_s = handler(msg, Reader(payload, msg.name))
            status = Status.OK
        except MalformedFrame as exc:
            status, body, exec_s = Status.BAD_LENGTH, str(exc).encode(), 0.0
        except CommandError as exc:
            status, body, exec_s = exc.status, f"{msg.name}: {exc.detail}".encode(), 0.0
        exec_s += t_cmd
        if status == Status.OK and msg in RECORDED:
            self.nv.last_valid, self.nv.last_seq, self.nv.last_crc = 1, frame.seq, crc
        # keyed by the session after execution: a retried HELLO finds the session it opened
        # 2·window: while one command waits for its reply, the others of a sliding window of that size —
        # older and newer ones — can run after it (at most 2·window − 2 of them)
        self.nv.cache((self.nv.session_id, frame.seq, crc), (status, body, exec_s), 2 * self._reply_window)
        return self._encode(reply_type, frame.seq, status, body, exec_s), exec_s

    # -- measurement path -------------------------------------------------------------------------
    def _adc(self, values: np.ndarray, lsb: float) -> tuple[np.ndarray, np.ndarray]:
        """Noise, clipping and rounding of one conversion: ``(codes, what the board itself sees)``."""
        fs = lsb * self._adc_max
        noisy = np.clip(values + self.crossbar.read_noise(values.shape, fs), -fs, fs)
        codes = np.rint(noisy / lsb).astype(np.int64)
        seen = codes * lsb if self.config.device.periphery.quantize else noisy
        return codes.astype(np.int32), seen

    def _read_g(self, window) -> tuple[np.ndarray, np.ndarray]:
        """Read the devices at `window` (slices, or flat indices into the array): codes and what the board sees."""
        g = self.crossbar.g[window] if isinstance(window, tuple) else self.crossbar.g.reshape(-1)[window]
        fs = self.config.device.periphery.g_fullscale
        noisy = np.clip(g + self.crossbar.read_noise(g.shape, fs), 0.0, fs)
        codes = np.rint(noisy / self.caps.g_lsb).astype(np.uint16)
        return codes, (codes * self.caps.g_lsb if self.config.device.periphery.quantize else noisy)

    # -- timing ------------------------------------------------------------------------------------
    def _t_convert(self, n: int = 1) -> float:
        t = self.config.timing
        return n * (t.t_settle_ns + t.t_adc_ns) * 1e-9

    def _t_pulses(self, counts: np.ndarray, width_ns: int) -> float:
        """Rows are pulsed one after another, the columns of a row in parallel."""
        per_row = np.abs(counts).max(axis=1) if counts.size else np.zeros(1)
        return float(per_row.sum()) * (width_ns + self.config.timing.pulse_gap_ns) * 1e-9

    # -- checks --------------------------------------------------------------------------------------
    def _window(self, r: Reader) -> tuple[slice, slice]:
        r0, c0, nr, nc = (r.get("u16") for _ in range(4))
        if nr < 1 or nc < 1 or r0 + nr > self.R or c0 + nc > self.C:
            raise CommandError(Status.BAD_ARGUMENT, f"window rows {r0}+{nr}, cols {c0}+{nc} outside {self.R}x{self.C}")
        return slice(r0, r0 + nr), slice(c0, c0 + nc)

    def _volts(self, codes: np.ndarray, what: str) -> np.ndarray:
        bad = np.abs(codes.astype(np.int64)) > self.caps.dac_max
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise CommandError(Status.ENVELOPE, f"{what}[{i}] code {codes[i]} beyond DAC range ±{self.caps.dac_max}")
        return codes * self.caps.v_lsb

    def _batch(self, k: int) -> None:
        if not 1 <= k <= self.caps.max_batch:
            raise CommandError(Status.ENVELOPE, f"batch {k} outside 1..{self.caps.max_batch}")

    def _round(self, values: np.ndarray, most=None) -> np.ndarray:
        """Stochastic rounding to integers (E[round(v)] = v), capped at `most` (max_pulse_count)."""
        most = self.caps.max_pulse_count if most is None else most
        floor = np.floor(values)
        n = (floor + (self.crossbar.noise.random(values.shape) < values - floor)).astype(np.int64)
        return np.clip(n, -most, most)

    def _read_all(self, reads: int = 1) -> tuple[np.ndarray, float]:
        """The board's view of the whole array, averaged over `reads` conversions, and the time taken."""
        seen = np.mean([self._read_g((slice(None), slice(None)))[1] for _ in range(reads)], axis=0)
        return seen, self._t_convert(self.R * reads)

    def _apply_pulses(self, n: np.ndarray) -> None:
        self.crossbar.pulse(n)
        self.nv.count_pulses(n)

    def _apply_dg(self, dg: np.ndarray, state_aware: bool = False) -> tuple[np.ndarray, float]:
        """Δg → device: exact on analog (ideal) models, else stochastically rounded pulses of the
        nominal step — or, `state_aware`, of the step the nominal response gives at each device's
        conductance as read by the board (one array read): soft-bounds devices take smaller steps
        near the bound they move towards, and counting them as full steps would undershoot there.
        Returns the pulse counts and the extra device time (the read)."""
        if self.config.device.analog_update:
            self.crossbar.write_analog(dg)
            return np.zeros(dg.shape, np.int64), 0.0
        step, t_read = np.full(dg.shape, self.caps.dw_min), 0.0
        if state_aware:
            d = self.config.device
            _, seen = self._read_g((slice(None), slice(None)))
            x = np.clip((seen - d.g_min) / (d.g_max - d.g_min), 0.0, 1.0)
            step *= np.maximum(response_factor(d, x, dg > 0), MIN_STEP_FACTOR)
            t_read = self._t_convert(self.R)
        n = self._round(dg / step)
        self._apply_pulses(n)
        return n, t_read

    def _apply_mixed(self, dg: np.ndarray, threshold: float) -> tuple[np.ndarray, float]:
        """Mixed precision (firmware 1.3): Δg joins each device's accumulator χ; a device whose |χ|
        reaches `threshold` of its expected step (its own, measured by CALIBRATE, at its present
        conductance) gets the whole steps χ holds, and χ keeps the rest. χ is held to the device's
        headroom (nothing accumulates towards a bound it is within MIXED_BOUND_MARGIN of, BOUND_MARGIN
        before firmware 1.5) and stuck devices get nothing: pulses go only where they move a device."""
        if self.config.device.analog_update:
            return self._apply_dg(dg)
        g, t_read = self._read_all()
        down, up = self.steps.headroom(g, MIXED_BOUND_MARGIN if self.caps.fine_thresholds else BOUND_MARGIN)
        chi = np.where(self.steps.stuck, 0.0, np.clip(self.chi + dg, down, up))
        step = self.steps.step(g, chi > 0)
        q = np.abs(chi) / step
        n = np.where(q >= threshold, np.floor(q - threshold) + 1, 0).astype(np.int64)
        n = np.minimum(n, self.caps.max_pulse_count) * np.sign(chi).astype(np.int64)
        self.chi = chi - n * step
        self._apply_pulses(n)
        return n, t_read

    # -- handlers: (msg, reader) → (reply body after exec_us, execution time) ----------------------
    def _hello(self, msg, r):
        host_max = r.get("u16")
        token = r.rest() if self.caps.sessions else r.end()
        if self.config.token and token != self.config.token:
            raise CommandError(Status.DENIED, "this board is paired: HELLO must carry the token printed when "
                               f"it was started ({'none' if not token else 'a wrong one'} given)")
        if token and not self.config.token and len(token) > MAX_TOKEN:
            raise CommandError(Status.BAD_LENGTH, f"token of {len(token)} bytes > {MAX_TOKEN}")
        largest = largest_reply(self.R, self.C, self.caps.max_batch, self.caps.max_payload)
        if MAX_FRAGMENTS * min(host_max, self.config.max_payload) < largest:
            raise CommandError(Status.BAD_ARGUMENT, f"host max payload {host_max} is too small: the largest "
                               f"reply ({largest} bytes) needs >= {-(-largest // MAX_FRAGMENTS)} per fragment")
        self._reply_max = min(self.config.max_payload, host_max)
        self.nv.session_id = (self.nv.session_id + 1) & 0xFFFFFFFF
        info = SessionInfo(self.nv.boot_count, self.nv.last_valid, self.nv.last_seq, self.nv.last_crc,
                           self.nv.board_uid, self.nv.session_id, self.state_crc, self._reply_window)
        self.session = True
        return encode_hello(self.caps, info), 0.0

    def _bye(self, msg, r):
        r.end()
        self.end_session()
        return b"", 0.0

    def _ping(self, msg, r):
        data = r.rest()
        if len(data) > self.caps.max_payload - 4:
            raise CommandError(Status.TOO_LARGE, f"{len(data)} bytes of PING data > max_payload - 4 = "
                               f"{self.caps.max_payload - 4}")
        return data, 0.0

    def _reset(self, msg, r):
        r.end()
        self.reset()
        return b"", 0.0

    def _configure_lines(self, msg, r):
        n = self.R + self.C
        modes, codes = r.array("u1", n), r.array("i2", n)
        r.end()
        bad = modes > max(LineMode)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise CommandError(Status.BAD_ARGUMENT, f"line {i}: mode {modes[i]} is not FLOAT/DRIVE/SENSE")
        volts = self._volts(np.where(modes == LineMode.DRIVE, codes, 0), "line")
        self.modes, self.volts = modes, volts
        return b"", self.config.timing.t_settle_ns * 1e-9

    def _measure(self, msg, r):
        r.end()
        try:
            V, I = solve(self.crossbar.g, self.modes, self.volts)
        except NoReference as exc:
            raise CommandError(Status.NOT_CONFIGURED, str(exc)) from None
        v_codes, _ = self._adc(V, self.caps.v_adc_lsb)
        i_codes, _ = self._adc(I, self.caps.i_adc_lsb)
        return Writer().array(v_codes, "i4").array(i_codes, "i4").bytes(), self._t_convert()

    def _mvm(self, msg, r):
        k = r.get("u16")
        self._batch(k)
        n_in = self.R if msg == Msg.MVM else self.C
        volts = self._volts(r.array("i2", k * n_in), "input").reshape(k, n_in)
        r.end()
        G = self.crossbar.g
        currents = volts @ G if msg == Msg.MVM else volts @ G.T
        codes, _ = self._adc(currents, self.caps.i_adc_lsb)
        return Writer().array(codes, "i4").bytes(), self._t_convert(k)

    def _read_conductances(self, msg, r):
        window = self._window(r)
        r.end()
        codes, _ = self._read_g(window)
        return Writer().array(codes, "u2").bytes(), self._t_convert(codes.shape[0])

    def _read_devices(self, msg, r):
        """A list of devices (index r·C + c) read back in the order asked: a sampled audit reads a few
        percent of a large array without paying the link for all of it."""
        n = r.get("u32")
        if not 1 <= n <= self.R * self.C:
            raise CommandError(Status.BAD_ARGUMENT, f"{n} devices outside 1..{self.R * self.C}")
        index = r.array("u4", n).astype(np.int64)
        r.end()
        bad = index >= self.R * self.C
        if bad.any():
            raise CommandError(Status.BAD_ARGUMENT, f"device index {int(index[bad][0])} >= R*C = {self.R * self.C}")
        codes, _ = self._read_g(index)
        rows = np.unique(index // self.C).size  # rows are converted one after another, a row's columns at once
        return Writer().array(codes, "u2").bytes(), self._t_convert(rows)

    def _calibrate(self, msg, r):
        """CALIBRATE (firmware 1.3): for rows r0..r0+nr−1, `segments` runs of +N pulses then as many of
        −N, each device read (averaged over `reads` conversions) before and after every run; a line
        through (mid conductance, mean step) per direction gives each device's bounds, symmetric
        point and step there (see StepModel). The fit is kept in RAM for the firmware's own update
        rules, and every device is left write-verified at its symmetric point."""
        r0, nr, n_pulses, segments, reads = r.get("u16"), r.get("u16"), r.get("u16"), r.get("u8"), r.get("u8")
        r.end()
        if nr < 1 or r0 + nr > self.R:
            raise CommandError(Status.BAD_ARGUMENT, f"rows {r0}+{nr} outside 0..{self.R - 1}")
        most = (largest_reply(self.R, self.C, self.caps.max_batch, self.caps.max_payload) - 8) // (CALIBRATION_BYTES * self.C)
        if nr > most:
            raise CommandError(Status.ENVELOPE, f"{nr} rows: the reply holds at most {most} rows of {self.C} devices")
        if not 1 <= n_pulses <= self.caps.max_pulse_count:
            raise CommandError(Status.ENVELOPE, f"pulses per run {n_pulses} outside 1..{self.caps.max_pulse_count}")
        if not 2 <= segments <= 16:
            raise CommandError(Status.BAD_ARGUMENT, f"segments {segments} outside 2..16 (a line needs two points)")
        if not 1 <= reads <= 64:
            raise CommandError(Status.BAD_ARGUMENT, f"reads {reads} outside 1..64")
        rows = slice(r0, r0 + nr)
        window = (rows, slice(None))
        width = self.config.timing.pulse_width_ns

        def read():
            return np.mean([self._read_g(window)[1] for _ in range(reads)], axis=0)

        exec_s, sent = 0.0, 0
        runs = {}
        g = read()
        for direction in (1, -1):
            starts, ends = [], []
            for _ in range(segments):
                n = np.zeros((self.R, self.C), np.int64)
                n[rows] = direction * n_pulses
                self._apply_pulses(n)
                sent += int(np.abs(n).sum())
                exec_s += self._t_pulses(n[rows], width)
                after = read()
                starts.append(g)
                ends.append(after)
                g = after
            runs[direction] = (np.array(starts), np.array(ends))
        exec_s += self._t_convert(nr * reads * (2 * segments + 1))
        self.steps.fit(rows, n_pulses, *runs[1], *runs[-1])
        m = self.steps
        target = np.zeros((self.R, self.C))
        target[rows] = m.g_sym[rows]
        _, _, pulses, t_prog = self._write_verify(window, target, 0.5 * float(np.median(m.dw[rows])),
                                                  self.caps.max_program_iters // 5)
        codes = lambda v: np.rint(np.clip(v, 0, 65535 * self.caps.g_lsb) / self.caps.g_lsb).astype(np.uint16)
        body = (Writer().put("u32", sent + pulses).put("u32", int(m.stuck[rows].sum()))
                .array(codes(m.g_lo[rows]), "u2").array(codes(m.g_sym[rows]), "u2").array(codes(m.g_hi[rows]), "u2")
                .array(m.dw[rows].astype(np.float32), "f4").array(m.flags[rows], "u1"))
        return body.bytes(), exec_s + t_prog

    def _program(self, msg, r):
        window = self._window(r)
        tol, iters = r.get("u16"), r.get("u16")
        shape = (window[0].stop - window[0].start, window[1].stop - window[1].start)
        target_codes = r.array("u2", shape[0] * shape[1]).reshape(shape)
        r.end()
        lo, hi = np.ceil(self.caps.g_min / self.caps.g_lsb), np.floor(self.caps.g_max / self.caps.g_lsb)
        if ((target_codes < lo) | (target_codes > hi)).any():
            raise CommandError(Status.ENVELOPE, f"target codes outside the programmable range {lo:.0f}..{hi:.0f}")
        if not 1 <= iters <= self.caps.max_program_iters:
            raise CommandError(Status.ENVELOPE, f"max iterations {iters} outside 1..{self.caps.max_program_iters}")
        target = np.zeros((self.R, self.C))
        target[window] = target_codes * self.caps.g_lsb
        it, off, total, exec_s = self._write_verify(window, target, tol * self.caps.g_lsb, iters)
        codes = np.rint(self._last_verify / self.caps.g_lsb).astype(np.uint16)
        body = Writer().put("u16", it).put("u32", int(off.sum())).put("u32", total).array(codes, "u2")
        return body.bytes(), exec_s

    #: firmware 1.3 averages this many conversions per verify read of PROGRAM
    VERIFY_READS = 4

    def _write_verify(self, window, target: np.ndarray, tol_s: float, iters: int):
        """Read, pulse the devices outside `tol_s` towards `target` (whole-array coordinates), repeat.
        Before 1.3: Δg in nominal steps (dw_min per pulse). From 1.3 (adaptive): verify reads averaged
        over VERIFY_READS conversions and Δg counted in each device's own expected step at its present
        conductance (CALIBRATE's fit, else the nominal response), so a soft-bounds device far from the
        middle of its range gets the pulses it needs instead of a fixed fraction of them."""
        adaptive = self.caps.update_policies and not self.config.device.analog_update
        reads = self.VERIFY_READS if adaptive else 1
        nr = window[0].stop - window[0].start if isinstance(window[0], slice) else 1
        exec_s, total = 0.0, 0
        for it in range(1, iters + 1):
            seen = np.mean([self._read_g(window)[1] for _ in range(reads)], axis=0)
            exec_s += self._t_convert(nr * reads)
            err = target[window] - seen
            off = np.abs(err) > tol_s
            self._last_verify = seen
            if not off.any() or it == iters:
                break
            dg = np.zeros((self.R, self.C))
            dg[window] = np.where(off, err, 0.0)
            if adaptive:
                g = np.full((self.R, self.C), self.caps.g_min)
                g[window] = seen
                q = dg / self.steps.step(g, dg > 0)
                # nearest whole steps; a device less than half a step off gets one with probability |q|
                n = np.where(np.abs(q) >= 0.5, np.clip(np.rint(q), -self.caps.max_pulse_count,
                                                       self.caps.max_pulse_count), self._round(q)).astype(np.int64)
                n[self.steps.stuck] = 0
                self._apply_pulses(n)
            else:
                n, _ = self._apply_dg(dg)
            total += int(np.abs(n).sum())
            exec_s += self._t_pulses(n, self.config.timing.pulse_width_ns)
        return it, off, total, exec_s

    def _pulse(self, msg, r):
        window = self._window(r)
        amp_mv, width = r.get("u16"), r.get("u32")
        shape = (window[0].stop - window[0].start, window[1].stop - window[1].start)
        counts = r.array("i1", shape[0] * shape[1]).reshape(shape).astype(np.int64)
        r.end()
        env = self.config.envelope
        if not 0 < amp_mv <= round(env.pulse_amp_max * 1000):
            raise CommandError(Status.ENVELOPE, f"pulse amplitude {amp_mv} mV outside (0, {env.pulse_amp_max * 1000:.0f}] mV")
        if not env.pulse_width_min_ns <= width <= env.pulse_width_max_ns:
            raise CommandError(Status.ENVELOPE, f"pulse width {width} ns outside "
                               f"[{env.pulse_width_min_ns}, {env.pulse_width_max_ns}] ns")
        if np.abs(counts).max() > env.max_pulse_count:
            raise CommandError(Status.ENVELOPE, f"pulse count {int(np.abs(counts).max())} > {env.max_pulse_count}")
        full = np.zeros((self.R, self.C), np.int64)
        full[window] = counts
        self.crossbar.pulse(full)
        self.nv.count_pulses(full)
        return Writer().put("u32", int(np.abs(counts).sum())).bytes(), self._t_pulses(counts, width)

    def _update_outer(self, msg, r):
        lr, bl, flags = r.get("f64"), r.get("u16"), r.get("u8")
        x, d = r.array("i2", self.R), r.array("i2", self.C)
        r.end()
        known = REPORT_PULSES | (STATE_AWARE if self.caps.update_policies else 0)
        if flags & ~known:
            raise CommandError(Status.BAD_ARGUMENT, f"flags 0x{flags:02x}: unknown bits for firmware "
                               f"{self.caps.firmware_major}.{self.caps.firmware_minor} (bit0 report pulses"
                               f"{', bit1 state-aware' if self.caps.update_policies else ''})")
        if not 1 <= bl <= self.caps.max_bl:
            raise CommandError(Status.ENVELOPE, f"BL {bl} outside 1..{self.caps.max_bl}")
        if (x == -32768).any() or (d == -32768).any():
            raise CommandError(Status.BAD_ARGUMENT, "x/d code -32768 (codes are ±32767)")
        if not (np.isfinite(lr) and 0 <= lr <= self.caps.dw_min * bl):
            raise CommandError(Status.ENVELOPE, f"lr {lr!r} S outside [0, dw_min*BL = {self.caps.dw_min * bl:g}] S")
        a = np.sqrt(lr / (self.caps.dw_min * bl))
        noise = self.crossbar.noise
        rows = noise.random((bl, self.R)) < a * np.abs(x) / UNIT_CODE
        cols = noise.random((bl, self.C)) < a * np.abs(d) / UNIT_CODE
        coincidences = np.rint(rows.T.astype(float) @ cols.astype(float)).astype(np.int64)  # BLAS; exact (≤ bl)
        sign = -np.sign(x)[:, None].astype(np.int64) * np.sign(d)[None, :]
        t = self.config.timing
        exec_s = bl * (t.pulse_width_ns + t.pulse_gap_ns) * 1e-9
        if flags & STATE_AWARE and not self.config.device.analog_update:
            n, t_read = self._state_aware_trains(coincidences, sign)
            exec_s += t_read + self._t_pulses(n, t.pulse_width_ns)
        else:
            n = sign * coincidences
            self._apply_pulses(n)
        body = Writer().put("u32", int(np.abs(n).sum()))
        if flags & REPORT_PULSES:
            body.sparse(n)
        return body.bytes(), exec_s

    def _state_aware_trains(self, coincidences: np.ndarray, sign: np.ndarray) -> tuple[np.ndarray, float]:
        """UPDATE_OUTER flag bit1 (firmware 1.3): a device with c coincidences is to move by
        c·dw_min; it gets the pulses the step model says move it that far from its conductance (one
        array read), stochastically rounded — on soft-bounds devices each pulse's step shrinks
        towards the bound, and the count follows — so E[ΔG] = −lr·x dᵀ on soft-bounds devices too.
        Devices within BOUND_MARGIN of the bound they would move towards, and stuck ones, get none:
        they would not move."""
        g, t_read = self._read_all()
        up = sign > 0
        down_room, up_room = self.steps.headroom(g)
        blocked = self.steps.stuck | np.where(up, up_room <= 0, down_room >= 0)
        count = self.steps.pulses(g, sign * coincidences * self.caps.dw_min)
        # up to max_pulse_count per coincidence: the time the host allows for BL slots of such trains
        n = np.where(blocked | (coincidences == 0), 0, sign * self._round(count, self.caps.max_pulse_count * coincidences))
        self._apply_pulses(n)
        return n, t_read

    def _local_learn(self, msg, r):
        mode, flags, param, alpha = r.get("u8"), r.get("u8"), r.get("f64"), r.get("f64")
        n_out, k, n_drive = r.get("u16"), r.get("u16"), r.get("u16")
        outs = r.array("u2", n_out).astype(np.int64)
        samples = r.array("i2", k * (n_drive + n_out)).reshape(k, n_drive + n_out)
        r.end()
        R, C = self.R, self.C
        if mode not in (LearnMode.CL, LearnMode.EP):
            raise CommandError(Status.BAD_ARGUMENT, f"mode {mode} is neither CL (0) nor EP (1)")
        lean = FREE_ONLY | NO_STATES if self.caps.device_reads else 0
        codes = 7 if self.caps.fine_thresholds else 3
        mixed = MIXED | (codes << MIXED_THRESHOLD_SHIFT) if self.caps.update_policies else 0
        if flags & ~(REPORT_PULSES | (STATE_AWARE if self.caps.state_aware_learning else 0) | lean | mixed):
            raise CommandError(Status.BAD_ARGUMENT, f"flags 0x{flags:02x}: unknown bits for firmware "
                               f"{self.caps.firmware_major}.{self.caps.firmware_minor}")
        if mode == LearnMode.CL and not (np.isfinite(param) and 0 < param <= 1):
            raise CommandError(Status.BAD_ARGUMENT, f"eta {param!r} outside (0, 1]")
        if mode == LearnMode.EP and not (np.isfinite(param) and param > 0):
            raise CommandError(Status.BAD_ARGUMENT, f"beta {param!r} S must be > 0")
        if not (np.isfinite(alpha) and alpha >= 0):
            raise CommandError(Status.BAD_ARGUMENT, f"alpha {alpha!r} must be >= 0")
        free_only = bool(flags & FREE_ONLY)
        if free_only and alpha != 0:
            raise CommandError(Status.BAD_ARGUMENT, f"alpha {alpha!r}: the free state alone (flag bit2) learns nothing, "
                               "alpha must be 0")
        self._batch(k)
        if n_out < 1 or (outs >= R + C).any() or len(set(outs.tolist())) != n_out:
            raise CommandError(Status.BAD_ARGUMENT, f"output lines {outs.tolist()} must be distinct lines < {R + C}")
        not_float = [int(o) for o in outs if self.modes[o] != LineMode.FLOAT]
        if not_float:
            raise CommandError(Status.NOT_CONFIGURED, f"output line {not_float[0]} is not floating")
        driven = np.flatnonzero(self.modes == LineMode.DRIVE)
        if n_drive not in (0, driven.size):
            raise CommandError(Status.BAD_ARGUMENT, f"{n_drive} input voltages for {driven.size} driven lines")
        floating = np.flatnonzero(self.modes == LineMode.FLOAT)
        inputs = self._volts(samples[:, :n_drive].ravel(), "input").reshape(k, n_drive)
        targets = self._volts(samples[:, n_drive:].ravel(), "target").reshape(k, n_out)
        G = self.crossbar.g.copy()
        quantize = self.config.device.periphery.quantize
        base = np.where(self.modes == LineMode.DRIVE, self.volts, 0.0)
        volts = np.repeat(base[None], k, axis=0)
        if n_drive:
            volts[:, driven] = inputs
        try:
            V0, first = self._sense_state(Network(G, self.modes), volts, floating)
            if free_only:
                V1 = second = None
            elif mode == LearnMode.CL:
                clamp = V0[:, outs] + param * (targets - V0[:, outs])
                if quantize:
                    clamp = np.rint(clamp / self.caps.v_lsb) * self.caps.v_lsb
                modes2 = self.modes.copy()
                modes2[outs] = LineMode.DRIVE
                volts[:, outs] = clamp
                V1, second = self._sense_state(Network(G, modes2), volts, floating)
                scale = alpha / param  # (α/η)·[(ΔV^F)² − (ΔV^C)²]
            else:
                V1, second = self._sense_state(Network(G, self.modes, outs, param), volts, floating, targets)
                scale = alpha / (2 * param)  # −α/(2β)·[(ΔV^β)² − (ΔV^0)²]
        except NoReference as exc:
            raise CommandError(Status.NOT_CONFIGURED, str(exc)) from None
        if free_only:
            n, t_read = np.zeros((R, C), np.int64), 0.0
        elif flags & MIXED:
            threshold = MIXED_THRESHOLDS[(flags >> MIXED_THRESHOLD_SHIFT) & 7]
            n, t_read = self._apply_mixed(scale * drop_squares_difference(V0, V1, R), threshold)
        else:
            n, t_read = self._apply_dg(scale * drop_squares_difference(V0, V1, R), bool(flags & STATE_AWARE))
        body = Writer().put("u32", int(np.abs(n).sum())).put("u16", floating.size).put("u16", k)
        if not flags & NO_STATES:
            body.array(floating, "u2").array(first, "i4")
            if not free_only:
                body.array(second, "i4")
        if flags & REPORT_PULSES:
            body.sparse(n)
        phases = 1 if free_only else 2
        return body.bytes(), phases * self._t_convert(k) + t_read + self._t_pulses(n, self.config.timing.pulse_width_ns)

    def _sense_state(self, net: Network, volts, floating, nudge_v=None) -> tuple[np.ndarray, np.ndarray]:
        """Relax the network for every sample, convert the floating lines: the board's view of all
        line voltages (k, R + C) and the ADC codes (k, n_floating) it reports."""
        V = net.voltages(volts, nudge_v)
        codes, seen = self._adc(V[:, floating], self.caps.v_adc_lsb)
        view = np.where(net.drive, volts, 0.0)
        view[:, floating] = np.where(net.floating[floating], seen, view[:, floating])
        return view, codes

    def _get_counters(self, msg, r):
        r.end()
        nv = self.nv
        w = Writer()
        for value in (nv.commands, nv.crc_errors, nv.cache_hits, nv.boot_count, nv.rx_overflows, nv.nacks):
            w.put("u32", value & 0xFFFFFFFF)
        w.put("u8", nv.last_valid).put("u16", nv.last_seq).put("u32", nv.last_crc)
        w.array(nv.pulses_up, "u4").array(nv.pulses_down, "u4")
        return w.bytes(), 0.0
