"""The output population records its own state, one column per time step of the ring, in a Var the
host reads after an evaluation run. Why not a sink RingBuffer: that is one more process taking a
message every time step of every run, learning included (≈7 % of a learning step on ep_xor),
while the outputs are only read when evaluating."""
from __future__ import annotations

import numpy as np
from lava.magma.core.process.variable import Var


def trace_var(size: int, length: int) -> Var:
    """(size, length) when recording `length` steps; a 1-column placeholder when not recording."""
    return Var((size, max(length, 1)), init=np.zeros((size, max(length, 1))))


def record(model, values) -> None:
    """Store this step's values in column (t − 1) mod length, as lava's RingBuffer sink does."""
    length = model.proc_params["record"]
    if length:
        model.trace[:, (model.time_step - 1) % length] = values
