"""The error bound of the `loihi-fixed` update against the float update at the same parameters.

The fixed path runs the float path's Euler steps with per-step roundings: one fixed step is the affine
map s ↦ s + dt_q(h(s) − s − β_q(s − y)) (states stay in the box, where ρ(s) = s) plus an error |δ| ≤
  ½ ulp (state update) + dt·(1 ulp per arriving Dense: Lava's Dense floors its shift; a split
  trainable parameter arrives through two, its coarse and its fine part
  + ½ ulp (bias, target) + ½/127·Σ|W| over the unit's inputs (graded spikes carry q = round(127 ρ))
  + ½ ulp·|β| on the output), then the clip to [0, 1]; against the float step (dt, β) add
  |dt_q − dt|·|drift| + dt·|β_q − β|·|s − y|   (dt, β as 12-bit fractions).
Two bounds on the state error at a phase end, combined elementwise (the smaller one):
* first order (not rigorous): e ← J e + δ, J the Jacobian of one projected Euler step on the float
  trajectory, E = Σ_t |J_{T−1}⋯J_{t+1}| δ_t (signed Jacobian products, so the dynamics' own contraction
  counts; a unit within twice its own first-pass bound of the box counts as inside, so an error that
  may cross a kink is propagated). Tight where the trajectory stays away from the kinks, but it
  linearises through them: where the masked products grow (a 3-layer net: ×1.24 per step) it is vacuous;
* rigorous: a zonotope {z + Gξ : |ξ| ≤ 1} holds every fixed-point state the roundings allow; the affine
  part is exact (no wrapping, unlike an interval box under K⁺/K⁻), the clip is exact on a unit whose
  range lies inside the box and otherwise keeps just the clipped range, so it never leaves the box.
  E = max(hi − s, s − lo) ≤ 1 over its range. A unit the fixed path keeps at exactly 0 (zero spikes
  in, no input, bias or nudge) stays a point: a zero-bias net at a zero input sits on every kink.
  Where the enclosure of a unit reaches a kink, its saturation cannot be certified and the slow
  modes carry the full worst-case δ: it grows towards the box there (a non-converged or chattering unit).
The learning engine then multiplies q_pre·q_post: each factor errs by at most E + ½/127 (rounding)
+ 1/127 (its one-step stochastic decay at τ = 65535 may take one count off), so a phase end's term errs
by at most |coef|/B·(e_i ρ_j + ρ_i e_j + e_i e_j). Its accumulation into the tag is floored (< 2^A tag
units) and stochastically rounded (< 1 tag unit); each apply step floors t·y1/32 (< 2^G weight units)
and stochastically rounds onto the 9-bit grid (< 1 weight unit) — weight units of the fine
LearningDense (2^E_f), the only part that learns (consolidation moves whole coarse lsbs exactly);
y1 = round(Y) errs by ½ + 1 (decay) counts of Y. Holds while no weight or tag saturates.
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
ZONOTOPE_LIMIT = 2 ** 24  # generator entries (all samples) beyond which only the first-order bound is kept


def _q(v: float, frac: int) -> float:
    return round(v * 2 ** frac) / 2 ** frac


def _couplings(net: Hopfield, num: FixedNumerics):
    """Σ|W| over each unit's graded inputs, Dense arrivals per unit (a trainable parameter arrives
    through two: its coarse and its fine part)."""
    wsum, arrivals = np.zeros(net.n), np.zeros(net.n)
    for b in net.blocks:
        W, parts = b.coupling.weight, num.parts(b.coupling.name)
        arrivals[b.dst] += parts
        wsum[b.dst] += np.abs(W).sum(axis=1)
        if b.src is not None:
            arrivals[b.src] += parts
            wsum[b.src] += np.abs(W).sum(axis=0)
    for p in net.free:
        if p.bias is not None and p.trainable_bias:
            arrivals[net.slices[p.name]] += num.parts(f"{p.name}.bias")  # from the always-on unit
    return wsum, arrivals


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


def _zonotope_step(M, c, rounding, z, G, still=False):
    """One fixed-point Euler step on the zonotope {z + Gξ : |ξ| ≤ 1} (per sample: z (B, n), G (B, n, m))
    that holds the fixed-point state: the affine map s ↦ Ms + c, a fresh generator per unit for its
    rounding, then the clip to [0, 1]: exact on a unit whose range lies inside the box; a unit whose
    range reaches outside becomes its clipped range [clip(l), clip(h)] on a fresh generator (a chord
    through a kink would keep correlations but leave part of the range outside the box, where it
    feeds back through the couplings: measured looser). A `still` unit is known to stay exactly 0."""
    eye = np.eye(z.shape[1])
    z, G = z @ M.T + c, np.concatenate([M @ G, np.broadcast_to(rounding * eye, (len(z),) + eye.shape)], axis=-1)
    r = np.abs(G).sum(axis=-1)
    lo, hi = np.clip(z - r, 0, 1), np.clip(z + r, 0, 1)
    inside = (z - r >= 0) & (z + r <= 1)
    G = inside[..., None] * G
    G[:, :, -len(eye):] += np.where(inside, 0, (hi - lo) / 2)[..., None] * eye  # the unit's own last column
    G[still] = 0.0
    return np.where(still, 0.0, np.where(inside, z, (lo + hi) / 2)), G


def _still(z, G, K, quiet, nudged):
    """Units the fixed path keeps at exactly 0 this step: at 0 (a point), every source a zero spike (q = 0
    while s < ½/127), no input spike or bias (`quiet`), no nudge: every term and rounding is exactly 0.
    (An all-zero net — zero biases, a zero input — sits on every kink, where an unstable state would
    otherwise carry the worst-case roundings exponentially to the box.)"""
    r = np.abs(G).sum(axis=-1)
    loud = (z + r >= QUANT).astype(float)
    return (z == 0) & (r == 0) & (loud @ (K != 0).T == 0) & quiet & ~nudged


def _quiet(net, x_rho):
    """(B, n): units whose every input spike through a nonzero weight is q = 0 and whose bias is exactly 0."""
    q_in = (np.rint(np.abs(x_rho) * Q) > 0).astype(float)
    quiet = np.ones((len(x_rho), net.n), bool)
    for b in net.blocks:
        if b.src is None:
            quiet[:, b.dst] &= q_in[:, b.src_in] @ (b.coupling.weight != 0).T.astype(float) == 0
    for p in net.free:
        if p.bias is not None:
            quiet[:, net.slices[p.name]] &= np.asarray(p.bias) == 0
    return quiet


def _zonotope_error(z, G, s):
    """max(hi − s, s − lo) over the zonotope's range [lo, hi] ∩ [0, 1]: |fixed − float state| at most."""
    r = np.abs(G).sum(axis=-1)
    return np.maximum(np.minimum(z + r, 1.0) - s, s - np.maximum(z - r, 0.0))


def update_bound(graph: Graph, x, y, num: FixedNumerics) -> dict[str, np.ndarray]:
    """Elementwise bound on |fixed update − float update| for one learning step on the batch."""
    net = Hopfield(graph)
    rule, rx = graph.rule, graph.rule.relaxation
    x, y = np.asarray(x, float), np.asarray(y, float)
    B = len(x)
    x_rho = net.rho_in(x)
    K = net.coupling_matrix()
    wsum, arrivals = _couplings(net, num)
    drive = net.drive(x_rho)
    out = np.zeros(net.n)
    out[net.out] = 1.0
    yf = np.zeros((B, net.n))
    yf[:, net.out] = y
    dt, dtq = rx.dt, _q(rx.dt, DECAY_FRAC)
    ends = []  # (state, path of steps from the reset, zonotope) at every phase end with a contrast
    phases = sch.ep_phases(rule.beta, rule.lr, rule.estimator, True)
    enclose = B * net.n * len(phases) * rx.max_steps * net.n <= ZONOTOPE_LIMIT
    quiet = _quiet(net, x_rho)
    s, path = np.zeros((B, net.n)), []
    zono = (s, np.zeros((B, net.n, 0)))
    saved = (s, path, zono)
    for mode, beta, coef in phases:
        if mode == sch.RESET:
            s, path, zono = np.zeros_like(s), [], (np.zeros_like(s), np.zeros((B, net.n, 0)))
        elif mode == sch.SAVE:
            saved = (s, path, zono)
        elif mode == sch.RESTORE:
            s, path, zono = saved
        bq = _q(beta, DECAY_FRAC)
        A = np.broadcast_to((1 - dt - dt * beta * out)[:, None] * np.eye(net.n) + dt * K, (B, net.n, net.n))
        Mq = (1 - dtq - dtq * bq * out)[:, None] * np.eye(net.n) + dtq * K  # the fixed path's own dt, β
        cq = dtq * (drive + bq * out * yf)
        rounding = ULP / 2 + max(dt, dtq) * (ULP * arrivals + ULP / 2 + QUANT * wsum + ULP / 2 * abs(bq) * out)
        nudged = (bq != 0) & (out > 0) & (yf != 0)
        for _ in range(rx.max_steps):
            d = net.drift(s, x_rho, y, beta)
            pre = s + dt * d
            delta = rounding + abs(dtq - dt) * np.abs(d) + dt * abs(bq - beta) * out * np.abs(s - yf)
            path = path + [(pre, delta, A)]
            s = net.project(pre.copy())  # project clips in place; the path keeps pre
            if enclose:
                zono = _zonotope_step(Mq, cq, rounding, *zono, _still(*zono, K, quiet, nudged))
        if coef:
            ends.append((s, path, zono if enclose else None))
    mag = sch.magnitude(phases)
    err, size = {}, {}
    for s, path, zono in ends:  # first order: a unit within twice its first-pass bound of a kink counts as inside
        E = _propagate(path, 2 * _propagate(path, 0.0))
        _contrast(net, s, E if zono is None else np.minimum(E, _zonotope_error(*zono, s)), x_rho, err, size)
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
