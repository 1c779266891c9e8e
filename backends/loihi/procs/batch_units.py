"""The fast path's only neuron Process: every unit of every sample of the batch side by side (batch
in space), with the phase schedule inside its model, so one `run()` is one learning step.

Per sample slot the payload is [ρ(x) (inputs, clamped), 1, ρ(s)] for EP and [a_in, 1, a, δ] for
least action; one block-diagonal Dense maps it to the fields [h] / [z, e], biases included (the
always-on unit's column, fast_net.py). The elementwise
physics is the core's own (Hopfield's ρ, gain, projection and cost gradient; least action's Euler
step), so the float arithmetic is the reference engine's. At each phase end the model stores the
states in `ends`, which the host reads to compute the update (the update is host-side on this path).
"""
from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from neurophys import activations as act
from neurophys import costs
from neurophys.physics.hopfield import Hopfield

from .. import schedule as sch


class BatchUnits(AbstractProcess):
    """graph: the layout and activations (its weights are not read); slots: samples side by side;
    phases: {"learn": [(mode, β)], "eval": [...]}; steps: Euler steps per phase."""

    def __init__(self, *, graph, slots: int, phases: dict, steps: int, name: str | None = None):
        super().__init__(graph=graph, slots=slots, phases=phases, steps=steps, name=name)
        ep = graph.rule.family == "ep"
        n_in = sum(p.size for p in graph.inputs)
        n = sum(p.size for p in graph.populations if not p.clamped)
        width = n if ep else 2 * n  # a state per unit (EP), a and δ (least action)
        self.a_in = InPort((slots * width,))
        self.s_out = OutPort((slots * (n_in + 1 + width),))
        self.x = Var((slots, n_in), init=np.zeros((slots, n_in)))
        self.y = Var((slots, graph.population(graph.cost.output).size),
                     init=np.zeros((slots, graph.population(graph.cost.output).size)))
        n_ends = max(len(v) for v in phases.values()) if ep else 2
        self.ends = Var((n_ends, slots, n), init=np.zeros((n_ends, slots, n)))
        self.learn = Var((1,), init=0)
        self.k = Var((1,), init=0)


@implements(proc=BatchUnits, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyBatchUnitsFloat(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    x: np.ndarray = LavaPyType(np.ndarray, float)
    y: np.ndarray = LavaPyType(np.ndarray, float)
    ends: np.ndarray = LavaPyType(np.ndarray, float)
    learn: np.ndarray = LavaPyType(np.ndarray, int)
    k: np.ndarray = LavaPyType(np.ndarray, int)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        g = proc_params["graph"]
        self.ep = g.rule.family == "ep"
        self.dt = g.rule.relaxation.dt
        self.net = Hopfield(g)  # EP: ρ, gain, projection, cost gradient of the reference engine
        free = [p for p in g.populations if not p.clamped]
        self.acts, off = [], 0
        for p in free:
            self.acts.append((slice(off, off + p.size), p.activation, self.dt / p.tau))
            off += p.size
        self.n, self.out, self.cost = off, self.net.out, g.cost.kind
        self.s = self.s_free = self.d = np.zeros((proc_params["slots"], self.n))
        # the payload [ρ(x), 1, state], filled in place: ρ(x) once per run (x is set between runs), the
        # state every step (per-step host work is most of a run's cost in the CPU simulation)
        n_in = self.net.n_in
        self.payload = np.ones((proc_params["slots"], n_in + 1 + (self.n if self.ep else 2 * self.n)))
        self.x_part, self.state_part = self.payload[:, :n_in], self.payload[:, n_in + 1:]

    def run_spk(self):
        slots, steps = self.proc_params["slots"], self.proc_params["steps"]
        phases = self.proc_params["phases"]["learn" if self.learn[0] else "eval"]
        a = self.a_in.recv().reshape(slots, -1)
        k = int(self.k[0])
        p, j = divmod(k, steps + 1)
        mode, beta = phases[p]
        if k == 0:
            self.x_part[:] = self.net.rho_in(self.x)
        if self.ep:
            self._ep_step(a, mode, beta, j)
        else:
            self._la_step(a, mode, j)
        if j == steps:
            if self.ep:
                self.ends[p] = self.s
            else:
                self.ends[0], self.ends[1] = self.s, self.d
        self.s_out.send(self.payload.ravel())
        self.k[0] = (k + 1) % (len(phases) * (steps + 1))

    def _ep_step(self, h, mode, beta, j):
        net = self.net
        if j == 0:
            if mode == sch.RESET:
                self.s = np.zeros_like(self.s)
            elif mode == sch.SAVE:
                self.s_free = self.s
            elif mode == sch.RESTORE:
                self.s = self.s_free
        elif net.boxed:  # all hard_sigmoid: Hopfield's gain is 1, its projection one clip, ρ(s) = s on the box;
            d = h - self.s  # the same float operations as drift/project, without their per-population calls
            if beta:
                d[:, self.out] -= beta * costs.grad(self.cost, self.s[:, self.out], self.y)
            self.s = np.clip(self.s + self.dt * d, 0.0, 1.0)
        else:
            d = net.gain(self.s) * h - self.s
            if beta:
                d = d - beta * net.cost_grad(self.s, self.y)
            self.s = net.project(self.s + self.dt * d)
        self.state_part[:] = self.s if net.boxed else net.rho(self.s)

    def _la_step(self, ze, mode, j):
        """a: activations (the state s), d: sensitivities; z = W a + b, e = Wᵀ δ (+ ∂loss/∂a at the output)."""
        if j == 0:
            if mode == sch.RESET:
                self.s, self.d = np.zeros_like(self.s), np.zeros_like(self.d)
        else:
            z, e = ze[:, :self.n], ze[:, self.n:].copy()
            e[:, self.out] += costs.grad(self.cost, self.s[:, self.out], self.y)
            new_a, new_d = np.empty_like(self.s), np.empty_like(self.d)
            for sl, fn, k in self.acts:
                new_a[:, sl] = self.s[:, sl] + k * (act.rho(fn, z[:, sl]) - self.s[:, sl])
                new_d[:, sl] = self.d[:, sl] + k * (act.drho(fn, z[:, sl]) * e[:, sl] - self.d[:, sl])
            self.s, self.d = new_a, new_d
        self.state_part[:, :self.n], self.state_part[:, self.n:] = self.s, self.d
