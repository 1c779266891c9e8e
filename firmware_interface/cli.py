"""``neurophys board serve|info``: run an emulated board on a pty or TCP port, or print what a
board declares about itself."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from dataclasses import fields

from neurophys.cli import add_command


def register(subparsers) -> None:
    board = subparsers.add_parser("board", help="serve an emulated crossbar board, or query a board",
                                  description=" ".join(__doc__.split("\n\n")[0].replace("``", "").split()))
    sub = board.add_subparsers(dest="board_command", metavar="ACTION")
    sub.required = True

    serve = add_command(sub, "serve", "serve an emulated board until Ctrl-C; prints its path/URL")
    where = serve.add_mutually_exclusive_group()
    where.add_argument("--pty", action="store_true", help="serve on a pseudo-terminal (default)")
    where.add_argument("--tcp", type=int, metavar="PORT", help="serve on socket://127.0.0.1:PORT (0: any free port)")
    serve.add_argument("--model", default="ideal", help="ideal, reram or a JSON device-model file")
    serve.add_argument("--rows", type=int, default=16, help="crossbar rows, the lines an MVM drives; 1–1024 (default 16)")
    serve.add_argument("--cols", type=int, default=16, help="crossbar columns, the lines an MVM reads; 1–1024 (default 16)")
    serve.add_argument("--baud", type=int, default=921600, help="emulated UART rate (with --timing)")
    serve.add_argument("--latency", type=float, default=1e-3, help="per-transfer latency in s (with --timing)")
    serve.add_argument("--timing", action="store_true", help="pace bytes and execution in real time")
    serve.add_argument("--seed", type=int, default=0, help="device-to-device variation seed")
    serve.add_argument("--noise-seed", type=int, default=1, help="cycle-to-cycle / read noise seed")
    serve.add_argument("--faults", default="", metavar="SPEC",
                       help="e.g. drop=1e-3,flip=1e-3,insert=1e-3,delay=0.01,duplicate=0.01,reset_at=500")
    serve.set_defaults(func=_serve)

    info = add_command(sub, "info", "print a board's HELLO capabilities and counters")
    info.add_argument("url", help="/dev/ttyACM0, a pty path, socket://HOST:PORT or emu://?...")
    info.add_argument("--baud", type=int, default=921600, help="serial rate for a tty (default 921600)")
    info.set_defaults(func=_info)


def _serve(args: argparse.Namespace) -> int:
    from .transports.server import serve_pty, serve_tcp

    options = dict(model=args.model, rows=args.rows, cols=args.cols, baud=args.baud, latency=args.latency,
                   timing=args.timing, seed=args.seed, noise_seed=args.noise_seed, faults=args.faults)
    try:
        server = serve_tcp(args.tcp, **options) if args.tcp is not None else serve_pty(**options)
    except (ValueError, OSError) as exc:
        print(f"neurophys board serve: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with server:
        print(server.url, flush=True)
        print(f"serving a {args.rows}x{args.cols} '{server.emulator.config.device.name}' board on "
              f"{server.url}; Ctrl-C to stop", file=sys.stderr, flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    signal.signal(signal.SIGTERM, previous)
    return 0


def _info(args: argparse.Namespace) -> int:
    from .board import Board
    from .errors import BoardException

    try:
        with Board.open(args.url, baudrate=args.baud) as board:
            caps, counters = board.caps, board.counters()
    except BoardException as exc:
        print(f"neurophys board info: {exc}", file=sys.stderr)
        return 2
    print(f"board {args.url}")
    for f in fields(caps):
        print(f"  {f.name:20s} {getattr(caps, f.name)}")
    print("counters")
    for f in fields(counters):
        value = getattr(counters, f.name)
        print(f"  {f.name:20s} {int(value.sum()) if hasattr(value, 'sum') else value}"
              + (" (total over devices)" if hasattr(value, "sum") else ""))
    return 0
