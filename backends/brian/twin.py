"""What both Brian2 twins share: checking the graph, batching onto the fixed-size network, and the
learning step — run the phases on the target, contrast what its synapses accumulated (the EP rate
twin: its phase-end states; least action: take its one accumulator), write θ + Δθ back (clipped to the coupling's bounds), and return the
update read back from the target."""
from __future__ import annotations

import time

import numpy as np

from neurophys.backend import Backend, UnsupportedGraph
from neurophys.ir.errors import ValidationError
from neurophys.ir.graph import Graph

from ._runtime import TARGETS, Target, brian


def check_ep(graph: Graph) -> None:
    """Refuse what the Hopfield network cannot host (the path names the culprit)."""
    rx = graph.rule.relaxation
    if rx.method != "euler":
        raise UnsupportedGraph("rule.relaxation.method", f"{rx.method!r}: the Brian2 twin integrates the EP ODE with "
                               "the rule's Euler step; use Relaxation('euler', dt, max_steps, tol=0)")
    if rx.tol > 0:
        raise UnsupportedGraph("rule.relaxation.tol", f"{rx.tol}: an early stop on a residual is not reproducible on "
                               "the target; use tol=0 (exactly max_steps steps)")
    if graph.cost.kind != "mse":
        raise UnsupportedGraph("cost.kind", f"{graph.cost.kind!r}: only 'mse' nudging is wired into the Brian2 twin")
    for i, c in enumerate(graph.couplings):
        if c.src == c.dst:
            raise UnsupportedGraph(f"couplings[{i}]", f"{c.name!r} is a lateral coupling; the Brian2 twin hosts "
                                   "couplings between different populations only")


def estimator(graph: Graph) -> tuple[float, str, str | None]:
    """(coefficient, hi replica, lo replica) with Δθ = coefficient · mean_b(acc_hi − acc_lo); lo is
    None for least action, which contrasts nothing: Δθ = −lr · mean_b(δ_post · a_pre)."""
    r = graph.rule
    if r.family == "least_action":
        return -r.lr, "free", None
    if r.family == "coupled_learning":
        return r.lr / r.eta, "free", "clamped"
    sign = -1.0 if r.family == "circuit_ep" else 1.0  # EP's acc is −∂E/∂θ; circuits' is +(ΔV)² = +2∂E/∂k
    half = 0.5 if r.family == "circuit_ep" else 1.0
    if r.estimator == "symmetric":
        return sign * half * r.lr / (2 * r.beta), "plus", "minus"
    return sign * half * r.lr / r.beta, "plus", "free"


def replicas(graph: Graph) -> tuple[str, ...]:
    r = graph.rule
    if r.family == "least_action":
        return ("free",)
    if r.family == "coupled_learning":
        return ("free", "clamped")
    return ("free", "plus", "minus") if r.estimator == "symmetric" else ("free", "plus")


class BrianTwin(Backend):
    """Base of the rate and spiking twins; subclasses make `self.net` in `_make_net`."""

    def __init__(self, codegen: str = "numpy", batch: int | None = None, build_dir: str | None = None, **options):
        super().__init__(codegen=codegen, batch=batch, build_dir=build_dir, **options)
        if codegen not in TARGETS:
            raise ValidationError("codegen", f"{codegen!r} is not a supported Brian2 target (use {', '.join(TARGETS)})")
        if build_dir is not None and codegen != "cpp_standalone":
            raise ValidationError("build_dir", "only the 'cpp_standalone' target builds a program")
        self.codegen, self.build_dir = codegen, build_dir
        self.target = None
        if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
            raise ValidationError("batch", f"{batch!r} must be a positive integer (the network's batch capacity)")
        self.capacity = batch
        self.compile_s = None

    def _build(self, graph: Graph) -> None:
        t0 = time.perf_counter()
        b = brian(self.codegen)
        self.capacity = self.capacity or graph.training.batch_size
        self.coef, self.hi, self.lo = estimator(graph)
        self.trainable = list(graph.params())
        self.shapes = {k: np.shape(v) for k, v in graph.params().items()}
        self.bounds = {c.name: c.bounds for c in graph.couplings}
        self.floor = {c.name: 0.0 for c in graph.couplings if c.kind == "conductance"}
        self.target = Target(b, self.codegen, self.build_dir)
        try:
            self.net = self._make_net(b, self.target, graph)
            self.net.run(np.zeros((self.capacity, sum(p.size for p in graph.inputs))),
                         np.zeros((self.capacity, graph.output.size)), phases=True)  # generate (and compile) once
        except BaseException:
            self.target.close()  # a refused or failed build must not hold the standalone device
            raise
        self.compile_s = time.perf_counter() - t0

    def _make_net(self, b, target: Target, graph: Graph):
        raise NotImplementedError

    def _pad(self, a: np.ndarray) -> np.ndarray:
        out = np.zeros((self.capacity,) + a.shape[1:])
        out[:len(a)] = a
        return out

    def _batch(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        x = np.atleast_2d(np.asarray(x, float))
        y = np.atleast_2d(np.asarray(y, float))
        n_in, n_out = sum(p.size for p in self.graph.inputs), self.graph.output.size
        if x.shape[1:] != (n_in,) or y.shape != (len(x), n_out):
            raise ValidationError("batch", f"x {x.shape} / y {y.shape} do not fit the graph ((B, {n_in}) and (B, {n_out}))")
        if len(x) > self.capacity:
            raise ValidationError("batch", f"{len(x)} samples exceed the network's capacity {self.capacity} "
                                  "(pass batch=N when creating the backend)")
        return x, y

    def step(self, x, y):
        x, y = self._batch(x, y)
        with self.timed("device"):
            self.net.run(self._pad(x), self._pad(y), phases=True)
        with self.timed("host"):
            before = self.get_params()
            new = {}
            for k in self.trainable:
                v = before[k] + self.coef * self.net.contrast(k, self.hi, self.lo, len(x))
                lo, hi = self.bounds.get(k) or (-np.inf, np.inf)
                new[k] = np.clip(v, max(lo, self.floor.get(k, -np.inf)), hi)
            self.set_params(new)
            after = self.get_params()
            return {k: after[k] - before[k] for k in self.trainable}

    def get_params(self):
        return {k: self.net.read(k) for k in self.trainable}

    def set_params(self, params):
        for k, v in params.items():
            if k not in self.trainable:
                raise ValidationError(f"params.{k}", f"no trainable parameter of that name (have {', '.join(self.trainable)})")
            if np.shape(v) != self.shapes[k]:
                raise ValidationError(f"params.{k}", f"shape {np.shape(v)} does not match {self.shapes[k]}")
        self.net.write({k: np.asarray(v, float) for k, v in params.items()})

    def outputs(self, x):
        x = np.atleast_2d(np.asarray(x, float))
        out = []
        for start in range(0, len(x), self.capacity):
            chunk = x[start:start + self.capacity]
            with self.timed("device"):
                self.net.run(self._pad(chunk), np.zeros((self.capacity, self.graph.output.size)), phases=False)
            out.append(self.net.outputs()[:len(chunk)])
        return np.concatenate(out) if out else np.zeros((0, self.graph.output.size))

    def info(self):
        return {"simulator": "brian2", "codegen": self.codegen, "batch_capacity": self.capacity,
                "compile_s": self.compile_s, "replicas": list(self.net.layout.replicas),
                "steps_per_learning_step": self.net.steps,
                "build_dir": self.target.dir if self.target and self.target.standalone else None}

    def close(self):
        """Frees the standalone device (and removes its temporary build folder)."""
        if self.target is not None:
            self.target.close()
