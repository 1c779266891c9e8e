"""Bench the Brian2 backends on examples/ep_xor.json (numpy target unless --codegen cython):

1. time per learning step of `brian` vs a hand-written Brian2 script of the same network, in
   the same run (goal ≤ 1.1×);
2. per-step cost of the built-once network vs rebuilding the network every step (goal ≥ 10×);
3. compile time (first build: equations → code, plus the first run);
4. the spiking twin's cosine with the exact gradient vs phase duration (table + PNG), on
   ep_xor and on a 3-layer sigmoid EP graph.

    .venv/bin/python bench/brian_backend.py [--steps 10] [--codegen numpy|cython] [--out DIR]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from backends.brian import BrianRateBackend, BrianSpikingBackend
from neurophys import metrics
from neurophys.data import load_split
from neurophys.families import family
from neurophys.gradcheck import reference
from neurophys.ir import builders, load
from neurophys.ir.dataset import Dataset
from neurophys.ir.rule import Relaxation
from neurophys.ir.training import Training

DURATIONS = (5, 10, 25, 50, 100, 200, 400)


class HandWritten:
    """ep_xor written directly in Brian2, the way one would by hand: one NeuronGroup of B copies,
    one Synapses with a summed field, three runs per step (free; store; +β; restore; −β)."""

    def __init__(self, b, graph, x):
        rx = graph.rule.relaxation
        self.b, self.g, self.K = b, graph, rx.max_steps
        sizes = [p.size for p in graph.populations]
        self.off = np.cumsum([0] + sizes)
        self.n, self.B = self.off[-1], len(x)
        eqs = """ds/dt = free*(hs + bias - s - beta*nud*(s - y))/ms : 1
                 hs : 1
                 bias : 1
                 y : 1
                 free : 1 (constant)
                 nud : 1 (constant)
                 beta : 1 (shared)
                 r = clip(s, 0, 1) : 1"""
        self.G = G = b.NeuronGroup(self.B * self.n, eqs, method="euler", dt=rx.dt * b.ms, namespace={})
        G.run_regularly("s = clip(s, 0, 1)*free + s*(1 - free)", when="end")
        unit = np.arange(self.B * self.n) % self.n
        G.free = (unit >= sizes[0]).astype(float)
        G.nud = (unit >= self.off[-2]).astype(float)
        pre, post, self.idx = [], [], []
        for c, (a, z) in zip(graph.couplings, [(0, 1), (1, 2)]):
            i, j = np.meshgrid(np.arange(sizes[z]), np.arange(sizes[a]), indexing="ij")
            for bb in range(self.B):
                src, dst = bb * self.n + self.off[a] + j.ravel(), bb * self.n + self.off[z] + i.ravel()
                pre += [src, dst] if a else [src]
                post += [dst, src] if a else [dst]
        self.S = S = b.Synapses(G, G, "w : 1\nhs_post = w*r_pre : 1 (summed)", namespace={})
        S.connect(i=np.concatenate(pre), j=np.concatenate(post))
        self.net = b.Network(G, S)

    def _write(self):
        W = {c.name: c.weight for c in self.g.couplings}
        pi, pj = np.asarray(self.S.i[:]) % self.n, np.asarray(self.S.j[:]) % self.n
        w = np.zeros(len(pi))
        for c, (a, z) in zip(self.g.couplings, [(0, 1), (1, 2)]):
            fwd = (pi >= self.off[a]) & (pi < self.off[a + 1]) & (pj >= self.off[z]) & (pj < self.off[z + 1])
            bwd = (pj >= self.off[a]) & (pj < self.off[a + 1]) & (pi >= self.off[z]) & (pi < self.off[z + 1])
            w[fwd] = W[c.name][pj[fwd] - self.off[z], pi[fwd] - self.off[a]]
            w[bwd] = W[c.name][pi[bwd] - self.off[z], pj[bwd] - self.off[a]]
        self.S.w_[:] = w
        self.G.bias_[:] = np.tile(np.concatenate([np.zeros(self.off[1])] + [p.bias for p in self.g.populations[1:]]), self.B)

    def step(self, x, y):
        b, G, beta, dur = self.b, self.G, self.g.rule.beta, self.K * self.G.clock.dt
        self._write()
        s = np.zeros((self.B, self.n))
        s[:, :self.off[1]] = x
        yy = np.zeros((self.B, self.n))
        yy[:, self.off[-2]:] = y
        G.s_[:], G.y_[:], G.beta = s.ravel(), yy.ravel(), 0.0
        self.net.run(dur, namespace={})
        self.net.store("free")
        r = {}
        for sign in (1.0, -1.0):
            self.net.restore("free")
            G.beta = sign * beta
            self.net.run(dur, namespace={})
            r[sign] = np.clip(np.asarray(G.s_[:]).reshape(self.B, self.n), 0, 1)
        scale, upd = self.g.rule.lr / (2 * beta), {}
        for c, (a, z) in zip(self.g.couplings, [(0, 1), (1, 2)]):
            pre = lambda k: x if a == 0 else r[k][:, self.off[a]:self.off[a + 1]]
            corr = lambda k: r[k][:, self.off[z]:self.off[z + 1]].T @ pre(k) / self.B
            upd[c.name] = scale * (corr(1.0) - corr(-1.0))
        for k, p in enumerate(self.g.populations[1:], 1):
            upd[f"{p.name}.bias"] = scale * (r[1.0] - r[-1.0])[:, self.off[k]:self.off[k + 1]].mean(axis=0)
        self.g.set_params({k: self.g.params()[k] + v for k, v in upd.items()})
        return upd


def timed(fn, n):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cosine_sweep(graphs, out: Path):
    rows = []
    for label, g in graphs.items():
        split = load_split(g.dataset)
        x, y = split.x_train, split.y_train
        _, grad = reference(g, x, y)
        keys = list(grad)
        ep = family(g).local_update(g, x, y)
        ep_cos = metrics.cosine(metrics.flatten(ep, keys), metrics.flatten(grad))
        for T in DURATIONS:
            be = BrianSpikingBackend(phase_duration=T)
            be.compile(g)
            cs, ce, ts = [], [], []
            for seed in range(3):  # independent spike noise, same θ
                be.set_params(g.params())
                t0 = time.perf_counter()
                u = be.step(x, y)
                ts.append(time.perf_counter() - t0)
                cs.append(metrics.cosine(metrics.flatten(u, keys), metrics.flatten(grad)))
                ce.append(metrics.cosine(metrics.flatten(u, keys), metrics.flatten(ep, keys)))
            be.set_params(g.params())
            rows.append((label, T, float(np.mean(cs)), float(np.min(cs)), float(np.mean(ce)), ep_cos, statistics.median(ts)))
            print(f"  {label:<22} T={T:>5g}  cos(exact) mean {rows[-1][2]:.4f} min {rows[-1][3]:.4f}   "
                  f"cos(rate EP) {rows[-1][4]:.4f}   [rate EP vs exact {ep_cos:.4f}]   {rows[-1][6] * 1e3:7.1f} ms/step")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label in graphs:
        r = [row for row in rows if row[0] == label]
        ax.plot([row[1] for row in r], [row[2] for row in r], "o-", label=f"{label}: vs exact gradient")
        ax.plot([row[1] for row in r], [row[4] for row in r], "x--", label=f"{label}: vs rate EP update")
    ax.axhline(0.95, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("phase duration (measurement window, IR time units = ms)")
    ax.set_ylabel("cosine")
    ax.set_title("brian-spiking: update vs gradient")
    ax.legend(fontsize=7)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "spiking_cosine_vs_duration.png", dpi=120)
    print(f"  plot: {out / 'spiking_cosine_vs_duration.png'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--codegen", default="numpy")
    ap.add_argument("--out", default="runs/bench-brian")
    ap.add_argument("--skip-spiking", action="store_true")
    args = ap.parse_args()

    graph = load("examples/ep_xor.json")
    split = load_split(graph.dataset)
    x, y = split.x_train, split.y_train
    print(f"ep_xor: {len(x)} samples, {graph.rule.relaxation.max_steps} Euler steps per phase, codegen {args.codegen}")

    t0 = time.perf_counter()
    be = BrianRateBackend(codegen=args.codegen)
    be.compile(graph)
    compile_s = time.perf_counter() - t0
    import brian2 as b

    hw = HandWritten(b, graph.copy(), x)
    t0 = time.perf_counter()
    hw.step(x, y)  # first run generates its code
    hw_compile = time.perf_counter() - t0
    hw.g.set_params(graph.params())
    ref = family(graph).local_update(graph.copy(), x, y)
    check = metrics.rel_error(metrics.flatten(hw.step(x, y), list(ref)), metrics.flatten(ref))
    print(f"hand-written script reproduces the reference update to rel. error {check:.2e}")

    t_backend = timed(lambda: be.step(x, y), args.steps)
    t_hand = timed(lambda: hw.step(x, y), args.steps)

    def rebuild():
        fresh = BrianRateBackend(codegen=args.codegen)
        fresh.compile(graph)
        fresh.step(x, y)

    t_rebuild = timed(rebuild, max(2, args.steps // 3))
    print()
    print(f"{'measure':<48}{'time':>12}{'ratio':>10}{'goal':>10}")
    print(f"{'brian: learning step (built once)':<48}{t_backend * 1e3:>10.1f}ms")
    print(f"{'hand-written Brian2 script: learning step':<48}{t_hand * 1e3:>10.1f}ms"
          f"{t_backend / t_hand:>9.2f}×{'≤ 1.1×':>10}")
    print(f"{'rebuild network every step':<48}{t_rebuild * 1e3:>10.1f}ms"
          f"{t_rebuild / t_backend:>9.1f}×{'≥ 10×':>10}")
    print(f"{'compile: backend (import + build + first run)':<48}{compile_s:>11.2f}s")
    print(f"{'compile: backend build only (info.compile_s)':<48}{be.info()['compile_s']:>11.2f}s")
    print(f"{'compile: hand-written first step':<48}{hw_compile:>11.2f}s")

    if not args.skip_spiking:
        print("\nspiking twin: cosine vs phase duration (3 noise seeds per duration, same θ)")
        three = builders.layered_ep([2, 6, 4, 2], activation="sigmoid", gain=2.0, beta=0.5, lr=0.1, estimator="symmetric",
                                    relaxation=Relaxation("euler", dt=0.5, max_steps=40, tol=0), dataset=Dataset("xor"),
                                    training=Training(batch_size=4), seed=1)
        two = builders.layered_ep([2, 4, 2], activation="sigmoid", gain=2.0, beta=0.5, lr=0.1, estimator="symmetric",
                                  relaxation=Relaxation("euler", dt=0.5, max_steps=40, tol=0), dataset=Dataset("xor"),
                                  training=Training(batch_size=4), seed=1)
        cosine_sweep({"ep_xor.json (hard_sig)": graph, "xor 2-4-2 sigmoid": two, "xor 2-6-4-2 sigmoid": three},
                     Path(args.out))


if __name__ == "__main__":
    main()
