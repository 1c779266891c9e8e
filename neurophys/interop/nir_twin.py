"""A rate network exported as a rate-coded CubaLIF twin: a NIR graph that peers can load and simulate.

The plain export (nir.py) writes rate populations as LI nodes with their activation in metadata,
which no peer reads (snnTorch and nirtorch have no LI mapping; Sinabs and Rockpool ignore the
activation). The twin writes what they do simulate. Population p with input current
s = Σ W ρ(src) + b becomes a CubaLIF whose spike rate codes ρ(s) = K · (spikes per step):

  Affine  W/K, b/K from the Input (the data enter as currents), W (bias b/K) from a population
          (its spikes, rate ρ/K, carry ρ/K on average); a symmetric (EP) coupling also gets its
          feedback edge Wᵀ, so the twin's fixed point is EP's free phase, not a feed-forward cut.
  hard_sigmoid: clip(s, 0, 1) = relu(s) − relu(s − 1): a second CubaLIF `<p>_sat` takes the same
          current less 1/K (an Affine from the Input with zero weights and bias −1/K), and its spikes
          enter every destination negated (Affine −I); the output is then their signed sum (Affine I).
  Every map is an Affine (zero bias where none): Norse and Sinabs read no Linear or Scale.
  CubaLIF τ_syn = 20 dt (the current smooths the incoming spikes, so a reset to v_reset loses
          little charge; Rockpool, which adds its input as a jump, then sees a steady-state gain
          e^{−dt/τ_syn}/(1 − e^{−dt/τ_syn}) ≈ 19.5: write it with tau_syn_steps = 1/ln 2 for Rockpool,
          where the gain is 1), τ_mem = 10⁴ s (no leak to speak of), r = τ_mem/dt (snnTorch's own encoding of its dt: it loads the node unscaled),
          w_in = 1, θ = 1, v_reset = 0, dt = 1e-4 s (snnTorch's export dt).

The approximation: a constant current x = s/K fires once every ⌈1/x⌉ steps with NIR's reset to
v_reset (relative error below x, so below ρ/K), exactly x per step with a subtractive reset
(snnTorch, Rockpool, Sinabs); negative currents do not fire, so relu and hard_sigmoid are what it
codes; sigmoid, tanh and linear units (negative or non-zero at s = 0) are
refused by name. τ of the rate units is not kept (the twin reproduces fixed points, not
transients), and counts over T steps resolve ρ to K/T. Decode with `decode`. The learning graph
rides along in metadata ("neurophys_twin").
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from ..ir import Graph, ValidationError, graph_to_dict
from .nir import _nir

TWIN_DT = 1e-4
TAU_MEM = 1e4
TAU_SYN_STEPS = 20.0
STEPS_PER_SPIKE = 100.0
KEY = "neurophys_twin"
RATE_LIKE = ("relu", "hard_sigmoid")


@dataclass
class Twin:
    graph: object          # nir.NIRGraph
    steps_per_spike: float
    dt: float
    approximation: str


def twin(graph: Graph, steps_per_spike: float = STEPS_PER_SPIKE, tau_syn_steps: float = TAU_SYN_STEPS) -> Twin:
    nir = _nir()
    if not (isinstance(steps_per_spike, (int, float)) and steps_per_spike >= 1):
        raise ValidationError("steps_per_spike", f"{steps_per_spike!r} must be a number ≥ 1")
    if not (isinstance(tau_syn_steps, (int, float)) and tau_syn_steps >= 1):
        raise ValidationError("tau_syn_steps", f"{tau_syn_steps!r} must be a number ≥ 1")
    K = float(steps_per_spike)
    cell = lambda n: _cell(nir, n, tau_syn_steps)  # noqa: E731
    nodes, edges = {}, []
    ins, outs = {}, {}   # population → neuron nodes taking its current / nodes whose sum is its signed spikes
    for i, p in enumerate(graph.populations):
        if p.kind == "input":
            nodes[p.name] = nir.Input(input_type={"input": np.array([p.size])})
            ins[p.name], outs[p.name] = [], [p.name]
        elif p.kind == "rate" and p.activation in RATE_LIKE:
            nodes[p.name] = cell(p.size)
            ins[p.name], outs[p.name] = [p.name], [p.name]
            if p.activation == "hard_sigmoid":  # clip(s, 0, 1) = relu(s) − relu(s − 1)
                sat, neg, shift = _free(p.name + "_sat", nodes), _free(p.name + "_sat_neg", nodes), None
                nodes[sat] = cell(p.size)
                nodes[neg] = _affine(nir, -np.eye(p.size))
                shift = _free(p.name + "_sat_shift", nodes)
                nodes[shift] = nir.Affine(weight=np.zeros((p.size, graph.inputs[0].size)), bias=np.full(p.size, -1.0 / K))
                edges += [(sat, neg), (graph.inputs[0].name, shift), (shift, sat)]
                ins[p.name].append(sat)
                outs[p.name].append(neg)
        else:
            what = p.kind if p.kind != "rate" else f"activation {p.activation!r}"
            raise ValidationError(f"populations[{i}]", f"{p.name!r} has {what}; a rate-coded twin needs rate units whose "
                                  f"ρ(s) is max(0, s) near the origin ({', '.join(RATE_LIKE)})")
    biased = set()
    for c in graph.couplings:
        if c.kind != "dense":
            raise ValidationError(f"couplings.{c.name}", "only dense couplings have a twin")
        src, dst = graph.population(c.src), graph.population(c.dst)
        scale = 1.0 / K if src.kind == "input" else 1.0
        bias = None
        if dst.bias is not None and dst.name not in biased:
            bias, _ = dst.bias / K, biased.add(dst.name)
        nodes[c.name] = _affine(nir, c.weight * scale, bias)
        edges += [(o, c.name) for o in outs[c.src]] + [(c.name, n) for n in ins[c.dst]]
        if c.symmetric and src.kind != "input":
            back = _free(c.name + "_T", nodes)
            nodes[back] = _affine(nir, c.weight.T.copy())
            edges += [(o, back) for o in outs[c.dst]] + [(back, n) for n in ins[c.src]]
    for p in graph.populations:
        if p.bias is not None and p.name not in biased:
            raise ValidationError(f"populations.{p.name}.bias", "has a bias but no incoming coupling to carry it")
    last = graph.cost.output
    if len(outs[last]) > 1:  # the output is the signed spike train relu − relu(· − 1)
        last = _free(last + "_rate", nodes)
        nodes[last] = _affine(nir, np.eye(graph.output.size))
        edges += [(o, last) for o in outs[graph.cost.output]]
    out = _free("output", nodes)
    nodes[out] = nir.Output(output_type={"output": np.array([graph.output.size])})
    edges.append((last, out))
    text = (f"rate-coded CubaLIF twin at dt = {TWIN_DT:g} s: ρ ≈ {K:g} × spikes per step of {graph.cost.output!r}; "
            f"ρ(s) ≈ max(0, s) with relative error < ρ/{K:g} (reset to v_reset; exact rate with a subtractive "
            f"reset), counts resolve ρ to {K:g}/T; fixed points only (τ not kept)")
    meta = {KEY: json.dumps({"graph": graph_to_dict(graph), "steps_per_spike": K, "dt": TWIN_DT,
                             "approximation": text})}
    return Twin(nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta), K, TWIN_DT, text)


def _affine(nir, weight, bias=None):
    """Every map is an Affine (zero bias where there is none): Norse and Sinabs load no Linear or Scale."""
    return nir.Affine(weight=weight, bias=np.zeros(weight.shape[0]) if bias is None else bias)


def _cell(nir, n, tau_syn_steps):
    return nir.CubaLIF(tau_syn=np.full(n, TWIN_DT * tau_syn_steps), tau_mem=np.full(n, TAU_MEM), r=np.full(n, TAU_MEM / TWIN_DT),
                       v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n), w_in=np.ones(n))


def decode(spikes: np.ndarray, steps_per_spike: float = STEPS_PER_SPIKE) -> np.ndarray:
    """ρ from the twin's output spikes (T, …, n): K × mean spikes per step."""
    return steps_per_spike * np.asarray(spikes, float).mean(axis=0)


def _free(base: str, taken) -> str:
    while base in taken:
        base += "_"
    return base
