"""Graph files: one JSON document (``"format": "neurophys.graph"``, ``"version": 1``) plus a
sibling ``.npz`` for arrays too large to read comfortably inline.

Loading is strict: unknown fields are errors, every error names its field path. Saving is atomic:
both files are written to temporaries and moved into place, so a failure leaves the old files.
"""
from __future__ import annotations

import dataclasses
import json
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import replacing
from .cost import Cost
from .coupling import Coupling
from .dataset import Dataset
from .errors import ValidationError
from .graph import Graph
from .population import Population
from .rule import Relaxation, Rule
from .training import Training

FORMAT = "neurophys.graph"
VERSION = 1
INLINE_MAX = 256  # arrays with more elements go to the sibling .npz
_ARRAY_FIELDS = {"bias", "weight", "edges", "conductance"}
_NESTED = {(Rule, "relaxation"): Relaxation}
# what numpy raises for a truncated, bit-flipped or foreign .npz (zip directory, CRC, inflate, header)
NPZ_ERRORS = (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


# ------------------------------------------------------------------------------------ dict form
def graph_to_dict(graph: Graph, arrays: dict[str, np.ndarray] | None = None) -> dict:
    """A JSON-ready dict. Arrays larger than INLINE_MAX go into `arrays` when it is given."""
    def encode(obj, path):
        out = {}
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            if dataclasses.is_dataclass(v):
                v = encode(v, f"{path}.{f.name}")
            elif isinstance(v, np.ndarray):
                key = f"{path}.{f.name}"
                if arrays is not None and v.size > INLINE_MAX:
                    arrays[key] = v
                    v = {"npz": key}
                else:
                    v = v.tolist()
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out

    d = {"format": FORMAT, "version": VERSION, "name": graph.name}
    d["populations"] = [encode(p, f"populations.{p.name}") for p in graph.populations]
    d["couplings"] = [encode(c, f"couplings.{c.name}") for c in graph.couplings]
    d["cost"] = encode(graph.cost, "cost")
    d["rule"] = encode(graph.rule, "rule")
    d["dataset"] = encode(graph.dataset, "dataset") if graph.dataset is not None else None
    d["training"] = encode(graph.training, "training")
    d["metadata"] = graph.metadata
    return d


def graph_from_dict(d: Any, arrays: "np.lib.npyio.NpzFile | dict | None" = None, *, where: str = "") -> Graph:
    if not isinstance(d, dict):
        raise ValidationError("", f"a graph document is a JSON object, got {type(d).__name__}")
    if d.get("format") != FORMAT:
        raise ValidationError("format", f"{d.get('format')!r} is not {FORMAT!r}")
    if d.get("version") != VERSION:
        raise ValidationError("version", f"{d.get('version')!r} is not supported (this reader knows version {VERSION})")
    top = {"format", "version", "name", "populations", "couplings", "cost", "rule", "dataset", "training", "metadata"}
    _no_unknown(d, top, "")
    for key in ("populations", "couplings", "cost", "rule"):
        if key not in d:
            raise ValidationError(key, "missing")
    for key in ("populations", "couplings"):
        if not isinstance(d[key], list):
            raise ValidationError(key, "must be a list")

    def decode_array(value, path):
        if isinstance(value, dict):
            _no_unknown(value, {"npz"}, path)
            key = value.get("npz")
            if arrays is None:
                raise ValidationError(path, f"refers to {key!r} in a sibling .npz file{where}, which is missing")
            if key not in arrays:
                raise ValidationError(path, f"{key!r} is not in the sibling .npz file{where}")
            return np.asarray(arrays[key])
        return value

    def build(cls, raw, path):
        if not isinstance(raw, dict):
            raise ValidationError(path, f"must be an object, got {type(raw).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        _no_unknown(raw, names, path)
        required = [f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        for r in required:
            if r not in raw:
                raise ValidationError(f"{path}.{r}" if path else r, "missing")
        kwargs = {}
        for k, v in raw.items():
            sub = f"{path}.{k}" if path else k
            if (cls, k) in _NESTED:
                v = build(_NESTED[(cls, k)], v, sub)
            elif k in _ARRAY_FIELDS and v is not None:
                v = decode_array(v, sub)
            kwargs[k] = v
        try:
            return cls(**kwargs)
        except ValidationError as exc:
            raise exc.under(path) if path else exc

    pops = [build(Population, p, f"populations[{i}]") for i, p in enumerate(d["populations"])]
    coups = [build(Coupling, c, f"couplings[{i}]") for i, c in enumerate(d["couplings"])]
    kw = dict(populations=pops, couplings=coups, cost=build(Cost, d["cost"], "cost"), rule=build(Rule, d["rule"], "rule"))
    if d.get("dataset") is not None:
        kw["dataset"] = build(Dataset, d["dataset"], "dataset")
    if "training" in d:
        kw["training"] = build(Training, d["training"], "training")
    if "name" in d:
        kw["name"] = d["name"]
    if "metadata" in d:
        if not isinstance(d["metadata"], dict):
            raise ValidationError("metadata", "must be an object")
        kw["metadata"] = d["metadata"]
    return Graph(**kw)


def _no_unknown(raw: dict, known: set[str], path: str):
    for k in raw:
        if k not in known:
            where = f"{path}.{k}" if path else k
            raise ValidationError(where, f"unknown field (expected one of {', '.join(sorted(known))})")


# ------------------------------------------------------------------------------------ files
def load(path: str | os.PathLike) -> Graph:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ValidationError(str(path), "file not found") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ValidationError(str(path), f"cannot read ({exc.__class__.__name__})") from None
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(str(path), f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    npz_path = path.with_suffix(".npz")
    if npz_path.exists():
        try:
            with np.load(npz_path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except NPZ_ERRORS as exc:
            raise ValidationError(str(npz_path), f"cannot read arrays, the file is damaged "
                                                 f"({exc.__class__.__name__}: {exc})") from None
    else:
        arrays = None
    return graph_from_dict(d, arrays, where=f" {npz_path.name}")


def save(graph: Graph, path: str | os.PathLike) -> Path:
    """Write `path` (JSON) and, when needed, its sibling .npz, atomically."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    text = json.dumps(graph_to_dict(graph, arrays), indent=1) + "\n"
    npz_path = path.with_suffix(".npz")
    with replacing(path) as fh:  # both temporaries are complete before either replaces its file
        fh.write(text)
        if arrays:
            with replacing(npz_path, "wb") as npz:
                np.savez(npz, **arrays)
        elif npz_path.exists():
            os.remove(npz_path)
    return path
