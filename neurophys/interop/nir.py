"""NIR (Neuromorphic Intermediate Representation) import/export for the inference part of a graph.

Mapping (NIR node names are the IR names, which are unique across populations and couplings):
  input population          ↔ nir.Input
  rate population           ↔ nir.LI(τ, r = 1, v_leak = 0) — a leaky integrator whose steady state is
                              its input current z = Σ W a + b. NIR has no sigmoid/tanh/relu node, so a
                              non-linear activation travels in the node's metadata (`activation`): a NIR
                              tool that ignores it sees the linear part only; neurophys restores it.
  dense coupling            ↔ nir.Affine (carrying the bias of its dst population, on that population's
                              first incoming coupling) or nir.Linear
  cost output population    → its LI node feeds a nir.Output
Everything NIR cannot hold — rule, cost, dataset, training, kinds/roles, symmetric flags, bounds,
parametrisations, metadata — goes into the NIR graph's metadata (`neurophys`: the graph document
without the arrays the nodes carry), so neurophys → NIR → neurophys is lossless. A NIR graph without
that metadata imports as a least-action (feed-forward, exact-backprop) graph with an MSE cost.
Anything unmappable (LIF/IF/CubaLIF, log-sum-exp or circuit populations, other NIR
nodes) is refused with an error naming the population, coupling or node.
`nir` is imported here only, and only when used.
"""
from __future__ import annotations

import json
import os

import numpy as np

from ..atomic import replacing
from ..ir import Cost, Coupling, Graph, Population, Relaxation, Rule, ValidationError, graph_from_dict, graph_to_dict

KEY = "neurophys"  # NIR graph metadata entry holding the learning information


def _nir():
    try:
        import nir
    except ImportError:
        raise ValidationError("nir", "the 'nir' package is not installed (pip install 'neurophys[nir]')") from None
    return nir


def _str(v):
    if isinstance(v, bytes):
        return v.decode()
    return v.item() if isinstance(v, np.ndarray) and v.ndim == 0 else v


# ------------------------------------------------------------------------------------------ export
def to_nir(graph: Graph):
    """The NIR graph of `graph`'s inference part, with its learning information in metadata."""
    nir = _nir()
    nodes, edges = {}, []
    biased = {}  # population → the coupling that carries its bias
    for i, p in enumerate(graph.populations):
        at = f"populations[{i}]"
        if p.kind == "input":
            nodes[p.name] = nir.Input(input_type={"input": np.array([p.size])})
        elif p.kind == "rate":
            meta = {} if p.activation == "linear" else {"activation": p.activation}
            nodes[p.name] = nir.LI(tau=np.full(p.size, p.tau), r=np.ones(p.size), v_leak=np.zeros(p.size), metadata=meta)
            if p.bias is not None:
                first = next((c.name for c in graph.couplings if c.dst == p.name), None)
                if first is None:
                    raise ValidationError(f"{at}.bias", f"{p.name!r} has a bias but no incoming coupling to carry it as a nir.Affine")
                biased[first] = p.bias
        else:
            raise ValidationError(f"{at}.kind", f"population {p.name!r} is {p.kind!r}, which has no NIR node here "
                                  "(exportable: input, rate)")
    for c in graph.couplings:  # dense: conductances join circuit nodes, refused above
        nodes[c.name] = nir.Affine(weight=c.weight, bias=biased[c.name]) if c.name in biased else nir.Linear(weight=c.weight)
        edges += [(c.src, c.name), (c.name, c.dst)]
    out = _free_name("output", nodes)
    nodes[out] = nir.Output(output_type={"output": np.array([graph.output.size])})
    edges.append((graph.cost.output, out))
    doc = graph_to_dict(graph)
    for c in doc["couplings"]:
        c["weight"] = None  # carried by the Affine/Linear node
    for p in doc["populations"]:
        p["bias"] = None    # carried by an Affine node
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={KEY: json.dumps(doc)})


def _free_name(base: str, taken) -> str:
    name = base
    while name in taken:
        name += "_"
    return name


def export(graph: Graph, path: str | os.PathLike) -> None:
    with replacing(path, "w+b") as fh:  # HDF5 seeks and reads back
        _nir().write(fh, to_nir(graph))


# ------------------------------------------------------------------------------------------ import
def from_nir(g) -> Graph:
    """A neurophys Graph from a NIR graph (restoring learning information when it carries ours)."""
    nir = _nir()
    kinds = {nir.Input: "Input", nir.Output: "Output", nir.LI: "LI", nir.Affine: "Affine", nir.Linear: "Linear"}
    preds = {n: [a for a, b in g.edges if b == n] for n in g.nodes}
    succs = {n: [b for a, b in g.edges if a == n] for n in g.nodes}
    pops, coups, outputs = {}, [], []
    for name, node in g.nodes.items():
        kind = kinds.get(type(node))
        at = f"nodes.{name}"
        if kind is None:
            raise ValidationError(at, f"NIR node type {type(node).__name__} has no neurophys equivalent "
                                  f"(importable: {', '.join(kinds.values())})")
        if kind == "Input":
            size = int(np.prod(node.input_type["input"]))
            pops[name] = Population(name, size, kind="input", role="input")
        elif kind == "LI":
            pops[name] = _li_population(name, node, at)
        elif kind == "Output":
            if len(preds[name]) != 1:
                raise ValidationError(at, f"an Output node needs exactly one source, has {len(preds[name])}")
            outputs.append(preds[name][0])
        else:
            if len(preds[name]) != 1 or len(succs[name]) != 1:
                raise ValidationError(at, f"a {kind} node must join one source node to one neuron node "
                                      f"(has {len(preds[name])} in, {len(succs[name])} out)")
            coups.append((name, node, preds[name][0], succs[name][0]))
    if len(outputs) != 1:
        raise ValidationError("nodes", f"a graph needs exactly one Output node (found {len(outputs)})")
    for name, node, src, dst in coups:
        for end in (src, dst):
            if end not in pops:
                raise ValidationError(f"nodes.{name}", f"connects to {end!r}, which is not an Input or neuron (LI) node")
    meta = (getattr(g, "metadata", None) or {}).get(KEY)
    if meta is not None:
        return _restore(json.loads(_str(meta)), pops, coups)
    return _plain(pops, coups, outputs[0])


def _li_population(name: str, node, at: str) -> Population:
    tau = np.asarray(node.tau, float).ravel()
    if np.any(np.asarray(node.r) != 1) or np.any(np.asarray(node.v_leak) != 0):
        raise ValidationError(at, "an LI node maps to a rate population only with r = 1 and v_leak = 0")
    if np.any(tau != tau[0]):
        raise ValidationError(f"{at}.tau", "a population has one time constant; this LI node's tau varies")
    activation = _str((node.metadata or {}).get("activation", "linear"))
    try:
        return Population(name, tau.size, kind="rate", activation=activation, tau=float(tau[0]))
    except ValidationError as exc:
        raise exc.under(at) from None


def _restore(doc: dict, pops: dict, coups: list) -> Graph:
    """Our own export: the document holds everything but the arrays the NIR nodes carry."""
    nodes = {name: node for name, node, _, _ in coups}
    for i, c in enumerate(doc.get("couplings", [])):
        if c.get("name") not in nodes:
            raise ValidationError(f"metadata.couplings[{i}]", f"coupling {c.get('name')!r} has no NIR node")
        c["weight"] = np.asarray(nodes[c["name"]].weight, float)
    for i, p in enumerate(doc.get("populations", [])):
        if p.get("name") not in pops:
            raise ValidationError(f"metadata.populations[{i}]", f"population {p.get('name')!r} has no NIR node")
        if pops[p["name"]].kind == "rate":
            p["tau"] = pops[p["name"]].tau
        carrier = next((n for n, node, _, dst in coups if dst == p["name"] and hasattr(node, "bias")), None)
        if carrier is not None:
            p["bias"] = np.asarray(nodes[carrier].bias, float)
    return graph_from_dict(doc)


def _plain(pops: dict, coups: list, out: str) -> Graph:
    """A foreign NIR graph: a feed-forward least-action graph, MSE on the Output's source."""
    incoming = {}
    couplings = []
    for name, node, src, dst in coups:
        couplings.append(Coupling(name, src, dst, weight=np.asarray(node.weight, float), symmetric=False))
        if hasattr(node, "bias"):
            incoming[dst] = incoming.get(dst, 0) + np.asarray(node.bias, float)
    populations = []
    for p in pops.values():
        if p.name == out:
            p.role = "output"
        if p.name in incoming:
            p.bias = incoming[p.name]
        populations.append(Population(p.name, p.size, kind=p.kind, activation=p.activation, role=p.role, tau=p.tau,
                                      bias=p.bias))
    free = [p for p in populations if not p.clamped]
    dt = min(p.tau for p in free)
    uniform = all(p.tau == dt for p in free)
    steps = 2 * len(free) if uniform else int(np.ceil(60 * len(free) * max(p.tau for p in free) / dt))
    rule = Rule("least_action", lr=0.1, relaxation=Relaxation("euler", dt=dt, max_steps=steps, tol=0.0))
    return Graph(populations, couplings, Cost("mse", out), rule, name="nir_import")


def is_rate_graph(raw: dict) -> bool:
    """Whether a NIR graph (as nir's dict) is a learning graph's inference part: ours (our metadata),
    or only Input/Output/Affine/Linear and LI nodes with r = 1, v_leak = 0 and no cycle."""
    if KEY in (raw.get("metadata") or {}):
        return True
    nodes = raw.get("nodes") or {}
    for d in nodes.values():
        kind = _str(d.get("type"))
        if kind not in ("Input", "Output", "Affine", "Linear", "LI"):
            return False
        if kind == "LI" and (np.any(np.asarray(d["r"]) != 1) or np.any(np.asarray(d["v_leak"]) != 0)):
            return False
    edges = [(_str(a), _str(b)) for a, b in np.asarray(raw.get("edges", []), dtype=object).reshape(-1, 2)]
    succ = {}
    for a, b in edges:
        succ.setdefault(a, []).append(b)
    seen, stack = set(), []

    def cyclic(n):
        if n in stack:
            return True
        if n in seen:
            return False
        seen.add(n)
        stack.append(n)
        hit = any(cyclic(m) for m in succ.get(n, []))
        stack.pop()
        return hit
    return not any(cyclic(n) for n in list(succ))


def load(path: str | os.PathLike) -> Graph:
    nir = _nir()
    if not os.path.exists(path):
        raise ValidationError(str(path), "file not found")
    try:
        g = nir.read(str(path))
    except (OSError, KeyError, ValueError, AssertionError) as exc:
        raise ValidationError(str(path), f"not a readable NIR file ({exc.__class__.__name__}: {exc})") from None
    return from_nir(g)
