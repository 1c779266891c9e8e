"""Bench the Lava backends on ep_xor against hand-written Lava 0.10 scripts of the same job, written
here the way a fluent Lava engineer writes them (their own Processes and models, nothing from the
backend), interleaved in the same run, median of --repeats (each side's time per learning step over the
steps after the first; build/compile + the first learning step apart):

* fast path (`loihi`) vs the hand-written fast script: one custom rate-unit Process holding the
  whole batch side by side, one block-diagonal recurrent Dense, the ±β phase schedule inside the
  unit's model, one run() per learning step, the update computed on the host from the phase-end
  states and written back. Both run 3·(steps + 1) time steps per learning step with the same two
  processes; the backend holds the biases in the Dense too (an always-on unit's column: slots·n
  more weights to write per step) and sets x, y only when the batch changed (here it never does);
  the CPU row sums this process and Lava's child processes, which a loaded machine inflates less
  than wall time;
* chip path (`loihi-engine`, float learning engine) vs the hand-written chip script: samples one
  after another, a LearningDense (Loihi3FLearningRule, tag variant) per coupling and direction and
  per bias (from an always-on unit), neurons that hold the schedule and send the third factors;
  also its ratio to the fast script;
* `loihi-fixed`: time per step, per step its rel. error and cosine against the float update at the
  same θ, the bound it reports, and the cosine that stochastic rounding onto the weight grid it
  learns on (the fine part of its split weights, 2^E_f) alone predicts (grid_cosine); `loihi-lif`:
  time per step, cosines of its first update;
* host and Lava-runtime RSS over --rss-steps learning steps of one compiled `loihi` network.

    .venv/bin/python bench/loihi_backend.py [--steps 10] [--chip-steps 2] [--repeats 3] [--rss-steps 1000]

The numbers are wall-clock seconds on whatever machine runs it (a busy one slows both sides of a
ratio alike, which is why the runs alternate).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import time

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.learning.constants import GradedSpikeCfg
from lava.magma.core.learning.learning_rule import Loihi3FLearningRule
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.dense.process import Dense, LearningDense
from lava.proc.io.source import RingBuffer

from neurophys.backends.loihi import LoihiBackend, LoihiEngineBackend, LoihiFixedBackend, LoihiLifBackend
from neurophys.data import load_split
from neurophys.families import ep
from neurophys.gradcheck import reference
from neurophys.ir import load
from neurophys.ir.builders import layered_ep
from neurophys.ir.rule import Relaxation
from neurophys.metrics import cosine, flatten, rel_error


# ---------------------------------------------------------------- hand-written fast script
class XorUnits(AbstractProcess):
    """All hidden and output units of `slots` samples; inputs ride along in the payload."""

    def __init__(self, *, slots, n_in, n_hid, n_out, dt, beta, steps, bias, x, y):
        super().__init__(slots=slots, n_hid=n_hid, dt=dt, beta=beta, steps=steps)
        n = n_hid + n_out
        self.a_in = InPort((slots * n,))
        self.s_out = OutPort((slots * (n_in + n),))
        self.x = Var((slots, n_in), init=x)
        self.y = Var((slots, n_out), init=y)
        self.b = Var((n,), init=bias)
        self.ends = Var((3, slots, n), init=np.zeros((3, slots, n)))
        self.t = Var((1,), init=0)


@implements(proc=XorUnits, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyXorUnits(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    x: np.ndarray = LavaPyType(np.ndarray, float)
    y: np.ndarray = LavaPyType(np.ndarray, float)
    b: np.ndarray = LavaPyType(np.ndarray, float)
    ends: np.ndarray = LavaPyType(np.ndarray, float)
    t: np.ndarray = LavaPyType(np.ndarray, int)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.s = self.s_free = None  # set by the first step's reset

    def run_spk(self):
        p = self.proc_params
        S, nh = p["steps"] + 1, p["n_hid"]
        h = self.a_in.recv().reshape(p["slots"], -1)
        phase, j = divmod(int(self.t[0]), S)
        if j == 0:  # phase opening: hold one step while the Dense delivers ρ(s0)
            self.s = np.zeros_like(h) if phase == 0 else (self.s_free if phase == 2 else self.s)
            self.s_free = self.s if phase == 1 else self.s_free
        else:
            d = h + self.b - self.s
            d[:, nh:] -= (0.0, p["beta"], -p["beta"])[phase] * (self.s[:, nh:] - self.y)
            self.s = np.clip(self.s + p["dt"] * d, 0.0, 1.0)
        if j == p["steps"]:
            self.ends[phase] = self.s
        self.s_out.send(np.concatenate([self.x, self.s], axis=1).ravel())
        self.t[0] = (self.t[0] + 1) % (3 * S)


def fast_script(graph, x, y, n_steps):
    """ep_xor (x → h1 ⇄ out, ±β) by hand: (build + 1st learning step s, s per later learning step, final θ)."""
    rx, rule = graph.rule.relaxation, graph.rule
    P = graph.params()
    W1, W2, bh, bo = P["W1"].copy(), P["W2"].copy(), P["h1.bias"].copy(), P["out.bias"].copy()
    B, nh, no, ni = len(x), len(bh), len(bo), x.shape[1]

    def block():
        M = np.zeros((nh + no, ni + nh + no))
        M[:nh, :ni], M[nh:, ni:ni + nh], M[:nh, ni + nh:] = W1, W2, W2.T
        return np.kron(np.eye(B), M)

    t0 = time.perf_counter()
    units = XorUnits(slots=B, n_in=ni, n_hid=nh, n_out=no, dt=rx.dt, beta=rule.beta, steps=rx.max_steps,
                     bias=np.r_[bh, bo], x=x, y=y)
    dense = Dense(weights=block(), num_message_bits=24)
    units.s_out.connect(dense.s_in)
    dense.a_out.connect(units.a_in)
    cfg = Loihi2SimCfg(select_tag="floating_pt", exception_proc_model_map={units: PyXorUnits})
    T = 3 * (rx.max_steps + 1)
    c = rule.lr / (2 * rule.beta) / B
    for i in range(n_steps + 1):
        if i == 1:
            first, t0, c0 = time.perf_counter() - t0, time.perf_counter(), cpu_s()
        if i:  # the next batch (the first one is the Vars' initial value: Vars can be set once compiled)
            units.x.set(x)
            units.y.set(y)
        units.run(condition=RunSteps(num_steps=T), run_cfg=cfg)
        e = units.ends.get()
        hp, op, hm, om = e[1][:, :nh], e[1][:, nh:], e[2][:, :nh], e[2][:, nh:]
        W1 += c * (hp - hm).T @ x
        W2 += c * (op.T @ hp - om.T @ hm)
        bh += c * (hp - hm).sum(axis=0)
        bo += c * (op - om).sum(axis=0)
        dense.weights.set(block())
        units.b.set(np.r_[bh, bo])
    per_step, cpu = (time.perf_counter() - t0) / n_steps, (cpu_s() - c0) / n_steps
    units.stop()
    return first, per_step, {"W1": W1, "W2": W2, "h1.bias": bh, "out.bias": bo}, cpu


# ---------------------------------------------------------------- hand-written chip script
class XorNeuron(AbstractProcess):
    """One layer, samples one after another (3 phases of steps+1 each), then one apply step."""

    def __init__(self, *, size, dt, beta, steps, samples, apply, out=False):
        super().__init__(dt=dt, beta=beta, steps=steps, samples=samples, out=out)
        self.a_in, self.y_in = InPort((size,)), InPort((size,))
        self.s_out, self.one_out = OutPort((size,)), OutPort((1,))
        self.y1_out, self.y2_out, self.y3_out, self.bap_out = (OutPort((size,)) for _ in range(4))
        self.s = Var((size,), init=np.zeros(size))
        self.apply = Var((1,), init=apply)


@implements(proc=XorNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyXorNeuron(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    y_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    one_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    y1_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    y2_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    y3_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    bap_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    s: np.ndarray = LavaPyType(np.ndarray, float)
    apply: np.ndarray = LavaPyType(np.ndarray, float)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.s_free = None

    def run_spk(self):
        p = self.proc_params
        S = p["steps"] + 1
        a, y = self.a_in.recv(), self.y_in.recv()
        k = (self.time_step - 1) % (3 * S * p["samples"] + 1)
        phase, j = divmod(k % (3 * S), S)
        last = k == 3 * S * p["samples"]
        if not last:
            if j == 0:
                self.s = np.zeros_like(self.s) if phase == 0 else (self.s_free.copy() if phase == 2 else self.s)
                self.s_free = self.s.copy() if phase == 1 else self.s_free
            else:
                d = a - self.s
                if p["out"]:
                    d -= (0.0, p["beta"], -p["beta"])[phase] * (self.s - y)
                self.s = np.clip(self.s + p["dt"] * d, 0.0, 1.0)
        end = j == p["steps"] and not last
        zero = np.zeros_like(self.s)
        self.s_out.send(self.s)
        self.y2_out.send(2 * self.s if end and phase == 1 else zero)  # x1 = payload/2
        self.y3_out.send(2 * self.s if end and phase == 2 else zero)
        self.y1_out.send(zero + (self.apply[0] if last else 0.0))
        self.bap_out.send(zero + last)
        self.one_out.send(np.ones(1))


def chip_script(graph, x, y, n_steps):
    """ep_xor on the learning engine by hand: (build + 1st learning step s, s per later learning step, final θ)."""
    rx, rule = graph.rule.relaxation, graph.rule
    t0 = time.perf_counter()
    P = graph.params()
    B = len(x)
    T = 3 * (rx.max_steps + 1) * B + 1
    kw = dict(dt=rx.dt, beta=rule.beta, steps=rx.max_steps, samples=B, apply=rule.lr / (2 * rule.beta) / B)
    h, o = XorNeuron(size=8, **kw), XorNeuron(size=2, out=True, **kw)
    S = 3 * (rx.max_steps + 1)
    x_data, y_data = (np.c_[np.repeat(v.T, S, axis=1), np.zeros((2, 1))] for v in (x, y))  # (2, T): samples in time
    xs, ys = RingBuffer(data=x_data), RingBuffer(data=y_data)
    ys.s_out.connect(o.y_in)

    def learning(w, pre, dst, post):
        ld = LearningDense(weights=w.copy(), num_message_bits=24, graded_spike_cfg=GradedSpikeCfg.OVERWRITE,
                           learning_rule=Loihi3FLearningRule(dt="x0*x1*y2 - x0*x1*y3 - y0*t", dw="u0*t*y1",
                                                             x1_tau=65535, t_epoch=1))
        pre.connect(ld.s_in)
        ld.a_out.connect(dst)
        post.y1_out.connect(ld.s_in_y1)
        post.y2_out.connect(ld.s_in_y2)
        post.y3_out.connect(ld.s_in_y3)
        post.bap_out.connect(ld.s_in_bap)
        return ld

    w1 = learning(P["W1"], xs.s_out, h.a_in, h)
    w2 = learning(P["W2"], h.s_out, o.a_in, o)
    w2t = learning(P["W2"].T, o.s_out, h.a_in, h)
    bh = learning(P["h1.bias"][:, None], h.one_out, h.a_in, h)
    bo = learning(P["out.bias"][:, None], o.one_out, o.a_in, o)
    cfg = Loihi2SimCfg(select_tag="floating_pt", exception_proc_model_map={h: PyXorNeuron, o: PyXorNeuron})
    for i in range(n_steps + 1):
        if i == 1:
            first, t0, c0 = time.perf_counter() - t0, time.perf_counter(), cpu_s()
        if i:  # a new minibatch each learning step (a Var can be set once the runtime exists)
            xs.data.set(x_data)
            ys.data.set(y_data)
        xs.run(condition=RunSteps(num_steps=T), run_cfg=cfg)
        theta = {"W1": w1.weights.get(), "W2": w2.weights.get(), "h1.bias": bh.weights.get()[:, 0],
                 "out.bias": bo.weights.get()[:, 0]}
        w2t.weights.get()
    per_step, cpu = (time.perf_counter() - t0) / n_steps, (cpu_s() - c0) / n_steps
    xs.stop()
    return first, per_step, theta, cpu


# ---------------------------------------------------------------- the backends
def backend_run(cls, graph, x, y, n_steps):
    """(compile + 1st learning step s, s per later learning step, final θ)."""
    with cls() as b:
        t0 = time.perf_counter()
        b.compile(graph)
        b.step(x, y)
        first, t0, c0 = time.perf_counter() - t0, time.perf_counter(), cpu_s()
        for _ in range(n_steps):
            b.step(x, y)
        per_step, cpu = (time.perf_counter() - t0) / n_steps, (cpu_s() - c0) / n_steps
        return first, per_step, b.get_params(), cpu


def fixed_run(graph, x, y, n_steps):
    """Time per step of loihi-fixed; per step (rel. error, cosine) vs the float update at the same θ, bound."""
    rows = []
    with LoihiFixedBackend() as b:
        b.compile(graph)
        t0 = time.perf_counter()
        for _ in range(n_steps):
            g = graph.copy()
            g.set_params(b.get_params())
            want = ep.local_update(g, x, y)
            u = b.step(x, y)
            k = sorted(want)
            rows.append((rel_error(flatten(u, k), flatten(want, k)), cosine(flatten(u, k), flatten(want, k)),
                         b.error_bound["rel"], grid_cosine(want, b.info()["fixed_point"]["fine_exp"])))
        return (time.perf_counter() - t0) / n_steps, rows


def grid_cosine(want, exps):
    """The cosine to the float update that stochastic rounding onto each parameter's learning grid (lsb 2^E_f)
    alone leaves: each element rounds up with probability f (its fraction of an lsb), so the expected
    squared error is Σ lsb² f(1 − f) and E[cos] ≈ ‖u‖ / √(‖u‖² + Σ lsb² f(1 − f))."""
    u2 = sum(float((v ** 2).sum()) for v in want.values())
    var = 0.0
    for k, v in want.items():
        lsb = 2.0 ** exps[k]
        f = (v / lsb) % 1
        var += float((lsb ** 2 * f * (1 - f)).sum())
    return np.sqrt(u2 / (u2 + var))


def lif_run(graph, x, y):
    """loihi-lif at its defaults: time of one step; cosines of its update."""
    _, exact = reference(graph, x, y)
    want = ep.local_update(graph, x, y)
    keys = sorted(exact)
    with LoihiLifBackend() as b:
        b.compile(graph)
        t0 = time.perf_counter()
        u = b.step(x, y)
        per = time.perf_counter() - t0
        o = b.info()
    u, e, w = flatten(u, keys), flatten(exact, keys), flatten(want, keys)
    return per, cosine(u, e), cosine(u, w), cosine(w, e), o


def cpu_s() -> float:
    """CPU seconds used so far by this process and the Lava runtime's (its ProcessModels run in child
    processes): a measure of the work done that other load on the machine does not inflate."""
    tick = os.sysconf("SC_CLK_TCK")
    own = sum(os.times()[:2])
    kids = 0
    for p in multiprocessing.active_children():
        with open(f"/proc/{p.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        kids += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return own + kids


def rss_mb(pid="self") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")


def lava_rss_mb() -> float:
    """Summed RSS of the runtime's child processes (Lava runs every ProcessModel in its own)."""
    return sum(rss_mb(p.pid) for p in multiprocessing.active_children())


def rss_run(n_steps):
    """RSS every 50 learning steps of one compiled `loihi` network (EP 4-8-2, batch 2)."""
    graph = layered_ep([4, 8, 2], relaxation=Relaxation("euler", dt=0.5, max_steps=5, tol=0), seed=0)
    graph.training.batch_size = 2
    x, y = np.random.default_rng(0).random((2, 4)), np.eye(2)
    rows = []
    with LoihiBackend() as b:
        b.compile(graph)
        for i in range(1, n_steps + 1):
            b.step(x, y)
            if i == 1 or i % 50 == 0:
                rows.append((i, rss_mb(), lava_rss_mb()))
    return np.array(rows)


def slope_per_1000(rows, col):
    """MB per 1000 steps, least-squares over the second half (after allocator warm-up)."""
    half = rows[len(rows) // 2:] if len(rows) >= 6 else rows
    return 1000 * np.polyfit(half[:, 0], half[:, col], 1)[0]


def check_same(name, theta, want):
    err = rel_error(flatten(theta, sorted(want)), flatten(want, sorted(want)))
    print(f"  {name}: parameters after the run vs the backend's, rel. error {err:.1e}")


def table(runs, hand, ours):
    """Median over the interleaved repeats of each side, their ratio, and the per-repeat ratios; returns the
    medians of the wall time per learning step of the hand-written script and of ours."""
    med = {k: [np.median([r[i][k] for r in runs]) for i in (0, 1)] for k in (0, 1, 3)}
    print(f"{'':28s}{hand:>18s}{ours:>14s}{'ratio':>8s}  per repeat")
    for k, label in ((1, "time per learning step (s)"), (3, "CPU s per learning step"), (0, "build + 1st step (s)")):
        h, b = med[k]
        each = " ".join(f"{r[1][k] / r[0][k]:.2f}" for r in runs)
        print(f"{label:28s}{h:18.4f}{b:14.4f}{b / h:8.3f}  {each}")
    return med[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10, help="learning steps per timed fast-path run")
    ap.add_argument("--chip-steps", type=int, default=2, help="learning steps per timed chip-path run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rss-steps", type=int, default=1000)
    ap.add_argument("--skip", default="", help="comma-separated sections to skip: fast,chip,fixed,lif,rss")
    args = ap.parse_args()
    skip = set(args.skip.split(","))
    graph = load("examples/ep_xor.json")
    split = load_split(graph.dataset)
    x, y = split.x_train, split.y_train
    print(f"ep_xor: {len(x)} samples × {graph.rule.relaxation.max_steps} Euler steps × 3 phases per learning step; "
          f"median of {args.repeats} alternating runs")
    fast_hand = None
    if "fast" not in skip:
        runs = [(fast_script(graph.copy(), x, y, args.steps), backend_run(LoihiBackend, graph.copy(), x, y, args.steps))
                for _ in range(args.repeats)]
        print(f"\nfast path ({args.steps} steps per run)")
        hs, bs = table(runs, "hand-written fast", "loihi")
        fast_hand = hs
        check_same("hand-written fast", runs[-1][0][2], runs[-1][1][2])
    if "chip" not in skip:
        runs = [(chip_script(graph.copy(), x, y, args.chip_steps),
                 backend_run(LoihiEngineBackend, graph.copy(), x, y, args.chip_steps)) for _ in range(args.repeats)]
        print(f"\nchip path, float learning engine ({args.chip_steps} steps per run)")
        hs, bs = table(runs, "hand-written chip", "loihi-engine")
        if fast_hand:
            print(f"hand-written chip script / hand-written fast script, per step: {hs / fast_hand:.1f}×")
        check_same("hand-written chip", runs[-1][0][2], runs[-1][1][2])
        engine_step = bs
    if "fixed" not in skip:
        fs, rows = fixed_run(graph.copy(), x, y, args.chip_steps + 1)
        print(f"\nloihi-fixed: {fs:.3f} s per step" + (f" ({fs / engine_step:.2f}× loihi-engine)" if "chip" not in skip
                                                      else ""))
        print("  per step vs the float update at the same θ: rel. error / cosine / reported rel. bound / cosine that "
              "the fine weight grid's stochastic rounding alone predicts")
        print("  " + ", ".join(f"{e:.3f} / {c:.4f} / {r:.2f} / {p:.4f}" for e, c, r, p in rows))
    if "lif" not in skip:
        ls, c_exact, c_ep, ep_exact, o = lif_run(graph.copy(), x, y)
        print(f"\nloihi-lif (substeps {o['substeps']}, window {o['window']}, tau {o['tau']}): {ls:.2f} s per step; first "
              f"update: cos vs exact gradient {c_exact:.4f}, vs reference EP update {c_ep:.4f} (EP itself vs exact: "
              f"{ep_exact:.4f})")
    if "rss" not in skip:
        rows = rss_run(args.rss_steps)
        print(f"\nRSS over {args.rss_steps} learning steps of one compiled loihi network (EP 4-8-2, batch 2):")
        print(f"{'':22s}{'step 1':>10s}{'step ' + str(int(rows[-1, 0])):>12s}{'MB/1000 steps':>15s}")
        for name, col in (("host process (MB)", 1), ("Lava runtime (MB)", 2)):
            print(f"{name:22s}{rows[0, col]:10.1f}{rows[-1, col]:12.1f}{slope_per_1000(rows, col):15.2f}")


if __name__ == "__main__":
    main()
