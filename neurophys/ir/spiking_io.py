"""Spiking networks on disk: one JSON document (`"format": "neurophys.spiking"`, version 1) whose
nodes are written the way NIR names them (type LIF/CubaLIF/…/Affine/Linear/Scale/Threshold/Input,
NIR's parameter names), so the same builder serves this file and a NIR file read as a dict."""
from __future__ import annotations

import json
import os

import numpy as np

from ..atomic import replacing
from .errors import ValidationError
from .maps import Affine, Input, Scale, Threshold
from .neurons import MODELS, PARAMS, Neurons
from .spiking_network import SpikingNetwork

FORMAT = "neurophys.spiking"
VERSION = 1
TYPES = MODELS + ("Affine", "Linear", "Scale", "Threshold", "Input")


def node_from_dict(name: str, d: dict, size: int | None = None):
    """A node from NIR-style fields; `size` broadcasts a neuron's scalar parameters."""
    kind = d.get("type")
    meta = dict(d.get("metadata") or {})
    try:
        if kind in MODELS:
            params = {k: d[k] for k in PARAMS[kind] if k in d and d[k] is not None}
            if size is None:
                size = max(int(np.size(v)) for v in params.values())
            return Neurons(name, kind, size, params, metadata=meta)
        if kind in ("Affine", "Linear"):
            if "weight" not in d:
                raise ValidationError("weight", f"a {kind} node needs a weight")
            return Affine(name, d["weight"], d.get("bias") if kind == "Affine" else None, metadata=meta)
        if kind == "Scale":
            return Scale(name, _sized(d["scale"], size), metadata=meta)
        if kind == "Threshold":
            return Threshold(name, _sized(d["threshold"], size), metadata=meta)
        if kind == "Input":
            return Input(name, int(np.prod(d["shape"])) if size is None else size, metadata=meta)
    except KeyError as exc:
        raise ValidationError(f"nodes.{name}.{exc.args[0]}", f"a {kind} node needs {exc.args[0]!r}") from None
    except ValidationError as exc:
        raise exc.under(f"nodes.{name}") from None
    raise ValidationError(f"nodes.{name}.type", f"{kind!r} is not one of {', '.join(TYPES)}")


def _sized(value, size):
    v = np.asarray(value, float)
    return np.full(size, float(v.ravel()[0])) if size is not None and v.size == 1 else v


def node_to_dict(node) -> dict:
    if isinstance(node, Neurons):
        d = {"type": node.model, **{k: v.tolist() for k, v in node.params.items()}}
    elif isinstance(node, Affine):
        d = {"type": "Linear" if node.bias is None else "Affine", "weight": node.weight.tolist()}
        if node.bias is not None:
            d["bias"] = node.bias.tolist()
    elif isinstance(node, Scale):
        d = {"type": "Scale", "scale": node.scale.tolist()}
    elif isinstance(node, Threshold):
        d = {"type": "Threshold", "threshold": node.threshold.tolist()}
    else:
        d = {"type": "Input", "shape": [node.size]}
    if node.metadata:
        d["metadata"] = node.metadata
    return d


def network_to_dict(net: SpikingNetwork) -> dict:
    return {"format": FORMAT, "version": VERSION, "name": net.name,
            "nodes": {n.name: node_to_dict(n) for n in net.nodes},
            "edges": [list(e) for e in net.edges], "output": net.output, "metadata": net.metadata}


def network_from_dict(d: dict) -> SpikingNetwork:
    if d.get("format") != FORMAT:
        raise ValidationError("format", f"{d.get('format')!r} is not {FORMAT!r}")
    if d.get("version") != VERSION:
        raise ValidationError("version", f"{d.get('version')!r}: this neurophys reads version {VERSION}")
    extra = sorted(set(d) - {"format", "version", "name", "nodes", "edges", "output", "metadata"})
    if extra:
        raise ValidationError(extra[0], "unknown field")
    if not isinstance(d.get("nodes"), dict):
        raise ValidationError("nodes", "must be an object of named nodes")
    nodes = [node_from_dict(name, nd) for name, nd in d["nodes"].items()]
    return SpikingNetwork(nodes, d.get("edges", []), d.get("output"), name=d.get("name", "nir_network"),
                          metadata=d.get("metadata") or {})


def save(net: SpikingNetwork, path) -> None:
    """Atomic: a temporary file moved into place."""
    with replacing(path) as f:
        json.dump(network_to_dict(net), f)


def load(path) -> SpikingNetwork:
    try:
        with open(path) as f:
            d = json.load(f)
    except json.JSONDecodeError as exc:
        raise ValidationError(os.fspath(path), f"not JSON ({exc})") from None
    return network_from_dict(d)
