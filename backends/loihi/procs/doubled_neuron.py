"""A least-action population as a Lava Process: activation a and sensitivity δ on the same unit.

Forward Dense(W) carries a to the next layer's pre-activation, backward Dense(Wᵀ) carries δ back;
both arrive one step late, which is exactly the synchronous Euler step of the reference flow
(new a, δ from the previous step's a, δ) once the opening hold step has primed the delay.
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
from .trace import record, trace_var


class DoubledNeuron(AbstractProcess):
    """z_in: Σ W a_src; e_in: Σ Wᵀ δ_dst; y_in: target (output only). a_out, d_out: the two fields."""

    def __init__(self, *, size: int, bias, k: float, activation: str, cost: str | None = None,
                 trainable_bias: bool = False, record: int = 0, name: str | None = None):
        super().__init__(activation=activation, cost=cost, trainable_bias=trainable_bias, record=record, name=name)
        self.z_in = InPort((size,))
        self.e_in = InPort((size,))
        self.ctrl = InPort((sch.WIDTH,))
        self.y_in = InPort((size,))
        self.a_out = OutPort((size,))
        self.d_out = OutPort((size,))
        self.a = Var((size,), init=np.zeros(size))
        self.d = Var((size,), init=np.zeros(size))
        self.bias = Var((size,), init=np.asarray(bias, float))
        self.bias_acc = Var((size,), init=np.zeros(size))
        self.k = Var((1,), init=float(k))
        self.trace = trace_var(size, record)


@implements(proc=DoubledNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyDoubledNeuronFloat(PyLoihiProcessModel):
    z_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    e_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    ctrl: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    y_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    d_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    a: np.ndarray = LavaPyType(np.ndarray, float)
    d: np.ndarray = LavaPyType(np.ndarray, float)
    bias: np.ndarray = LavaPyType(np.ndarray, float)
    bias_acc: np.ndarray = LavaPyType(np.ndarray, float)
    k: np.ndarray = LavaPyType(np.ndarray, float)
    trace: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self):
        zin, e, c, y = self.z_in.recv(), self.e_in.recv(), self.ctrl.recv(), self.y_in.recv()
        fn, cost = self.proc_params["activation"], self.proc_params["cost"]
        mode = int(c[sch.MODE])
        if mode == sch.RESET:
            self.a, self.d = np.zeros_like(self.a), np.zeros_like(self.d)
        elif mode == sch.EVOLVE:
            z = zin + self.bias
            if cost is not None:
                e = e + costs.grad(cost, self.a[None], y[None])[0]
            k = self.k[0]
            self.a, self.d = self.a + k * (act.rho(fn, z) - self.a), self.d + k * (act.drho(fn, z) * e - self.d)
        self.a_out.send(self.a)
        self.d_out.send(self.d)
        record(self, self.a)
        if self.proc_params["trainable_bias"]:
            # Δb = −lr δ (coef = −lr at the flow's end), applied at the batch end
            self.bias_acc = self.bias_acc + c[sch.COEF] * self.d
            if c[sch.APPLY]:
                self.bias = self.bias + c[sch.APPLY] * self.bias_acc
                self.bias_acc = np.zeros_like(self.bias_acc)
