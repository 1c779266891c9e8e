"""Real wall time per HIL step against the board's size, and where it goes.

    .venv/bin/python bench/hil_scaling.py [--steps N] [--repeats R] [--sizes 64,96,128,192,256]

One HIL step is what `neurophys hil` does per step (hil.measure.measure_step): read θ, let the board
learn, read θ′, then the twin's exact gradient and the metrics. The board is the embedded emulator
on a pty, as `neurophys hil` serves it, for two graphs that fill an n×n board: coupled learning
(LOCAL_LEARN, n−1 inputs + ground on the rows, n outputs on the columns) and least action (a
[n−1, n/2] linear layer: MVM/MVM_T relaxation, UPDATE_OUTER per sample; lr = 1/n keeps it from
diverging — with a fixed lr the updates, and with them the UPDATE_OUTER rounds, grow from step to
step, faster the more inputs there are, and the bench would time the divergence, not the size).
A step touches every device, so n² is the best growth there is: the goal is a fitted exponent
≤ 2.1 from 64 to 256 lines (least squares of log wall on log n) and the twin ≤ 25 % of a step's
wall time at 256.

Robust to a loaded machine: R repeats, each over every size in turn (so load spreads over all
sizes alike). Load only ever adds time, so each part of a step (host, board, twin) is reported as
its least time over all steps and repeats, the step as their sum: the exponent is fitted to those
and the twin's share is theirs. Beside them, for honesty: the median wall and the median of the
steps' own twin shares, and the exponent fitted to each repeat's median walls (median, range).
A load-free view: the process CPU time (every thread, the emulator's too) of the board's half
and of the twin's half of the step (hil.measure.step_on_board / against_twin), the twin's share
of it and the exponent of its growth — on an idle machine the board waits little beside
computing, so this is the split there. The goals are checked on both views.

Baseline (the `× floor` column, measured in the same run, interleaved with the steps): the device
arithmetic of the step as a fluent numpy user writes it for the same n×n array and batch — CL: the
free and clamped output voltages of the batch and Σ_s (ΔV^F)² − (ΔV^C)² over all devices by
broadcasting; least action: the batch's outer-product update of all devices. It is the floor that
simulating any such board costs, so the ratio is the overhead of the protocol, link, harness and twin.
The split is real wall time (host, board = inside board commands, i.e. the driver, the emulator and
the pty; twin), beside the modelled link time of a real 921600-baud link (median over steps).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from neurophys import hil
from neurophys.backends.crossbar import CrossbarBackend
from neurophys.blas import small_matrices
from neurophys.hil.measure import against_twin, step_on_board
from neurophys.ir import Training
from neurophys.ir.builders import feedforward, resistor_network


def graphs(n: int):
    cl = resistor_network(n - 1, n, 0, family="coupled_learning", eta=0.1, lr=0.05, dataset=None,
                          training=Training(batch_size=8), name=f"cl_{n}")
    la = feedforward([n - 1, n // 2], activation="tanh", lr=1.0 / n, cost="mse", dataset=None,
                     training=Training(batch_size=8), name=f"la_{n}")
    return [("coupled learning", cl), ("least action", la)]


def floor(kind: str, n: int, x: np.ndarray, y: np.ndarray, G: np.ndarray) -> None:
    """The step's device arithmetic in plain numpy (see the module docstring)."""
    if kind == "coupled learning":
        vin = np.concatenate([x, np.zeros((len(x), 1))], axis=1)  # inputs + ground on the rows
        vf = vin @ G / G.sum(axis=0)                                # every output sees only the rows
        vc = vf + 0.1 * (y - vf)
        dg = (((vin[:, :, None] - vf[:, None, :]) ** 2) - ((vin[:, :, None] - vc[:, None, :]) ** 2)).sum(axis=0)
        G += 1e-9 * dg
    else:
        a = np.concatenate([x, np.ones((len(x), 1))], axis=1)
        d = np.repeat(y - 0.4, 2, axis=1) * np.tile([1.0, -1.0], y.shape[1])
        G -= 1e-9 * (a.T @ d)


def bench(label: str, graph, steps: int, rng) -> dict:
    n_in, n_out = sum(p.size for p in graph.inputs), graph.output.size
    R, C = CrossbarBackend.board_shape(graph)
    G = rng.uniform(1e-6, 1e-4, (R, C))
    rows = []
    with hil.open_backend(CrossbarBackend, graph=graph, notify=lambda m: None) as b, small_matrices():
        b.compile(graph)
        for i in range(steps + 1):
            x = rng.random((graph.training.batch_size, n_in))
            y = rng.uniform(0.2, 0.6, (graph.training.batch_size, n_out))
            t0 = time.perf_counter()
            floor(label, R, x, y, G)
            t_floor = time.perf_counter() - t0
            t0, cpu0 = time.perf_counter(), time.process_time()
            s = step_on_board(b, x, y)  # measure_step, in its two halves to time their CPU apart
            cpu1 = time.process_time()
            m = against_twin(b, graph, x, y, s)
            wall, cpu2 = time.perf_counter() - t0, time.process_time()
            if i:  # the first step also reads θ once more (after programming)
                t = m.record["time_s"]
                rows.append({"wall": wall, "cpu_board": cpu1 - cpu0, "cpu_twin": cpu2 - cpu1, "floor": t_floor,
                             **t["wall"], "link": t["modelled"]["link"]})
    return rows


def fit(ns, values) -> float:
    return float(np.polyfit(np.log(ns), np.log(values), 1)[0])


def summary(rows: list[dict], stat) -> dict:
    return {k: float(stat([r[k] for r in rows])) for k in rows[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", default="64,96,128,192,256")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = np.random.default_rng(0)
    runs: dict[str, dict[int, list[list[dict]]]] = {}  # graph → n → per repeat, its steps
    for _ in range(args.repeats):
        for n in sizes:
            for label, g in graphs(n):
                runs.setdefault(label, {}).setdefault(n, []).append(bench(label, g, args.steps, rng))
    print(f"{'graph':18s} {'n':>4s} {'wall ms':>9s} {'host':>8s} {'board':>8s} {'twin':>8s} {'twin %':>7s} "
          f"{'median wall':>12s} {'twin %':>7s} {'CPU ms':>7s} {'twin %':>7s} {'floor ms':>9s} {'× floor':>8s} "
          f"{'modelled link ms':>17s}")
    for label, by_n in runs.items():
        for n, reps in by_n.items():
            steps = [r for rep in reps for r in rep]
            lo, med = summary(steps, np.min), summary(steps, np.median)
            lo["wall"] = lo["host"] + lo["board"] + lo["twin"]
            print(f"{label:18s} {n:4d} {1e3 * lo['wall']:9.1f} {1e3 * lo['host']:8.1f} {1e3 * lo['board']:8.1f} "
                  f"{1e3 * lo['twin']:8.1f} {100 * lo['twin'] / lo['wall']:6.1f}% {1e3 * med['wall']:12.1f} "
                  f"{100 * np.median([r['twin'] / r['wall'] for r in steps]):6.1f}% "
                  f"{1e3 * (lo['cpu_board'] + lo['cpu_twin']):7.1f} "
                  f"{100 * lo['cpu_twin'] / (lo['cpu_board'] + lo['cpu_twin']):6.1f}% {1e3 * lo['floor']:9.2f} "
                  f"{lo['wall'] / lo['floor']:8.1f} {1e3 * med['link']:17.1f}")
    print(f"\nwall, host, board, twin: each part's least time over {args.repeats}×{args.steps} steps (load only "
          "adds time), wall their sum; median wall and the median of the steps' twin shares beside them; CPU: the "
          "step's CPU time (every thread: the emulator's too; least of the board's and of the twin's half) and the "
          "twin's share of it — what the split is on an idle machine, where the board waits little beside computing\n")
    ns = np.array(sizes, float)
    for label, by_n in runs.items():
        least = {n: summary([r for rep in by_n[n] for r in rep], np.min) for n in sizes}
        slope = fit(ns, [least[n]["host"] + least[n]["board"] + least[n]["twin"] for n in sizes])
        slopes = [fit(ns, [np.median([r["wall"] for r in by_n[n][i]]) for n in sizes]) for i in range(args.repeats)]
        floor_slope = fit(ns, [least[n]["floor"] for n in sizes])
        cpu_slope = fit(ns, [least[n]["cpu_board"] + least[n]["cpu_twin"] for n in sizes])
        top = least[sizes[-1]]
        share = top["twin"] / (top["host"] + top["board"] + top["twin"])
        share_cpu = top["cpu_twin"] / (top["cpu_board"] + top["cpu_twin"])
        print(f"{label:18s} wall ∝ n^{slope:.2f} (least times; per repeat, medians: {np.median(slopes):.2f}, range "
              f"{min(slopes):.2f}–{max(slopes):.2f}; CPU n^{cpu_slope:.2f}; floor n^{floor_slope:.2f}; goal ≤ 2.1: "
              f"{'ok' if max(slope, cpu_slope) <= 2.1 else 'MISSED'}); twin {100 * share:.1f}% of the step at "
              f"n = {sizes[-1]}, {100 * share_cpu:.1f}% of its CPU (goal ≤ 25 %: "
              f"{'ok' if max(share, share_cpu) <= 0.25 else 'MISSED'})")


if __name__ == "__main__":
    main()
