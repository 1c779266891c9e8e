"""An EP population as spiking neurons whose firing rate codes ρ(s), on the chip path's ring.

Each unit keeps the EP state s as its synaptic current: it integrates the binary spikes arriving
through Dense (Σ W·spikes, one step late) with the same projected Euler step as the rate unit, at a
finer step dt/substeps so s low-pass filters the spike input. Its membrane v is a non-leaky
integrate-and-fire with subtractive reset and threshold 1: v += ρ(s), a spike when v ≥ 1, v −= 1;
its rate is then ρ(s) (≤ one spike per step, so ρ must lie in [0, 1]). On the MEASURE steps (a
phase's last `window` steps) it counts its spikes; at the phase end it sends the measured rate
count/window as its post-synaptic factor y2 / y3, which the learning engine multiplies with the
pre-synaptic spike trace x1 (learning.py: an exponential trace normalised to read the rate).

Not Lava's stock LIF: that one resets v to 0 (its rate is a staircase in the current, not ρ) and has
no floor under v, and the β-nudge needs the unit's own state fed back; so this is a custom
ProcessModel (CPU), one that Loihi 2 microcode could express (a current, a voltage, a counter).
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


class SpikingUnit(AbstractProcess):
    """a_in: Σ W·spikes from Dense; y_in: target (output only). s_out: binary spikes;
    y1/y2/y3/bap/one_out: ring.py; trace: s over the ring (output population only)."""

    def __init__(self, *, size: int, bias, dt: float, window: int, activation: str, learn_ctrl, eval_ctrl,
                 apply_at: int, apply_steps: int, cost: str | None = None, record: int = 0, name: str | None = None):
        super().__init__(activation=activation, cost=cost, window=window, learn_ctrl=learn_ctrl, eval_ctrl=eval_ctrl,
                         apply_at=apply_at, record=record, name=name)
        self.a_in = InPort((size,))
        self.s_out = OutPort((size,))
        ring.declare(self, size, apply_steps, record)
        for var in ("s", "v", "s_free", "v_free", "count"):
            setattr(self, var, Var((size,), init=np.zeros(size)))
        self.bias = Var((size,), init=np.asarray(bias, float))
        self.dt = Var((1,), init=float(dt))


@implements(proc=SpikingUnit, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PySpikingUnitFloat(ring.RingFloat, PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    s: np.ndarray = LavaPyType(np.ndarray, float)
    v: np.ndarray = LavaPyType(np.ndarray, float)
    s_free: np.ndarray = LavaPyType(np.ndarray, float)
    v_free: np.ndarray = LavaPyType(np.ndarray, float)
    count: np.ndarray = LavaPyType(np.ndarray, float)
    bias: np.ndarray = LavaPyType(np.ndarray, float)
    dt: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self):
        a, y = self.a_in.recv(), self.y_in.recv()
        c, k = self.control()
        fn, cost = self.proc_params["activation"], self.proc_params["cost"]
        mode = int(c[sch.MODE])
        if mode == sch.RESET:
            self.s, self.v = np.zeros_like(self.s), np.full_like(self.v, 0.5)  # v = ½: spikes round the rate
        elif mode == sch.SAVE:
            self.s_free, self.v_free = self.s.copy(), self.v.copy()
        elif mode == sch.RESTORE:
            self.s, self.v = self.s_free.copy(), self.v_free.copy()
        if mode != sch.EVOLVE:
            self.count = np.zeros_like(self.count)  # a phase opens
        else:
            h = a + self.bias
            d = (1.0 if act.box(fn) else act.drho(fn, self.s)) * h - self.s
            if cost is not None and c[sch.BETA]:
                d = d - c[sch.BETA] * costs.grad(cost, self.s[None], y[None])[0]
            s = self.s + self.dt[0] * d
            self.s = np.clip(s, 0.0, 1.0) if act.box(fn) else s
        self.v = self.v + act.rho(fn, self.s)
        spikes = self.v >= 1.0
        self.v = self.v - spikes
        if c[sch.MEASURE]:
            self.count = self.count + spikes
        self.s_out.send(spikes.astype(float))
        sign = self.sign(c)
        rate = self.count / self.proc_params["window"]
        zero = np.zeros_like(rate)
        self.send_factors(c, k, rate if sign > 0 else zero, rate if sign < 0 else zero)
        record(self, self.s)
