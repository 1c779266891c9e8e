"""The `neurophys` command line.

Core subcommands live here; others (board, hil, nir, demo …) are found through the
`neurophys.commands` entry-point group so the core never imports an upper layer. An entry
point names a function `register(subparsers)` that adds its subparser and sets
`func=callable(args) -> int`.
"""
from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points, metadata, version

from .ir.errors import ValidationError


def _plugin_commands():
    return sorted(entry_points(group="neurophys.commands"), key=lambda ep: ep.name)


def add_command(sub, name: str, summary: str, **kwargs) -> argparse.ArgumentParser:
    """A subcommand whose --help opens with the summary `neurophys --help` lists beside its name."""
    kwargs.setdefault("description", summary[0].upper() + summary[1:] + ".")
    return sub.add_parser(name, help=summary, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neurophys", description=metadata("neurophys")["Summary"],
                                     epilog="`neurophys COMMAND --help` lists a command's options.")
    parser.add_argument("--version", action="version", version=f"neurophys {version('neurophys')}",
                        help="print the installed version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    from . import commands

    commands.register(sub)
    for ep in _plugin_commands():
        try:
            ep.load()(sub)
        except ImportError as exc:  # a plugin whose optional dependency is missing
            p = sub.add_parser(ep.name, help=f"(unavailable: {exc})")
            p.set_defaults(func=lambda args, exc=exc, name=ep.name: _unavailable(name, exc))
    return parser


def _unavailable(name: str, exc: Exception) -> int:
    print(f"neurophys {name}: unavailable: {exc}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
