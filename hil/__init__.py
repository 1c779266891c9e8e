"""Hardware-in-the-loop harness: a backend performs the local learning step, the harness reads the
parameters back and compares the measured update with the exact gradient the digital twin computes
at the *measured* parameters — per coupling, per step.

    from hil import run, open_backend
    with open_backend("reference") as backend:
        summary = run(graph, backend, mode="train", steps=20, out="runs/x")
"""
from .backends import open_backend
from .harness import MODES, run

__all__ = ["run", "open_backend", "MODES"]
