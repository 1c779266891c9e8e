"""Bench the Brian2 backends on examples/ep_xor.json, every baseline measured in the same run:

1. time per learning step of `brian` vs a hand-written Brian2 script of the same network
   (goal ≤ 1.1×), on the numpy target and on the compiled `cpp_standalone` target. The baselines
   are what a fluent Brian2 user writes, independently of the backend's code: the +β and −β
   copies of the batch in one NeuronGroup (the symmetric estimator needs no free copy), one run
   of 2K steps per learning step with the nudge switched on at step K by `int(t >= t_on)`, the
   update from the final rates with numpy; numpy: one Network built once, runs continued;
   standalone: compiled once, then `device.run(run_args=...)` every step (its overhead included).
   Backend and script steps alternate; the table gives both wall-time medians, the median of
   the pairwise ratios, and CPU time (this process + the standalone binary), which a loaded
   machine disturbs less than wall time;
2. per-step cost of the built-once network vs rebuilding it every step (goal ≥ 10×): numpy
   (Network built once, runs continued) and cpp_standalone (program compiled once, re-run with
   run_args; the rebuild baseline regenerates and recompiles in the same build folder, which is
   the cheapest rebuild Brian allows: unchanged sources are not recompiled);
3. compile times (numpy: objects + first run; standalone: code generation + C++ build);
4. the spiking twin's cosine with the exact gradient vs phase duration (table + PNG), on ep_xor,
   a 2-layer and a 3-layer sigmoid EP graph, at the twin's default nudge (β = 0.1, symmetric),
   plus ep_xor with the graph's own β = 0.5 (`beta=None`) to show that estimator's bias cap.

Standalone programs are built once per bench run, in persistent folders under `--cache` (a second
run finds its sources unchanged and recompiles nothing; the cold build is ~45 s on a loaded
2-core machine).

    .venv/bin/python bench/brian_backend.py [--steps 15] [--rebuilds 1] [--cache DIR] [--no-standalone]
                                            [--skip-spiking] [--out DIR]
"""
from __future__ import annotations

import argparse
import resource
import statistics
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


def _ep_xor_layers(graph):
    """(offsets, sizes, couplings as (coupling, src layer, dst layer)) of a layered EP graph x → h → out."""
    sizes = [p.size for p in graph.populations]
    layer = {p.name: k for k, p in enumerate(graph.populations)}
    return np.cumsum([0] + sizes), sizes, [(c, layer[c.src], layer[c.dst]) for c in graph.couplings]


def _update_from_final_rates(graph, x, r, off, plus, minus):
    """The symmetric EP update (lr/2β)(ρρ₊ − ρρ₋), batch mean, from (copies, B, n) final rates."""
    scale, B, upd = graph.rule.lr / (2 * graph.rule.beta), len(x), {}
    for c, a, z in _ep_xor_layers(graph)[2]:
        pre = lambda k: x if a == 0 else r[k][:, off[a]:off[a + 1]]
        corr = lambda k: r[k][:, off[z]:off[z + 1]].T @ pre(k) / B
        upd[c.name] = scale * (corr(plus) - corr(minus))
    for k, p in enumerate(graph.populations[1:], 1):
        upd[f"{p.name}.bias"] = scale * (r[plus] - r[minus])[:, off[k]:off[k + 1]].mean(axis=0)
    return upd


def _wiring(off, sizes, layers, copies):
    """Synapse (pre, post) lists and each coupling's synapse slots, both directions between free layers."""
    pre, post, slots, count = [], [], {}, 0
    for c, a, z in layers:
        i, j = np.meshgrid(np.arange(sizes[z]), np.arange(sizes[a]), indexing="ij")
        for base in range(copies):
            src, dst = base * off[-1] + off[a] + j.ravel(), base * off[-1] + off[z] + i.ravel()
            for u, v in ([(src, dst), (dst, src)] if a else [(src, dst)]):
                pre.append(u), post.append(v)
                slots.setdefault(c.name, []).append(count + np.arange(u.size))
                count += u.size
    return np.concatenate(pre), np.concatenate(post), slots


class HandWritten:
    """ep_xor as a fluent Brian2 user writes it for the runtime (numpy) target: the +β and −β copies
    of the B samples in ONE NeuronGroup, one Synapses with a summed field, ONE run of 2K steps per
    learning step with the nudge switched on at step K by `int(t >= t_on)` (t_on a shared variable
    set before each run, since the runtime clock continues across runs), the box projection in a
    run_regularly, and the update from the final rates with numpy. No store/restore, no free copy
    (the symmetric estimator does not use it), no accumulators."""

    def __init__(self, b, graph, B):
        rx = graph.rule.relaxation
        self.b, self.g, self.K, self.B = b, graph, rx.max_steps, B
        self.off, sizes, self.layers = _ep_xor_layers(graph)
        n, N = self.off[-1], 2 * B * self.off[-1]
        eqs = """ds/dt = free*(hs + bias - s - nudge*int(t >= t_on)*(s - y))/ms : 1
                 hs : 1
                 bias : 1
                 y : 1
                 free : 1 (constant)
                 nudge : 1 (constant)
                 t_on : second (shared)
                 r = clip(s, 0, 1) : 1"""
        self.G = G = b.NeuronGroup(N, eqs, method="euler", dt=rx.dt * b.ms, namespace={})
        G.run_regularly("s = clip(s, 0, 1)", when="end")  # ep_xor's inputs lie in [0, 1]: no mask needed
        unit, copy = np.arange(N) % n, np.arange(N) // (B * n)  # copy 0: +β, copy 1: −β
        G.free = (unit >= self.off[1]).astype(float)
        G.nudge = (unit >= self.off[-2]) * np.array([1.0, -1.0])[copy] * graph.rule.beta
        pre, post, self.slots = _wiring(self.off, sizes, self.layers, 2 * B)
        self.S = S = b.Synapses(G, G, "w : 1\nhs_post = w*r_pre : 1 (summed)", namespace={})
        S.connect(i=pre, j=post)
        self.net = b.Network(G, S)

    def step(self, x, y):
        b, G, g, B, n = self.b, self.G, self.g, self.B, self.off[-1]
        w = np.zeros(len(self.S))
        for c in g.couplings:
            for idx in self.slots[c.name]:
                w[idx] = c.weight.ravel()
        self.S.w_[:] = w
        G.bias_[:] = np.tile(np.concatenate([np.zeros(self.off[1])] + [p.bias for p in g.populations[1:]]), 2 * B)
        s, yy = np.zeros((2, B, n)), np.zeros((2, B, n))
        s[:, :, :self.off[1]], yy[:, :, self.off[-2]:] = x, y
        G.s_[:], G.y_[:] = s.ravel(), yy.ravel()
        G.t_on = self.net.t + (self.K - 0.5) * G.dt  # half a step of slack against float rounding of t
        self.net.run(2 * self.K * G.dt, namespace={})
        r = np.clip(np.asarray(G.s_[:]).reshape(2, B, n), 0, 1)
        upd = _update_from_final_rates(g, x, r, self.off, 0, 1)
        g.set_params({k: g.params()[k] + v for k, v in upd.items()})
        return upd


class HandWrittenStandalone:
    """ep_xor as a fluent Brian2 user writes it for cpp_standalone: the same two-copy model (the
    nudge switched on by `int(t >= t_on)`, t_on a constant: every run of the binary starts at
    t = 0), compiled once, then each learning step one `device.run(run_args=...)` with s, y, w and
    the biases, the final states read back and the update formed with numpy."""

    def __init__(self, b, graph, B, directory):
        rx = graph.rule.relaxation
        self.b, self.g, self.K, self.B = b, graph, rx.max_steps, B
        self.off, sizes, self.layers = _ep_xor_layers(graph)
        n, N = self.off[-1], 2 * B * self.off[-1]
        from brian2.devices.cpp_standalone.device import CPPStandaloneDevice
        from brian2.devices.device import reset_device

        self.dev = CPPStandaloneDevice()  # its own device, so it lives beside the backend's in one process
        b.set_device(self.dev, build_on_run=False)
        eqs = """ds/dt = free*(hs + bias - s - nudge*int(t >= t_on)*(s - y))/ms : 1
                 hs : 1
                 bias : 1
                 y : 1
                 free : 1 (constant)
                 nudge : 1 (constant)
                 r = clip(s, 0, 1) : 1"""
        self.G = G = b.NeuronGroup(N, eqs, method="euler", dt=rx.dt * b.ms,
                                   namespace={"t_on": (self.K - 0.5) * rx.dt * b.ms})
        G.run_regularly("s = clip(s, 0, 1)", when="end")
        unit, copy = np.arange(N) % n, np.arange(N) // (B * n)  # copy 0: +β, copy 1: −β
        G.free = (unit >= self.off[1]).astype(float)
        G.nudge = (unit >= self.off[-2]) * np.array([1.0, -1.0])[copy] * graph.rule.beta
        pre, post, self.slots = _wiring(self.off, sizes, self.layers, 2 * B)
        self.n_syn = len(pre)
        self.S = S = b.Synapses(G, G, "w : 1\nhs_post = w*r_pre : 1 (summed)")
        S.connect(i=pre, j=post)
        t0 = time.perf_counter()
        b.Network(G, S).run(2 * self.K * rx.dt * b.ms)
        self.dev.build(directory=directory, compile=True, run=False, with_output=False)
        reset_device()
        self.compile_s = time.perf_counter() - t0

    def step(self, x, y):
        g, B, n = self.g, self.B, self.off[-1]
        w = np.zeros(self.n_syn)
        for c in g.couplings:
            for idx in self.slots[c.name]:
                w[idx] = c.weight.ravel()
        bias = np.tile(np.concatenate([np.zeros(self.off[1])] + [p.bias for p in g.populations[1:]]), 2 * B)
        s, yy = np.zeros((2, B, n)), np.zeros((2, B, n))
        s[:, :, :self.off[1]], yy[:, :, self.off[-2]:] = x, y
        self.dev.run(run_args={self.G.s: s.ravel(), self.G.y: yy.ravel(), self.S.w: w, self.G.bias: bias},
                     with_output=False)
        r = np.clip(np.asarray(self.G.s_[:]).reshape(2, B, n), 0, 1)
        upd = _update_from_final_rates(g, x, r, self.off, 0, 1)
        g.set_params({k: g.params()[k] + v for k, v in upd.items()})
        return upd


def timed(fn, n):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cpu_s() -> float:
    """CPU seconds used so far by this process and its finished children (the standalone binary):
    on a loaded machine, wall time also counts the waits for a core, CPU time does not."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed_pair(fa, fb, n):
    """fa and fb run alternately n times, so load changes on a shared machine hit both alike.
    Returns wall (median a, median b, median of the pairwise ratios a/b) and CPU (median a, median b)."""
    wall, cpu = ([], []), ([], [])
    for _ in range(n):
        for k, f in enumerate((fa, fb)):
            w0, c0 = time.perf_counter(), cpu_s()
            f()
            wall[k].append(time.perf_counter() - w0)
            cpu[k].append(cpu_s() - c0)
    med = statistics.median
    return (med(wall[0]), med(wall[1]), med(a / b for a, b in zip(*wall))), (med(cpu[0]), med(cpu[1]))


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


def against_script(how: str, script: str, t, t_hand, pairs, cpu, cpu_note: str) -> None:
    """The backend's learning step beside the hand-written script's: wall, ratio, CPU."""
    row(f"  brian: learning step {how}", t)
    row(f"  hand-written {script}: learning step", t_hand)
    row("    ratio brian / hand-written (of the medians)", t, t / t_hand, "≤ 1.1×")
    row("    ratio brian / hand-written (median of pairs)", t, pairs, "≤ 1.1×")
    row(f"  brian: CPU per learning step{cpu_note}", cpu[0])
    row(f"  hand-written: CPU per learning step{cpu_note}", cpu[1])
    row("    ratio brian / hand-written (CPU, of the medians)", cpu[0], cpu[0] / cpu[1], "≤ 1.1×")


def check_against_reference(step, graph, x, y, label):
    ref = family(graph).local_update(graph.copy(), x, y)
    err = metrics.rel_error(metrics.flatten(step(x, y), list(ref)), metrics.flatten(ref))
    print(f"  {label} reproduces the reference update to rel. error {err:.2e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=15, help="timed learning steps per configuration (interleaved, median)")
    ap.add_argument("--rebuilds", type=int, default=1, help="timed rebuild-every-step repetitions on cpp_standalone (0: skip)")
    ap.add_argument("--cache", default="runs/bench-brian/cache", help="persistent cpp_standalone build folders")
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

    hw = HandWritten(b, graph.copy(), len(x))
    t0 = time.perf_counter()
    hw.step(x, y)  # first run generates its code
    hw_compile = time.perf_counter() - t0
    hw.g.set_params(graph.params())
    check_against_reference(hw.step, graph, x, y, "hand-written numpy script")
    be.set_params(graph.params())
    check_against_reference(be.step, graph, x, y, "brian (numpy)")
    (t_np, t_np_hand, r_np), c_np = timed_pair(lambda: be.step(x, y), lambda: hw.step(x, y), args.steps)

    def rebuild_numpy():
        fresh = BrianRateBackend(codegen="numpy")
        fresh.compile(graph)
        fresh.step(x, y)

    t_np_rebuild = timed(rebuild_numpy, max(2, args.steps // 5))
    be.close()

    sa = None
    if not args.no_standalone:  # persistent build folders: a second bench run recompiles nothing
        cache = Path(args.cache)
        t0 = time.perf_counter()
        be = BrianRateBackend(codegen="cpp_standalone", build_dir=str(cache / "backend"))
        be.compile(graph)
        sa_compile = time.perf_counter() - t0
        check_against_reference(be.step, graph, x, y, "brian (cpp_standalone)")
        hs = HandWrittenStandalone(b, graph.copy(), len(x), str(cache / "hand"))
        check_against_reference(hs.step, graph, x, y, "hand-written cpp_standalone script")
        hs.g.set_params(graph.params())
        (t_sa, t_sa_hand, r_sa), c_sa = timed_pair(lambda: be.step(x, y), lambda: hs.step(x, y), args.steps)
        be.close()

        def rebuild_standalone():  # same folder: Brian rewrites only changed sources, make recompiles those
            with BrianRateBackend(codegen="cpp_standalone", build_dir=str(cache / "backend")) as fresh:
                fresh.compile(graph)
                fresh.step(x, y)

        t_sa_rebuild = timed(rebuild_standalone, args.rebuilds) if args.rebuilds else None
        sa = (sa_compile, t_sa, t_sa_rebuild, t_sa_hand, r_sa, c_sa, hs.compile_s)

    print()
    print(f"{'measure (median; backend/script steps alternate; wall unless CPU)':<58}{'time':>12}{'ratio':>10}{'goal':>10}")
    print("numpy target")
    against_script("(Network built once)", "two-copy Brian2 script", t_np, t_np_hand, r_np, c_np, "")
    row("  rebuild network every step", t_np_rebuild)
    row("    ratio rebuild / built once", t_np_rebuild, t_np_rebuild / t_np, "≥ 10×")
    if sa:
        sa_compile, t_sa, t_sa_rebuild, t_sa_hand, r_sa, c_sa, hs_compile = sa
        print("cpp_standalone target")
        against_script("(compiled once, run_args)", "standalone script", t_sa, t_sa_hand, r_sa, c_sa,
                       " (incl. the binary)")
        if t_sa_rebuild is not None:
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
