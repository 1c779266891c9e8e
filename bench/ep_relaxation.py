"""EP relaxation: this project's solver vs the alternating-layer loop an EP user writes in numpy.

On examples/ep_digits.json (64-128-10 hard-sigmoid, symmetric β = 0.5), one EP learning step on a
batch: the free phase from zero, then the +β and −β phases from the free state.

Baseline (`alternating_layers` below): the plain batched fixed-point loop, written as a fluent numpy
user would — input drive computed once, buffers preallocated, everything vectorised:
    h ← clip(x W1ᵀ + o W2 + b1, 0, 1),   o ← clip(h W2ᵀ + b2 − β(o − y), 0, 1)
run until no unit moves by more than the tolerance in an iteration (the usual stopping test).
Project: `ep.phases` — the rule's own relaxation (method newton: block Gauss–Seidel over the
two layers with an active-set Newton finish, neurophys/physics/block_relax.py), stopping when
max|s − P(h − βC′(s))| ≤ tol for every sample. Both final states are then measured by the same
function (Hopfield's fixed-point residual, max over units, samples and phases): the `residual`
column. `Δupdate` is max|u − u_baseline| / max|u_baseline| of the EP updates.

Timing: the two are interleaved in one process, repeated, and each one's median counts (the
machine may be busy; interleaving slows both alike): wall-clock and CPU time of the process (on a
loaded machine the CPU time is the steadier of the two). Both run under one BLAS thread (the
project's solver sets that itself; at these sizes a second thread only adds waiting, and on a
busy 2-core box it made the loop's wall time several times its CPU time). The second table is the literature's fixed
budget (T1 = 30 free / T2 = 10 nudged alternating iterations, Laborieux et al. 2021) beside the
converged solves: time and the update's cosine with the exact gradient −lr·∇L.

    .venv/bin/python bench/ep_relaxation.py [--batch 8 128] [--tol 1e-8] [--repeats 15]
"""
import argparse
import pathlib
import time

import numpy as np

from neurophys import ir, metrics
from neurophys.blas import small_matrices
from neurophys.data import load_split
from neurophys.families import ep
from neurophys.gradcheck import reference
from neurophys.ir import Relaxation
from neurophys.physics.hopfield import Hopfield

ROOT = pathlib.Path(__file__).resolve().parent.parent
GOAL = 1.5


def alternating_layers(W1, b1, W2, b2, x, y, beta, h, o, tol, max_iter):
    """The baseline loop (module docstring) from (h, o). tol = 0: run exactly max_iter iterations
    (a fixed budget). Returns (h, o, iterations run)."""
    a = x @ W1.T + b1
    c = b2 + beta * y if beta else np.broadcast_to(b2, o.shape)
    h_new, o_new = np.empty_like(h), np.empty_like(o)
    for it in range(1, max_iter + 1):
        np.matmul(o, W2, out=h_new)
        h_new += a
        np.clip(h_new, 0.0, 1.0, out=h_new)
        np.matmul(h_new, W2.T, out=o_new)
        o_new += c
        if beta:
            o_new -= beta * o
        np.clip(o_new, 0.0, 1.0, out=o_new)
        moved = max(np.abs(h_new - h).max(), np.abs(o_new - o).max()) if tol else np.inf
        h, h_new, o, o_new = h_new, h, o_new, o
        if moved <= tol:
            break
    return h, o, it


def baseline_phases(g, x, y, tol, free_iters, nudged_iters):
    W1, W2 = (g.coupling(n).weight for n in ("W1", "W2"))
    b1, b2, beta = g.pop_index["h1"].bias, g.pop_index["out"].bias, g.rule.beta
    h, o = np.zeros((len(x), W2.shape[1])), np.zeros((len(x), W2.shape[0]))
    h, o, iters = alternating_layers(W1, b1, W2, b2, x, y, 0.0, h, o, tol, free_iters)
    states = {"free": np.hstack([h, o])}
    for name, b in (("plus", beta), ("minus", -beta)):
        hb, ob, it = alternating_layers(W1, b1, W2, b2, x, y, b, h.copy(), o.copy(), tol, nudged_iters)
        states[name], iters = np.hstack([hb, ob]), iters + it
    return states, iters


def project_phases(g, x, y):
    net = Hopfield(g)
    states = {"free": net.relax(x)}
    for name, b in (("plus", g.rule.beta), ("minus", -g.rule.beta)):
        states[name] = net.relax(x, y, b, states["free"][0])
    iters = sum(i["steps"] + i.get("newton", 0) for _, i in states.values())
    return {k: s for k, (s, _) in states.items()}, iters


def timed(fn, *args):
    """(result, wall seconds, CPU seconds)"""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - w0, time.process_time() - c0


def assess(g, x, y, states, ref):
    """(worst fixed-point residual over the phases, EP update, its cosine with the exact gradient)"""
    net = Hopfield(g)
    x_rho = net.rho_in(x)
    res = max(net.residual(states[k], x_rho, y, b) for k, b in
              (("free", 0.0), ("plus", g.rule.beta), ("minus", -g.rule.beta)))
    u = ep.update_from_phases(g, net, x, states)
    return res, u, metrics.cosine(metrics.flatten(u, list(ref)), metrics.flatten(ref))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, nargs="+", default=[8, 128])
    ap.add_argument("--tol", type=float, default=1e-8)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--max-iter", type=int, default=20000)
    ap.add_argument("--budget", type=int, nargs=2, default=[30, 10], metavar=("T1", "T2"))
    ap.add_argument("--euler-dt", type=float, default=0.5)
    args = ap.parse_args()
    g = ir.load(ROOT / "examples" / "ep_digits.json")
    newton = Relaxation("newton", tol=args.tol, max_steps=args.max_iter)
    g.rule.relaxation = newton
    split = load_split(g.dataset)
    T1, T2 = args.budget
    BASE, OURS, BUDGET = "alternating loop", "project (newton)", f"alternating, T1={T1}/T2={T2}"
    runs = {BASE: lambda x, y: baseline_phases(g, x, y, args.tol, args.max_iter, args.max_iter),
            OURS: lambda x, y: project_phases(g, x, y),
            BUDGET: lambda x, y: baseline_phases(g, x, y, 0.0, T1, T2)}
    print(f"EP step on ep_digits (64-128-10 hard sigmoid, symmetric β={g.rule.beta}), one BLAS thread; "
          f"median of {args.repeats} interleaved repeats (wall-clock and CPU time)")
    print(f"\nat equal residual (target {args.tol:g})")
    print(f"{'batch':>5}  {'solver':<18}{'iterations':>11}{'wall ms':>9}{'cpu ms':>8}{'residual':>10}{'Δupdate':>9}"
          f"{'speed-up wall':>15}{'cpu':>7}")
    budget_rows, euler_rows = [], []
    for B in args.batch:
        x, y = split.x_train[:B], split.y_train[:B]
        _, ref = reference(g, x, y)
        wall, cpu, out = {k: [] for k in runs}, {k: [] for k in runs}, {}
        for _ in range(args.repeats):
            for name, fn in runs.items():
                out[name], w, c = timed(fn, x, y)
                wall[name].append(w)
                cpu[name].append(c)
        wall, cpu = ({k: float(np.median(v)) for k, v in d.items()} for d in (wall, cpu))
        info = {k: (assess(g, x, y, states, ref), iters) for k, (states, iters) in out.items()}
        u_base = info[BASE][0][1]
        for name in (BASE, OURS):
            (res, u, _), iters = info[name]
            delta = max(np.abs(u[k] - u_base[k]).max() for k in u) / max(np.abs(v).max() for v in u_base.values())
            goal = f"   (goal ≥ {GOAL}×)" if name == OURS else ""
            print(f"{B:>5}  {name:<18}{iters:>11d}{1e3 * wall[name]:>9.2f}{1e3 * cpu[name]:>8.2f}{res:>10.1e}"
                  f"{delta:>9.1e}{wall[BASE] / wall[name]:>14.2f}×{cpu[BASE] / cpu[name]:>6.2f}×{goal}")
        budget_rows += [(B, name, 1e3 * wall[name], 1e3 * cpu[name], info[name][0][2]) for name in runs]
        g.rule.relaxation = Relaxation("euler", dt=args.euler_dt, tol=args.tol, max_steps=50 * args.max_iter)
        (_, euler_iters), _, euler_cpu = timed(project_phases, g, x, y)
        g.rule.relaxation = newton
        euler_rows.append((B, euler_iters, euler_cpu / cpu[OURS]))
    print("\nthe literature's fixed budget beside the converged solves (cosine of the EP update with −lr·∇L)")
    print(f"{'batch':>5}  {'solver':<28}{'wall ms':>9}{'cpu ms':>8}{'cosine':>11}")
    for B, name, w, c, cos in budget_rows:
        print(f"{B:>5}  {name:<28}{w:>9.2f}{c:>8.2f}{cos:>11.6f}")
    print(f"\nfootnote — Euler at dt = {args.euler_dt:g} (the core's euler integrator, same residual target, one run):")
    for B, iters, ratio in euler_rows:
        print(f"  batch {B}: {iters} steps, {ratio:.1f}× the project solver's CPU time")


if __name__ == "__main__":
    with small_matrices():
        main()
