"""EP relaxation: this project's solver vs plain fixed-step Euler (the EP literature's scheme).

On examples/ep_digits.json, one symmetric-EP learning step (free + ±β nudged phases) on a batch,
each solver run to the same 1e-6 residual. Prints iterations, samples/s, the update's agreement
with the exact gradient (so the speed is not bought with accuracy), and the ratios.

The baseline is given its best case: Euler evaluates the field once per step (the residual check
reuses the step's drift), and it runs at every step size in --dt; the ratio is printed against
dt = 0.5 (the step of the EP literature) and against the fastest step that converges. Runs are interleaved and repeated; each solver's best time counts, so a
busy machine slows both alike.

    .venv/bin/python bench/ep_relaxation.py [--batch 128] [--dt 0.25 0.5 0.75 0.9] [--repeats 5]
"""
import argparse
import pathlib
import time

import numpy as np

from neurophys import ir, metrics
from neurophys.data import load_split
from neurophys.families import ep
from neurophys.gradcheck import reference
from neurophys.ir import Relaxation
from neurophys.physics.hopfield import Hopfield

ROOT = pathlib.Path(__file__).resolve().parent.parent


def run(graph, x, y, relaxation):
    graph.rule.relaxation = relaxation
    net = Hopfield(graph)
    t0 = time.perf_counter()
    s0, i0 = net.relax(x)
    sp, ip = net.relax(x, y, graph.rule.beta, s0)
    sm, im = net.relax(x, y, -graph.rule.beta, s0)
    dt = time.perf_counter() - t0
    update = ep.update_from_phases(graph, net, x, {"free": s0, "plus": sp, "minus": sm})
    iters = sum(i["steps"] + i.get("newton", 0) for i in (i0, ip, im))
    return update, dt, iters, max(i0["residual"], ip["residual"], im["residual"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--dt", type=float, nargs="+", default=[0.25, 0.5, 0.75, 0.9], help="Euler steps tried")
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--max-steps", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    g = ir.load(ROOT / "examples" / "ep_digits.json")
    split = load_split(g.dataset)
    x, y = split.x_train[:args.batch], split.y_train[:args.batch]
    _, ref = reference(g, x, y)
    solvers = [(f"euler dt={dt:g}", Relaxation("euler", dt=dt, tol=args.tol, max_steps=args.max_steps))
               for dt in args.dt] + [("gauss-seidel + newton", Relaxation("newton", tol=args.tol, max_steps=args.max_steps))]
    best = {}
    for _ in range(args.repeats):
        for label, rx in solvers:
            u, secs, iters, res = run(g.copy(), x, y, rx)
            if label not in best or secs < best[label][2]:
                cos = metrics.cosine(metrics.flatten(u, list(ref)), metrics.flatten(ref))
                best[label] = (label, iters, secs, args.batch / secs, res, cos)
    rows = list(best.values())
    print(f"EP step on ep_digits (64-128-10, batch {args.batch}, symmetric β={g.rule.beta}), residual target {args.tol:g}")
    print(f"{'solver':<24}{'iterations':>12}{'seconds':>10}{'samples/s':>12}{'residual':>11}{'cos vs exact':>14}")
    for r in rows:
        print(f"{r[0]:<24}{r[1]:>12d}{r[2]:>10.3f}{r[3]:>12.1f}{r[4]:>11.1e}{r[5]:>14.6f}")
    ours = rows[-1]
    converged = [r for r in rows[:-1] if r[4] <= args.tol]
    if not converged:
        print("no Euler step size reached the residual target; raise --max-steps")
        return
    fastest = max(converged, key=lambda r: r[3])
    print(f"best of {args.repeats} interleaved runs each")
    for base, why in [(next((r for r in converged if r[0] == "euler dt=0.5"), None), "the EP literature's step"),
                      (fastest, "the fastest converging step")]:
        if base is not None:
            print(f"ratio vs {base[0]} ({why}): throughput ×{ours[3] / base[3]:.1f}, "
                  f"iterations ×{base[1] / ours[1]:.1f} fewer (goal ≥ 10× throughput)")

if __name__ == "__main__":
    main()
