"""An EP population as a Lava Process on the chip path: state s, projected Euler steps of −∂F/∂s,
samples one after another on the ring schedule it holds (ring.py).

The field arrives from (Learning)Dense connections, graded spikes carrying ρ of the neighbours, one
step late: each phase opens with a hold step that absorbs the delay (schedule.py). The payload is
what the learning engine takes as the pre-synaptic trace (x1 = payload/2, GradedSpikeCfg.OVERWRITE),
so at a phase end the neuron sends y2 or y3 = its own ρ on the scale that makes x1·y = ρ_pre·ρ_post.
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

from .. import schedule as sch
from ..numerics import DECAY_FRAC, ONE, PAYLOAD_SHIFT, STATE_BITS, rshift_round
from . import ring
from .trace import record


class RateNeuron(AbstractProcess):
    """a_in: field; y_in: target (output population only). s_out: ρ(s) as graded spikes;
    y1/y2/y3/bap/one_out: see ring.py; trace: s over the ring (output population only)."""

    def __init__(self, *, size: int, bias, dt, activation: str, learn_ctrl, eval_ctrl, apply_at: int,
                 apply_steps: int, cost: str | None = None, record: int = 0, name: str | None = None):
        super().__init__(activation=activation, cost=cost, learn_ctrl=learn_ctrl, eval_ctrl=eval_ctrl,
                         apply_at=apply_at, record=record, name=name)
        self.a_in = InPort((size,))
        self.s_out = OutPort((size,))
        ring.declare(self, size, apply_steps, record)
        self.s = Var((size,), init=np.zeros(size))
        self.s_free = Var((size,), init=np.zeros(size))
        self.bias = Var((size,), init=bias)
        self.dt = Var((1,), init=dt)


@implements(proc=RateNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyRateNeuronFloat(ring.RingFloat, PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    s: np.ndarray = LavaPyType(np.ndarray, float)
    s_free: np.ndarray = LavaPyType(np.ndarray, float)
    bias: np.ndarray = LavaPyType(np.ndarray, float)
    dt: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self):
        a, y = self.a_in.recv(), self.y_in.recv()
        c, k = self.control()
        fn, cost = self.proc_params["activation"], self.proc_params["cost"]
        mode = int(c[sch.MODE])
        if mode == sch.RESET:
            self.s = np.zeros_like(self.s)
        elif mode == sch.SAVE:
            self.s_free = self.s.copy()
        elif mode == sch.RESTORE:
            self.s = self.s_free.copy()
        elif mode == sch.EVOLVE:
            h = a + self.bias
            gain = 1.0 if act.box(fn) else act.drho(fn, self.s)
            d = gain * h - self.s
            if cost is not None and c[sch.BETA]:
                d = d - c[sch.BETA] * costs.grad(cost, self.s[None], y[None])[0]
            s = self.s + self.dt[0] * d
            self.s = np.clip(s, 0.0, 1.0) if act.box(fn) else s
        r = act.rho(fn, self.s)
        self.s_out.send(r)
        sign = self.sign(c)
        zero = np.zeros_like(r)
        self.send_factors(c, k, 2 * r if sign > 0 else zero, 2 * r if sign < 0 else zero)  # x1 = ρ_pre/2
        record(self, self.s)


@implements(proc=RateNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyRateNeuronFixed(ring.RingFixed, PyLoihiProcessModel):
    """Integer EP unit (hard_sigmoid, mse; the fixed backend refuses the rest): 24-bit state with
    1.0 ↔ ONE = 127·2^5, dt and β as 12-bit fractions, every product rounded to nearest by a shift.
    It sends q = round(127 ρ) as payload 2q (the learning engine's x1 = q) and as y2/y3 = q."""
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=8)
    s: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=STATE_BITS)
    s_free: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=STATE_BITS)
    bias: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=STATE_BITS)
    dt: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=DECAY_FRAC)

    def run_spk(self):
        a, y = self.a_in.recv(), self.y_in.recv()
        c, k = self.control()
        mode = int(c[sch.MODE])
        if mode == sch.RESET:
            self.s = np.zeros_like(self.s)
        elif mode == sch.SAVE:
            self.s_free = self.s.copy()
        elif mode == sch.RESTORE:
            self.s = self.s_free.copy()
        elif mode == sch.EVOLVE:
            d = a.astype(np.int64) + self.bias - self.s
            if self.proc_params["cost"] is not None and c[sch.BETA]:
                d = d - rshift_round(np.int64(c[sch.BETA]) * (self.s.astype(np.int64) - y), DECAY_FRAC)
            self.s = np.clip(self.s + rshift_round(np.int64(self.dt[0]) * d, DECAY_FRAC), 0, ONE).astype(np.int32)
        q = rshift_round(self.s, PAYLOAD_SHIFT).astype(np.int32)  # s ∈ [0, ONE] → q ∈ [0, 127]
        self.s_out.send(2 * q)
        sign = self.sign(c)
        zero = np.zeros_like(q)
        self.send_factors(c, k, q if sign > 0 else zero, q if sign < 0 else zero)
        record(self, self.s)
