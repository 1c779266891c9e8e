"""The error bound of the `loihi-fixed` update against the float update at the same parameters.

The fixed path runs the float path's Euler steps with per-step roundings; an error e in the state
then evolves, to first order, as e ← J e + δ, with J the Jacobian of one projected Euler step on the
float trajectory and |δ| bounded per unit by the roundings of that step:
  ½ ulp (state update) + dt·(1 ulp per arriving Dense: Lava's Dense floors its shift; a split
  trainable parameter arrives through two, its coarse and its fine part
  + ½ ulp (bias, target) + ½/127·Σ|W| over the unit's inputs (graded spikes carry q = round(127 ρ))
  + ½ ulp·|β| on the output) + |dt_q − dt|·|drift| + dt·|β_q − β|·|s − y|   (dt, β as 12-bit fractions).
The bound at a phase end is E = Σ_t |J_{T−1}⋯J_{t+1}| δ_t (signed Jacobian products, so the
dynamics' own contraction counts; a unit within twice its own first-pass bound of the box counts
as inside, so an error that may cross a kink is propagated). The learning engine then multiplies
q_pre·q_post: each factor errs by at most E + ½/127 (rounding) + 1/127 (its one-step stochastic
decay at τ = 65535 may take one count off), so a phase end's term errs by at most
|coef|/B·(e_i ρ_j + ρ_i e_j + e_i e_j). Its accumulation into the tag is floored (< 2^A tag units)
and stochastically rounded (< 1 tag unit); each apply step floors t·y1/32 (< 2^G weight units) and
stochastically rounds onto the 9-bit grid (< 1 weight unit) — weight units of the fine LearningDense
(2^E_f), the only part that learns (consolidation moves whole coarse lsbs exactly); y1 = round(Y) errs by ½ + 1 (decay)
counts of Y. Holds while no weight or tag saturates; first order in the state error.
"""
from __future__ import annotations

import numpy as np

from neurophys.ir.graph import Graph
from neurophys.physics.hopfield import Hopfield

from . import schedule as sch
from .numerics import DECAY_FRAC, ONE, Q, FixedNumerics

ULP = 1.0 / ONE
QUANT = 0.5 / Q      # |q/127 − ρ| from rounding
DECAY = 1.0 / Q      # one count the one-step stochastic trace decay may take off


def _q(v: float, frac: int) -> float:
    return round(v * 2 ** frac) / 2 ** frac


def _couplings(net: Hopfield, num: FixedNumerics):
    """K over free units (both directions), Σ|W| over each unit's graded inputs, Dense arrivals per unit
    (a trainable parameter arrives through two: its coarse and its fine part)."""
    K, wsum, arrivals = np.zeros((net.n, net.n)), np.zeros(net.n), np.zeros(net.n)
    for b in net.blocks:
        W, parts = b.coupling.weight, num.parts(b.coupling.name)
        arrivals[b.dst] += parts
        wsum[b.dst] += np.abs(W).sum(axis=1)
        if b.src is not None:
            K[b.dst, b.src] += W
            K[b.src, b.dst] += W.T
            arrivals[b.src] += parts
            wsum[b.src] += np.abs(W).sum(axis=0)
    for p in net.free:
        if p.bias is not None and p.trainable_bias:
            arrivals[net.slices[p.name]] += num.parts(f"{p.name}.bias")  # from the always-on unit
    return K, wsum, arrivals


def _propagate(path, margin: float):
    """Σ_t |J_{T−1}⋯J_{t+1}| δ_t over a path of (pre, δ, A) steps: the first-order bound at its end.
    J = diag(inside)·A; a unit within `margin` of the box counts as inside (its error may cross the kink)."""
    n = path[0][1].shape
    bound, P = np.zeros(n), np.broadcast_to(np.eye(n[1]), (n[0], n[1], n[1]))
    for pre, delta, A in reversed(path):
        inside = ((pre >= -margin) & (pre <= 1 + margin)).astype(float)
        bound = bound + np.einsum("bij,bj->bi", np.abs(P), inside * delta)
        P = P @ (inside[:, :, None] * A)
    return bound


def update_bound(graph: Graph, x, y, num: FixedNumerics) -> dict[str, np.ndarray]:
    """Elementwise bound on |fixed update − float update| for one learning step on the batch."""
    net = Hopfield(graph)
    rule, rx = graph.rule, graph.rule.relaxation
    x, y = np.asarray(x, float), np.asarray(y, float)
    B = len(x)
    x_rho = net.rho_in(x)
    K, wsum, arrivals = _couplings(net, num)
    out = np.zeros(net.n)
    out[net.out] = 1.0
    yf = np.zeros((B, net.n))
    yf[:, net.out] = y
    dt, dtq = rx.dt, _q(rx.dt, DECAY_FRAC)
    ends = []  # (state, path of steps from the reset) at every phase end with a contrast
    s, path = np.zeros((B, net.n)), []
    saved = (s, path)
    phases = sch.ep_phases(rule.beta, rule.lr, rule.estimator, True)
    for mode, beta, coef in phases:
        if mode == sch.RESET:
            s, path = np.zeros_like(s), []
        elif mode == sch.SAVE:
            saved = (s, path)
        elif mode == sch.RESTORE:
            s, path = saved
        bq = _q(beta, DECAY_FRAC)
        A = np.broadcast_to((1 - dt - dt * beta * out)[:, None] * np.eye(net.n) + dt * K, (B, net.n, net.n))
        for _ in range(rx.max_steps):
            d = net.drift(s, x_rho, y, beta)
            pre = s + dt * d
            delta = (ULP / 2 + max(dt, dtq) * (ULP * arrivals + ULP / 2 + QUANT * wsum + ULP / 2 * abs(bq) * out)
                     + abs(dtq - dt) * np.abs(d) + dt * abs(bq - beta) * out * np.abs(s - yf))
            path = path + [(pre, delta, A)]
            s = net.project(pre.copy())  # project clips in place; the path keeps pre
        if coef:
            ends.append((s, path))
    mag = sch.magnitude(phases)
    err, size = {}, {}
    for s, path in ends:  # a unit within twice its first-pass bound of a kink counts as inside in the second
        _contrast(net, s, _propagate(path, 2 * _propagate(path, 0.0)), x_rho, err, size)
    Y = mag / B / Q ** 2 * 2.0 ** (8 - num.h)                  # the apply scale y1 (in counts)
    steps = int(np.ceil(Y / Q))
    bound = {}
    for k, e in err.items():
        lsb, G = num.fine_lsb(k), num.G[k]           # the fine synapse learns
        tag_unit = Y * 2.0 ** (G - 5) * lsb                       # one tag unit in parameter units
        bound[k] = (mag / B * e + len(ends) * B * (1 + 2.0 ** num.A) * tag_unit
                    + steps * (2.0 ** G + 1) * lsb + (0.5 + 1) * steps / Y * mag / B * size[k])
    return bound


def _contrast(net, s, E, x_rho, err, size):
    """Add one phase end's bound on |q_post q_pre/127² − ρ_post ρ_pre| (and Σ ρ_post ρ_pre) per parameter."""
    r = np.abs(net.rho(s))
    e = E + QUANT + DECAY
    for b in net.blocks:
        if not b.coupling.trainable:
            continue
        rd, ed = r[:, b.dst], e[:, b.dst]
        rs, es = (r[:, b.src], e[:, b.src]) if b.src is not None else (
            np.abs(x_rho[:, b.src_in]), np.full_like(x_rho[:, b.src_in], QUANT + DECAY))
        k = b.coupling.name
        err[k] = err.get(k, 0.0) + ed.T @ rs + rd.T @ es + ed.T @ es
        size[k] = size.get(k, 0.0) + rd.T @ rs
    for p in net.free:
        if p.bias is not None and p.trainable_bias:
            sl, k = net.slices[p.name], f"{p.name}.bias"
            err[k] = err.get(k, 0.0) + (e[:, sl] * (1 + DECAY) + r[:, sl] * DECAY).sum(axis=0)
            size[k] = size.get(k, 0.0) + r[:, sl].sum(axis=0)
