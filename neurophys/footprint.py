"""Will a graph fit in memory? An estimate made before any work starts, so a graph too large for
this machine is refused in a second with the numbers, not killed by the OOM killer after a minute.

The estimate counts what scales with the graph: the dense n×n matrices of a circuit solved dense
(Laplacian, its reduced block and factor, the Kron reduction: DENSE_COPIES of them) and the copies
of the parameters a run keeps (θ before and after, update, gradient, twin, references: PARAM_COPIES).
It is a floor, not a bound: batches and library workspace come on top. `NEUROPHYS_MEMORY` (e.g.
"8G") caps what a run may use on a shared machine; by default the memory available now."""
from __future__ import annotations

import os

from .ir.errors import ValidationError
from .ir.graph import CIRCUIT_FAMILIES, Graph

DENSE_COPIES = 4
PARAM_COPIES = 8
_UNITS = {"": 1, "K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30, "T": 2 ** 40}


def estimate(graph: Graph) -> dict:
    """{"bytes": total, "dense_nodes": n or None, "parameter_bytes": ...} for `graph`."""
    from .physics.circuit import holds_dense

    params = sum(v.nbytes for v in graph.params().values())
    out = {"parameter_bytes": params, "dense_nodes": None, "bytes": PARAM_COPIES * params}
    if graph.rule.family in CIRCUIT_FAMILIES:
        n = sum(p.size for p in graph.populations)
        edges = sum(len(c.edges) for c in graph.couplings if c.edges is not None)
        if holds_dense(n, edges):
            out["dense_nodes"] = n
            out["bytes"] += DENSE_COPIES * 8 * n * n
    return out


def available() -> int:
    """Bytes a run may use: NEUROPHYS_MEMORY if set, else the kernel's MemAvailable."""
    cap = os.environ.get("NEUROPHYS_MEMORY")
    if cap:
        return parse_size(cap)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def parse_size(text: str) -> int:
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = t[-1] if t and t[-1] in _UNITS else ""
    try:
        value = float(t[:-1] if unit else t)
    except ValueError:
        raise ValidationError("NEUROPHYS_MEMORY", f"{text!r} is not a size (e.g. 512M, 8G)") from None
    if value <= 0:
        raise ValidationError("NEUROPHYS_MEMORY", f"{text!r} must be positive")
    return int(value * _UNITS[unit])


def readable(n: int) -> str:
    unit = max((u for u in _UNITS if u and n >= _UNITS[u]), key=_UNITS.get, default="")
    return f"{n / _UNITS[unit]:.3g} {unit}iB" if unit else f"{n} bytes"


def check(graph: Graph, limit: int | None = None) -> dict:
    """Refuse (ValidationError naming the estimate and the limit) a graph that will not fit."""
    est = estimate(graph)
    limit = available() if limit is None else limit
    if est["bytes"] > limit:
        what = (f"{DENSE_COPIES} dense {est['dense_nodes']}x{est['dense_nodes']} circuit matrices"
                if est["dense_nodes"] else f"{PARAM_COPIES} copies of its parameters")
        raise ValidationError("graph", f"{graph.name!r} needs at least {readable(est['bytes'])} of memory ({what}); "
                                       f"{readable(limit)} available")
    return est
