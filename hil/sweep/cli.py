"""`neurophys sweep SPEC.json [--workers N | --ray ADDRESS | --serial] [--out DIR] [--retries N]`"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from neurophys.ir.errors import ValidationError


def register(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="many HIL runs over a grid of settings, in parallel on Ray",
                              description="Every combination of the SPEC's grid is one `neurophys hil` run; runs "
                                          "execute in parallel on Ray (local or a cluster with boards on several "
                                          "hosts) or one after another in this process.")
    p.add_argument("spec", help="SPEC.json: {\"graph\": PATH, \"backend\": NAME, \"steps\": N, \"grid\": {\"seed\": "
                                "[0, 1], \"rule.lr\": [0.01, 0.1], \"model\": [\"ideal\", \"reram\"]}}; dotted keys "
                                "set graph fields, the others are neurophys hil options")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N", help="start a local Ray with N workers (default: one per "
                                                                "CPU core)")
    where.add_argument("--ray", metavar="ADDRESS", help="run on the existing Ray cluster at ADDRESS (e.g. "
                                                        "HEAD:6379); hosts declare their boards as resources")
    where.add_argument("--serial", action="store_true", help="run one after another in this process, without Ray")
    p.add_argument("--out", metavar="DIR", help="sweep folder; re-running into it skips completed runs "
                                                "(default runs/sweep-<spec>-<time>/)")
    p.add_argument("--retries", type=int, default=1, metavar="N", help="retry a failed run up to N times (default 1)")
    p.set_defaults(func=cmd_sweep)


def _executor(args, spec):
    from .executors import RayExecutor, SerialExecutor

    if args.serial:
        return SerialExecutor()
    try:
        import ray  # noqa: F401
    except ImportError:
        if args.ray:
            raise ValidationError("--ray", "Ray is not installed (pip install 'neurophys[ray]')") from None
        print("note: Ray is not installed (pip install 'neurophys[ray]'): running one after another in this process",
              file=sys.stderr)
        return SerialExecutor()
    return RayExecutor(spec.boards, workers=args.workers or os.cpu_count(), address=args.ray)


def cmd_sweep(args) -> int:
    from .driver import reusable, run_sweep
    from .spec import load_spec

    if args.workers is not None and args.workers <= 0:
        raise ValidationError("--workers", f"{args.workers} must be a positive integer")
    if args.retries < 0:
        raise ValidationError("--retries", f"{args.retries} must be 0 or more")
    spec = load_spec(args.spec)
    out = Path(args.out or Path("runs") / f"sweep-{Path(args.spec).stem}-{time.strftime('%Y%m%d-%H%M%S')}")
    if out.exists() and not out.is_dir():
        raise ValidationError("--out", f"{out} exists and is not a folder")
    done = reusable(spec, out)
    executor = _executor(args, spec)
    try:
        rows = run_sweep(spec, out, executor, done, args.retries)
    finally:
        executor.close()
    failed = [r for r in rows if r["status"] != "completed"]
    print(f"{len(rows) - len(failed)} of {len(rows)} runs completed; sweep.json, sweep.csv and sweep.png in {out}/"
          + (f"; failed: {', '.join(r['name'] for r in failed)}" if failed else ""), file=sys.stderr)
    return 1 if failed else 0
