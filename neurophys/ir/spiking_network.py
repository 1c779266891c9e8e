"""A spiking network as NIR draws it: nodes (inputs, neuron populations, stateless maps) and edges.

Every edge carries its source's output to its destination, where incoming edges sum. An edge that
closes a cycle (a recurrent edge: found by depth-first search from the inputs, in node order) is
read one time step late — the value its source produced in the previous step, as every producer's
recurrent layer does; all other edges act within the step, in `order`. Everything is checked at
construction, with errors naming the node or edge.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ValidationError
from .maps import Affine, Input, Scale, Threshold
from .neurons import Neurons

NODE_TYPES = (Input, Neurons, Affine, Scale, Threshold)


@dataclass
class SpikingNetwork:
    nodes: list
    edges: list
    output: str
    name: str = "nir_network"
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        seen = {}
        for i, n in enumerate(self.nodes):
            if not isinstance(n, NODE_TYPES):
                raise ValidationError(f"nodes[{i}]", f"not a node ({', '.join(t.__name__ for t in NODE_TYPES)})")
            if n.name in seen:
                raise ValidationError(f"nodes[{i}].name", f"{n.name!r} is already used by nodes[{seen[n.name]}]")
            seen[n.name] = i
        if not any(isinstance(n, Input) for n in self.nodes):
            raise ValidationError("nodes", "a network needs an Input node")
        self.edges = [tuple(e) for e in self.edges]
        by = self.node_index
        for i, e in enumerate(self.edges):
            if len(e) != 2:
                raise ValidationError(f"edges[{i}]", f"{e!r} is not a (source, destination) pair")
            for end, name in zip(("source", "destination"), e):
                if name not in by:
                    raise ValidationError(f"edges[{i}]", f"{end} {name!r} is not a node")
            src, dst = by[e[0]], by[e[1]]
            if isinstance(dst, Input):
                raise ValidationError(f"edges[{i}]", f"{dst.name!r} is an Input; nothing can feed it")
            if src.out_size != dst.in_size:
                raise ValidationError(f"edges[{i}]", f"{src.name!r} gives {src.out_size} values but {dst.name!r} "
                                      f"takes {dst.in_size}")
        fed = {d for _, d in self.edges}
        for n in self.nodes:
            if not isinstance(n, Input) and n.name not in fed:
                raise ValidationError(f"nodes.{n.name}", "receives no edge; it would never be driven")
        if self.output not in by:
            raise ValidationError("output", f"{self.output!r} is not a node")
        if not isinstance(self.metadata, dict):
            raise ValidationError("metadata", "must be an object")
        self.order, self.delayed = _schedule(self)

    @property
    def node_index(self) -> dict:
        return {n.name: n for n in self.nodes}

    def node(self, name: str):
        return self.node_index[name]

    @property
    def inputs(self) -> list[Input]:
        return [n for n in self.nodes if isinstance(n, Input)]

    @property
    def n_in(self) -> int:
        return sum(n.size for n in self.inputs)

    @property
    def n_out(self) -> int:
        return self.node(self.output).out_size

    def sources(self, name: str) -> list[tuple[str, bool]]:
        """(source, delayed) for every edge into `name`, in edge order."""
        return [(s, (s, d) in self.delayed) for s, d in self.edges if d == name]


def _schedule(net: SpikingNetwork):
    """Evaluation order within a step and the set of recurrent (one-step-late) edges."""
    succ = {n.name: [] for n in net.nodes}
    for s, d in net.edges:
        succ[s].append(d)
    state, delayed = {}, set()
    roots = [n.name for n in net.nodes if isinstance(n, Input)] + [n.name for n in net.nodes]
    for root in roots:
        if root in state:
            continue
        stack = [(root, iter(succ[root]))]
        state[root] = "open"
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = "done"
                stack.pop()
            elif state.get(nxt) == "open":
                delayed.add((node, nxt))
            elif nxt not in state:
                state[nxt] = "open"
                stack.append((nxt, iter(succ[nxt])))
    indeg = {n.name: 0 for n in net.nodes}
    for s, d in net.edges:
        if (s, d) not in delayed:
            indeg[d] += 1
    order, ready = [], [n.name for n in net.nodes if indeg[n.name] == 0]
    while ready:
        name = ready.pop(0)
        order.append(name)
        for d in succ[name]:
            if (name, d) not in delayed:
                indeg[d] -= 1
                if indeg[d] == 0:
                    ready.append(d)
    return order, delayed
