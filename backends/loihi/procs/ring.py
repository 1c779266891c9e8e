"""What every chip-path neuron shares: the ring schedule it reads (schedule.py, one column per time
step), and the third factors it sends to the LearningDense connections it is post-synaptic to.

Learning happens in Lava's LearningDense (Loihi3FLearningRule, tag variant, see learning.py); the
neuron only tells it *when* and *how much*: y2 / y3 carry its contrast value at a phase's last step
(positive / negative part: Loihi 2 traces are unsigned), y1 carries the apply scale on the ring's
apply steps, and a back-propagating action potential (bap, the y0 dependency) on the last apply
step clears the tag. `one_out` is a unit that always fires with ρ = 1: the pre-synaptic side of the
bias connection, so biases learn on the learning engine like any weight.
"""
from __future__ import annotations

import numpy as np
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.variable import Var

from .. import schedule as sch
from .trace import trace_var


def declare(proc, size: int, apply_steps: int, record: int) -> None:
    """Ports and Vars of the ring schedule and the learning factors (called from a Process's __init__)."""
    proc.y_in = InPort((size,))
    proc.one_out = OutPort((1,))
    proc.y1_out = OutPort((size,))
    proc.y2_out = OutPort((size,))
    proc.y3_out = OutPort((size,))
    proc.bap_out = OutPort((size,))
    proc.trace = trace_var(size, record)
    proc.learn = Var((1,), init=0)            # 1: the learning table, 0: the evaluation table
    proc.n_real = Var((1,), init=0)           # slots past this are padding: no contrast
    proc.apply_y1 = Var((apply_steps,), init=np.zeros(apply_steps))  # y1 on each apply step


class RingFloat:
    """Mixin for floating-point neuron models."""
    y_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    one_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    y1_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    y2_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    y3_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    bap_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    trace: np.ndarray = LavaPyType(np.ndarray, float)
    learn: np.ndarray = LavaPyType(np.ndarray, int)
    n_real: np.ndarray = LavaPyType(np.ndarray, int)
    apply_y1: np.ndarray = LavaPyType(np.ndarray, float)
    ONE = 1.0  # payload of the always-on unit

    def control(self):
        """This step's control column and its index k in the ring."""
        table = self.proc_params["learn_ctrl"] if self.learn[0] else self.proc_params["eval_ctrl"]
        k = (self.time_step - 1) % table.shape[1]
        return table[:, k], k

    def sign(self, c) -> int:
        """±1 at a real sample's phase end (its sign in the contrast), 0 elsewhere."""
        return int(c[sch.SIGN]) if c[sch.SLOT] < self.n_real[0] else 0

    def send_factors(self, c, k, y2, y3) -> None:
        """y2, y3 (contrast parts), y1 and bap on apply steps, and the always-on unit."""
        j = k - self.proc_params["apply_at"]
        on = c[sch.APPLY] and self.apply_y1.any()
        y1 = self.apply_y1[j] if on else 0
        last = on and j == len(self.apply_y1) - 1
        n = y2.shape
        self.y1_out.send(np.full(n, y1, dtype=y2.dtype))
        self.y2_out.send(y2)
        self.y3_out.send(y3)
        self.bap_out.send(np.full(n, 1 if last else 0, dtype=y2.dtype))
        self.one_out.send(np.array([self.ONE], dtype=y2.dtype))


class RingFixed(RingFloat):
    """Mixin for integer neuron models: 7-bit factors, the always-on unit sends payload 254 (x1 = 127)."""
    y_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)
    one_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=8)
    y1_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    y2_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    y3_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    bap_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=1)
    apply_y1: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=7)
    ONE = 254
