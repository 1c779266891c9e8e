"""Where a graph's data comes from and how it is encoded onto the input/output populations.

Only data that ships with the installed packages or is generated: sklearn's bundled Iris and
digits, XOR, and a random teacher network. Nothing is downloaded.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import checks
from .errors import ValidationError

SOURCES = {"xor": 2, "iris": 4, "digits": 64, "teacher": None}
# thermometer: each feature becomes `levels` ramps clip(levels·x − k, 0, 1) — a host-side
# nonlinear code that lets a linear (e.g. resistive) network separate classes a linear map can't
ENCODINGS = ("linear", "thermometer")
CLASSES = {"xor": 2, "iris": 3, "digits": 10, "teacher": None}


@dataclass
class Dataset:
    source: str
    test_fraction: float = 0.25
    seed: int = 0
    input_range: tuple[float, float] = (0.0, 1.0)
    encoding: str = "linear"
    levels: int = 1
    complement: bool = False
    target_values: tuple[float, float] = (0.0, 1.0)
    n_samples: int | None = None
    n_features: int | None = None
    n_classes: int | None = None

    def __post_init__(self):
        checks.one_of("source", self.source, SOURCES)
        self.test_fraction = checks.number("test_fraction", self.test_fraction, nonneg=True)
        if self.test_fraction >= 1:
            raise ValidationError("test_fraction", f"{self.test_fraction} leaves no training data")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValidationError("seed", f"{self.seed!r} must be a non-negative integer")
        self.input_range = checks.bounds("input_range", self.input_range)
        self.target_values = checks.bounds("target_values", self.target_values)
        checks.one_of("encoding", self.encoding, ENCODINGS)
        self.levels = checks.positive_int("levels", self.levels)
        if self.encoding == "linear" and self.levels != 1:
            raise ValidationError("levels", f"{self.levels} levels need encoding 'thermometer'")
        if not isinstance(self.complement, bool):
            raise ValidationError("complement", f"{self.complement!r} must be true or false")
        teacher_fields = ("n_samples", "n_features", "n_classes")
        for f in teacher_fields:
            v = getattr(self, f)
            if self.source == "teacher":
                setattr(self, f, checks.positive_int(f, v if v is not None else {"n_samples": 200, "n_features": 8, "n_classes": 3}[f]))
            elif v is not None:
                raise ValidationError(f, f"only the 'teacher' source takes {f}")

    @property
    def input_size(self) -> int:
        n = (SOURCES[self.source] or self.n_features) * self.levels
        return 2 * n if self.complement else n

    @property
    def output_size(self) -> int:
        return CLASSES[self.source] or self.n_classes
