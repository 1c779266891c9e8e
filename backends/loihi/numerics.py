"""How numbers reach the chip path's Lava processes, and the learning rule they learn with: floating
point (`loihi-engine`, Lava's float learning model) or Loihi 2's fixed-point formats (`loihi-fixed`,
Lava's bit-approximate learning model). ChipNet builds one network for both and asks its numerics
object for every synapse (the connection processes of one parameter), rule and value it writes to
or reads from a process.

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
* weights (and trainable biases, weights from the always-on unit): the 9-bit signed grid
  w ∈ [−256, 255] with one exponent E per parameter, W = w·2^E, E the smallest exponent whose range
  255·2^E holds `headroom`·max|W| at compile (never below the finest the apply scale allows, see G);
  Lava's Dense weight_exp is E + 4;
* split weights (a standard Loihi technique for more weight precision): a trainable parameter is two
  synapses from the same pre to the same post port, whose a_out the post InPort sums — a static
  coarse Dense w_c·2^E and a fine LearningDense w_f·2^E_f, E_f = E − 3 (FINE_BITS) or the finest grid
  the apply shift allows, which learns. The update is rounded onto 2^E_f, not 2^E (at max|W| ≈ 0.7,
  2^−11 instead of 2^−8: lsb² 64× smaller, the rounding variance Σ lsb² f(1−f) measured ≈ 55×
  smaller). The fine range is only 255·2^E_f, so after every learning step that leaves a whole
  coarse lsb in some w_f the host moves it into the coarse Dense (`consolidate`: an integer shift,
  exact); on Loihi 2 that is a host write of the weights between runs;
* tag: 9-bit, S = 2^A accumulates each phase end's q_i q_j/8·2^A; apply: G = 2^c_p per learning
  synapse with A + c_p + E_f,p = h shared, c_p ∈ [−7, −2] (the learning engine's shifts),
  y1 = Y = (|coef|/B)·2^(8−h)/127² (7 bits: h puts Y in [64, 127] at the compile batch size; a
  smaller batch spreads Y over several apply steps); every accumulation is rounded stochastically
  (one random number per epoch).
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
FINE_BITS = 3       # a trainable parameter's fine grid: 2^FINE_BITS finer than its coarse one (if the shifts allow)
COARSE = ".coarse"  # label suffix of a split parameter's static coarse Dense
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

    def synapse(self, name: str, weights, label: str, learning: bool) -> list:
        """The connection processes of one parameter between a pre and a post port (the post InPort sums
        their a_out); a learning one is last. Here one process: `dense`."""
        return [self.dense(name, weights, label, learning)]

    def read(self, name: str, parts) -> np.ndarray:
        """The parameter a synapse holds (read back from its processes)."""
        return self.weights_out(name, parts[0].weights.get())

    def write(self, name: str, parts, value) -> None:
        parts[0].weights.set(self.weights_in(name, value))

    def consolidate(self, name: str, synapses) -> None:
        """After a learning step, between runs: nothing to do for a single-process synapse."""

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
        # the apply scale 2^G, G = h − A − E_f, must lie in [−7, −2] (the learning engine's shifts): a grid
        # finer than that is coarsened; an all-zero parameter gets the range headroom·1
        lo, hi = self.h - self.A + 2, self.h - self.A + 7
        trainable = {c.name for c in graph.couplings if c.trainable} | {
            f"{p.name}.bias" for p in graph.populations if p.bias is not None and p.trainable_bias}
        self.exps, self.fine, self.G = {}, {}, {}
        for k, v in graph.params().items():
            wmax = (np.abs(v).max() or 1.0) * headroom
            self.exps[k] = e = max(lo, math.ceil(math.log2(wmax / W_MAX)))
            if k not in trainable:
                continue
            self.fine[k] = f = max(lo, e - FINE_BITS)
            if f > hi:
                raise UnsupportedGraph("rule.lr", f"{graph.rule.lr}: parameter {k!r} needs the fine weight grid 2^{f} "
                                       f"for its range, but its updates are below the learning engine's resolution "
                                       f"on it (at most 2^{hi}); raise lr or lower the parameter's range")
            self.G[k] = self.h - self.A - f
        self.apply_steps = max(1, batch)  # y1 spread over as many steps as a one-sample batch needs
        self.consolidations = 0

    def lsb(self, name) -> float:
        return 2.0 ** self.exps[name]

    def parts(self, name) -> int:
        """Dense processes carrying the parameter into a unit: two if it is split (trainable), else one."""
        return 2 if name in self.fine else 1

    def fine_lsb(self, name) -> float:
        """The grid a trainable parameter lies on and learns on (2^E_f)."""
        return 2.0 ** self.fine[name]

    def rule(self, name: str) -> Loihi3FLearningRule:
        A = self.A
        return Loihi3FLearningRule(dt=f"2^{A}*x0*x1*y2 - 2^{A}*x0*x1*y3 - y0*t", dw=f"2^{self.G[name]}*u0*t*y1",
                                   x1_tau=TRACE_TAU, t_epoch=1, rng_seed=SEED)

    @staticmethod
    def _dense(w, exp: int, label: str, rule=None):
        kw = dict(weights=w, weight_exp=exp + 4, num_weight_bits=8, sign_mode=SignMode.MIXED,
                  num_message_bits=PAYLOAD_BITS, name=label)
        if rule is None:
            return Dense(**kw)
        return LearningDense(**kw, learning_rule=rule, graded_spike_cfg=GradedSpikeCfg.OVERWRITE)

    def synapse(self, name: str, weights, label: str, learning: bool) -> list:
        """A static parameter is one Dense on its grid; a trainable one is split: a static coarse Dense
        (w_c·2^E) and a fine LearningDense (w_f·2^E_f) that learns, both onto the same post port."""
        if not learning:
            return [self._dense(self.weights_in(name, weights), self.exps[name], label)]
        c, f = self.split(name, weights)
        return [self._dense(c, self.exps[name], label + COARSE),
                self._dense(f, self.fine[name], label, self.rule(name))]

    def split(self, name, w):
        """(w_c, w_f) with w_c·2^E + w_f·2^E_f = w rounded onto the fine grid: w_c its whole coarse lsbs,
        w_f the remainder (|w_f| < 2^k, k = E − E_f), both within the 9-bit range."""
        n = np.rint(np.asarray(w, float) / self.fine_lsb(name)).astype(np.int64)
        return self._carry(name, np.zeros_like(n), n)

    def _carry(self, name, c, f):
        """Move the whole coarse lsbs of f into c (an integer shift: the sum is unchanged unless clipped)."""
        k = self.exps[name] - self.fine[name]
        c2 = np.clip(c + np.fix(f / 2 ** k).astype(np.int64), -W_MAX - 1, W_MAX)
        f2 = np.clip(f - ((c2 - c) << k), -W_MAX - 1, W_MAX)
        return c2.astype(np.int32), f2.astype(np.int32)

    def read(self, name: str, parts) -> np.ndarray:
        if len(parts) == 1:
            return super().read(name, parts)
        coarse, fine = (p.weights.get() for p in parts)
        return np.asarray(coarse, float) * self.lsb(name) + np.asarray(fine, float) * self.fine_lsb(name)

    def write(self, name: str, parts, value) -> None:
        if len(parts) == 1:
            return super().write(name, parts, value)
        for p, w in zip(parts, self.split(name, value)):
            p.weights.set(w)

    def consolidate(self, name: str, synapses) -> None:
        """Host-side, between runs, after every learning step that leaves a whole coarse lsb in some w_f:
        move the whole coarse lsbs of every w_f into the coarse Dense (exact; the forward and the
        transposed synapse alike), so the next step starts from |w_f| < 2^k and has the fine range's
        255 − 2^k units for itself (about what a full tag can apply). On Loihi 2 this is a host write
        of the coarse and fine weights."""
        k = self.exps[name] - self.fine[name]
        fines = [np.asarray(s[-1].weights.get(), np.int64) for s in synapses]
        if max(np.abs(f).max() for f in fines) < 2 ** k:
            return
        for (coarse, fine), f in zip(synapses, fines):
            for p, w in zip((coarse, fine), self._carry(name, np.asarray(coarse.weights.get(), np.int64), f)):
                p.weights.set(w)
        self.consolidations += 1

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
