"""The error bound of the fixed-point EP update against the float update at the same parameters.

The fixed path runs the float path's Euler steps with per-step roundings; an error e in the state
then evolves, to first order, as e ← J e + δ, with J the Jacobian of one projected Euler step on the
float trajectory and |δ| bounded per unit by the roundings of that step:
  ½ ulp (state update) + dt·(1 ulp per arriving Dense: Lava's bit-accurate Dense floors its shift
  + ½ ulp per input (quantised inputs) through |W_in| + ½ ulp·|β|·(1 + 1) on the output (cost product, target))
  + |dt_q − dt|·|drift| + dt·|β_q − β|·|s − y|   (dt, β as 12-bit fractions).
The bound at a phase end is E = Σ_t |J_{T−1}⋯J_{t+1}| δ_t (signed Jacobian products, so the
dynamics' own contraction counts; J = diag(inside)·((1 − dt − dtβ·[out])I + dt·K) for hard_sigmoid
units, K the symmetric coupling matrix; a unit within twice a first pass's bound of the box counts
as inside, so an error that may cross a kink is propagated). At each phase end the contrast
coef·ρ_dst ρ_srcᵀ then errs by at most |coef|(E_dst|ρ_src| + |ρ_dst|E_src + E_dst E_src); the
16-bit coefficients add their relative error, and the final rounding onto the weight mantissa
(bias: state) grid adds half a step. Holds while no weight saturates; first order in the state
error (a kink of the box can be crossed only by a unit within its bound of the kink — handled above).
"""
from __future__ import annotations

import numpy as np

from neurophys.ir.graph import Graph
from neurophys.physics.hopfield import Hopfield

from . import schedule as sch
from .numerics import COEF_FRAC, DECAY_FRAC, STATE_FRAC, FixedNumerics

ULP = 2.0 ** -STATE_FRAC


def _q(v: float, frac: int) -> float:
    return round(v * 2 ** frac) / 2 ** frac


def _couplings(net: Hopfield):
    """K over free units (both directions), |W_in| summed per unit, Dense arrivals per unit."""
    K, win, arrivals = np.zeros((net.n, net.n)), np.zeros(net.n), np.zeros(net.n)
    for b in net.blocks:
        W = b.coupling.weight
        arrivals[b.dst] += 1
        if b.src is None:
            win[b.dst] += np.abs(W).sum(axis=1)
        else:
            K[b.dst, b.src] += W
            K[b.src, b.dst] += W.T
            arrivals[b.src] += 1
    return K, win, arrivals


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
    K, win, arrivals = _couplings(net)
    out = np.zeros(net.n)
    out[net.out] = 1.0
    yf = np.zeros((B, net.n))
    yf[:, net.out] = y
    dt, dtq = rx.dt, _q(rx.dt, DECAY_FRAC)
    ends = []  # (state, path of steps from the reset) at every phase end with a contrast
    s, path = np.zeros((B, net.n)), []
    saved = (s, path)
    for mode, beta, coef in sch.ep_phases(rule.beta, rule.lr, rule.estimator, True):
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
            delta = (ULP / 2 + max(dt, dtq) * (ULP * arrivals + ULP / 2 * win + ULP * abs(bq) * out)
                     + abs(dtq - dt) * np.abs(d) + dt * abs(bq - beta) * out * np.abs(s - yf))
            path = path + [(pre, delta, A)]
            s = net.project(pre.copy())  # project clips in place; the path keeps pre
        ends.append((s, path, abs(coef)))
    # units within twice the first pass's largest bound of a kink count as inside in the second
    margin = 2 * max(_propagate(path, 0.0).max() for _, path, _ in ends)
    acc_err, acc_mag = {}, {}
    for s, path, c in ends:
        _contrast(net, s, _propagate(path, margin), x_rho, c, acc_err, acc_mag)
    rel = _coef_rel_error(rule, B)
    bound = {}
    for k, err in acc_err.items():
        grid = num.lsb(k) if k in num.exps else ULP
        bound[k] = (err + rel * acc_mag[k]) / B + grid / 2
    return bound


def _contrast(net, s, E, x_rho, c, acc_err, acc_mag):
    """Add one phase end's contribution to the contrast's error bound and magnitude."""
    r = np.abs(net.rho(s))
    for b in net.blocks:
        if not b.coupling.trainable:
            continue
        rd, ed = r[:, b.dst], E[:, b.dst]
        rs, es = (r[:, b.src], E[:, b.src]) if b.src is not None else (np.abs(x_rho[:, b.src_in]),
                                                                        np.full_like(x_rho[:, b.src_in], ULP / 2))
        k = b.coupling.name
        acc_err[k] = acc_err.get(k, 0.0) + c * (ed.T @ rs + rd.T @ es + ed.T @ es)
        acc_mag[k] = acc_mag.get(k, 0.0) + c * rd.T @ rs
    for p in net.free:
        if p.bias is not None and p.trainable_bias:
            sl, k = net.slices[p.name], f"{p.name}.bias"
            acc_err[k] = acc_err.get(k, 0.0) + c * E[:, sl].sum(axis=0)
            acc_mag[k] = acc_mag.get(k, 0.0) + c * r[:, sl].sum(axis=0)


def _coef_rel_error(rule, B: int) -> float:
    """Relative error of the 16-bit products COEF·APPLY against coef/B, worst over the phases."""
    a, aq = 1.0 / B, _q(1.0 / B, COEF_FRAC)
    worst = 0.0
    for _, _, coef in sch.ep_phases(rule.beta, rule.lr, rule.estimator, True):
        if coef:
            worst = max(worst, abs(_q(coef, COEF_FRAC) * aq - coef * a) / abs(coef * a))
    return worst
