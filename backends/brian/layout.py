"""Neuron and synapse indices of a graph replicated over phases and a batch.

Brian has no batch axis, so every unit exists once per (phase replica, batch sample): neuron
index ((replica·B) + b)·n + u. The phases run side by side in one `Network.run` — a nudged
replica relaxes freely first, exactly like the reference's nudged phase starting from the free
state — which keeps one run (and one Python round-trip) per learning step.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def check_synapse_order(syn, order) -> None:
    """The index maps assume Brian kept the synapses in the order they were connected."""
    pre, post = order
    if not (np.array_equal(syn.i[:], pre) and np.array_equal(syn.j[:], post)):
        raise RuntimeError("Brian2 reordered the synapses; the index maps would be wrong")


@dataclass
class Layout:
    replicas: tuple[str, ...]
    batch: int
    offsets: dict[str, int]    # population → first unit index within one copy
    sizes: dict[str, int]
    n: int = field(init=False)
    _units: dict = field(init=False, repr=False, default_factory=dict)  # population → index array (read-only)

    def __post_init__(self):
        self.n = sum(self.sizes.values())

    @classmethod
    def of(cls, populations, replicas, batch) -> "Layout":
        offsets, off, sizes = {}, 0, {}
        for p in populations:
            offsets[p.name], sizes[p.name] = off, p.size
            off += p.size
        return cls(tuple(replicas), batch, offsets, sizes)

    @property
    def N(self) -> int:
        return len(self.replicas) * self.batch * self.n

    def units(self, pop: str) -> np.ndarray:
        """(R, B, size) neuron indices of a population (computed once; read-only)."""
        if pop not in self._units:
            R, B = len(self.replicas), self.batch
            base = (np.arange(R)[:, None] * B + np.arange(B)[None, :]) * self.n
            idx = base[:, :, None] + self.offsets[pop] + np.arange(self.sizes[pop])[None, None, :]
            idx.setflags(write=False)
            self._units[pop] = idx
        return self._units[pop]

    def replica_of(self) -> np.ndarray:
        """Replica number of every neuron."""
        return np.repeat(np.arange(len(self.replicas)), self.batch * self.n)

    def per_neuron(self, values: dict[str, float | np.ndarray], default=0.0) -> np.ndarray:
        """A neuron array from per-population values (scalars or (size,) arrays), `default` elsewhere."""
        out = np.full(self.N, default, dtype=float)
        for pop, v in values.items():
            out[self.units(pop)] = v
        return out

    def pairs(self, pre_pop: str, post_pop: str, pre_idx: np.ndarray, post_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(R, B, k) pre and post neuron indices of k unit pairs (pre_idx[e] → post_idx[e]) in every copy."""
        pre, post = self.units(pre_pop), self.units(post_pop)
        return pre[:, :, pre_idx], post[:, :, post_idx]

