"""`sweep`: short training runs over values of the rule's nudge (β for EP and circuit EP, η for
coupled learning), the knob that trades signal against bias in the estimate of the gradient."""
from __future__ import annotations

from dataclasses import replace

from neurophys.ir.errors import ValidationError

from ..context import Context
from ..summary import spread
from .train import train

HYPER = {"ep": "beta", "circuit_ep": "beta", "holomorphic_ep": "beta", "coupled_learning": "eta"}
DEFAULT_VALUES = (1e-3, 1e-2, 1e-1, 1.0)


def sweep(ctx: Context) -> dict:
    family = ctx.graph.rule.family
    if family not in HYPER:
        raise ValidationError("mode", f"sweep varies β (ep, circuit_ep, holomorphic_ep) or η (coupled_learning); "
                                      f"family {family!r} has neither")
    name = HYPER[family]
    graphs = []
    for v in ctx.values or DEFAULT_VALUES:
        g = ctx.graph.copy()
        try:
            g.rule = replace(g.rule, **{name: v})
        except ValidationError as exc:
            raise ValidationError("values", f"{v!r} is not a valid {name}: {exc.reason}") from None
        graphs.append((v, g))
    results = []
    for v, g in graphs:
        ctx.backend.compile(g)
        start = len(ctx.records)
        train(ctx, g, {name: v})
        recs = ctx.records[start:]
        results.append({"value": v, **{m: spread([r["global"][m] for r in recs]) for m in ("cosine", "rel_error")}})
    return {"sweep": {"parameter": name, "results": results}}
