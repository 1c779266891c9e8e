"""SPEC.json: the graph, the settings every run shares, and the grid whose every combination is
one HIL run. Everything is checked at load — each graph field and hil option of every value —
so a typo is refused with its key named before the first of many runs starts.

    {"graph": "examples/cl_iris.json", "backend": "crossbar", "steps": 50, "mode": "train",
     "grid": {"seed": [0, 1, 2], "rule.eta": [0.01, 0.1], "model": ["ideal", "reram"]}}

Dotted keys ("rule.lr", "training.batch_size") set fields of the graph; the others are
`neurophys hil` options (seed, model, board, steps, eval_every, …). Paths are taken from the
current folder, as on the command line.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path

from neurophys import ir
from neurophys.ir.errors import ValidationError
from neurophys.ir.graph import Graph
from neurophys.ir.io import graph_from_dict, graph_to_dict

from .options import HilOptions

EMULATED = "emu://"  # board URLs served in-process: any host can run them, no resource to wait for


@dataclass(frozen=True)
class Configuration:
    """One run: its folder name, its grid values, the graph with its fields set, the hil arguments."""
    name: str
    values: dict
    graph: Graph
    argv: tuple[str, ...]
    board: str | None  # the physical board it needs (a Ray resource), None when any host can run it

    @property
    def fingerprint(self) -> str:
        """Changes with anything that changes the run: a folder of another fingerprint is not reused."""
        text = json.dumps([graph_to_dict(self.graph), self.argv], sort_keys=True, default=str)
        return hashlib.sha1(text.encode()).hexdigest()


@dataclass(frozen=True)
class Spec:
    path: Path
    grid: dict
    configurations: tuple[Configuration, ...]

    @property
    def boards(self) -> set[str]:
        return {c.board for c in self.configurations if c.board is not None}


def with_fields(graph: Graph, fields: dict) -> Graph:
    """A copy of `graph` with dotted fields set ({"rule.lr": 0.1}), validated like a graph file."""
    if not fields:
        return graph
    arrays: dict = {}
    doc = graph_to_dict(graph, arrays)
    for key, value in fields.items():
        node, parts = doc, key.split(".")
        for i, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                raise ValidationError(key, f"the graph has no field {'.'.join(parts[:i + 1])!r} "
                                           f"(dotted keys name fields of cost, rule, dataset or training)")
            if i < len(parts) - 1:
                node = node[part]
        node[parts[-1]] = value
    return graph_from_dict(doc, arrays)


def value_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def run_name(values: dict) -> str:
    """A folder name that reads as the configuration, e.g. seed=1_rule.lr=0.01_model=reram."""
    if not values:
        return "run"
    return re.sub(r"[^A-Za-z0-9.=+_-]", "-", "_".join(f"{k}={value_text(v)}" for k, v in values.items()))


class _Loader:
    def __init__(self):
        self.options = HilOptions()

    def setting(self, where: str, key: str, value, base: Graph) -> list[str]:
        """Check one setting on its own, so an error names it; return its hil arguments."""
        if "." in key:
            try:
                with_fields(base, {key: value})
            except ValidationError as exc:
                raise ValidationError(where, f"{value!r}: {exc.reason}") from None
            return []
        args = self.options.argv(where, key, value)
        dest = key.replace("-", "_")
        try:
            if dest == "backend":
                from neurophys.backend import get_backend

                get_backend(value)
            elif dest == "model" and value is not None:
                from neurophys.firmware_interface.emulator import resolve_model

                resolve_model(value)
            elif dest == "mode":
                from neurophys.hil.modes import MODES

                if value not in MODES:
                    raise ValidationError("", f"not a mode (expected one of {', '.join(MODES)})")
        except (ValueError, OSError) as exc:  # ValidationError is a ValueError
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
            raise ValidationError(where, f"{value!r}: {reason}") from None
        return args


def load_spec(path: str | Path) -> Spec:
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValidationError(str(path), "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(str(path), f"cannot read ({exc.__class__.__name__})") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(str(path), f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(doc, dict):
        raise ValidationError("", f"a SPEC is a JSON object, got {type(doc).__name__}")
    if not isinstance(doc.get("graph"), str):
        raise ValidationError("graph", "missing: the path of the graph file every run starts from")
    try:
        base = ir.load(doc["graph"])
    except ValidationError as exc:
        raise ValidationError("graph", str(exc)) from None
    grid = doc.get("grid", {})
    if not isinstance(grid, dict):
        raise ValidationError("grid", "must be an object of lists, e.g. {\"seed\": [0, 1, 2]}")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ValidationError(f"grid.{key}", "must be a non-empty list of values")
        if len(set(map(value_text, values))) < len(values):
            raise ValidationError(f"grid.{key}", "lists a value twice")
    fixed = {k: v for k, v in doc.items() if k not in ("graph", "grid")}
    both = sorted(fixed.keys() & grid.keys())
    if both:
        raise ValidationError(f"grid.{both[0]}", "is also set outside the grid; set it in one place")

    loader = _Loader()
    fixed_args = [a for k, v in fixed.items() for a in loader.setting(k, k, v, base)]
    grid_args = {(k, value_text(v)): loader.setting(f"grid.{k}", k, v, base) for k, vs in grid.items() for v in vs}
    fields = {k: v for k, v in fixed.items() if "." in k}

    configurations, names = [], set()
    for combo in itertools.product(*grid.values()):
        values = dict(zip(grid, combo))
        settings = {**fixed, **values}
        try:
            graph = with_fields(base, {**fields, **{k: v for k, v in values.items() if "." in k}})
        except ValidationError as exc:
            raise ValidationError("grid", f"the combination {values}: {exc}") from None
        name = run_name(values)
        if name in names:  # two values that differ only in characters a folder name cannot hold
            name += "-" + hashlib.sha1(json.dumps(values, sort_keys=True).encode()).hexdigest()[:8]
        names.add(name)
        board = settings.get("board")
        argv = tuple(fixed_args + [a for k, v in values.items() for a in grid_args[(k, value_text(v))]])
        configurations.append(Configuration(name, values, graph, argv,
                                            board if board and not board.startswith(EMULATED) else None))
    return Spec(path, grid, tuple(configurations))
