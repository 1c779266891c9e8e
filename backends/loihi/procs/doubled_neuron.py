"""A least-action population as a Lava Process on the chip path: activation a and sensitivity δ on
the same unit, samples one after another on the ring schedule it holds (ring.py).

Forward Dense(W) carries a to the next layer's pre-activation, backward Dense(Wᵀ) carries δ back;
both arrive one step late, which is exactly the synchronous Euler step of the reference flow (new a,
δ from the previous step's a, δ) once the opening hold step has primed the delay.
Learning factors at the flow's end (sign −1: ΔW = −lr δ_dst a_srcᵀ): as the post side of its
incoming forward connections (pre trace x1 = a_src/2) the unit sends y2/y3 = the positive/negative
parts of 2·sign·δ; as the post side of its outgoing backward connections (pre trace x1 = δ_dst/2) it
sends u2/u3 = the parts of 2·sign·a. (A signed payload into x1 is the float learning model's: on
the chip δ would need a ± pair of populations; this path is float only.)
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
from . import ring
from .trace import record


class DoubledNeuron(AbstractProcess):
    """z_in: Σ W a_src; e_in: Σ Wᵀ δ_dst; y_in: target (output only). a_out, d_out: the two fields;
    y1/y2/y3/bap/one_out: ring.py; u2/u3: learning factors for the backward connections."""

    def __init__(self, *, size: int, bias, k: float, activation: str, learn_ctrl, eval_ctrl, apply_at: int,
                 apply_steps: int, cost: str | None = None, record: int = 0, name: str | None = None):
        super().__init__(activation=activation, cost=cost, learn_ctrl=learn_ctrl, eval_ctrl=eval_ctrl,
                         apply_at=apply_at, record=record, name=name)
        self.z_in = InPort((size,))
        self.e_in = InPort((size,))
        self.a_out = OutPort((size,))
        self.d_out = OutPort((size,))
        self.u2_out = OutPort((size,))
        self.u3_out = OutPort((size,))
        ring.declare(self, size, apply_steps, record)
        self.a = Var((size,), init=np.zeros(size))
        self.d = Var((size,), init=np.zeros(size))
        self.bias = Var((size,), init=np.asarray(bias, float))
        self.k = Var((1,), init=float(k))


@implements(proc=DoubledNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyDoubledNeuronFloat(ring.RingFloat, PyLoihiProcessModel):
    z_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    e_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    d_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    u2_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    u3_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    a: np.ndarray = LavaPyType(np.ndarray, float)
    d: np.ndarray = LavaPyType(np.ndarray, float)
    bias: np.ndarray = LavaPyType(np.ndarray, float)
    k: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self):
        zin, e, y = self.z_in.recv(), self.e_in.recv(), self.y_in.recv()
        c, t = self.control()
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
        sign = self.sign(c)
        v, w = 2 * sign * self.d, 2 * sign * self.a
        self.u2_out.send(np.maximum(w, 0))
        self.u3_out.send(np.maximum(-w, 0))
        self.send_factors(c, t, np.maximum(v, 0), np.maximum(-v, 0))
        record(self, self.a)
