"""A spiking network as the simulators that are not the reference engine need it: units (neuron
populations and Threshold nodes, which hold or make spikes) joined by plain weight matrices.

Chains of stateless linear nodes (Affine, Linear, Scale) between two units are multiplied out into
one matrix per (source unit, destination unit, delayed) — a recurrent edge anywhere on the chain
makes the whole projection one step late. Whatever reaches a unit from the Input nodes, with all
biases on the way, is precomputed as that unit's drive: a (T, size) array, since it does not depend
on the network's state. Brian2 and Lava both build on this (backends/brian/nir_sim.py,
backends/loihi/nir/), so the two mappings cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir.errors import ValidationError
from ..ir.maps import Affine, Input, Scale, Threshold
from ..ir.neurons import Neurons
from ..ir.spiking_network import SpikingNetwork


@dataclass
class Projection:
    src: str
    dst: str
    weight: np.ndarray   # [dst.size, src.size]
    delayed: bool


@dataclass
class Layout:
    net: SpikingNetwork
    units: list          # unit names in evaluation order
    projections: list    # Projection, unit → unit
    inputs: dict         # unit → list of (input name, matrix [size, input.size])
    bias: dict           # unit → constant part of its input [size]

    def drive(self, x: np.ndarray) -> dict:
        """unit → (T, size): the input-driven part of the unit's input current each step."""
        cols, at = {}, 0
        for inp in self.net.inputs:
            cols[inp.name] = slice(at, at + inp.size)
            at += inp.size
        out = {}
        for u in self.units:
            d = np.broadcast_to(self.bias[u], (x.shape[0], self.bias[u].size)).copy()
            for name, m in self.inputs[u]:
                d += x[:, cols[name]] @ m.T
            out[u] = d
        return out


def is_unit(node) -> bool:
    return isinstance(node, (Neurons, Threshold))


def layout(net: SpikingNetwork) -> Layout:
    nodes = net.node_index
    memo: dict = {}

    def expr(name, visiting=()):
        """The node's output as Σ M·source + b over units and inputs: ({(src, delayed): M}, b)."""
        node = nodes[name]
        if is_unit(node) or isinstance(node, Input):
            return {(name, False): np.eye(node.out_size)}, np.zeros(node.out_size)
        if name in memo:
            return memo[name]
        if name in visiting:
            raise ValidationError(f"nodes.{name}", "lies on a cycle of stateless nodes (no neuron holds its state)")
        terms, bias = _incoming(name, visiting + (name,))
        if isinstance(node, Affine):
            terms = {k: node.weight @ m for k, m in terms.items()}
            bias = node.weight @ bias + (0.0 if node.bias is None else node.bias)
        elif isinstance(node, Scale):
            terms = {k: node.scale[:, None] * m for k, m in terms.items()}
            bias = node.scale * bias
        memo[name] = (terms, bias)
        return memo[name]

    def _incoming(name, visiting):
        terms, bias = {}, np.zeros(nodes[name].in_size)
        for src, late in net.sources(name):
            t, b = expr(src, visiting)
            for (s, d), m in t.items():
                key = (s, d or late)
                terms[key] = terms.get(key, 0) + m
            bias = bias + b
        return terms, bias

    units = [n for n in net.order if is_unit(nodes[n])]
    projections, inputs, bias = [], {}, {}
    for u in units:
        terms, b = _incoming(u, (u,))
        bias[u] = b
        inputs[u] = []
        for (src, late), m in terms.items():
            if isinstance(nodes[src], Input):
                inputs[u].append((src, m))
            else:
                projections.append(Projection(src, u, m, late))
    return Layout(net, units, projections, inputs, bias)
