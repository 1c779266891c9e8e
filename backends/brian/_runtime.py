"""Brian2 set-up shared by both twins: the lazy import, the code-generation target and the time map.

Time map: one IR time unit is one millisecond of Brian time. Every unit's time constant is
`TAU` = 1 ms and the simulation clock's dt is `rule.relaxation.dt` ms, so a Brian Euler step
`s + dt·f(s)/τ` is the reference engine's `s + dt_IR·f(s)` (equal up to float rounding).
"""
from __future__ import annotations

from neurophys.ir.errors import ValidationError

TARGETS = ("numpy", "cython")


def brian(codegen: str = "numpy"):
    """Import brian2 (≈2 s, so only when a twin is compiled) with `codegen` as its target."""
    if codegen not in TARGETS:
        raise ValidationError("codegen", f"{codegen!r} is not a supported Brian2 target (use {', '.join(TARGETS)})")
    try:
        import brian2
    except ImportError as exc:  # pragma: no cover - the extra is installed in the dev venv
        raise ValidationError("backend", f"brian2 is not importable ({exc}); install neurophys[brian]") from None
    brian2.prefs.codegen.target = codegen
    return brian2


def time_unit(b):
    """The Brian duration of one IR time unit."""
    return b.ms
