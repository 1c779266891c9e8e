"""A population of NIR neurons: LIF, CubaLIF, CubaLI, IF, I (integrator) or LI, with NIR's parameters.

NIR defines each model as a continuous-time ODE (nir.ir.neuron; Pedersen et al. 2024):
  LI       τ v̇ = (v_leak − v) + R I                       output v
  LIF      LI, then z = [v > v_threshold], v ← v_reset on z  output z
  CubaLI   τ_syn İ_s = −I_s + w_in I ;  τ_mem v̇ = (v_leak − v) + R I_s   output v
  CubaLIF  CubaLI, then threshold and reset as LIF         output z
  I        v̇ = R I                                        output v
  IF       I, then threshold and reset as LIF              output z
Parameters are per unit (arrays of `size`); a scalar is broadcast here, so a producer that writes a
scalar τ (or a 0-d array) gives the same population as one that writes the vector. How the ODEs are
discretised is not part of the population: the simulator takes dt (and a producer's convention).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import checks
from .errors import ValidationError

PARAMS = {
    "LI": ("tau", "r", "v_leak"),
    "LIF": ("tau", "r", "v_leak", "v_threshold", "v_reset"),
    "CubaLI": ("tau_syn", "tau_mem", "r", "v_leak", "w_in"),
    "CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"),
    "I": ("r",),
    "IF": ("r", "v_threshold", "v_reset"),
}
MODELS = tuple(PARAMS)
DEFAULTS = {"v_reset": 0.0, "w_in": 1.0}   # NIR's defaults when a file leaves them out
POSITIVE = ("tau", "tau_syn", "tau_mem")
SPIKING = ("LIF", "CubaLIF", "IF")          # output spikes; the others output their voltage


@dataclass
class Neurons:
    name: str
    model: str
    size: int
    params: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        checks.node_name("name", self.name)
        checks.one_of("model", self.model, MODELS)
        self.size = checks.positive_int("size", self.size)
        if not isinstance(self.params, dict):
            raise ValidationError("params", "must be an object of parameter arrays")
        extra = sorted(set(self.params) - set(PARAMS[self.model]))
        if extra:
            raise ValidationError(f"params.{extra[0]}", f"{self.model} has no parameter {extra[0]!r} "
                                  f"(it has {', '.join(PARAMS[self.model])})")
        out = {}
        for key in PARAMS[self.model]:
            if key not in self.params and key not in DEFAULTS:
                raise ValidationError(f"params.{key}", f"{self.model} needs {key!r}")
            value = np.asarray(self.params.get(key, DEFAULTS.get(key)), dtype=float)
            if value.size == 1:
                value = np.full(self.size, float(value.ravel()[0]))
            value = checks.array(f"params.{key}", value.ravel() if value.size == self.size else value, ndim=1)
            if value.shape != (self.size,):
                raise ValidationError(f"params.{key}", f"shape {value.shape} does not match size {self.size}")
            if key in POSITIVE and np.any(value <= 0):
                raise ValidationError(f"params.{key}", f"time constants must be > 0 (min {value.min():g})")
            out[key] = value
        self.params = out
        if not isinstance(self.metadata, dict):
            raise ValidationError("metadata", "must be an object")

    @property
    def spiking(self) -> bool:
        return self.model in SPIKING

    def __getattr__(self, key):  # n.tau, n.v_threshold … (only for this model's parameters)
        params = self.__dict__.get("params", {})
        if key in params:
            return params[key]
        raise AttributeError(key)

    @property
    def in_size(self):
        return self.size

    out_size = in_size
