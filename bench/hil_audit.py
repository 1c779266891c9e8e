"""Modelled link time per HIL step with the sampled audit (`--audit F`) against full read-backs.

    .venv/bin/python bench/hil_audit.py [--sizes 64,128,256] [--fraction 0.05] [--steps 6]

Coupled learning filling an n×n board (LOCAL_LEARN; the graph of bench/hil_scaling.py), the
emulator served on a pty. Baseline, same run and board size: the harness without audit, whose
steady-state step reads the whole array once (the before-read of a step is the previous step's
after-read) plus the LOCAL_LEARN exchange. Audit: sampled steps only (the full reads every N steps
are reported separately; amortised they add (full − sampled)/N per step). Link time is the
driver's model of a 921600-baud link (bytes·10/baud + 1 ms latency per transfer).

The floor column says what is possible at all: every step must send its batch's drive and
target voltages (LOCAL_LEARN's request) and read each sampled device twice (before and after
the update: codes of 2 bytes), even if the device list cost nothing to send. The ratio is
bounded by full / floor; at 256 lines and F = 0.05 that is below 10×, see the printed bound.
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


def run(graph, steps: int, fraction: float | None, rng) -> tuple[list, list]:
    n_in, n_out = sum(p.size for p in graph.inputs), graph.output.size
    sampled, full = [], []
    with hil.open_backend(CrossbarBackend, graph=graph, notify=lambda m: None) as b:
        b.compile(graph)
        audited = AuditedSteps(b, graph, fraction, 10 ** 6, 0, steps) if fraction else None
        for i in range(steps):
            x, y = rng.random((8, n_in)), rng.uniform(0.2, 0.6, (8, n_out))
            m = audited.step(i, x, y) if audited else measure_step(b, graph, x, y)
            link = m.record["time_s"]["modelled"]["link"]
            if i:  # step 0 also reads the array after programming it
                (full if not audited or m.record["audit"]["full_read"] else sampled).append(link)
    return sampled, full


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="64,128,256")
    ap.add_argument("--fraction", type=float, default=0.05)
    ap.add_argument("--steps", type=int, default=6)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    F = args.fraction
    print(f"{'n':>4s} {'full read ms/step':>18s} {'audit F=%g ms/step' % F:>20s} {'ratio':>7s} "
          f"{'floor ms':>9s} {'bound':>7s} {'audit full step ms':>19s}   goal ≥ 10×")
    for n in (int(s) for s in args.sizes.split(",")):
        graph = graphs(n)[0][1]
        _, baseline = run(graph, args.steps, None, rng)
        sampled, full = run(graph, args.steps, F, rng)
        base, audit = float(np.median(baseline)), float(np.median(sampled))
        m = int(np.ceil(F * n * n))
        request = 8 * 2 * (n + n)  # LOCAL_LEARN: k = 8 samples of n drive + n target codes
        floor = (request + 2 * 2 * m) * 10 / BAUD + 4 * LATENCY
        print(f"{n:4d} {1e3 * base:18.1f} {1e3 * audit:20.1f} {base / audit:6.1f}× {1e3 * floor:9.1f} "
              f"{base / floor:6.1f}× {1e3 * float(np.median(full)):19.1f}   {'ok' if base / audit >= 10 else 'MISSED'}")


if __name__ == "__main__":
    main()
