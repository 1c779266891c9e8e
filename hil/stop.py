"""Ending a run gracefully: the first Ctrl-C (SIGINT) or SIGTERM asks the run to stop after the
step in progress, so the board is left between commands and the summary and plots of what was
measured are still written; a second Ctrl-C aborts at once (KeyboardInterrupt)."""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager


class GracefulStop(Exception):
    """Raised between steps once a stop was asked for."""


class StopRequest:
    def __init__(self):
        self.requested = False

    def check(self) -> None:
        if self.requested:
            raise GracefulStop()


@contextmanager
def stop_on_signals(request: StopRequest):
    """Route SIGINT/SIGTERM to `request` while the block runs (main thread only: elsewhere Python
    delivers no signals, and the block runs as before)."""
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handler(signum, frame):
        if request.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        request.requested = True
        print(f"\n{signal.Signals(signum).name}: stopping after this step (Ctrl-C again to stop at once)",
              file=sys.stderr)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for s, h in old.items():
            signal.signal(s, h)
