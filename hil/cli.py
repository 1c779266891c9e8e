"""`neurophys hil FILE --backend NAME [--board URL | --model NAME] [--reads N] [--hw] [--mode train|stat|sweep]
[--steps N] [--out DIR [--resume | --force]] [--json]`"""
from __future__ import annotations

import sys
from pathlib import Path

from neurophys.ir.errors import ValidationError
from neurophys.plugins import listing


def register(subparsers) -> None:
    p = subparsers.add_parser("hil", help="hardware-in-the-loop: compare a backend's measured updates with the exact gradient",
                              description="Run learning steps on a backend, read the parameters back and compare the "
                                          "measured update with −lr·dL/dθ computed by the digital twin at the measured θ.")
    p.add_argument("file", help="graph JSON file")
    p.add_argument("--backend", default="reference", help=f"registered backend: {listing('neurophys.backends')} "
                                                          "(default: reference)")
    p.add_argument("--board", metavar="URL", help="board for a board backend (/dev/ttyACM0, socket://HOST:PORT, "
                                                  "emu://...); default: the embedded emulator on a pty")
    p.add_argument("--model", metavar="NAME", help="device model of the embedded emulator (ideal, reram or a JSON "
                                                    "device-model file; default ideal); not with --board")
    p.add_argument("--reads", type=int, metavar="N", help="board backends: average N read-backs per measurement of "
                                                          "the conductances (read noise ÷ √N; default 1)")
    p.add_argument("--update", metavar="POLICY", help="board backends: how a step becomes pulses — direct, managed "
                                                      "(aihwkit's update/bit-length management), mixed (mixed precision) "
                                                      "or tiki-taka (Tiki-Taka v2, least action); default direct")
    p.add_argument("--threshold", type=float, metavar="STEPS", help="with --update mixed: pulse a device once its "
                                                                    "accumulated update reaches this many of its steps "
                                                                    "(1, 2, 4, 8; 3, 5, 6, 7 from firmware 1.5); "
                                                                    "larger: fewer pulses, updates that lag the gradient "
                                                                    "(default 6 for LOCAL_LEARN, 1 for UPDATE_OUTER)")
    p.add_argument("--board-seed", type=int, metavar="N", help="device-to-device draw of the embedded emulator "
                                                              "(default 0); not with --board")
    p.add_argument("--hw", action="store_true", help="run on the real chip (backends with a hardware run config, e.g. "
                                                    "loihi with lava-loihi installed); default: simulation")
    p.add_argument("--mode", default="train",  # checked by run(): importing the harness here would slow every command
                   help="train: learning curves; stat: repeat one step n times; sweep: vary β or η (default: train)")
    p.add_argument("--steps", type=int, default=20, help="steps (stat: repeats; sweep: steps per value); default 20")
    p.add_argument("--values", help="sweep values, comma-separated, e.g. 1e-3,1e-2,1e-1")
    p.add_argument("--k", type=float, default=4.0, help="stat: pass when |mean(u) − E[u]| ≤ k·σ/√n (default 4)")
    p.add_argument("--eval-every", type=int, default=10, help="evaluate loss/accuracy (free phase) every N steps and "
                                                             "after the last (default 10)")
    p.add_argument("--audit", type=float, metavar="F", help="train: read back a random fraction F of the parameters each "
                                                            "step (metrics with confidence intervals) instead of all")
    p.add_argument("--full-every", type=int, default=10, metavar="N", help="with --audit: a full read every N steps "
                                                                         "and at the end (default 10)")
    p.add_argument("--seed", type=int, default=None, help="batch order seed (default: the file's training.seed)")
    p.add_argument("--out", metavar="DIR", help="output folder (default runs/hil-<graph>-<backend>-<time>/); an "
                                                "existing run there is refused unless --resume or --force")
    p.add_argument("--resume", action="store_true", help="continue the train run in --out from its last checkpoint "
                                                         "(same options; --steps may grow), appending to its log")
    p.add_argument("--force", action="store_true", help="replace the run in --out")
    p.add_argument("--json", action="store_true", help="print summary.json to stdout instead of the table")
    p.add_argument("--check-chip", action="store_true", help="Lava backends: print what each process of the compiled "
                                                             "network needs on Loihi 2; exit 2 naming what would not map")
    p.set_defaults(func=cmd_hil)


def parse_values(text: str | None) -> tuple[float, ...]:
    if text is None:
        return ()
    out = []
    for item in text.split(","):
        try:
            out.append(float(item))
        except ValueError:
            raise ValidationError("--values", f"{item.strip()!r} is not a number (expected e.g. 1e-3,1e-2)") from None
    return tuple(out)


def _takes(backend: str, option: str, flag: str, otherwise: str) -> None:
    """Refuse `flag` for a backend whose constructor has no `option` parameter."""
    import inspect

    from neurophys.backend import get_backend

    if option not in inspect.signature(get_backend(backend)).parameters:
        raise ValidationError(flag, f"backend {backend!r} {otherwise}")


def cmd_hil(args) -> int:
    from neurophys.blas import small_matrices

    # one BLAS thread for the whole run, the emulator's thread included: idle BLAS threads spinning
    # beside a HIL loop cost a third more CPU for no speed, and a sweep runs several such processes
    with small_matrices():
        return _cmd_hil(args)


def _cmd_hil(args) -> int:
    from neurophys import ir
    from neurophys.backend import UnsupportedGraph, get_backend
    from neurophys.standard_json import dumps

    from .backends import open_backend
    from .run_folder import default_out, refuse_existing
    from .table import render

    graph = ir.load(args.file)
    families = get_backend(args.backend).families  # refused before a board or emulator is started
    if graph.rule.family not in families:
        raise UnsupportedGraph("rule.family", f"backend {args.backend!r} runs {', '.join(families)}; "
                                              f"not {graph.rule.family!r}")
    values = parse_values(args.values)
    options = {}
    if args.hw:
        _takes(args.backend, "hw", "--hw", "has no hardware run config (--hw is for backends that take hw=, "
                                           "e.g. loihi, loihi-fixed, loihi-lif)")
        options["hw"] = True
    if args.reads is not None:
        _takes(args.backend, "reads", "--reads", "reads no conductances back from a board (--reads is for crossbar)")
        options["reads"] = args.reads
    if args.update is not None:
        _takes(args.backend, "update", "--update", "has no update policies (--update is for crossbar)")
        get_backend(args.backend).check_update(args.update, graph)
        options["update"] = args.update
        if args.update == "tiki-taka" and args.mode == "stat":
            raise ValidationError("--mode", "stat tests that one step's mean update is −lr·∇; with --update tiki-taka "
                                            "the weights move by transfers of a filtered sum of past steps, so no "
                                            "single step's mean is: use --mode train")
    if args.threshold is not None:
        if options.get("update") != "mixed":
            raise ValidationError("--threshold", "is mixed precision's pulse threshold: give it with --update mixed")
        get_backend(args.backend).check_threshold(args.threshold, "--threshold")
        options["threshold"] = args.threshold
    emulator = None
    if args.board_seed is not None:
        if args.board is not None:
            raise ValidationError("--board-seed", "the seed draws the embedded emulator's devices; a board given by "
                                                  "--board has its own")
        emulator = {"seed": args.board_seed}
    if args.model is not None:
        if args.board is not None:
            raise ValidationError("--model", "the device model is the embedded emulator's; a board given by --board "
                                             "has its own devices")
        from neurophys.firmware_interface.emulator import resolve_model

        try:  # a bad name or file is named before anything starts
            resolve_model(args.model)
        except ValueError as exc:
            raise ValidationError("--model", str(exc)) from None
        emulator = {**(emulator or {}), "model": args.model}
    if args.check_chip:
        from neurophys.backends.loihi.chip_map import check_chip

        with open_backend(args.backend, graph=graph, **options) as backend:
            return check_chip(backend, graph)
    from neurophys.firmware_interface.errors import BoardException

    out = args.out or default_out(graph, args.backend)
    refuse_existing(out, args.resume, args.force)
    command = {"board": args.board, "model": args.model, **options}  # the graph itself is in run.json by digest
    from .harness import run  # matplotlib: only once the checks above passed
    try:
        with open_backend(args.backend, board=args.board, graph=graph, emulator=emulator, **options) as backend:
            summary = run(graph, backend, args.mode, args.steps, out, values=values, k=args.k,
                          eval_every=args.eval_every, seed=args.seed, audit=args.audit, full_every=args.full_every,
                          resume=args.resume, force=args.force, command=command)
    except BoardException as exc:  # a port that is not there, a link that failed: say which, no traceback
        print(f"error: board {args.board or '(embedded emulator)'}: {exc}", file=sys.stderr)
        if (Path(out) / "summary.json").exists():
            print(f"run failed; what was measured before the failure (summary.json, status \"failed\", log and "
                  f"plots) is in {out}/", file=sys.stderr)
        return 2
    if args.json:
        print(dumps(summary, indent=2))
    if summary["status"] == "interrupted":
        print(f"interrupted after {summary['steps']} steps; summary.json (status \"interrupted\"), log and plots "
              f"in {summary['out']}/ (continue with --resume)", file=sys.stderr)
        return 130
    if not args.json:
        print(render(summary))
    print(f"log, summary and plots ({', '.join(summary['plots'])}) in {summary['out']}/", file=sys.stderr)
    return 0
