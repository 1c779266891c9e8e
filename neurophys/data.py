"""Arrays for a graph's Dataset: bundled sklearn data or generated tasks, split and encoded.

Iris and digits are the copies scikit-learn ships, read from its data folder without importing
scikit-learn (that import alone cost 0.7 s of every run): the core needs numpy alone.
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

import numpy as np

from .ir.dataset import Dataset
from .ir.errors import ValidationError


@dataclass
class Split:
    x_train: np.ndarray
    y_train: np.ndarray  # encoded targets (n, n_out)
    x_test: np.ndarray
    y_test: np.ndarray
    labels_train: np.ndarray  # class indices
    labels_test: np.ndarray


def _raw(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    if ds.source == "xor":
        x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
        return x, np.array([0, 1, 1, 0])
    if ds.source in ("iris", "digits"):
        return _bundled(ds.source)
    rng = np.random.default_rng(ds.seed + 1)
    x = rng.uniform(-1, 1, size=(ds.n_samples, ds.n_features))
    teacher = rng.normal(size=(ds.n_features, ds.n_classes))
    return x, np.argmax(np.tanh(x @ teacher) + 0.1 * rng.normal(size=(ds.n_samples, ds.n_classes)), axis=1)


_BUNDLED = {"iris": ("iris.csv", 1), "digits": ("digits.csv.gz", 0)}  # file, header lines


def _bundled(name: str) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled copy of a data set (nothing is downloaded), read as its own loader
    reads it — the last column is the class — without importing scikit-learn (~0.7 s)."""
    spec = importlib.util.find_spec("sklearn")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise ValidationError("dataset.source", f"{name!r} is bundled with scikit-learn, which is not installed")
    file, header = _BUNDLED[name]
    path = os.path.join(spec.submodule_search_locations[0], "datasets", "data", file)
    table = np.loadtxt(path, delimiter=",", skiprows=header)
    return table[:, :-1].astype(float), table[:, -1].astype(int)


def load_split(ds: Dataset) -> Split:
    x, labels = _raw(ds)
    n = len(x)
    if ds.source == "xor":  # four points: train and test on all of them
        tr = te = np.arange(n)
    else:
        perm = np.random.default_rng(ds.seed).permutation(n)
        n_test = int(round(ds.test_fraction * n))
        te, tr = perm[:n_test], perm[n_test:]
    lo_x, hi_x = x[tr].min(axis=0), x[tr].max(axis=0)
    span = np.where(hi_x > lo_x, hi_x - lo_x, 1.0)
    u = np.clip((x - lo_x) / span, 0.0, 1.0)
    if ds.encoding == "thermometer":
        u = np.concatenate([np.clip(ds.levels * u - k, 0.0, 1.0) for k in range(ds.levels)], axis=1)
    a, b = ds.input_range
    xs = a + (b - a) * u
    if ds.complement:
        xs = np.concatenate([xs, a + b - xs], axis=1)
    off, on = ds.target_values
    y = np.full((n, ds.output_size), off)
    y[np.arange(n), labels] = on
    return Split(xs[tr], y[tr], xs[te], y[te], labels[tr], labels[te])
