"""Serial-link throughput and latency of the crossbar board protocol, against the emulated board
with link timing on (bytes paced in real time at the baud rate, 1 ms latency per transfer and
direction, 64-byte USB packets), and the emulator's Kirchhoff solve time.

    .venv/bin/python bench/serial_link.py

Goals (issue 3): bulk READ_CONDUCTANCES / PULSE of 64×64 and 128×128 at ≥ 0.90 of line rate;
solve of a 128×128 network ≤ 5 ms. Issue 13 goal 4: bulk READ_CONDUCTANCES / PROGRAM of a 16×16
board at 921600 baud ≥ 0.90 of line rate through `neurophys board serve --tcp 0 --timing` and over
the pty (`--pty --timing`), each a separate server process paced in real time (wall clock), and in
the link model itself (`emu://?timing=virtual`: the modelled seconds, no waiting). A 16×16 array is
one command, so the latency of each round trip (2 × 1 ms) cannot be hidden by bigger frames: the
host keeps several commands outstanding (`board.pipeline()`). The baseline is the loop a user of
the driver writes without it — one command after the other (stop-and-wait), same process, same
server, interleaved. Line rate = baud / 10 bytes per second (8N1). "payload/line"
counts the array bytes only (u16 conductance codes, i8 pulse counts) per wall-clock second of the
whole command (request, execution, reply, both 1 ms latencies); "wire/line" counts every byte on
the wire in both directions. PING has no goal: it is shown next to its model (2 latencies + the
bytes of request and reply at the baud rate). The solve row's baseline is a dense numpy solve of
the same reduced Laplacian, measured in the same run.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import neurophys.firmware_interface as fi
from neurophys.firmware_interface.emulator.network import solve
from neurophys.firmware_interface.protocol import LineMode

GOAL_RATE = 0.90
GOAL_SOLVE_S = 5e-3


def bulk(board: fi.Board, n: int, what: str, reps: int) -> tuple[float, int, int]:
    rng = np.random.default_rng(0)
    times, wire = [], 0
    for _ in range(reps):
        counts = rng.integers(-1, 2, (n, n))
        sent, received = board.stats.bytes_sent, board.stats.bytes_received
        t0 = time.perf_counter()
        if what == "READ_CONDUCTANCES":
            board.read_conductances()
        else:
            board.pulse(counts)
        times.append(time.perf_counter() - t0)
        wire = board.stats.bytes_sent - sent + board.stats.bytes_received - received
    payload = n * n * (2 if what == "READ_CONDUCTANCES" else 1)
    return statistics.median(times), payload, wire


def link_rows(reps_fast: int) -> list[tuple]:
    rows = []
    for baud in (115200, 921600):
        rate = baud / 10
        for n in (64, 128):
            url = f"emu://?model=ideal&rows={n}&cols={n}&baud={baud}&timing=1"
            with fi.Board.open(url) as board:
                board.stats.retries = 0
                reps = 1 if baud == 115200 else reps_fast
                for what in ("READ_CONDUCTANCES", "PULSE"):
                    t, payload, wire = bulk(board, n, what, reps)
                    ratio = payload / t / rate
                    rows.append((f"{what} {n}x{n}", baud, f"{t * 1e3:.1f} ms", f"{ratio:.3f}",
                                 f"{wire / t / rate:.3f}", f">= {GOAL_RATE:.2f}",
                                 "PASS" if ratio >= GOAL_RATE else "FAIL"))
                assert board.stats.retries == 0, "a clean link needed retries"
        with fi.Board.open(f"emu://?model=ideal&baud={baud}&timing=1") as board:
            before = board.stats.bytes_sent + board.stats.bytes_received
            rtts = [board.ping() for _ in range(30)]
            wire = (board.stats.bytes_sent + board.stats.bytes_received - before) / len(rtts)
            model = 2 * board.caps.latency_us * 1e-6 + wire * 10 / baud
            med = statistics.median(rtts)
            rows.append(("PING round trip", baud, f"{med * 1e3:.3f} ms", f"model {model * 1e3:.3f} ms",
                         f"{med / model:.2f}x model", "(none)", "-"))
    return rows


SMALL_N, SMALL_BAUD = 16, 921600
NEUROPHYS = Path(sys.executable).with_name("neurophys")


def small_bulk(board: fi.Board, what: str, n_cmds: int, pipelined: bool, clock=time) -> float:
    """Seconds (wall, or modelled on a virtual clock) for n_cmds commands of a 16×16 array."""
    target = np.random.default_rng(0).uniform(2e-5, 8e-5, (SMALL_N, SMALL_N))

    def run():
        for _ in range(n_cmds):
            board.read_conductances() if what == "READ_CONDUCTANCES" else board.program(target)

    now = clock.now if hasattr(clock, "now") else time.perf_counter
    t0 = now()
    if pipelined:
        with board.pipeline():
            run()
    else:
        run()
    return now() - t0


def small_rows(n_cmds: int, reps: int) -> list[tuple]:
    """16×16 bulk commands: stop-and-wait vs pipelined, modelled and through the two servers."""
    rate, payload = SMALL_BAUD / 10, 2 * SMALL_N * SMALL_N  # u16 codes: read back, or programmed
    rows = []
    servers = [("link model (modelled s)", None), ("board serve --tcp --timing", ["--tcp", "0"]),
               ("board serve --pty --timing", ["--pty"])]
    for label, where in servers:
        proc = None
        if where is None:
            # virtual time: the host's wall-clock timeouts must not expire while the model runs
            board = fi.Board.open(f"emu://?model=ideal&rows={SMALL_N}&cols={SMALL_N}&baud={SMALL_BAUD}&timing=virtual",
                                  timeout_base_s=5.0)
            clock = board.serial.emulator.clock
        else:
            proc = subprocess.Popen([str(NEUROPHYS), "board", "serve", *where, "--timing",
                                     "--baud", str(SMALL_BAUD), "--rows", str(SMALL_N), "--cols", str(SMALL_N)],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            # a generous base timeout: a loaded machine's stalls must not turn into resends
            board, clock = fi.Board.open(proc.stdout.readline().strip(), timeout_base_s=0.5), time
        try:
            board.read_conductances()  # warm up
            for what in ("READ_CONDUCTANCES", "PROGRAM"):
                retries = board.stats.retries
                times = {False: [], True: []}
                for _ in range(reps):  # interleaved A/B
                    for pipelined in (False, True):
                        times[pipelined].append(small_bulk(board, what, n_cmds, pipelined, clock))
                base, pipe = (statistics.median(times[k]) for k in (False, True))
                frac, frac_base = payload * n_cmds / pipe / rate, payload * n_cmds / base / rate
                resent = board.stats.retries - retries
                rows.append((f"{what} 16x16 x{n_cmds}, {label}" + (f" ({resent} resends!)" if resent else ""),
                             SMALL_BAUD, f"{pipe / n_cmds * 1e3:.2f} ms/cmd",
                             f"{frac:.3f}", f"stop-and-wait {frac_base:.3f} ({frac / frac_base:.2f}x)",
                             f">= {GOAL_RATE:.2f}", "PASS" if frac >= GOAL_RATE else "FAIL"))
        finally:
            board.close()
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=20)
                proc.stdout.close()
    return rows


def solve_row() -> tuple:
    R = C = 128
    rng = np.random.default_rng(1)
    G = rng.uniform(1e-6, 1e-4, (R, C))
    modes = np.zeros(R + C, np.uint8)
    modes[:64] = LineMode.DRIVE  # inputs
    modes[R] = LineMode.SENSE  # ground; the other 64 rows and 127 columns float
    volts = np.zeros(R + C)
    volts[:64] = rng.uniform(-1, 1, 64)
    n = R + C
    A = np.zeros((n, n))
    A[:R, R:], A[R:, :R] = G, G.T
    L = np.diag(A.sum(axis=1)) - A
    free, fixed = np.flatnonzero(modes == LineMode.FLOAT), np.flatnonzero(modes != LineMode.FLOAT)

    def dense():
        return np.linalg.solve(L[np.ix_(free, free)], -L[np.ix_(free, fixed)] @ volts[fixed])

    np.testing.assert_allclose(solve(G, modes, volts)[0][free], dense(), rtol=1e-9, atol=1e-12)
    timings, cpu = {}, {}
    for name, fn in (("sparse", lambda: solve(G, modes, volts)), ("dense", dense)):
        for _ in range(5):
            fn()
        ts, cs = [], []
        for _ in range(200):
            t0, c0 = time.perf_counter(), time.thread_time()
            fn()
            ts.append(time.perf_counter() - t0)
            cs.append(time.thread_time() - c0)
        timings[name], cpu[name] = statistics.median(ts), statistics.median(cs)
    med = timings["sparse"]
    return ("solve 128x128 (191 floating)", "-", f"{med * 1e3:.2f} ms (cpu {cpu['sparse'] * 1e3:.2f})",
            f"dense {timings['dense'] * 1e3:.2f} ms", f"{timings['dense'] / med:.2f}x faster",
            f"<= {GOAL_SOLVE_S * 1e3:.0f} ms", "PASS" if med <= GOAL_SOLVE_S else "FAIL")


def main() -> None:
    load = os.getloadavg()[0]
    rows = small_rows(n_cmds=40, reps=3) + link_rows(reps_fast=3) + [solve_row()]
    head = ("operation", "baud", "time", "payload/line", "wire/line (16x16: baseline)", "goal", "result")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        print("  ".join(str(v).rjust(w) if i else str(v).ljust(w) for i, (v, w) in enumerate(zip(r, widths))))
    print(f"(medians; 1-minute load average at start {load:.1f} on {os.cpu_count()} CPUs — "
          "a loaded machine inflates every row)")


if __name__ == "__main__":
    main()
