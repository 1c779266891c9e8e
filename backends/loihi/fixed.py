"""The `loihi-fixed` backend: the `loihi` network with Loihi 2 fixed-point ProcessModels
(`Loihi2SimCfg(select_tag="fixed_pt")`), reporting the bound its quantisation puts on every update.

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

from .backend import LoihiBackend
from .fixed_bound import update_bound
from .numerics import COEF_FRAC, DECAY_FRAC, MESSAGE_BITS, STATE_BITS, STATE_FRAC, FixedNumerics


def check_fixed(graph: Graph) -> None:
    """The integer neuron computes hard_sigmoid units under an mse cost; refuse the rest by name."""
    for i, p in enumerate(graph.populations):
        if not p.clamped and p.activation != "hard_sigmoid":
            raise UnsupportedGraph(f"populations[{i}]", f"{p.name!r} has activation {p.activation!r}; the fixed-point "
                                   "neuron computes only hard_sigmoid (a clip, no lookup table)")
    if graph.cost.kind != "mse":
        raise UnsupportedGraph("cost.kind", f"{graph.cost.kind!r}: the fixed-point output unit nudges by β(s − y) (mse)")


class LoihiFixedBackend(LoihiBackend):
    """Options: `hw`; `headroom` ≥ 1 (each coupling's weight range is headroom·max|W| at compile)."""
    name = "loihi-fixed"
    families = ("ep",)

    def __init__(self, hw: bool = False, headroom: float = 1.0):
        if isinstance(headroom, bool) or not isinstance(headroom, (int, float)) or not headroom >= 1:
            raise ValidationError("headroom", f"{headroom!r} must be a number ≥ 1")
        super().__init__(hw=hw, headroom=float(headroom))
        self.error_bound: dict | None = None

    def _numerics(self, graph: Graph):
        check_fixed(graph)
        return FixedNumerics(graph, self.options["headroom"])

    def step(self, x, y):
        with self.timed("host"):
            per = update_bound(self.graph, np.atleast_2d(np.asarray(x, float)), np.atleast_2d(np.asarray(y, float)),
                               self.net.num)
        u = super().step(x, y)
        a = float(np.linalg.norm(flatten(per, sorted(per))))
        n = float(np.linalg.norm(flatten(u, sorted(per))))
        self.error_bound = {"per_param": per, "abs": a, "rel": a / (n - a) if n > a else float("inf")}
        return u

    def info(self):
        num = self.net.num if self.net else None
        fmt = {"state": f"{STATE_BITS}-bit signed, 1.0 = 2^{STATE_FRAC}", "dt_beta": f"{DECAY_FRAC}-bit fractions",
               "payload_bits": MESSAGE_BITS, "plasticity_coefficients": f"{COEF_FRAC}-bit fractions",
               "weights": "8-bit signed mantissa × 2^exp per coupling", "update_rounding": "nearest (half up)",
               "weight_exp": dict(num.exps) if num else None}
        sat = sum(int(p.saturated.get()[0]) for p in self.net.plastic.values()) if self.net else 0
        eb = self.error_bound
        return {**super().info(), "fixed_point": fmt, "weights_saturated": sat,
                "error_bound": None if eb is None else {"abs": eb["abs"], "rel": eb["rel"]}}
