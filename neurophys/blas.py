"""BLAS on one thread for the small matrices of a HIL step.

The crossbar's systems are a few hundred lines: OpenBLAS's default of one thread per core buys
nothing at that size and, on a busy machine (or beside the emulator's own thread), its threads
wait on each other — a 256×256 Cholesky ran 27× slower on a loaded 2-core box. The limit is
process-wide (that is how BLAS libraries work), so it is set for the duration of a block only.
"""
from __future__ import annotations

from contextlib import contextmanager

_controller = None


@contextmanager
def small_matrices(threads: int = 1):
    """Run the block with BLAS limited to `threads` threads (numpy's and scipy's libraries alike)."""
    global _controller
    if _controller is None:
        import scipy.linalg  # noqa: F401  (loads scipy's BLAS, so the controller sees it too)
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    with _controller.limit(limits=threads, user_api="blas"):
        yield
