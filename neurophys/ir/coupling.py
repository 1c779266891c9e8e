"""A coupling: the trainable connection between two populations.

`dense` couplings hold a weight matrix ``W[dst, src]``; `conductance` couplings hold a set of
resistive edges ``edges[e] = (src_index, dst_index)`` with conductances ``k[e]`` between circuit
nodes. `symmetric` couplings are bidirectional (part of an energy), directed ones feed forward.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import checks
from .errors import ValidationError

KINDS = ("dense", "conductance")
PARAMETRISATIONS = ("linear", "differential_pair", "log")


@dataclass
class Coupling:
    name: str
    src: str
    dst: str
    kind: str = "dense"
    weight: np.ndarray | None = None
    edges: np.ndarray | None = None
    conductance: np.ndarray | None = None
    trainable: bool = True
    symmetric: bool = True
    parametrisation: str = "linear"
    bounds: tuple[float, float] | None = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        checks.name("name", self.name)
        checks.name("src", self.src)
        checks.name("dst", self.dst)
        checks.one_of("kind", self.kind, KINDS)
        checks.one_of("parametrisation", self.parametrisation, PARAMETRISATIONS)
        self.bounds = checks.bounds("bounds", self.bounds)
        for flag in ("trainable", "symmetric"):
            if not isinstance(getattr(self, flag), bool):
                raise ValidationError(flag, f"{getattr(self, flag)!r} must be true or false")
        if self.kind == "dense":
            self._check_dense()
        else:
            self._check_conductance()
        if not isinstance(self.metadata, dict):
            raise ValidationError("metadata", "must be an object")

    def _check_dense(self):
        for absent in ("edges", "conductance"):
            if getattr(self, absent) is not None:
                raise ValidationError(absent, "only conductance couplings have edges/conductance")
        if self.weight is None:
            raise ValidationError("weight", "a dense coupling needs a weight matrix W[dst, src]")
        self.weight = checks.array("weight", self.weight, ndim=2)
        if self.parametrisation == "log":
            raise ValidationError("parametrisation", "'log' needs positive parameters: use it on conductances")
        if self.src == self.dst and self.symmetric:
            if self.weight.shape[0] != self.weight.shape[1] or not np.allclose(self.weight, self.weight.T, rtol=0, atol=1e-12):
                raise ValidationError("weight", "a symmetric coupling of a population to itself needs W == W.T")
            if np.any(np.diag(self.weight) != 0):
                raise ValidationError("weight", "a lateral coupling must have a zero diagonal (no self-coupling)")
        self._check_bounds(self.weight, "weight")

    def _check_conductance(self):
        if self.weight is not None:
            raise ValidationError("weight", "a conductance coupling has edges and conductance, not a weight")
        if self.edges is None or self.conductance is None:
            raise ValidationError("edges" if self.edges is None else "conductance", "a conductance coupling needs edges and conductance")
        edges = checks.array("edges", self.edges, ndim=2, dtype=np.float64)
        if edges.shape[1:] != (2,) or np.any(edges != np.round(edges)) or np.any(edges < 0):
            raise ValidationError("edges", f"must be a list of [src_index, dst_index] pairs of non-negative integers, got shape {edges.shape}")
        self.edges = edges.astype(np.int64)
        self.conductance = checks.array("conductance", self.conductance, ndim=1)
        if self.conductance.shape != (len(self.edges),):
            raise ValidationError("conductance", f"has {self.conductance.size} values for {len(self.edges)} edges")
        if np.any(self.conductance < 0):
            e = int(np.argmin(self.conductance))
            raise ValidationError(f"conductance[{e}]", f"{self.conductance[e]} is below 0 (a conductance is non-negative)")
        if self.parametrisation == "log" and np.any(self.conductance == 0):
            raise ValidationError("conductance", "'log' parametrisation needs conductances > 0")
        if not self.symmetric:
            raise ValidationError("symmetric", "a resistive edge is always bidirectional")
        self._check_bounds(self.conductance, "conductance")

    def _check_bounds(self, values: np.ndarray, field_name: str):
        if self.bounds is not None and values.size:
            lo, hi = self.bounds
            if values.min() < lo - 1e-12 or values.max() > hi + 1e-12:
                raise ValidationError(field_name, f"values span [{values.min():.4g}, {values.max():.4g}], outside bounds [{lo}, {hi}]")

    @property
    def param_name(self) -> str:
        return "weight" if self.kind == "dense" else "conductance"

    @property
    def value(self) -> np.ndarray:
        return self.weight if self.kind == "dense" else self.conductance
