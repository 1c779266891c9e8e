"""The local learning rule and its discretisation — nothing left implicit.

`Relaxation` says how states settle (or evolve): the integrator, its step, the step budget and the
residual tolerance. `Rule` names the family and its hyper-parameters; `lr` is the learning rate
(α for circuits).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import checks
from .errors import ValidationError

METHODS = ("euler", "anderson", "newton", "direct")
FAMILIES = ("ep", "coupled_learning", "circuit_ep", "least_action", "pc_alm", "stlp", "lse", "holomorphic_ep")
ESTIMATORS = ("one_sided", "symmetric")

# which integrators each family can use, and which hyper-parameters it needs
FAMILY_METHODS = {
    "ep": ("euler", "anderson", "newton"),
    "coupled_learning": ("direct",),
    "circuit_ep": ("direct",),
    "least_action": ("euler",),
    "pc_alm": ("euler",),
    "stlp": ("euler",),
    "lse": ("direct",),
    "holomorphic_ep": ("euler", "anderson"),
}
FAMILY_NEEDS = {"ep": ("beta",), "circuit_ep": ("beta",), "coupled_learning": ("eta",), "least_action": (),
                "pc_alm": ("rho", "dual_lr"), "stlp": (), "lse": (), "holomorphic_ep": ("beta", "n_nudges")}
REAL_HYPER = ("beta", "eta", "rho", "dual_lr")  # positive reals; n_nudges is an integer ≥ 2


@dataclass
class Relaxation:
    method: str = "anderson"
    dt: float = 1.0
    max_steps: int = 1000
    tol: float = 1e-10

    def __post_init__(self):
        checks.one_of("method", self.method, METHODS)
        self.dt = checks.number("dt", self.dt, positive=True)
        self.max_steps = checks.positive_int("max_steps", self.max_steps)
        self.tol = checks.number("tol", self.tol, nonneg=True)


@dataclass
class Rule:
    family: str
    lr: float = 0.1
    beta: float | None = None
    eta: float | None = None
    estimator: str = "one_sided"
    relaxation: Relaxation = field(default_factory=Relaxation)
    rho: float | None = None       # PC-ALM penalty weight of the augmented Lagrangian
    dual_lr: float | None = None   # PC-ALM step of the multipliers' dual ascent
    n_nudges: int | None = None    # holomorphic EP: complex nudges on the circle |β|

    def __post_init__(self):
        checks.one_of("family", self.family, FAMILIES)
        self.lr = checks.number("lr", self.lr, positive=True)
        checks.one_of("estimator", self.estimator, ESTIMATORS)
        for hp in REAL_HYPER + ("n_nudges",):
            value = getattr(self, hp)
            if hp in FAMILY_NEEDS[self.family]:
                if value is None:
                    raise ValidationError(hp, f"family {self.family!r} needs {hp}")
                if hp == "n_nudges":
                    self.n_nudges = checks.positive_int(hp, value)
                    if self.n_nudges < 2:
                        raise ValidationError(hp, f"{value} nudges cannot resolve a derivative (need at least 2)")
                else:
                    setattr(self, hp, checks.number(hp, value, positive=True))
            elif value is not None:
                raise ValidationError(hp, f"family {self.family!r} has no {hp}")
        if self.family == "coupled_learning" and self.eta > 1:
            raise ValidationError("eta", f"{self.eta} > 1 clamps beyond the target")
        if self.estimator == "symmetric" and self.family not in ("ep", "circuit_ep"):
            raise ValidationError("estimator", f"'symmetric' is an EP estimator; family {self.family!r} has none")
        if isinstance(self.relaxation, dict):
            raise ValidationError("relaxation", "must be a Relaxation")
        if self.family == "stlp" and getattr(self.relaxation, "tol", 0.0) != 0.0:
            raise ValidationError("relaxation.tol", "stlp runs a fixed horizon of max_steps steps; tol must be 0")
        if self.relaxation.method not in FAMILY_METHODS[self.family]:
            raise ValidationError("relaxation.method", f"{self.relaxation.method!r} is not available for {self.family!r} "
                                  f"(use {', '.join(map(repr, FAMILY_METHODS[self.family]))})")
