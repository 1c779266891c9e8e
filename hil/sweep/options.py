"""The `neurophys hil` options a SPEC sets, checked against the hil command's own parser so the
sweep accepts exactly what `neurophys hil` accepts — and says which SPEC key is wrong before any
run starts, instead of failing the same way in every run."""
from __future__ import annotations

import argparse

from neurophys.ir.errors import ValidationError

RESERVED = {"file": "the graph comes from the SPEC's graph (and the grid's dotted keys)",
            "out": "the sweep names each run's folder (use neurophys sweep --out DIR)",
            "json": "the sweep writes sweep.json itself",
            "check_chip": "a chip check is not a run (use neurophys hil --check-chip)",
            "resume": "the sweep re-runs what did not complete, each run in a fresh folder",
            "force": "the sweep replaces only unfinished runs, and reuses completed ones",
            "help": "not an option of a run"}


class _Refusal(argparse.ArgumentParser):
    """The hil subparser raises instead of printing usage and exiting, so the key can be named."""

    def error(self, message):
        raise ValidationError("", message)


def hil_parser() -> argparse.ArgumentParser:
    from neurophys.hil.cli import register

    sub = _Refusal(prog="neurophys").add_subparsers(parser_class=_Refusal)
    register(sub)
    return sub.choices["hil"]


class HilOptions:
    """Turns SPEC keys and values into `neurophys hil` arguments."""

    def __init__(self):
        self.parser = hil_parser()
        self.actions = {a.dest: a for a in self.parser._actions if a.option_strings}

    def action(self, where: str, key: str) -> argparse.Action:
        dest = key.replace("-", "_")
        if dest in RESERVED:
            raise ValidationError(where, f"cannot be set by a sweep: {RESERVED[dest]}")
        if dest not in self.actions:
            names = ", ".join(sorted(k for k in self.actions if k not in RESERVED))
            raise ValidationError(where, f"{key!r} is neither a dotted graph field (e.g. rule.lr) nor a "
                                         f"neurophys hil option ({names})")
        return self.actions[dest]

    def argv(self, where: str, key: str, value) -> list[str]:
        """The arguments for one setting, checked by the hil parser (`where` names it in errors)."""
        action = self.action(where, key)
        flag = action.option_strings[-1]
        if action.nargs == 0:  # a switch such as --hw
            if not isinstance(value, bool):
                raise ValidationError(where, f"{value!r}: {flag} is a switch, give true or false")
            args = [flag] if value else []
        elif value is None:
            args = []
        elif isinstance(value, (dict, bool)):
            raise ValidationError(where, f"{value!r} is not a value for {flag}")
        else:  # a list is the comma-separated form, e.g. "values": [1e-3, 1e-2]
            args = [flag, ",".join(map(str, value)) if isinstance(value, list) else str(value)]
        try:
            self.parser.parse_args(["graph.json", *args])
        except ValidationError as exc:
            raise ValidationError(where, f"{value!r}: {exc.reason}") from None
        return args
