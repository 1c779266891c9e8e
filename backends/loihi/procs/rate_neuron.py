"""An EP population as a Lava Process: state s, projected Euler steps of −∂F/∂s.

The field arrives from Dense connections (graded spikes carrying ρ of the neighbours), one step
late: the control word's hold step at each phase opening absorbs that delay (see schedule.py).
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
from ..numerics import COEF_FRAC, DECAY_FRAC, MESSAGE_BITS, STATE_BITS, STATE_FRAC, rshift_round
from .trace import record, trace_var


class RateNeuron(AbstractProcess):
    """a_in: field from Dense; ctrl: control word; y_in: target (output population only).
    s_out: ρ(s) as graded spikes; trace: s over the last `record` steps (output population only)."""

    def __init__(self, *, size: int, bias, dt: float, activation: str, cost: str | None = None,
                 trainable_bias: bool = False, record: int = 0, name: str | None = None):
        super().__init__(activation=activation, cost=cost, trainable_bias=trainable_bias, record=record, name=name)
        self.a_in = InPort((size,))
        self.ctrl = InPort((sch.WIDTH,))
        self.y_in = InPort((size,))
        self.s_out = OutPort((size,))
        self.trace = trace_var(size, record)
        self.s = Var((size,), init=np.zeros(size))
        self.s_free = Var((size,), init=np.zeros(size))
        self.bias = Var((size,), init=np.asarray(bias, float))
        self.bias_acc = Var((size,), init=np.zeros(size))
        self.dt = Var((1,), init=float(dt))


@implements(proc=RateNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyRateNeuronFloat(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    ctrl: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    y_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    trace: np.ndarray = LavaPyType(np.ndarray, float)
    s: np.ndarray = LavaPyType(np.ndarray, float)
    s_free: np.ndarray = LavaPyType(np.ndarray, float)
    bias: np.ndarray = LavaPyType(np.ndarray, float)
    bias_acc: np.ndarray = LavaPyType(np.ndarray, float)
    dt: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self):
        a, c, y = self.a_in.recv(), self.ctrl.recv(), self.y_in.recv()
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
        record(self, self.s)
        if self.proc_params["trainable_bias"]:
            # Δb = coef·ρ at each phase end (−∂E/∂b = ρ), applied at the batch end
            self.bias_acc = self.bias_acc + c[sch.COEF] * r
            if c[sch.APPLY]:
                self.bias = self.bias + c[sch.APPLY] * self.bias_acc
                self.bias_acc = np.zeros_like(self.bias_acc)


@implements(proc=RateNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyRateNeuronFixed(PyLoihiProcessModel):
    """Integer EP unit (hard_sigmoid, mse; the fixed backend refuses the rest): 24-bit state with
    1.0 ↔ 2^12, dt and β as 12-bit fractions, every product rounded to nearest by a shift."""
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)
    ctrl: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)
    y_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=MESSAGE_BITS)
    trace: np.ndarray = LavaPyType(np.ndarray, float)
    s: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=STATE_BITS)
    s_free: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=STATE_BITS)
    bias: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=STATE_BITS)
    bias_acc: np.ndarray = LavaPyType(np.ndarray, np.int64)
    dt: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=DECAY_FRAC)

    def run_spk(self):
        a, c, y = self.a_in.recv(), self.ctrl.recv(), self.y_in.recv()
        one = 1 << STATE_FRAC
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
            self.s = np.clip(self.s + rshift_round(np.int64(self.dt[0]) * d, DECAY_FRAC), 0, one).astype(np.int32)
        r = np.clip(self.s, 0, one).astype(np.int32)
        self.s_out.send(r)
        record(self, self.s)
        if self.proc_params["trainable_bias"]:
            self.bias_acc = self.bias_acc + np.int64(c[sch.COEF]) * r
            if c[sch.APPLY]:
                self.bias = (self.bias + rshift_round(np.int64(c[sch.APPLY]) * self.bias_acc, 2 * COEF_FRAC)).astype(np.int32)
                self.bias_acc = np.zeros_like(self.bias_acc)
