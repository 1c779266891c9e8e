"""Open a backend by its registered name; for a board backend with no board given, start the
embedded emulator on a pty so the very same driver path is exercised without hardware. The
embedded board is sized for the graph when the backend can say what it needs (`board_shape`)."""
from __future__ import annotations

import sys
from contextlib import ExitStack, contextmanager

from neurophys.backend import get_backend
from neurophys.ir.errors import ValidationError

BOARD_BACKENDS = ("crossbar",)          # backends that drive a serial-attached board
EMULATOR = {"model": "ideal", "seed": 0}  # the embedded default board


def _say(msg: str) -> None:
    print(msg, file=sys.stderr)


def emulator_options(cls, graph=None, update: str | None = None, **overrides) -> dict:
    """The embedded board's options: the defaults, the shape the backend needs for `graph` (with the
    update policy `update`: Tiki-Taka needs a second array), overrides."""
    opts = dict(EMULATOR)
    shape = getattr(cls, "board_shape", None)
    if graph is not None and shape is not None:
        opts["rows"], opts["cols"] = shape(graph, **({"update": update} if update else {}))
    opts.update(overrides)
    return opts


@contextmanager
def open_backend(name: str, board: str | None = None, notify=_say, graph=None, emulator: dict | None = None,
                 **options):
    """Yield an instantiated backend (closed on exit, with any emulator it started). `graph` lets
    the embedded emulator be served at the size the graph needs; `emulator` overrides its options
    (e.g. {"model": "reram"})."""
    cls = get_backend(name) if isinstance(name, str) else name
    label = name if isinstance(name, str) else cls.name
    if board is not None and label not in BOARD_BACKENDS:
        raise ValidationError("board", f"backend {label!r} does not drive a board (only {', '.join(BOARD_BACKENDS)} does)")
    if emulator and label not in BOARD_BACKENDS:
        raise ValidationError("model", f"backend {label!r} runs no board emulator (only {', '.join(BOARD_BACKENDS)} does)")
    with ExitStack() as stack:
        if label in BOARD_BACKENDS:
            if board is None:
                from neurophys.firmware_interface import serve_pty

                opts = emulator_options(cls, graph, options.get("update"), **(emulator or {}))
                board = stack.enter_context(serve_pty(**opts)).path
                size = f"{opts['rows']}x{opts['cols']} " if "rows" in opts else ""
                notify(f"no --board given: serving the embedded board emulator ({size}{opts['model']} devices) on {board}")
            options["board"] = board
        yield stack.enter_context(cls(**options))
