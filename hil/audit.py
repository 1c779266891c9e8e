"""Sampled audit: read back a random fraction of the parameters each step instead of all of them.

On a real link the read-back dominates a step (256×256 conductances are 131 kB, 1.4 s at 921600
baud), while the agreement metrics are ratios of sums over devices, which a uniform random sample
estimates well. Each step draws a fresh sample S (uniform, without replacement, over every
parameter), reads it before and after the board's update (the after read of one step and the
before read of the next are one READ_DEVICES) and estimates the metrics from u_S and g_S. The
twin's full θ — which the exact gradient needs everywhere — follows the board from the last full
read by applying the rule's own update (what the board runs), with the sampled parameters set to
their measured values; a full read every `full_every` steps and at the end re-synchronises it and
measures those steps exactly.

Intervals: each metric is a smooth function of sample means of per-parameter terms (cosine =
mean(ug)/√(mean(u²)·mean(g²)), …), so its sampling error is that of the mean of its linearisation
(influence values ψ_i, the delta method for ratio estimators), with the finite-population
correction 1 − m/N of sampling without replacement: estimate ± z·sd(ψ)·√((1 − m/N)/m).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from neurophys import metrics
from neurophys.families import family
from neurophys.gradcheck import reference
from neurophys.ir.errors import ValidationError
from neurophys.train import apply_update, clipped_update

from .measure import Measurement, at, measure_step, time_split

LEVEL = 0.99  # two-sided level of the reported intervals
RANGES = {"cosine": (-1.0, 1.0), "nrmse": (0.0, np.inf), "sign_error": (0.0, 1.0), "rel_error": (0.0, np.inf)}


def _influence(metric: str, u: np.ndarray, g: np.ndarray) -> np.ndarray:
    """ψ_i: the metric's first-order change per unit of each parameter's terms (its linearisation)."""
    uu, gg, ug = np.mean(u * u), np.mean(g * g), np.mean(u * g)
    if metric == "cosine":
        if uu == 0 or gg == 0:
            return np.zeros_like(u)
        r = np.sqrt(uu * gg)
        return u * g / r - ug / (2 * r) * (u * u / uu + g * g / gg)
    e = (u - g) ** 2
    ee = np.mean(e)
    if metric == "sign_error":
        nz = g != 0
        q = np.mean(nz)
        if q == 0:
            return np.zeros_like(u)
        miss = nz & (np.sign(u) != np.sign(g))
        return (miss - np.mean(miss) / q * nz) / q
    scale_terms = g * g if metric == "rel_error" or gg >= uu else u * u
    ss = np.mean(scale_terms)
    if ee == 0 or ss == 0:
        return np.zeros_like(u)
    f = np.sqrt(ee / ss)
    return f / 2 * (e / ee - scale_terms / ss)


def estimate(u: np.ndarray, g: np.ndarray, population: int, level: float = LEVEL) -> dict:
    """{metric: {"estimate", "ci": [lo, hi]}} from the sampled u, g (a uniform sample of m out of
    `population` parameters)."""
    m = u.size
    z = NormalDist().inv_cdf(0.5 + level / 2)
    fpc = max(0.0, 1.0 - m / population)
    out = {}
    for name, value in metrics.agreement(u, g).items():
        psi = _influence(name, u, g)
        se = float(np.std(psi, ddof=1) * np.sqrt(fpc / m)) if m > 1 else float("inf")
        lo, hi = RANGES[name]
        out[name] = {"estimate": value, "ci": [max(lo, value - z * se), min(hi, value + z * se)]}
    return out


@dataclass
class Sampler:
    """Draws the per-step sample: m = ⌈F·N⌉ of the N parameters, as flat positions per name."""

    sizes: dict[str, int]
    fraction: float
    rng: np.random.Generator
    total: int = field(init=False)

    def __post_init__(self) -> None:
        self.total = int(sum(self.sizes.values()))

    @property
    def m(self) -> int:
        return min(self.total, max(2, int(np.ceil(self.fraction * self.total))))

    def draw(self) -> dict[str, np.ndarray]:
        flat = np.sort(self.rng.choice(self.total, self.m, replace=False))
        out, start = {}, 0
        for name, n in self.sizes.items():
            lo, hi = np.searchsorted(flat, [start, start + n])
            out[name] = flat[lo:hi] - start
            start += n
        return out


def _compare(u: dict[str, np.ndarray], g: dict[str, np.ndarray]) -> dict:
    """metrics.compare on the sample; a parameter with no sampled element gets NaN (not estimated)."""
    drawn = [k for k in g if g[k].size]
    out = metrics.compare({k: u[k] for k in drawn}, {k: g[k] for k in drawn})
    out["params"] = {k: out["params"].get(k, {m: float("nan") for m in metrics.METRICS}) for k in g}
    return out


def take(values: dict[str, np.ndarray], sample: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.ravel(values[k])[i] for k, i in sample.items()}


def union(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> tuple[dict, dict, dict]:
    """Positions read once for both samples, and where each sample's entries sit in that read."""
    both, pos_a, pos_b = {}, {}, {}
    for k in a:
        both[k], inverse = np.unique(np.concatenate([a[k], b[k]]), return_inverse=True)
        pos_a[k], pos_b[k] = inverse[:a[k].size], inverse[a[k].size:]
    return both, pos_a, pos_b


def put(theta: dict[str, np.ndarray], sample: dict[str, np.ndarray], values: dict[str, np.ndarray]) -> None:
    """Write measured values into the twin's θ (in place) at the sampled positions."""
    for k, i in sample.items():
        theta[k].reshape(-1)[i] = values[k]


class AuditedSteps:
    """Steps of an audited run: full reads on the first step, every `full_every` steps and on the
    last; sampled reads in between. Needs a backend that can learn without reading back (`learn`)
    and read a sample of its parameters (`read_params`) — the crossbar on firmware >= 1.2."""

    def __init__(self, backend, graph, fraction: float, full_every: int, seed: int, steps: int,
                 level: float = LEVEL):
        missing = [m for m in ("learn", "read_params") if not callable(getattr(backend, m, None))]
        if missing:
            raise ValidationError("audit", f"backend {backend.name!r} cannot read back a sample of its parameters "
                                           f"(it has no {' / '.join(missing)}); run without --audit")
        self.backend, self.graph, self.full_every, self.steps, self.level = backend, graph, full_every, steps, level
        sizes = {k: v.size for k, v in graph.params().items()}
        self.sampler = Sampler(sizes, fraction, np.random.default_rng([seed, 0xA0D17]))
        self.theta: dict[str, np.ndarray] | None = None  # the twin's θ: last full read + the rule's updates
        self.pending = None  # (sample, its values before the next step)

    def step(self, i: int, x: np.ndarray, y: np.ndarray) -> Measurement:
        full = self.theta is None or i % self.full_every == 0 or i == self.steps - 1
        m = self._full(x, y) if full else self._sampled(x, y)
        m.record["audit"]["full_read"] = full
        return m

    def _audit(self, u_s, g_s, b_s) -> dict:
        n = self.sampler.total
        return {"sampled": int(sum(v.size for v in u_s.values())), "of": n, "level": self.level,
                "global": estimate(metrics.flatten(u_s), metrics.flatten(g_s), n, self.level),
                "vs_bounded": estimate(metrics.flatten(u_s), metrics.flatten(b_s), n, self.level)}

    def _full(self, x, y) -> Measurement:
        """A measured step as without audit, plus the estimate a fresh sample would have given and
        whether its interval covers the exact value (the audit checking itself)."""
        m = measure_step(self.backend, self.graph, x, y)
        t0 = time.perf_counter()
        sample = self.sampler.draw()
        audit = self._audit(take(m.u, sample), take(m.g, sample), take(m.bounded, sample))
        exact = {"global": m.record["global"], "vs_bounded": m.record["vs_bounded"]["global"]}
        audit["covered"] = {part: {k: v["ci"][0] <= exact[part][k] <= v["ci"][1] for k, v in audit[part].items()}
                            for part in ("global", "vs_bounded")}
        m.record["audit"] = audit
        self.theta = {k: v.copy() for k, v in self.backend.get_params().items()}  # the read after the step
        nxt = self.sampler.draw()
        self.pending = (nxt, take(self.theta, nxt))
        m.record["time_s"]["wall"]["twin"] += time.perf_counter() - t0
        return m

    def _sampled(self, x, y) -> Measurement:
        backend, graph = self.backend, self.graph
        sample, before = self.pending
        timing0, t0 = dict(backend.timing), time.perf_counter()
        backend.learn(x, y)
        nxt = self.sampler.draw()
        both, pos, pos_next = union(sample, nxt)
        read = backend.read_params(both)
        time_s = time_split(backend, timing0, time.perf_counter() - t0)
        t0 = time.perf_counter()
        after = {k: read[k][pos[k]] for k in sample}
        u = {k: after[k] - before[k] for k in sample}
        twin = at(graph, self.theta)
        cost, g = reference(twin, x, y)
        limits = backend.limits()
        bounded = clipped_update(twin, g, limits)
        g_s, b_s = take(g, sample), take(bounded, sample)
        record = {"cost": cost, **_compare(u, g_s), "vs_bounded": _compare(u, b_s)}
        rule = apply_update(twin, family(twin).local_update(twin, x, y), limits)  # the board's own update
        record["reference_rel_error"] = metrics.rel_error(metrics.flatten(u), metrics.flatten(take(rule, sample)))
        record["invariant"] = None  # Σk²/2 needs every conductance
        record["audit"] = self._audit(u, g_s, b_s)
        self.theta = {k: v.copy() for k, v in twin.params().items()}
        put(self.theta, sample, after)
        self.pending = (nxt, {k: read[k][pos_next[k]] for k in nxt})
        put(self.theta, *self.pending)
        time_s["wall"]["twin"] = time.perf_counter() - t0
        record["time_s"] = time_s
        return Measurement(record, u, g_s, before, b_s)
