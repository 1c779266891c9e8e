"""How numbers reach the Lava processes: as they are (`floating_pt`) or in Loihi 2's fixed-point
formats (`fixed_pt`). LavaNet builds one network for both and asks its numerics object for every
value it writes to or reads from a process.

Fixed-point formats (Loihi 2 limits):
* states, biases, inputs, targets, graded-spike payloads: 24-bit signed integers, 1.0 ↔ 2^12
  (payloads ρ(s) ∈ [0, 2^12] fit the 24-bit graded spike);
* dt and β: 12-bit fractions (dt·2^12), like Loihi's decays;
* weights: 8-bit signed mantissa m ∈ [−128, 127] with one exponent E per coupling, w = m·2^E.
  E is the smallest exponent whose range 127·2^E holds `headroom`·max|W| at compile time (the
  finest grid that fits). Lava's bit-accurate Dense stores mixed-sign weights as 2m with
  weight_exp = E − 1 (the mantissa's low bit is the sign bit);
* the plasticity coefficients lr/(2β) and 1/B: 16-bit fractions; the rule (a CPU process, as in the
  float backend) accumulates exact integer products and rounds once, to nearest, onto the weight
  mantissa (bias: onto the state grid), saturating at the 8-bit range.
"""
from __future__ import annotations

import math

import numpy as np
from lava.proc.dense.process import Dense
from lava.utils.weightutils import SignMode

from . import schedule as sch

MESSAGE_BITS = 24   # graded spikes: a 24-bit payload per message
STATE_FRAC = 12     # fixed point: 1.0 ↔ 2^12
STATE_BITS = 24
DECAY_FRAC = 12     # dt, β
COEF_FRAC = 16      # plasticity coefficients (COEF, APPLY columns of the control word)
MANT_MAX = 127      # 8-bit signed weight mantissa


def rshift_round(x, n: int):
    """x / 2^n rounded to nearest (half up) by an arithmetic shift, as integer hardware does it."""
    x = np.asarray(x, np.int64)
    return (x + (np.int64(1) << (n - 1))) >> n if n > 0 else x << -n


class FloatNumerics:
    """Identity: floating-point models get the graph's numbers unchanged."""
    select_tag = "floating_pt"
    shifts: dict = {}

    def dense(self, coupling, weights, name):
        return Dense(weights=np.asarray(weights, float).copy(), num_message_bits=MESSAGE_BITS, name=name)

    def weights_in(self, name, w):
        return np.asarray(w, float)

    def weights_out(self, name, raw):
        return np.asarray(raw, float).copy()

    def state_in(self, v):
        return np.asarray(v, float)

    def state_out(self, raw):
        return np.asarray(raw, float).copy()

    def fraction(self, v: float):
        return float(v)

    def control(self, ctrl):
        return ctrl


class FixedNumerics(FloatNumerics):
    """Loihi 2 fixed point (see the module docstring); `exps` holds each coupling's weight exponent."""
    select_tag = "fixed_pt"

    def __init__(self, graph, headroom: float = 1.0):
        self.exps = {c.name: self._exponent(np.abs(c.weight).max() * headroom) for c in graph.couplings}
        # the plasticity's shift from COEF·APPLY·post·pre (2·COEF_FRAC + 2·STATE_FRAC fraction bits) to the mantissa
        self.shifts = {k: 2 * COEF_FRAC + 2 * STATE_FRAC + e for k, e in self.exps.items()}

    @staticmethod
    def _exponent(wmax: float) -> int:
        return math.ceil(math.log2(wmax / MANT_MAX)) if wmax > 0 else -STATE_FRAC

    def lsb(self, name) -> float:
        return 2.0 ** self.exps[name]

    def mantissa(self, name, w):
        return np.clip(np.rint(np.asarray(w, float) / self.lsb(name)), -MANT_MAX - 1, MANT_MAX).astype(np.int32)

    def dense(self, coupling, weights, name):
        e = self.exps[coupling.name]
        return Dense(weights=2 * self.mantissa(coupling.name, weights), weight_exp=e - 1, num_weight_bits=8,
                     sign_mode=SignMode.MIXED, num_message_bits=MESSAGE_BITS, name=name)

    def weights_in(self, name, w):
        return 2 * self.mantissa(name, w)

    def weights_out(self, name, raw):
        return np.asarray(raw, float) / 2 * self.lsb(name)

    def state_in(self, v):
        lim = 2 ** (STATE_BITS - 1)
        return np.clip(np.rint(np.asarray(v, float) * 2 ** STATE_FRAC), -lim, lim - 1).astype(np.int32)

    def state_out(self, raw):
        return np.asarray(raw, float) / 2 ** STATE_FRAC

    def fraction(self, v: float):
        return int(round(v * 2 ** DECAY_FRAC))

    def control(self, ctrl):
        q = np.empty(ctrl.shape, np.int32)
        q[[sch.MODE, sch.MEASURE]] = ctrl[[sch.MODE, sch.MEASURE]]
        q[sch.BETA] = np.rint(ctrl[sch.BETA] * 2 ** DECAY_FRAC)
        q[[sch.COEF, sch.APPLY]] = np.rint(ctrl[[sch.COEF, sch.APPLY]] * 2 ** COEF_FRAC)
        return q
