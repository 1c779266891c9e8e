"""Hardware-in-the-loop harness: a backend performs the local learning step, the harness reads the
parameters back and compares the measured update with the exact gradient the digital twin computes
at the *measured* parameters — per coupling, per step.

    from neurophys.hil import run, open_backend
    with open_backend("reference") as backend:
        summary = run(graph, backend, mode="train", steps=20, out="runs/x")
"""
__all__ = ["run", "open_backend", "MODES"]


def __getattr__(name):  # lazy: `neurophys <any command>` imports hil.cli, which must not pull in matplotlib
    if name == "open_backend":
        from .backends import open_backend
        return open_backend
    if name in ("run", "MODES"):
        from . import harness
        return getattr(harness, name)
    raise AttributeError(f"module 'hil' has no attribute {name!r}")
