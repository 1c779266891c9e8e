"""Small validators shared by the IR dataclasses; each raises ValidationError(field, why)."""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from .errors import ValidationError


def one_of(field: str, value: Any, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValidationError(field, f"{value!r} is not one of {', '.join(map(repr, allowed))}")
    return value


def name(field: str, value: Any) -> str:
    if not isinstance(value, str) or not value or not value.replace("_", "").replace("-", "").isalnum():
        raise ValidationError(field, f"{value!r} is not a valid name (letters, digits, '_' or '-')")
    return value


def node_name(field: str, value: Any) -> str:
    """A spiking-network node name: NIR's keys as producers write them ("lif1.lif", "0_LinearTorch")."""
    if not isinstance(value, str) or not value or not value.isprintable() or any(c.isspace() for c in value):
        raise ValidationError(field, f"{value!r} is not a valid node name (printable, no spaces)")
    return value


def positive_int(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValidationError(field, f"{value!r} must be a positive integer")
    return int(value)


def number(field: str, value: Any, *, positive: bool = False, nonneg: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or not math.isfinite(value):
        raise ValidationError(field, f"{value!r} must be a finite number")
    if positive and value <= 0:
        raise ValidationError(field, f"{value!r} must be > 0")
    if nonneg and value < 0:
        raise ValidationError(field, f"{value!r} must be >= 0")
    return float(value)


def array(field: str, value: Any, *, ndim: int, dtype=np.float64) -> np.ndarray:
    try:
        arr = np.array(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValidationError(field, f"not a numeric array ({exc})") from None
    if arr.ndim != ndim:
        raise ValidationError(field, f"expected a {ndim}-d array, got shape {arr.shape}")
    if dtype == np.float64 and not np.all(np.isfinite(arr)):
        raise ValidationError(field, "contains NaN or infinite values")
    return arr


def bounds(field: str, value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValidationError(field, f"{value!r} must be [low, high]")
    lo, hi = number(f"{field}[0]", value[0]), number(f"{field}[1]", value[1])
    if not lo < hi:
        raise ValidationError(field, f"low {lo} must be < high {hi}")
    return (lo, hi)
