"""The local learning graph: populations, couplings, a cost, a rule (+ data and training set-up).

Everything that can be checked is checked at construction, with errors naming the field path.
Trainable parameters are addressed by name: a coupling's name for its weight/conductance, and
``"<population>.bias"`` for a population's bias.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from .cost import Cost
from .coupling import Coupling
from .dataset import Dataset
from .errors import ValidationError
from .population import Population
from .rule import Rule
from .training import Training

CIRCUIT_FAMILIES = ("coupled_learning", "circuit_ep")
FEEDFORWARD_FAMILIES = ("least_action", "pc_alm", "lse")   # directed and acyclic
DIRECTED_FAMILIES = FEEDFORWARD_FAMILIES + ("stlp",)          # stlp: any digraph, cycles allowed
HOLOMORPHIC = ("sigmoid", "tanh", "linear")                    # complex-analytic activations


@dataclass
class Graph:
    populations: list[Population]
    couplings: list[Coupling]
    cost: Cost
    rule: Rule
    dataset: Dataset | None = None
    training: Training = field(default_factory=Training)
    name: str = "graph"
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self._check_names()
        pops = self.pop_index
        for i, c in enumerate(self.couplings):
            self._check_coupling(i, c, pops)
        self._check_cost(pops)
        self._check_family(pops)
        self._check_dataset(pops)

    # ---------------------------------------------------------------- look-ups
    @property
    def pop_index(self) -> dict[str, Population]:
        return {p.name: p for p in self.populations}

    def population(self, name: str) -> Population:
        return self.pop_index[name]

    def coupling(self, name: str) -> Coupling:
        return {c.name: c for c in self.couplings}[name]

    @property
    def inputs(self) -> list[Population]:
        return [p for p in self.populations if p.role == "input"]

    @property
    def output(self) -> Population:
        return self.population(self.cost.output)

    @property
    def family(self) -> str:
        return self.rule.family

    def params(self) -> dict[str, np.ndarray]:
        """The trainable parameters by name (the arrays themselves, not copies)."""
        out = {c.name: c.value for c in self.couplings if c.trainable}
        out.update({f"{p.name}.bias": p.bias for p in self.populations if p.bias is not None and p.trainable_bias})
        return out

    def set_params(self, values: dict[str, np.ndarray]) -> None:
        """Write parameters in place; all are checked before any is written."""
        current = self.params()
        for k, v in values.items():
            if k not in current:
                raise ValidationError(f"params.{k}", f"no trainable parameter of that name (have {', '.join(current)})")
            if np.shape(v) != current[k].shape:
                raise ValidationError(f"params.{k}", f"shape {np.shape(v)} does not match {current[k].shape}")
        for k, v in values.items():
            current[k][...] = v

    def copy(self) -> "Graph":
        return copy.deepcopy(self)

    # ---------------------------------------------------------------- checks
    def _check_names(self):
        seen: dict[str, str] = {}
        for i, p in enumerate(self.populations):
            if not isinstance(p, Population):
                raise ValidationError(f"populations[{i}]", "not a Population")
            if p.name in seen:
                raise ValidationError(f"populations[{i}].name", f"{p.name!r} is already used by {seen[p.name]}")
            seen[p.name] = f"populations[{i}]"
        for i, c in enumerate(self.couplings):
            if not isinstance(c, Coupling):
                raise ValidationError(f"couplings[{i}]", "not a Coupling")
            if c.name in seen:
                raise ValidationError(f"couplings[{i}].name", f"{c.name!r} is already used by {seen[c.name]}")
            seen[c.name] = f"couplings[{i}]"
        if not self.populations:
            raise ValidationError("populations", "a graph needs at least one population")

    def _check_coupling(self, i: int, c: Coupling, pops: dict[str, Population]):
        at = f"couplings[{i}]"
        for end in ("src", "dst"):
            if getattr(c, end) not in pops:
                raise ValidationError(f"{at}.{end}", f"{getattr(c, end)!r} is not a population (dangling coupling; have {', '.join(pops)})")
        src, dst = pops[c.src], pops[c.dst]
        if c.kind == "dense":
            if c.weight.shape != (dst.size, src.size):
                raise ValidationError(f"{at}.weight", f"shape {c.weight.shape} does not match dst {dst.name!r} size {dst.size} × src {src.name!r} size {src.size}")
            if dst.clamped:
                raise ValidationError(f"{at}.dst", f"{dst.name!r} is a clamped {dst.role} population; it cannot receive a coupling")
        else:
            for end, pop in (("src", src), ("dst", dst)):
                if pop.kind != "circuit_node":
                    raise ValidationError(f"{at}.{end}", f"a conductance coupling joins circuit nodes; {pop.name!r} is {pop.kind!r}")
            for col, pop in ((0, src), (1, dst)):
                if c.edges.size and c.edges[:, col].max() >= pop.size:
                    e = int(np.argmax(c.edges[:, col]))
                    raise ValidationError(f"{at}.edges[{e}]", f"node index {c.edges[e, col]} is out of range for {pop.name!r} (size {pop.size})")
            if c.src == c.dst and np.any(c.edges[:, 0] == c.edges[:, 1]):
                e = int(np.argmax(c.edges[:, 0] == c.edges[:, 1]))
                raise ValidationError(f"{at}.edges[{e}]", "an edge joins a node to itself")

    def _check_cost(self, pops):
        if self.cost.output not in pops:
            raise ValidationError("cost.output", f"{self.cost.output!r} is not a population")
        if pops[self.cost.output].role != "output":
            raise ValidationError("cost.output", f"{self.cost.output!r} has role {pops[self.cost.output].role!r}, not 'output'")

    def _check_family(self, pops):
        fam = self.rule.family
        if fam in CIRCUIT_FAMILIES:
            for i, p in enumerate(self.populations):
                if p.kind != "circuit_node":
                    raise ValidationError(f"populations[{i}].kind", f"{fam} runs on resistor circuits; {p.name!r} is {p.kind!r}")
                if p.bias is not None:
                    raise ValidationError(f"populations[{i}].bias", "circuit nodes have no bias")
            for i, c in enumerate(self.couplings):
                if c.kind != "conductance":
                    raise ValidationError(f"couplings[{i}].kind", f"{fam} needs conductance couplings, got {c.kind!r}")
            if not any(p.role == "input" for p in self.populations):
                raise ValidationError("populations", "a circuit needs an input (voltage source) population")
            if self.cost.kind != "mse":
                raise ValidationError("cost.kind", f"{fam} descends a voltage error; use 'mse'")
            return
        unit_kind = "lse" if fam == "lse" else "rate"
        for i, p in enumerate(self.populations):
            if p.kind not in ("input", unit_kind):
                raise ValidationError(f"populations[{i}].kind", f"{fam} needs input/{unit_kind} populations; {p.name!r} is {p.kind!r}")
            if p.role == "ground":
                raise ValidationError(f"populations[{i}].role", "'ground' is for circuit nodes")
            if fam == "holomorphic_ep" and p.kind == "rate" and p.activation not in HOLOMORPHIC:
                raise ValidationError(f"populations[{i}].activation", f"holomorphic EP needs a holomorphic activation "
                                      f"({', '.join(map(repr, HOLOMORPHIC))}); {p.name!r} is {p.activation!r}")
        for i, c in enumerate(self.couplings):
            if c.kind != "dense":
                raise ValidationError(f"couplings[{i}].kind", f"{fam} needs dense couplings, got {c.kind!r}")
            if fam in ("ep", "holomorphic_ep") and not c.symmetric:
                raise ValidationError(f"couplings[{i}].symmetric", "EP needs symmetric (energy-based) couplings")
            if fam in DIRECTED_FAMILIES and c.symmetric:
                raise ValidationError(f"couplings[{i}].symmetric", f"{_label(fam)} runs on directed (feedforward) couplings"
                                      if fam in FEEDFORWARD_FAMILIES else f"{fam} runs on directed couplings")
            if fam in FEEDFORWARD_FAMILIES and c.src == c.dst:
                raise ValidationError(f"couplings[{i}]", "a feedforward coupling cannot join a population to itself")
        if fam in FEEDFORWARD_FAMILIES:
            self._check_acyclic()

    def _check_acyclic(self):
        order = topological_order(self)
        if order is None:
            raise ValidationError("couplings", f"{_label(self.family)} needs a feedforward (acyclic) graph; the couplings form a cycle")
        for p in self.populations:
            if not p.clamped and not any(c.dst == p.name for c in self.couplings):
                raise ValidationError(f"populations.{p.name}", "receives no coupling; it would never be driven")

    def _check_dataset(self, pops):
        if self.dataset is None:
            return
        n_in = sum(p.size for p in self.inputs)
        if n_in != self.dataset.input_size:
            raise ValidationError("dataset", f"{self.dataset.source!r} gives {self.dataset.input_size} inputs but input populations hold {n_in}")
        if self.output.size != self.dataset.output_size:
            raise ValidationError("dataset", f"{self.dataset.source!r} has {self.dataset.output_size} classes but output {self.output.name!r} has size {self.output.size}")


def _label(family: str) -> str:
    return family.replace("_", " ") if family == "least_action" else family


def topological_order(graph: Graph) -> list[str] | None:
    """Populations in feed-forward order, or None if the couplings have a cycle."""
    incoming = {p.name: {c.src for c in graph.couplings if c.dst == p.name} for p in graph.populations}
    order, done = [], set()
    while len(order) < len(incoming):
        ready = [n for n, srcs in incoming.items() if n not in done and srcs <= done]
        if not ready:
            return None
        for n in ready:
            order.append(n)
            done.add(n)
    return order
