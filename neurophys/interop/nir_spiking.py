"""NIR spiking networks in and out: read what peers write (snnTorch, Norse, Sinabs, Rockpool, nir's
own API) into a neurophys.ir.SpikingNetwork, and write one back.

Reading is forgiving where producers' files are odd and strict where they are wrong:
  1. `nir.read(path)` (nir 1.0.8 checks that every edge's types agree);
  2. if that check refuses the file (an Input typed [1 n] feeding n units, 0-d parameters, an
     Output typed [1 1 1]), `nir.read(path, type_check=False)`, with a warning;
  3. if nir cannot build its nodes at all ("All parameters must have the same shape", a subgraph
     whose types do not agree even unchecked), the HDF5 groups are read directly with h5py, with a
     warning.
Then the dict is mapped node by node: nested NIRGraphs are flattened (their nodes named
"graph.node", their Input/Output nodes, Flatten and Identity become plain connections), edges that
close a cycle are recurrent (one step late, see SpikingNetwork), and a neuron whose parameters are
all scalars takes its size from the weights it is connected to. Every refusal names the node.
"""
from __future__ import annotations

import os
import warnings

import numpy as np

from ..atomic import replacing
from ..ir.errors import ValidationError
from ..ir.maps import Affine, Input, Scale, Threshold
from ..ir.neurons import MODELS, PARAMS, Neurons
from ..ir.spiking_io import node_from_dict
from ..ir.spiking_network import SpikingNetwork
from .nir import _nir, _str

PASS_THROUGH = ("Flatten", "Identity")
SIZED_BY_NEIGHBOURS = MODELS + ("Scale", "Threshold")
IMPORTABLE = MODELS + ("Affine", "Linear", "Scale", "Threshold", "Input", "Output", "NIRGraph") + PASS_THROUGH
_NIR_FAILURES = (ValueError, AssertionError, KeyError, TypeError, AttributeError, IndexError)


# ------------------------------------------------------------------------------------ reading
def read_raw(path) -> dict:
    """The file's top NIRGraph as nested dicts (nir's `to_dict` layout), by the fallbacks above."""
    nir = _nir()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValidationError(path, "file not found")
    try:
        import h5py

        with h5py.File(path, "r") as f:
            if "node" not in f:
                raise ValidationError(path, "an HDF5 file without a 'node' group is not a NIR file")
    except OSError as exc:
        raise ValidationError(path, f"not a readable NIR (HDF5) file ({exc})") from None
    try:
        return nir.read(path).to_dict()
    except _NIR_FAILURES as strict:
        first = f"{type(strict).__name__}: {strict}"
    try:
        d = nir.read(path, type_check=False).to_dict()
        warnings.warn(f"{path}: nir's type check refused the file ({first}); read again with type_check=False")
        return d
    except _NIR_FAILURES as loose:
        second = f"{type(loose).__name__}: {loose}"
    import h5py
    from nir.serialization import hdf2dict

    with h5py.File(path, "r") as f:
        d = hdf2dict(f["node"])
    warnings.warn(f"{path}: nir cannot build this file's nodes ({second}); read its HDF5 groups directly")
    return d


def load(path) -> SpikingNetwork:
    return from_dict(read_raw(path), name=os.path.splitext(os.path.basename(os.fspath(path)))[0])


def from_nir(g) -> SpikingNetwork:
    """From an in-memory nir.NIRGraph."""
    return from_dict(g.to_dict())


# ------------------------------------------------------------------------------------ mapping
def from_dict(raw: dict, name: str = "nir_network") -> SpikingNetwork:
    if _str(raw.get("type", "NIRGraph")) != "NIRGraph":
        raise ValidationError("node", f"the file's top node is a {_str(raw.get('type'))}, not a NIRGraph")
    nodes, edges = {}, []
    _flatten(raw, "", nodes, edges, top=True)
    outputs = [n for n, d in nodes.items() if d["type"] == "Output" and not d.get("inner")]
    if len(outputs) != 1:
        raise ValidationError("nodes", f"a network needs exactly one Output node (found {len(outputs)}: "
                              f"{', '.join(outputs) or 'none'})")
    passing = [n for n, d in nodes.items() if d["type"] in PASS_THROUGH + ("Output",) or d.get("inner")]
    for p in passing:
        if p == outputs[0]:
            continue
        preds = [s for s, d in edges if d == p]
        succs = [d for s, d in edges if s == p]
        edges = [e for e in edges if p not in e] + [(s, d) for s in preds for d in succs]
        del nodes[p]
    src = [s for s, d in edges if d == outputs[0]]
    if len(src) != 1:
        raise ValidationError(f"nodes.{outputs[0]}", f"an Output node needs exactly one source, has {len(src)}")
    edges = [e for e in edges if e[1] != outputs[0]]
    del nodes[outputs[0]]
    sizes = _sizes(nodes, edges)
    built = [node_from_dict(n, d, sizes.get(n)) for n, d in nodes.items()]
    return SpikingNetwork(built, edges, src[0], name=name, metadata=_meta(raw))


def _meta(raw) -> dict:
    """Metadata as JSON-ready values (nir hands back bytes, 0-d and n-d arrays)."""
    out = {}
    for k, v in (raw.get("metadata") or {}).items():
        v = _str(v)
        out[_str(k)] = _meta({"metadata": v}) if isinstance(v, dict) else v.tolist() if isinstance(v, np.ndarray) else \
            v.item() if isinstance(v, np.generic) else v
    return out


def _flatten(raw: dict, prefix: str, nodes: dict, edges: list, top: bool) -> None:
    """Nested NIRGraphs into one level; a subgraph's Input/Output nodes are marked `inner`."""
    members = raw.get("nodes") or {}
    local = {}
    for key, d in members.items():
        key = _str(key)
        kind = _str(d.get("type"))
        full = prefix + key
        if kind not in IMPORTABLE:
            raise ValidationError(f"nodes.{full}", f"NIR node type {kind} is not supported "
                                  f"(importable: {', '.join(t for t in IMPORTABLE if t not in PASS_THROUGH)}, Flatten)")
        if kind == "NIRGraph":
            _flatten(d, full + ".", nodes, edges, top=False)
            inner = {_str(k): _str(v.get("type")) for k, v in (d.get("nodes") or {}).items()}
            local[key] = ([full + "." + k for k, t in inner.items() if t == "Input"],
                          [full + "." + k for k, t in inner.items() if t == "Output"])
            continue
        d = {k: (_str(v) if k == "type" else v) for k, v in d.items()}
        d["metadata"] = _meta(d)
        if not top and kind in ("Input", "Output"):
            d["inner"] = True
        nodes[full] = d
        local[key] = ([full], [full])
    for i, e in enumerate(_edges(raw.get("edges"))):
        s, t = e
        for end in (s, t):
            if end not in local and prefix + end not in nodes:
                where = f"nodes.{prefix[:-1]}" if prefix else "edges"
                raise ValidationError(where, f"edge ({s} → {t}) references {end!r}, which is not a node "
                                      f"(have {', '.join(local) or 'none'})")
        srcs = local[s][1] if s in local else [prefix + s]
        dsts = local[t][0] if t in local else [prefix + t]
        if len(srcs) != 1 or len(dsts) != 1:
            raise ValidationError(f"nodes.{prefix}{s if len(srcs) != 1 else t}",
                                  "a subgraph edge needs exactly one Input/Output node to attach to")
        edges.append((srcs[0], dsts[0]))


def _edges(value) -> list[tuple[str, str]]:
    if value is None:
        return []
    return [(_str(a), _str(b)) for a, b in np.asarray(value, dtype=object).reshape(-1, 2)]


def _own_size(d: dict) -> int | None:
    kind = d["type"]
    if kind in ("Affine", "Linear"):
        return None
    if kind == "Input":
        shape = d.get("shape")
        return None if shape is None else int(np.prod(shape))
    keys = PARAMS.get(kind) or {"Scale": ("scale",), "Threshold": ("threshold",)}[kind]
    n = max((int(np.size(d[k])) for k in keys if d.get(k) is not None), default=1)
    return n if n > 1 else None


def _sizes(nodes: dict, edges: list) -> dict:
    """Sizes of the elementwise nodes; scalar-only ones take their neighbours' (the weights')."""
    out_size = {n: np.shape(d["weight"])[-2] for n, d in nodes.items() if d["type"] in ("Affine", "Linear")}
    in_size = {n: np.shape(d["weight"])[-1] for n, d in nodes.items() if d["type"] in ("Affine", "Linear")}
    sizes = {n: s for n, d in nodes.items() if (s := _own_size(d)) is not None}
    for n, d in nodes.items():
        if d["type"] in ("Affine", "Linear") and np.ndim(d["weight"]) != 2:
            raise ValidationError(f"nodes.{n}.weight", f"shape {np.shape(d['weight'])}: only 2-d weights [out, in] map "
                                  "onto populations")
    changed = True
    while changed:
        changed = False
        for s, t in edges:
            known_out = sizes.get(s, out_size.get(s))
            known_in = sizes.get(t, in_size.get(t))
            if t not in sizes and t in nodes and nodes[t]["type"] in SIZED_BY_NEIGHBOURS and known_out is not None:
                sizes[t] = known_out
                changed = True
            if s not in sizes and s in nodes and nodes[s]["type"] in SIZED_BY_NEIGHBOURS + ("Input",) \
                    and known_in is not None:
                sizes[s] = known_in
                changed = True
    for n, d in nodes.items():
        if d["type"] in SIZED_BY_NEIGHBOURS + ("Input",) and n not in sizes:
            raise ValidationError(f"nodes.{n}", "its size cannot be told: scalar parameters and no weighted neighbour")
    for n, d in nodes.items():  # a producer's Input typed [1 n] or [n]: the weights decide
        if d["type"] == "Input":
            fed = [in_size.get(t, sizes.get(t)) for s, t in edges if s == n]
            fed = [f for f in fed if f is not None]
            if fed and sizes[n] != fed[0]:
                raise ValidationError(f"nodes.{n}", f"typed {np.asarray(d.get('shape')).tolist()} ({sizes[n]} values) "
                                      f"but feeds {fed[0]} inputs")
    return sizes


# ------------------------------------------------------------------------------------ writing
def to_nir(net: SpikingNetwork, metadata: dict | None = None):
    """A nir.NIRGraph of `net` (recurrent edges stay edges; NIR has no delay marker for them)."""
    nir = _nir()
    nodes = {}
    for n in net.nodes:
        if isinstance(n, Input):
            nodes[n.name] = nir.Input(input_type={"input": np.array([n.size])}, metadata=dict(n.metadata))
        elif isinstance(n, Neurons):
            nodes[n.name] = getattr(nir, n.model)(**{k: v.copy() for k, v in n.params.items()}, metadata=dict(n.metadata))
        elif isinstance(n, Affine):
            nodes[n.name] = (nir.Linear(weight=n.weight.copy(), metadata=dict(n.metadata)) if n.bias is None else
                             nir.Affine(weight=n.weight.copy(), bias=n.bias.copy(), metadata=dict(n.metadata)))
        elif isinstance(n, Scale):
            nodes[n.name] = nir.Scale(scale=n.scale.copy(), metadata=dict(n.metadata))
        elif isinstance(n, Threshold):
            nodes[n.name] = nir.Threshold(threshold=n.threshold.copy(), metadata=dict(n.metadata))
    out = "output"
    while out in nodes:
        out += "_"
    nodes[out] = nir.Output(output_type={"output": np.array([net.n_out])})
    edges = [tuple(e) for e in net.edges] + [(net.output, out)]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=dict(metadata if metadata is not None else net.metadata))


def export(net: SpikingNetwork, path) -> None:
    with replacing(path, "w+b") as fh:  # HDF5 seeks and reads back
        _nir().write(fh, to_nir(net))
