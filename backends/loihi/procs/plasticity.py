"""The local learning rule of one coupling as a Lava Process: Δw accumulates coef·post·preᵀ at
every phase end and is written into the Dense weights (and the transposed backward Dense) through
RefPorts at the batch end.

Not on-chip: Loihi 2 learning-rule strings see decaying spike traces, not the graded states at a
phase's last step with a phase-dependent sign, so this rule runs as a host-CPU ProcessModel.
"""
from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyRefPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, RefPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from .. import schedule as sch


class Plasticity(AbstractProcess):
    def __init__(self, *, shape: tuple[int, int], name: str | None = None):
        super().__init__(name=name)
        n_dst, n_src = shape
        self.pre = InPort((n_src,))
        self.post = InPort((n_dst,))
        self.ctrl = InPort((sch.WIDTH,))
        self.w_fwd = RefPort((n_dst, n_src))
        self.w_bwd = RefPort((n_src, n_dst))
        self.acc = Var((n_dst, n_src), init=np.zeros((n_dst, n_src)))
        self.scale = Var((1,), init=0.0)


@implements(proc=Plasticity, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyPlasticityFloat(PyLoihiProcessModel):
    pre: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    post: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    ctrl: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    w_fwd: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, float)
    w_bwd: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, float)
    acc: np.ndarray = LavaPyType(np.ndarray, float)
    scale: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self):
        pre, post, c = self.pre.recv(), self.post.recv(), self.ctrl.recv()
        if c[sch.COEF]:
            self.acc = self.acc + c[sch.COEF] * np.outer(post, pre)
        self.scale = np.array([c[sch.APPLY]])

    def post_guard(self):
        return bool(self.scale[0])

    def run_post_mgmt(self):
        dw = self.scale[0] * self.acc
        self.w_fwd.write(self.w_fwd.read() + dw)
        if self.w_bwd.csp_ports:  # no backward Dense for couplings from a clamped input
            self.w_bwd.write(self.w_bwd.read() + dw.T)
        self.acc = np.zeros_like(self.acc)
