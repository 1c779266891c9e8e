"""Cross-simulator agreement on NIR spiking networks: reference engine ↔ Brian2 ↔ Lava.

The same network and input (NIR's equations, forward Euler at dt) run on the reference engine
(neurophys.physics.spiking), on Brian2 (backends/brian/nir_sim.py: NIR's ODEs, `euler`, at the same
dt) and on Lava's Loihi 2 LIF (backends/loihi/nir/sim.py) in floating point and in bit-accurate fixed
point. Per network it prints spike counts per population and two cosines against the reference:
the output trace (T × n_out, step by step; also with the simulator one step late, which is what
Lava's Dense pipeline does to LIF/IF/LI targets) and the per-unit activity (spike counts, or the mean
state of a voltage output) — the statistic of the NIR paper (Pedersen et al. 2024), which reports
0.92–0.998 activity cosine across simulators. Goal: ≥ 0.99 reference ↔ Brian2 at equal dt.
The networks are shaped like producers' files (snnTorch's recurrent CubaLIF Braille network,
Norse's LIF → LI readout, a Sinabs-style IF stack), with seeded random weights.
Timings are not the point here; numbers were taken on whatever machine runs it.
"""
from __future__ import annotations

import sys

import numpy as np

from neurophys.ir.maps import Affine, Input
from neurophys.ir.neurons import Neurons
from neurophys.ir.spiking_network import SpikingNetwork
from neurophys.physics.spiking import simulate

PAPER = "0.92–0.998"


def braille(rng):
    """snnTorch's Braille RNN shape (NIR paper 03_rnn): 12 → CubaLIF 38 (recurrent) → CubaLIF 7."""
    h = 38
    cell = dict(tau_syn=2.2e-4, tau_mem=1e-3, r=10.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0, w_in=2.2)
    nodes = [Input("input", 12), Affine("fc1", rng.normal(0, 1, (h, 12))), Neurons("lif1", "CubaLIF", h, cell),
             Affine("w_rec", rng.normal(0, 0.3, (h, h))), Affine("fc2", rng.normal(0, 0.6, (7, h)), np.full(7, 0.1)),
             Neurons("lif2", "CubaLIF", 7, dict(cell, tau_syn=2e-4, tau_mem=2.2e-4, r=2.2, w_in=2.0))]
    edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "w_rec"), ("w_rec", "lif1"), ("lif1", "fc2"), ("fc2", "lif2")]
    return SpikingNetwork(nodes, edges, "lif2"), (rng.random((600, 12)) < 0.3).astype(float)


def lif_li(rng):
    """Norse-style LIF hidden layer with an LI readout (voltage output)."""
    nodes = [Input("input", 5), Affine("fc1", rng.normal(0.5, 1, (20, 5))),
             Neurons("lif", "LIF", 20, dict(tau=5e-3, r=1.0, v_leak=0.0, v_threshold=0.3, v_reset=0.0)),
             Affine("fc2", rng.normal(0, 1, (3, 20))), Neurons("li", "LI", 3, dict(tau=1e-2, r=1.0, v_leak=0.0))]
    edges = [("input", "fc1"), ("fc1", "lif"), ("lif", "fc2"), ("fc2", "li")]
    return SpikingNetwork(nodes, edges, "li"), rng.random((600, 5))


def if_stack(rng):
    """An IF → IF stack (Sinabs' layer type, here with NIR's dt·r scaling)."""
    nodes = [Input("input", 8), Affine("fc1", rng.normal(0.2, 1, (16, 8))),
             Neurons("if1", "IF", 16, dict(r=1e3, v_threshold=1.0)), Affine("fc2", rng.normal(0.1, 0.5, (4, 16))),
             Neurons("if2", "IF", 4, dict(r=1e3, v_threshold=0.5))]
    edges = [("input", "fc1"), ("fc1", "if1"), ("if1", "fc2"), ("fc2", "if2")]
    return SpikingNetwork(nodes, edges, "if2"), rng.random((600, 8))


def cosine(a, b):
    a, b = np.ravel(a), np.ravel(b)
    d = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / d) if d > 0 else float("nan")


def main() -> int:
    from neurophys.backends.brian.nir_sim import simulate as brian
    from neurophys.backends.loihi.nir.sim import simulate_fixed, simulate_float

    rng = np.random.default_rng(0)
    dt = 1e-4
    sims = {"brian-spiking": brian, "loihi-lif-float": simulate_float, "loihi-lif (fixed)": simulate_fixed}
    print(f"dt = {dt:g} s; cosines against the reference engine (NIR paper across simulators: {PAPER})\n")
    print(f"{'network':10s} {'simulator':18s} {'spikes (ref → sim)':34s} {'trace cos':>9s} {'lag-1 cos':>9s} "
          f"{'activity cos':>12s}")
    worst = 1.0
    for name, make in (("braille", braille), ("lif→li", lif_li), ("if-stack", if_stack)):
        net, x = make(rng)
        ref = simulate(net, x, dt)
        for label, sim in sims.items():
            run = sim(net, x, dt)
            spikes = ", ".join(f"{k} {ref.counts[k]:g}→{run.counts[k]:g}" for k in ref.counts)
            tc, ac = cosine(ref.output, run.output), cosine(ref.output.sum(0), run.output.sum(0))
            lag = cosine(ref.output[:-1], run.output[1:])  # Lava's Dense hands spikes on one step late
            if label == "brian-spiking":
                worst = min(worst, tc)
            print(f"{name:10s} {label:18s} {spikes:34s} {tc:9.4f} {lag:9.4f} {ac:12.4f}")
    print(f"\nreference ↔ Brian2 worst trace cosine {worst:.4f} (goal ≥ 0.99)")
    return 0 if worst >= 0.99 else 1


if __name__ == "__main__":
    sys.exit(main())
