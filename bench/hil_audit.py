"""Modelled link time per HIL step with the sampled audit (`--audit F`) against full read-backs,
and the bound that says how much any audit can save.

    .venv/bin/python bench/hil_audit.py [--sizes 64,128,256] [--fraction 0.05] [--steps 6] [--full-every 10]

Coupled learning filling an n×n board (LOCAL_LEARN; the graph of bench/hil_scaling.py), the
emulator served on a pty. Baseline, same run and board size: the harness without audit, whose
steady-state step reads the whole array once (the before-read of a step is the previous step's
after-read) plus the LOCAL_LEARN exchange. Link time is the driver's model of a 921600-baud link
(bytes·10/baud + 1 ms latency per transfer); bytes are counted on the wire (frames included).

Which statistic: what a user waits for is the link time per step of a whole audited run — the
sampled steps *and* the full reads every N steps (and on the first and last), i.e. amortised
((N − 1)·sampled + full)/N — against the unaudited step; the sampled step alone is its upper
bound (N → ∞), printed beside it.

Why ≥ 10× at F = 0.05 cannot be reached (printed as `bound`): a sampled step still sends
LOCAL_LEARN's request, L = B·(n_drive + n_out)·2 bytes of drive and target codes (the board
cannot learn without them), and must read every sampled device twice — before and after the
update; a fresh sample each step means the before-read of step t+1 (sample S_t+1) happens with
the after-read of step t (S_t): 2·m·(1 − F/2) device reads of ≥ 2 bytes each (a code), m = ⌈F·N⌉
of the N devices — even if the list of devices cost nothing to send. The full step reads 2·N
bytes. So

    ratio ≤ (2N + L) / (4·m·(1 − F/2) + L)  ≤  1/(2F·(1 − F/2)) ≈ 10.3 at F = 0.05 (L = 0),

so even a layout that sent nothing per step would barely clear 10×, and L falls from that limit
fast: for coupled learning at 256 lines (B = 8, L = 8 KiB) the bound is ≈ 6.4×. With firmware 1.2's READ_DEVICES
each listed device costs 4 bytes of index + 2 of code, so the read part alone drops by about
1/(6F) = 3.3× at most; the measured step ratio sits under that. Closer to the bound would be
reading random tiles by READ_CONDUCTANCES (no index bytes; at 256 lines 26 tiles of 16×16 per
step, ≈ 5× by the same byte and latency count), at the price of cluster sampling: intervals from
the tiles' totals of the influence values instead of the devices' — not done.
"""
from __future__ import annotations

import argparse

import numpy as np

from neurophys import hil
from neurophys.backends.crossbar import CrossbarBackend
from neurophys.hil.audit import AuditedSteps
from neurophys.hil.measure import measure_step

from hil_scaling import graphs

BAUD, LATENCY = 921600, 1e-3
BATCH = 8


def run(graph, steps: int, fraction: float | None, rng) -> tuple[list, list]:
    """(sampled steps, full-read steps): (modelled link s, bytes on the wire) of each step after the first."""
    n_in, n_out = sum(p.size for p in graph.inputs), graph.output.size
    sampled, full = [], []
    with hil.open_backend(CrossbarBackend, graph=graph, notify=lambda m: None) as b:
        b.compile(graph)
        stats = b.link.board.stats
        audited = AuditedSteps(b, graph, fraction, 10 ** 6, 0, steps) if fraction else None
        for i in range(steps):
            x, y = rng.random((BATCH, n_in)), rng.uniform(0.2, 0.6, (BATCH, n_out))
            bytes0 = stats.bytes_sent + stats.bytes_received
            m = audited.step(i, x, y) if audited else measure_step(b, graph, x, y)
            cost = (m.record["time_s"]["modelled"]["link"], stats.bytes_sent + stats.bytes_received - bytes0)
            if i:  # step 0 also reads the array after programming it
                (full if not audited or m.record["audit"]["full_read"] else sampled).append(cost)
    return sampled, full


def median(rows, k: int) -> float:
    return float(np.median([r[k] for r in rows]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="64,128,256")
    ap.add_argument("--fraction", type=float, default=0.05)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--full-every", type=int, default=10)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    F, N_full = args.fraction, args.full_every
    print(f"{'n':>4s} {'full ms/step':>13s} {'kB':>7s} {'sampled ms':>11s} {'kB':>6s} {'ratio':>7s} "
          f"{'amortised':>10s} {'L kB':>6s} {'read floor kB':>14s} {'bound':>7s} {'L = 0':>7s}   goal ≥ 10×")
    for n in (int(s) for s in args.sizes.split(",")):
        graph = graphs(n)[0][1]
        _, baseline = run(graph, args.steps, None, rng)
        sampled, full = run(graph, args.steps, F, rng)
        base, audit, full_step = median(baseline, 0), median(sampled, 0), median(full, 0)
        amortised = ((N_full - 1) * audit + full_step) / N_full
        N = sum(p.size for p in graph.params().values())  # devices holding a parameter
        m = int(np.ceil(F * N))
        request = BATCH * 2 * (n + n)  # LOCAL_LEARN: B samples of n drive + n target codes
        reads = 2 * 2 * m * (1 - F / 2)  # each sampled device read before and after, 2-byte codes
        full_bytes = 2 * N + request
        bound = full_bytes / (reads + request)
        print(f"{n:4d} {1e3 * base:13.1f} {median(baseline, 1) / 1e3:7.1f} {1e3 * audit:11.1f} "
              f"{median(sampled, 1) / 1e3:6.1f} {base / audit:6.1f}× {base / amortised:9.1f}× {request / 1e3:6.1f} "
              f"{reads / 1e3:14.1f} {bound:6.1f}× {1 / (2 * F * (1 - F / 2)):6.1f}×   "
              f"{'ok' if base / amortised >= 10 else 'impossible' if bound < 10 else 'MISSED'}")
    print(f"\nratio: sampled steps only; amortised: with a full read every {N_full} steps (what a run pays); "
          "bound: (2N + L)/(4m(1 − F/2) + L) bytes, the best any audit reading each sampled device twice can do; "
          "L = 0: the same with nothing else on the link, 1/(2F(1 − F/2)).")


if __name__ == "__main__":
    main()
