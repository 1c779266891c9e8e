"""Time per HIL step on the crossbar backend, split into host / link / device, at 921600 baud for
16×16 and 64×64 boards (emulator on a pty, paced in real time), for both board modes: a resistor
network learning by LOCAL_LEARN and a least-action layer learning by MVM/MVM_T + UPDATE_OUTER.

    .venv/bin/python bench/hil_step.py [--steps N]

host = the backend's wall time outside board commands; link = bytes at the baud rate + 1 ms
latency per transfer; device = the board's reported execution time. Goal: host share ≤ 5 %.
The baseline for the ratio column is the same run's total (host + link + device) per step; each
number is the median over steps. The board is served by `neurophys board serve` in its own process,
so the emulator's simulation never competes with the host for the interpreter lock.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from neurophys.backends.crossbar import CrossbarBackend
from neurophys.ir import Dataset, Training
from neurophys.ir.builders import feedforward, resistor_network


def graphs(n: int):
    """Graphs that fill an n×n board."""
    cl = resistor_network(n - 1, n, 0, family="coupled_learning", eta=0.1, lr=0.05, dataset=None,
                          training=Training(batch_size=8), name=f"cl_{n}")
    la = feedforward([n - 1, n // 2], activation="tanh", lr=0.1, cost="mse", dataset=None,
                     training=Training(batch_size=8), name=f"la_{n}")
    return [("CL (LOCAL_LEARN)", cl), ("least action (MVM/MVM_T/UPDATE_OUTER)", la)]


@contextmanager
def board_process(rows: int, cols: int):
    """An ideal board paced in real time at 921600 baud, on a pty, in a separate process."""
    exe = Path(sys.executable).with_name("neurophys")
    p = subprocess.Popen([str(exe), "board", "serve", "--pty", "--rows", str(rows), "--cols", str(cols),
                          "--baud", "921600", "--latency", "1e-3", "--timing"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        yield p.stdout.readline().strip()
    finally:
        p.terminate()
        p.wait(timeout=30)
        p.stdout.close()


def bench(graph, steps: int, rng) -> dict:
    R, C = CrossbarBackend.board_shape(graph)
    n_in = sum(p.size for p in graph.inputs)
    n_out = graph.output.size
    per_step = []
    with board_process(R, C) as path, CrossbarBackend(board=path) as b:
        b.compile(graph)
        for _ in range(steps):
            x = rng.random((graph.training.batch_size, n_in))
            y = rng.uniform(0.2, 0.6, (graph.training.batch_size, n_out))
            before, t0 = dict(b.timing), time.perf_counter()
            b.get_params()
            b.step(x, y)
            b.get_params()
            per_step.append({**{k: b.timing[k] - before[k] for k in before}, "wall": time.perf_counter() - t0})
    return {"board": f"{R}x{C}", **{k: float(np.median([s[k] for s in per_step])) for k in per_step[0]}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'mode':40s} {'board':>8s} {'host ms':>9s} {'link ms':>9s} {'device ms':>10s} {'total ms':>9s} "
          f"{'host share':>10s} {'wall ms':>8s}  goal host ≤ 5 %")
    for n in (16, 64):
        for label, g in graphs(n):
            r = bench(g, args.steps, rng)
            total = r["host"] + r["link"] + r["device"]
            share = r["host"] / total
            print(f"{label:40s} {r['board']:>8s} {1e3 * r['host']:9.2f} {1e3 * r['link']:9.2f} "
                  f"{1e3 * r['device']:10.3f} {1e3 * total:9.2f} {100 * share:9.1f}% {1e3 * r['wall']:8.1f}  "
                  f"{'ok' if share <= 0.05 else 'MISSED'}")


if __name__ == "__main__":
    main()
