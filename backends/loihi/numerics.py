"""How numbers reach the chip path's Lava processes, and the learning rule they learn with: floating
point (`loihi-engine`, Lava's float learning model) or Loihi 2's fixed-point formats (`loihi-fixed`,
Lava's bit-approximate learning model). ChipNet builds one network for both and asks its numerics
object for every connection, rule and value it writes to or reads from a process.

The learning rule (Loihi3FLearningRule, one epoch per time step, tag variant):
    dt = S·x0·x1·y2 − S·x0·x1·y3 − y0·t        dw = G·u0·t·y1
x1 = payload/2 of the pre-synaptic graded spike (GradedSpikeCfg.OVERWRITE), gated by x0 (a zero
payload sends no spike, so x1 would keep an older value); y2/y3 = the post neuron's contrast parts
at a phase end; the tag t sums the minibatch's contrasts; y1 = the apply scale on the apply steps
moves w by G·t·y1; the bap (y0) on the last apply step clears the tag (y0·t with scale 1 is exact).

Float: payload ρ (x1 = ρ/2), y2/y3 = 2ρ, S = G = 1, y1 = |coef|/B. The only residual against the
reference update is the learning engine's one-step decay of each trace it reads (x1, y2 in the tag,
y1 at the apply) at τ = 65535: the update is scaled by e^(−3/65535) ≈ 1 − 4.6e-5 (τ = 0 leaves the
trace history NaN in Lava 0.10, so it cannot be switched off).

Fixed point (Loihi 2 limits, lava/magma/core/learning/constants.py):
* states, non-trainable biases, targets: 24-bit signed, 1.0 ↔ ONE = 127·2^5; dt, β: 12-bit fractions;
* graded spikes: payload 2q with q = round(127 ρ) ∈ [0, 127] (x1 = q; a payload above 254 would
  wrap the 7-bit trace); y2/y3 = q, so the forward and the transposed connection learn the same q_i q_j;
* weights (and trainable biases, weights from the always-on unit): the learning engine's 9-bit
  signed grid w ∈ [−256, 255] with one exponent E per parameter, W = w·2^E, E the smallest exponent
  whose range 255·2^E holds `headroom`·max|W| at compile (coarser where the apply scale needs it,
  see G below); Lava's Dense weight_exp is E + 4;
* tag: 9-bit, S = 2^A accumulates each phase end's q_i q_j/8·2^A; apply: G = 2^c_p per parameter
  with A + c_p + E_p = h shared, y1 = Y = (|coef|/B)·2^(8−h)/127² (7 bits: h puts Y in [64, 127]
  at the compile batch size; a smaller batch spreads Y over several apply steps); every
  accumulation is rounded stochastically (one random number per epoch).
"""
from __future__ import annotations

import math

import numpy as np
from lava.magma.core.learning.constants import GradedSpikeCfg
from lava.magma.core.learning.learning_rule import Loihi3FLearningRule
from lava.proc.dense.process import Dense, LearningDense
from lava.utils.weightutils import SignMode

from neurophys.backend import UnsupportedGraph

from . import schedule as sch

MESSAGE_BITS = 24   # graded spikes (float)
PAYLOAD_BITS = 8    # graded spikes into the learning engine (fixed point): 2q ≤ 254
STATE_BITS = 24
Q = 127             # ρ = 1 ↔ q = 127 (the 7-bit trace)
PAYLOAD_SHIFT = 5
ONE = Q << PAYLOAD_SHIFT   # fixed-point 1.0 of a state: q = round(s / 2^5)
DECAY_FRAC = 12     # dt, β
W_MAX = 255         # 9-bit signed weight grid of the learning engine
TRACE_TAU = 65535   # the longest decay: a trace read one step after it was written
SEED = 7            # learning-engine random numbers (bit-approximate model): fixed, so runs repeat


def rshift_round(x, n: int):
    """x / 2^n rounded to nearest (half up) by an arithmetic shift, as integer hardware does it."""
    x = np.asarray(x, np.int64)
    return (x + (np.int64(1) << (n - 1))) >> n if n > 0 else x << -n


class FloatNumerics:
    """Floating point: the graph's numbers unchanged, Lava's float learning model."""
    select_tag = "floating_pt"
    payload_one = 1.0
    tag_rule = "x0*x1*y2 - x0*x1*y3 - y0*t"

    def __init__(self, graph=None, batch: int = 1):
        self.apply_steps = 1

    def rule(self, name: str) -> Loihi3FLearningRule:
        return Loihi3FLearningRule(dt=self.tag_rule, dw="u0*t*y1", x1_tau=TRACE_TAU, t_epoch=1, rng_seed=SEED)

    def dense(self, name: str, weights, label: str, learning: bool):
        w = self.weights_in(name, weights)
        if not learning:
            return Dense(weights=w, num_message_bits=MESSAGE_BITS, name=label)
        return LearningDense(weights=w, num_message_bits=MESSAGE_BITS, learning_rule=self.rule(name),
                             graded_spike_cfg=GradedSpikeCfg.OVERWRITE, name=label)

    def weights_in(self, name, w):
        return np.array(w, float)

    def weights_out(self, name, raw):
        return np.array(raw, float)

    def state_in(self, v):
        return np.asarray(v, float)

    def state_out(self, raw):
        return np.array(raw, float)

    def payload_in(self, rho):
        return np.asarray(rho, float)

    def fraction(self, v: float):
        return float(v)

    def control(self, ctrl):
        return ctrl

    def apply_y1(self, magnitude: float, batch: int) -> np.ndarray:
        return np.array([magnitude / batch])


class FixedNumerics(FloatNumerics):
    """Loihi 2 fixed point (see the module docstring); `exps` holds each parameter's exponent E."""
    select_tag = "fixed_pt"
    payload_one = 2 * Q

    def __init__(self, graph, batch: int, headroom: float = 1.0):
        self.magnitude = sch.magnitude(sch.ep_phases(graph.rule.beta, graph.rule.lr, graph.rule.estimator, True))
        # tag scale: a phase end adds q_i q_j/8·2^A ≤ 2016·2^A tag units; larger batches need a coarser tag
        self.A = max(-7, -4 - max(0, math.ceil(math.log2(batch / 4))))
        y = self.magnitude / batch / Q ** 2 * 2.0 ** 8
        self.h = math.floor(math.log2(y / 64))   # Y = y·2^−h ∈ [64, 128)
        if y * 2.0 ** -self.h > Q:
            self.h += 1
        # the apply scale 2^G, G = h − A − E, must lie in [−7, −2] (the learning engine's shifts): a grid
        # finer than that is coarsened; an all-zero parameter gets the range headroom·1
        lo, hi = self.h - self.A + 2, self.h - self.A + 7
        self.exps, self.G = {}, {}
        for k, v in graph.params().items():
            wmax = (np.abs(v).max() or 1.0) * headroom
            e = max(lo, math.ceil(math.log2(wmax / W_MAX)))
            if e > hi:
                raise UnsupportedGraph("rule.lr", f"{graph.rule.lr}: parameter {k!r} needs the weight grid 2^{e} for its "
                                       f"range, but its updates are below the learning engine's resolution on it "
                                       f"(at most 2^{hi}); raise lr or lower the parameter's range")
            self.exps[k], self.G[k] = e, self.h - self.A - e
        self.apply_steps = max(1, batch)  # y1 spread over as many steps as a one-sample batch needs

    def lsb(self, name) -> float:
        return 2.0 ** self.exps[name]

    def rule(self, name: str) -> Loihi3FLearningRule:
        A = self.A
        return Loihi3FLearningRule(dt=f"2^{A}*x0*x1*y2 - 2^{A}*x0*x1*y3 - y0*t", dw=f"2^{self.G[name]}*u0*t*y1",
                                   x1_tau=TRACE_TAU, t_epoch=1, rng_seed=SEED)

    def dense(self, name: str, weights, label: str, learning: bool):
        w = self.weights_in(name, weights)
        kw = dict(weights=w, weight_exp=self.exps[name] + 4, num_weight_bits=8, sign_mode=SignMode.MIXED,
                  num_message_bits=PAYLOAD_BITS, name=label)
        if not learning:
            return Dense(**kw)
        return LearningDense(**kw, learning_rule=self.rule(name), graded_spike_cfg=GradedSpikeCfg.OVERWRITE)

    def weights_in(self, name, w):
        return np.clip(np.rint(np.asarray(w, float) / self.lsb(name)), -W_MAX - 1, W_MAX).astype(np.int32)

    def weights_out(self, name, raw):
        return np.asarray(raw, float) * self.lsb(name)

    def state_in(self, v):
        lim = 2 ** (STATE_BITS - 1)
        return np.clip(np.rint(np.asarray(v, float) * ONE), -lim, lim - 1).astype(np.int32)

    def state_out(self, raw):
        return np.asarray(raw, float) / ONE

    def payload_in(self, rho):
        return 2 * np.clip(np.rint(np.asarray(rho, float) * Q), 0, Q).astype(np.int32)

    def fraction(self, v: float):
        return int(round(v * 2 ** DECAY_FRAC))

    def control(self, ctrl):
        q = np.rint(ctrl).astype(np.int32)
        q[sch.BETA] = np.rint(ctrl[sch.BETA] * 2 ** DECAY_FRAC)
        return q

    def apply_y1(self, magnitude: float, batch: int) -> np.ndarray:
        """Y = (|coef|/B)·2^(8−h)/127², spread over the fewest apply steps that keep each ≤ 127."""
        Y = magnitude / batch / Q ** 2 * 2.0 ** (8 - self.h)
        m = math.ceil(Y / Q)
        if m > self.apply_steps:
            raise UnsupportedGraph("batch", f"{batch} samples: the apply scale needs {m} apply steps, the ring has "
                                   f"{self.apply_steps}")
        out = np.zeros(self.apply_steps, np.int32)
        out[self.apply_steps - m:] = np.rint(np.full(m, Y / m))
        return out
