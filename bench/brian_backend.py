"""Bench the Brian2 backends on examples/ep_xor.json, every baseline measured in the same run:

1. time per learning step of `brian` vs a hand-written Brian2 script of the same network
   (goal ≤ 1.1×), on the numpy target and on the compiled `cpp_standalone` target;
2. per-step cost of the built-once network vs rebuilding it every step (goal ≥ 10×): numpy
   (Network built once, runs continued) and cpp_standalone (program compiled once, re-run with
   run_args; the rebuild baseline regenerates and recompiles in the same build folder, which is
   the cheapest rebuild Brian allows: unchanged sources are not recompiled);
3. compile times (numpy: objects + first run; standalone: code generation + C++ build);
4. the spiking twin's cosine with the exact gradient vs phase duration (table + PNG), on ep_xor,
   a 2-layer and a 3-layer sigmoid EP graph, at the twin's default nudge (β = 0.1, symmetric),
   plus ep_xor with the graph's own β = 0.5 (`beta=None`) to show that estimator's bias cap.

Standalone builds go to temporary folders that are removed at the end.

    .venv/bin/python bench/brian_backend.py [--steps 10] [--rebuilds 2] [--no-standalone] [--skip-spiking] [--out DIR]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from neurophys.backends.brian import BrianRateBackend, BrianSpikingBackend
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


class HandWrittenStandalone:
    """ep_xor as one would write it for cpp_standalone: the three phases side by side in one
    NeuronGroup (free copy frozen after K steps, ±β copies nudged from step K on), compiled once,
    each step one run of the binary with s, y, w, b as run_args; the host contrasts the final rates."""

    def __init__(self, b, graph, x, directory):
        rx = graph.rule.relaxation
        self.b, self.g, self.K, self.dir = b, graph, rx.max_steps, directory
        sizes = [p.size for p in graph.populations]
        self.off = np.cumsum([0] + sizes)
        self.n, self.B = self.off[-1], len(x)
        from brian2.devices.cpp_standalone.device import CPPStandaloneDevice
        from brian2.devices.device import reset_device

        self.dev = CPPStandaloneDevice()  # its own device, so it lives beside the backend's
        b.set_device(self.dev, build_on_run=False)
        eqs = """ds/dt = free*(1 - frz*late)*(hs + bias - s - bet*late*nud*(s - y))/ms : 1
                 hs : 1
                 bias : 1
                 y : 1
                 free : 1 (constant)
                 nud : 1 (constant)
                 frz : 1 (constant)
                 bet : 1 (constant)
                 late = int(t >= Kt) : 1
                 r = clip(s, 0, 1) : 1"""
        N = 3 * self.B * self.n
        self.G = G = b.NeuronGroup(N, eqs, method="euler", dt=rx.dt * b.ms,
                                   namespace={"Kt": (self.K - 0.5) * rx.dt * b.ms})
        G.run_regularly("s = clip(s, 0, 1)*free + s*(1 - free)", when="end")
        unit, copy = np.arange(N) % self.n, np.arange(N) // (self.B * self.n)  # copy 0 free, 1 +β, 2 −β
        G.free = (unit >= sizes[0]).astype(float)
        G.nud = (unit >= self.off[-2]).astype(float)
        G.frz = (copy == 0).astype(float)
        G.bet = np.array([0.0, 1.0, -1.0])[copy] * graph.rule.beta
        pre, post, self.slots = [], [], {}
        count = 0
        for c, (a, z) in zip(graph.couplings, [(0, 1), (1, 2)]):
            i, j = np.meshgrid(np.arange(sizes[z]), np.arange(sizes[a]), indexing="ij")
            for base in range(3 * self.B):
                src, dst = base * self.n + self.off[a] + j.ravel(), base * self.n + self.off[z] + i.ravel()
                for u, v in ([(src, dst), (dst, src)] if a else [(src, dst)]):
                    pre.append(u), post.append(v)
                    self.slots.setdefault(c.name, []).append(count + np.arange(u.size))
                    count += u.size
        self.n_syn = count
        self.S = S = b.Synapses(G, G, "w : 1\nhs_post = w*r_pre : 1 (summed)")
        S.connect(i=np.concatenate(pre), j=np.concatenate(post))
        self.net = b.Network(G, S)
        t0 = time.perf_counter()
        self.net.run(2 * self.K * rx.dt * b.ms)
        self.dev.build(directory=directory, compile=True, run=False, with_output=False)
        reset_device()
        self.compile_s = time.perf_counter() - t0

    def step(self, x, y):
        b, g, B, n = self.b, self.g, self.B, self.n
        w = np.zeros(self.n_syn)
        for c in g.couplings:
            for idx in self.slots[c.name]:
                w[idx] = c.weight.ravel()
        bias = np.tile(np.concatenate([np.zeros(self.off[1])] + [p.bias for p in g.populations[1:]]), 3 * B)
        s = np.zeros((3, B, n))
        s[:, :, :self.off[1]] = x
        yy = np.zeros((3, B, n))
        yy[:, :, self.off[-2]:] = y
        self.dev.run(run_args={self.G.s: s.ravel(), self.G.y: yy.ravel(), self.S.w: w, self.G.bias: bias},
                     with_output=False)
        r = np.clip(np.asarray(self.G.s_[:]).reshape(3, B, n), 0, 1)
        scale, upd = g.rule.lr / (2 * g.rule.beta), {}
        for c, (a, z) in zip(g.couplings, [(0, 1), (1, 2)]):
            pre = lambda k: x if a == 0 else r[k][:, self.off[a]:self.off[a + 1]]
            corr = lambda k: r[k][:, self.off[z]:self.off[z + 1]].T @ pre(k) / B
            upd[c.name] = scale * (corr(1) - corr(2))
        for k, p in enumerate(g.populations[1:], 1):
            upd[f"{p.name}.bias"] = scale * (r[1] - r[2])[:, self.off[k]:self.off[k + 1]].mean(axis=0)
        g.set_params({k: g.params()[k] + v for k, v in upd.items()})
        return upd


def timed(fn, n):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def timed_pair(fa, fb, n):
    """Medians of fa and fb run alternately, so load changes on a shared machine hit both alike."""
    ta, tb = [], []
    for _ in range(n):
        ta.append(timed(fa, 1))
        tb.append(timed(fb, 1))
    return statistics.median(ta), statistics.median(tb)


def cosine_sweep(graphs, out: Path):
    """graphs: label → (graph, backend options). 'rule EP' = the reference engine's update with the
    β/estimator the twin uses (the bias floor the spikes cannot beat)."""
    rows = []
    for label, (g, options) in graphs.items():
        split = load_split(g.dataset)
        x, y = split.x_train, split.y_train
        _, grad = reference(g, x, y)
        keys = list(grad)
        for T in DURATIONS:
            be = BrianSpikingBackend(phase_duration=T, **options)
            be.compile(g)
            twin = g.copy()
            twin.rule.beta, twin.rule.estimator = be.info()["beta"], be.info()["estimator"]
            ep = family(twin).local_update(twin, x, y)
            ep_cos = metrics.cosine(metrics.flatten(ep, keys), metrics.flatten(grad))
            cs, ce, ts = [], [], []
            for _ in range(3):  # independent spike noise, same θ
                be.set_params(g.params())
                t0 = time.perf_counter()
                u = be.step(x, y)
                ts.append(time.perf_counter() - t0)
                cs.append(metrics.cosine(metrics.flatten(u, keys), metrics.flatten(grad)))
                ce.append(metrics.cosine(metrics.flatten(u, keys), metrics.flatten(ep, keys)))
            be.close()
            rows.append((label, T, float(np.mean(cs)), float(np.min(cs)), float(np.mean(ce)), ep_cos, statistics.median(ts)))
            print(f"  {label:<24} β={twin.rule.beta:<4g} T={T:>5g}  cos(exact) mean {rows[-1][2]:.4f} min {rows[-1][3]:.4f}"
                  f"   cos(rule EP) {rows[-1][4]:.4f}   [rule EP vs exact {ep_cos:.4f}]   {rows[-1][6] * 1e3:7.1f} ms/step")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label in graphs:
        r = [row for row in rows if row[0] == label]
        ax.plot([row[1] for row in r], [row[2] for row in r], "o-", label=f"{label}: vs exact gradient")
        ax.plot([row[1] for row in r], [row[4] for row in r], "x--", label=f"{label}: vs rule EP update")
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


def row(label, seconds, ratio=None, goal="", unit="ms"):
    t = f"{seconds * 1e3:>10.1f}ms" if unit == "ms" else f"{seconds:>11.2f}s"
    r = f"{ratio:>9.2f}×" if ratio is not None else " " * 10
    print(f"{label:<58}{t}{r}{goal:>10}")


def check_against_reference(step, graph, x, y, label):
    ref = family(graph).local_update(graph.copy(), x, y)
    err = metrics.rel_error(metrics.flatten(step(x, y), list(ref)), metrics.flatten(ref))
    print(f"  {label} reproduces the reference update to rel. error {err:.2e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=10, help="timed learning steps per configuration (median)")
    ap.add_argument("--rebuilds", type=int, default=2, help="timed rebuild-every-step repetitions on cpp_standalone")
    ap.add_argument("--no-standalone", action="store_true", help="skip the cpp_standalone part")
    ap.add_argument("--out", default="runs/bench-brian")
    ap.add_argument("--skip-spiking", action="store_true")
    args = ap.parse_args()

    graph = load("examples/ep_xor.json")
    split = load_split(graph.dataset)
    x, y = split.x_train, split.y_train
    print(f"ep_xor: {len(x)} samples, {graph.rule.relaxation.max_steps} Euler steps per phase")

    # ---- numpy target: Network built once vs hand-written vs rebuilt every step
    t0 = time.perf_counter()
    be = BrianRateBackend(codegen="numpy")
    be.compile(graph)
    np_compile = time.perf_counter() - t0
    import brian2 as b

    hw = HandWritten(b, graph.copy(), x)
    t0 = time.perf_counter()
    hw.step(x, y)  # first run generates its code
    hw_compile = time.perf_counter() - t0
    hw.g.set_params(graph.params())
    check_against_reference(hw.step, graph, x, y, "hand-written numpy script")
    be.set_params(graph.params())
    check_against_reference(be.step, graph, x, y, "brian (numpy)")
    t_np, t_np_hand = timed_pair(lambda: be.step(x, y), lambda: hw.step(x, y), args.steps)

    def rebuild_numpy():
        fresh = BrianRateBackend(codegen="numpy")
        fresh.compile(graph)
        fresh.step(x, y)

    t_np_rebuild = timed(rebuild_numpy, max(2, args.steps // 3))
    be.close()

    sa = None
    if not args.no_standalone:
        root = Path(tempfile.mkdtemp(prefix="neurophys-brian-bench-"))
        try:
            t0 = time.perf_counter()
            be = BrianRateBackend(codegen="cpp_standalone", build_dir=str(root / "backend"))
            be.compile(graph)
            sa_compile, sa_build = time.perf_counter() - t0, be.target.compile_s
            check_against_reference(be.step, graph, x, y, "brian (cpp_standalone)")
            hs = HandWrittenStandalone(b, graph.copy(), x, str(root / "hand"))
            check_against_reference(hs.step, graph, x, y, "hand-written cpp_standalone script")
            hs.g.set_params(graph.params())
            t_sa, t_sa_hand = timed_pair(lambda: be.step(x, y), lambda: hs.step(x, y), args.steps)
            be.close()

            def rebuild_standalone():  # same folder: Brian rewrites only changed sources, make recompiles those
                with BrianRateBackend(codegen="cpp_standalone", build_dir=str(root / "backend")) as fresh:
                    fresh.compile(graph)
                    fresh.step(x, y)

            t_sa_rebuild = timed(rebuild_standalone, args.rebuilds)
            sa = (sa_compile, sa_build, t_sa, t_sa_rebuild, t_sa_hand, hs.compile_s)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    print()
    print(f"{'measure (median; backend/script steps alternate)':<58}{'time':>12}{'ratio':>10}{'goal':>10}")
    print("numpy target")
    row("  brian: learning step (Network built once)", t_np)
    row("  hand-written Brian2 script: learning step", t_np_hand)
    row("    ratio brian / hand-written", t_np, t_np / t_np_hand, "≤ 1.1×")
    row("  rebuild network every step", t_np_rebuild)
    row("    ratio rebuild / built once", t_np_rebuild, t_np_rebuild / t_np, "≥ 10×")
    if sa:
        sa_compile, sa_build, t_sa, t_sa_rebuild, t_sa_hand, hs_compile = sa
        print("cpp_standalone target")
        row("  brian: learning step (compiled once, run_args)", t_sa)
        row("  hand-written standalone script: learning step", t_sa_hand)
        row("    ratio brian / hand-written", t_sa, t_sa / t_sa_hand, "≤ 1.1×")
        row("  regenerate + recompile (same folder) every step", t_sa_rebuild)
        row("    ratio rebuild / built once", t_sa_rebuild, t_sa_rebuild / t_sa, "≥ 10×")
        row("    ratio numpy rebuild / standalone built once", t_np_rebuild, t_np_rebuild / t_sa, "≥ 10×")
        row("    ratio numpy built once / standalone built once", t_np, t_np / t_sa)
    print("compile")
    row("  numpy: backend (import + objects + first run)", np_compile, unit="s")
    row("  numpy: hand-written first step", hw_compile, unit="s")
    if sa:
        row("  cpp_standalone: backend (objects + codegen + C++ build)", sa_compile, unit="s")
        row("  cpp_standalone: hand-written (codegen + C++ build)", hs_compile, unit="s")

    if not args.skip_spiking:
        print("\nspiking twin: cosine vs phase duration (3 noise seeds per duration, same θ)")
        kw = dict(activation="sigmoid", gain=2.0, beta=0.5, lr=0.1, estimator="symmetric",
                  relaxation=Relaxation("euler", dt=0.5, max_steps=40, tol=0), dataset=Dataset("xor"),
                  training=Training(batch_size=4), seed=1)
        cosine_sweep({"ep_xor.json": (graph, {}), "ep_xor.json beta=None": (graph, {"beta": None}),
                      "xor 2-4-2 sigmoid": (builders.layered_ep([2, 4, 2], **kw), {}),
                      "xor 2-6-4-2 sigmoid": (builders.layered_ep([2, 6, 4, 2], **kw), {})}, Path(args.out))

if __name__ == "__main__":
    main()
