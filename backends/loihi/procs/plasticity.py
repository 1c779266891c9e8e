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
from ..numerics import MANT_MAX, rshift_round


class Plasticity(AbstractProcess):
    def __init__(self, *, shape: tuple[int, int], shift: int = 0, name: str | None = None):
        """shift (fixed point only): the right shift from the rule's accumulator to the weight grid."""
        super().__init__(shift=shift, name=name)
        n_dst, n_src = shape
        self.pre = InPort((n_src,))
        self.post = InPort((n_dst,))
        self.ctrl = InPort((sch.WIDTH,))
        self.w_fwd = RefPort((n_dst, n_src))
        self.w_bwd = RefPort((n_src, n_dst))
        self.acc = Var((n_dst, n_src), init=np.zeros((n_dst, n_src)))
        self.scale = Var((1,), init=0)
        self.saturated = Var((1,), init=0)


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
    saturated: np.ndarray = LavaPyType(np.ndarray, int)  # float weights never saturate: stays 0

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


@implements(proc=Plasticity, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyPlasticityFixed(PyLoihiProcessModel):
    """Integer rule: acc += COEF·post·preᵀ exactly (int64); at the batch end the weight mantissas
    (Lava's mixed-sign Dense holds 2m) move by APPLY·acc rounded to nearest, saturating at 8 bits."""
    pre: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)
    post: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)
    ctrl: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)
    w_fwd: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, np.int32)
    w_bwd: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, np.int32)
    acc: np.ndarray = LavaPyType(np.ndarray, np.int64)
    scale: np.ndarray = LavaPyType(np.ndarray, np.int64)
    saturated: np.ndarray = LavaPyType(np.ndarray, np.int64)

    def run_spk(self):
        pre, post, c = self.pre.recv(), self.post.recv(), self.ctrl.recv()
        if c[sch.COEF]:
            self.acc = self.acc + np.int64(c[sch.COEF]) * np.outer(post.astype(np.int64), pre.astype(np.int64))
        self.scale = np.array([c[sch.APPLY]], np.int64)

    def post_guard(self):
        return bool(self.scale[0])

    def run_post_mgmt(self):
        dm = rshift_round(self.scale[0] * self.acc, self.proc_params["shift"])
        m = self.w_fwd.read().astype(np.int64) // 2 + dm
        self.saturated = self.saturated + np.count_nonzero((m < -MANT_MAX - 1) | (m > MANT_MAX))
        w = 2 * np.clip(m, -MANT_MAX - 1, MANT_MAX)
        self.w_fwd.write(w)
        if self.w_bwd.csp_ports:
            self.w_bwd.write(w.T.copy())
        self.acc = np.zeros_like(self.acc)
