"""Bench the `loihi` backend: time per learning step vs a hand-written Lava script running the same
network (same Processes, same ring, wired by hand, no backend around it) in the same run; compile
time; resident memory over many steps (lava issue #336: networks must be built once); the
fixed-point backend's time per step against the float one, and its error against the float update
at the same θ next to the bound it reports.

    .venv/bin/python bench/loihi_backend.py [--steps 20] [--rss-steps 1000]
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.dense.process import Dense
from lava.proc.io.source import RingBuffer as Source

from backends.loihi import LoihiBackend, LoihiFixedBackend
from backends.loihi import schedule as sch
from backends.loihi.procs.plasticity import Plasticity, PyPlasticityFloat
from backends.loihi.procs.rate_neuron import PyRateNeuronFloat, RateNeuron
from neurophys.data import load_split
from neurophys.families import ep
from neurophys.ir import load
from neurophys.metrics import flatten, rel_error


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def hand_written(graph, x, y, n_steps):
    """ep_xor written directly in Lava: x → h1 ⇄ out, ±β phases, plasticity on both couplings."""
    rx, rule = graph.rule.relaxation, graph.rule
    phases = sch.ep_phases(rule.beta, rule.lr, rule.estimator, True)
    S = sch.sample_steps(phases, rx.max_steps)
    T = len(x) * S
    W1, W2 = graph.params()["W1"], graph.params()["W2"]
    h1, out = graph.population("h1"), graph.population("out")
    ctrl = Source(data=sch.control(phases, rx.max_steps, len(x), len(x), 1.0 / len(x)))
    xs = Source(data=np.repeat(x.T, S, axis=1))
    ys = Source(data=np.repeat(y.T, S, axis=1))
    nh = RateNeuron(size=h1.size, bias=h1.bias, dt=rx.dt, activation=h1.activation, trainable_bias=True)
    no = RateNeuron(size=out.size, bias=out.bias, dt=rx.dt, activation=out.activation, cost=graph.cost.kind,
                    trainable_bias=True)
    d1 = Dense(weights=W1.copy(), num_message_bits=24)
    d2 = Dense(weights=W2.copy(), num_message_bits=24)
    d2b = Dense(weights=W2.T.copy(), num_message_bits=24)
    p1, p2 = Plasticity(shape=W1.shape), Plasticity(shape=W2.shape)
    for n in (nh, no, p1, p2):
        ctrl.s_out.connect(n.ctrl)
    ys.s_out.connect(no.y_in)
    xs.s_out.connect(d1.s_in); d1.a_out.connect(nh.a_in)
    nh.s_out.connect(d2.s_in); d2.a_out.connect(no.a_in)
    no.s_out.connect(d2b.s_in); d2b.a_out.connect(nh.a_in)
    xs.s_out.connect(p1.pre); nh.s_out.connect(p1.post); p1.w_fwd.connect_var(d1.weights)
    nh.s_out.connect(p2.pre); no.s_out.connect(p2.post); p2.w_fwd.connect_var(d2.weights); p2.w_bwd.connect_var(d2b.weights)
    cfg = Loihi2SimCfg(select_tag="floating_pt", exception_proc_model_map={
        nh: PyRateNeuronFloat, no: PyRateNeuronFloat, p1: PyPlasticityFloat, p2: PyPlasticityFloat})
    t0 = time.perf_counter()
    ctrl.run(condition=RunSteps(num_steps=T), run_cfg=cfg)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(n_steps):
        xs.data.set(np.repeat(x.T, S, axis=1))
        ys.data.set(np.repeat(y.T, S, axis=1))
        ctrl.run(condition=RunSteps(num_steps=T), run_cfg=cfg)
        d1.weights.get(), d2.weights.get(), nh.bias.get(), no.bias.get()
    per_step = (time.perf_counter() - t0) / n_steps
    ctrl.stop()
    return compile_s, per_step


def fixed_run(graph, x, y, n_steps):
    """Time per step of loihi-fixed, and per step (rel. error vs the float update, reported bound)."""
    rows = []
    with LoihiFixedBackend() as b:
        b.compile(graph)
        t0 = time.perf_counter()
        for _ in range(n_steps):
            g = graph.copy()
            g.set_params(b.get_params())
            want = ep.local_update(g, x, y)
            u = b.step(x, y)
            rows.append((rel_error(flatten(u, sorted(want)), flatten(want, sorted(want))), b.error_bound["rel"]))
        return (time.perf_counter() - t0) / n_steps, rows


def backend_run(graph, x, y, n_steps):
    with LoihiBackend() as b:
        t0 = time.perf_counter()
        b.compile(graph)
        compile_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(n_steps):
            b.step(x, y)
        return compile_s, (time.perf_counter() - t0) / n_steps


def rss_run(graph, split, n_steps):
    bs = graph.training.batch_size
    with LoihiBackend() as b:
        b.compile(graph)
        rss = {}
        for i in range(n_steps):
            idx = np.arange(i * bs, (i + 1) * bs) % len(split.x_train)
            b.step(split.x_train[idx], split.y_train[idx])
            if i in (9, n_steps // 2 - 1, n_steps - 1):
                rss[i + 1] = rss_mb()
    return rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rss-steps", type=int, default=1000)
    args = ap.parse_args()
    graph = load("examples/ep_xor.json")
    split = load_split(graph.dataset)
    x, y = split.x_train, split.y_train
    hc, hs = hand_written(graph.copy(), x, y, args.steps)
    bc, bs = backend_run(graph.copy(), x, y, args.steps)
    print(f"ep_xor: {len(x)} samples × {graph.rule.relaxation.max_steps} Euler steps × 3 phases per learning step")
    print(f"{'':22s}{'hand-written Lava':>20s}{'loihi backend':>16s}{'ratio':>8s}")
    print(f"{'time per step (s)':22s}{hs:20.4f}{bs:16.4f}{bs / hs:8.3f}")
    print(f"{'compile + 1st run (s)':22s}{hc:20.4f}{bc:16.4f}{bc / hc:8.3f}")
    fs, rows = fixed_run(graph.copy(), x, y, args.steps)
    print(f"{'loihi-fixed step (s)':22s}{'':20s}{fs:16.4f}{fs / bs:8.3f}  (ratio vs loihi float)")
    print("loihi-fixed vs float update at the same θ, per step: rel error / reported bound")
    print("  " + ", ".join(f"{e:.3f}/{r:.3f}" for e, r in rows))
    la = load("examples/least_action_mlp.json")
    rss = rss_run(la, load_split(la.dataset), args.rss_steps)
    print(f"\nleast_action_mlp, {args.rss_steps} steps (batch {la.training.batch_size}) on one compiled network:")
    print("  host RSS (MB) after step " + ", ".join(f"{k}: {v:.1f}" for k, v in rss.items()))


if __name__ == "__main__":
    main()
