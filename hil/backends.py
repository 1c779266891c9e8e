"""Open a backend by its registered name; for a board backend with no board given, start the
embedded emulator on a pty so the very same driver path is exercised without hardware."""
from __future__ import annotations

import sys
from contextlib import ExitStack, contextmanager

from neurophys.backend import get_backend
from neurophys.ir.errors import ValidationError

BOARD_BACKENDS = ("crossbar",)          # backends that drive a serial-attached board
EMULATOR = {"model": "ideal", "seed": 0}  # the embedded default board


def _say(msg: str) -> None:
    print(msg, file=sys.stderr)


@contextmanager
def open_backend(name: str, board: str | None = None, notify=_say, **options):
    """Yield an instantiated backend (closed on exit, with any emulator it started)."""
    cls = get_backend(name)
    if board is not None and name not in BOARD_BACKENDS:
        raise ValidationError("board", f"backend {name!r} does not drive a board (only {', '.join(BOARD_BACKENDS)} does)")
    with ExitStack() as stack:
        if name in BOARD_BACKENDS:
            if board is None:
                from firmware_interface import serve_pty

                board = stack.enter_context(serve_pty(**EMULATOR)).path
                notify(f"no --board given: serving the embedded board emulator ({EMULATOR['model']} devices) on {board}")
            options["board"] = board
        yield stack.enter_context(cls(**options))
