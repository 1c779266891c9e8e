"""The `loihi-fixed` backend: the chip path in Loihi 2 fixed point — integer neuron models, Lava's
bit-approximate learning engine (LearningDense, 7-bit traces, 9-bit weights and tags, stochastic
rounding) — reporting the bound its quantisation puts on every update.

Each trainable parameter is a split weight (numerics.py): a static coarse Dense (2^E) plus a fine
LearningDense (2^E_f, 8× finer where the apply shift allows) onto the same post port, so updates are
rounded onto the fine grid; the host consolidates the fine part into the coarse one between runs
(exact), which on Loihi 2 is a host write of the weights. info() counts the consolidations.

After each step `error_bound` holds the elementwise bound on |update − float update at the same
parameters| (fixed_bound.py), its norm `abs`, and `rel` = abs / (‖update‖ − abs), a bound on the
relative error against the float update that needs only what the backend measured.
"""
from __future__ import annotations

import numpy as np

from neurophys.backend import UnsupportedGraph
from neurophys.ir.errors import ValidationError
from neurophys.ir.graph import Graph
from neurophys.metrics import flatten

from .engine import LoihiEngineBackend
from .fixed_bound import update_bound
from .numerics import DECAY_FRAC, FINE_BITS, ONE, PAYLOAD_BITS, Q, STATE_BITS, W_MAX, FixedNumerics


def check_fixed(graph: Graph) -> None:
    """The integer neuron computes hard_sigmoid units under an mse cost; refuse the rest by name."""
    for i, p in enumerate(graph.populations):
        if not p.clamped and p.activation != "hard_sigmoid":
            raise UnsupportedGraph(f"populations[{i}]", f"{p.name!r} has activation {p.activation!r}; the fixed-point "
                                   "neuron computes only hard_sigmoid (a clip, no lookup table)")
        if p.clamped and p.activation not in ("linear", "hard_sigmoid"):
            raise UnsupportedGraph(f"populations[{i}]", f"input {p.name!r} has activation {p.activation!r}; its "
                                   "graded spikes carry round(127 ρ(x)), so ρ(x) must lie in [0, 1] (linear inputs "
                                   "in [0, 1] or hard_sigmoid)")
    if graph.cost.kind != "mse":
        raise UnsupportedGraph("cost.kind", f"{graph.cost.kind!r}: the fixed-point output unit nudges by β(s − y) (mse)")


class LoihiFixedBackend(LoihiEngineBackend):
    """Options: `hw`; `headroom` ≥ 1 (each parameter's weight range is headroom·max|θ| at compile)."""
    name = "loihi-fixed"
    families = ("ep",)

    def __init__(self, hw: bool = False, headroom: float = 1.0):
        if isinstance(headroom, bool) or not isinstance(headroom, (int, float)) or not headroom >= 1:
            raise ValidationError("headroom", f"{headroom!r} must be a number ≥ 1")
        super().__init__(hw=hw, headroom=float(headroom))
        self.error_bound: dict | None = None

    def _numerics(self, graph: Graph):
        check_fixed(graph)
        return FixedNumerics(graph, graph.training.batch_size, self.options["headroom"])

    def step(self, x, y):
        x, y = np.atleast_2d(np.asarray(x, float)), np.atleast_2d(np.asarray(y, float))
        if np.any((x < 0) | (x > 1)):
            raise UnsupportedGraph("inputs", "loihi-fixed codes inputs as round(127 ρ(x)): they must lie in [0, 1]")
        with self.timed("host"):
            per = update_bound(self.graph, x, y, self.net.num)
        u = super().step(x, y)
        a = float(np.linalg.norm(flatten(per, sorted(per))))
        n = float(np.linalg.norm(flatten(u, sorted(per))))
        self.error_bound = {"per_param": per, "abs": a, "rel": a / (n - a) if n > a else float("inf")}
        return u

    def info(self):
        num = self.net.num if self.net else None
        fmt = {"state": f"{STATE_BITS}-bit signed, 1.0 = {ONE}", "dt_beta": f"{DECAY_FRAC}-bit fractions",
               "graded_spikes": f"{PAYLOAD_BITS}-bit payload 2q, q = round({Q} ρ) (the learning engine's x1 = q)",
               "traces": "7-bit (x1 = y2/y3 = q; y1 = the apply scale Y)",
               "weights": f"9-bit signed [−{W_MAX + 1}, {W_MAX}] × 2^E per parameter; a trainable one is split: "
                          f"w_c·2^E (static coarse Dense) + w_f·2^E_f (fine LearningDense, E_f = E − {FINE_BITS} or "
                          "the finest grid the apply shift allows), both onto the same post port",
               "consolidation": "host-side, between runs, after every learning step that leaves a whole coarse "
                                "lsb in some fine weight: the whole coarse lsbs of the parameter's fine weights move "
                                "into its coarse Dense (an integer shift, exact), so each step starts from |w_f| < "
                                "2^(E − E_f); on Loihi 2 this is a host write of the coarse and fine weights ('consolidations' "
                                "counts them, one per parameter and step)",
               "consolidations": num.consolidations if num else None,
               "tag": "9-bit signed, a phase end adds (q_i q_j >> 3)·2^A",
               "rounding": "stochastic (one random number per learning epoch), as Lava's bit-approximate model",
               "weight_exp": dict(num.exps) if num else None, "fine_exp": dict(num.fine) if num else None,
               "tag_exp": num.A if num else None,
               "apply_exp": dict(num.G) if num else None}
        eb = self.error_bound
        return {**super().info(), "fixed_point": fmt,
                "error_bound": None if eb is None else {"abs": eb["abs"], "rel": eb["rel"]}}
