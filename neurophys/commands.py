"""The core subcommands: validate, gradcheck, train, backends."""
from __future__ import annotations

import math
import sys
import textwrap

import numpy as np

from . import footprint, ir
from .atomic import check_writable
from .cli import add_command
from .data import load_split
from .ir.errors import ValidationError
from .standard_json import dumps


UNDEFINED = "undefined (exact gradient is zero)"


def register(sub) -> None:
    p = add_command(sub, "validate", "check a graph file; exit 2 with the field path if it is malformed")
    p.add_argument("file", help="graph JSON file")
    p.set_defaults(func=cmd_validate)

    p = add_command(sub, "gradcheck", "compare the graph's local update with the exact gradient on one batch")
    p.add_argument("file", help="graph JSON file")
    p.add_argument("--batch", type=int, default=16, help="batch size drawn from the training split (default 16)")
    p.add_argument("--seed", type=int, default=0, help="seed of the batch drawn (default 0)")
    p.add_argument("--fd", action="store_true", help="also check the exact gradient against finite differences")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_gradcheck)

    p = add_command(sub, "train", "train with the reference engine and report accuracy")
    p.add_argument("file", help="graph JSON file")
    p.add_argument("--epochs", type=int, default=None, help="epochs to train (default: the file's training.epochs)")
    p.add_argument("--save", metavar="OUT.json", help="write the trained graph here")
    p.add_argument("--json", action="store_true", help="print the per-epoch history as JSON")
    p.set_defaults(func=cmd_train)

    p = add_command(sub, "backends", "list the registered backends, the rule families each runs, and what a "
                                     "missing one needs installed")
    p.set_defaults(func=cmd_backends)


def cmd_validate(args) -> int:
    g = ir.load(args.file)
    n = sum(v.size for v in g.params().values())
    print(f"ok: {args.file}: graph {g.name!r}, family {g.rule.family}, {len(g.populations)} populations, "
          f"{len(g.couplings)} couplings, {n} trainable values")
    return 0


def _batch(graph, size: int, seed: int):
    if graph.dataset is None:
        raise ValidationError("dataset", "the graph has no dataset to draw a batch from")
    if size <= 0:
        raise ValidationError("--batch", f"{size} must be positive")
    split = load_split(graph.dataset)
    idx = np.random.default_rng(seed).choice(len(split.x_train), size=min(size, len(split.x_train)), replace=False)
    return split.x_train[idx], split.y_train[idx]


def cmd_gradcheck(args) -> int:
    from .gradcheck import gradcheck

    g = ir.load(args.file)
    footprint.check(g)
    x, y = _batch(g, args.batch, args.seed)
    rep = gradcheck(g, x, y, fd=args.fd)
    if args.json:
        print(dumps(rep))
        return 0
    print(f"{g.name}: {rep['family']} local update vs −lr·∇({rep['cost']} cost), batch {rep['batch']}")
    cols = ("cosine", "nrmse", "sign_error", "rel_error")
    print(f"{'parameter':<20}" + "".join(f"{c:>12}" for c in cols) + ("  fd_rel_err" if args.fd else ""))
    rows = list(rep["params"].items()) + [("GLOBAL", rep["global"])]
    undefined = [name for name, m in rows if math.isnan(m["rel_error"])]  # metrics: undefined (NaN) where g = 0, u ≠ 0
    for name, m in rows:
        fd = f"  {rep['fd_rel_error'][name]:.2e}" if args.fd and name in rep["fd_rel_error"] else ""
        figures = f"{UNDEFINED:>48}" if name in undefined else "".join(f"{m[c]:>12.6f}" if np.isfinite(m[c]) else f"{'undefined':>12}" for c in cols)
        print(f"{name:<20}{figures}{fd}")
    if undefined:
        print(textwrap.fill(
            f"undefined: the exact gradient of {', '.join(undefined)} is exactly zero on this batch while the local "
            "update is not, so there is no direction to compare with. No error signal reaches these parameters: on "
            "every sample the units between them and the cost sit where their activation is flat (hard_sigmoid "
            "saturated at 0 or 1, slope 0) or the input they multiply is 0. The local update there is the rule's "
            "estimation error (e.g. a finite nudge β stepping across the saturation).", width=100))
    if "vs_task" in rep:
        m = rep["vs_task"]["global"]
        print(f"vs the task (MSE) gradient, reported not asserted: cosine {m['cosine']:.6f}, rel_error {m['rel_error']:.3g}")
    return 0


def cmd_backends(args) -> int:
    from .plugins import install_hint, registered

    rows = []
    for ep in registered("neurophys.backends"):
        hint = install_hint(ep)
        if hint:
            rows.append((ep.name, f"not installed: {hint}"))
            continue
        try:
            rows.append((ep.name, ", ".join(ep.load().families)))
        except ImportError as exc:  # its extra is there but something it imports is not
            rows.append((ep.name, f"cannot be loaded: {exc}"))
    width = max(len(name) for name, _ in rows)
    print(f"{'backend':<{width}}  families it runs (neurophys hil FILE --backend NAME)")
    for name, what in rows:
        print(f"{name:<{width}}  {what}")
    return 0


def _on_a_terminal() -> bool:
    """Both streams on a terminal: a progress bar (stderr) cannot end up in a log or a pipe."""
    return sys.stdout.isatty() and sys.stderr.isatty()


def _epoch_figures(h: dict) -> str:
    return f"loss {h['loss']:.4f}  train {100 * h['train_accuracy']:.2f}%  test {100 * h['test_accuracy']:.2f}%"


def cmd_train(args) -> int:
    from tqdm import tqdm

    from .train import batches_per_epoch, train

    g = ir.load(args.file)
    if args.save:  # refused now, not after the training it would lose
        check_writable(args.save)
    footprint.check(g)
    if args.epochs is not None and args.epochs <= 0:
        raise ValidationError("--epochs", f"{args.epochs} must be positive")
    split = load_split(g.dataset) if g.dataset is not None else None
    if split is None:
        raise ValidationError("dataset", "the graph has no dataset to train on")
    epochs = args.epochs or g.training.epochs
    if args.json:
        hist = train(g, epochs, split)
        print(dumps(hist))
    elif _on_a_terminal():  # one bar that redraws in place, the epoch's figures beside it
        with tqdm(total=epochs * batches_per_epoch(g, split), desc=f"train {g.name}", unit="batch",
                  file=sys.stderr) as bar:
            hist = train(g, epochs, split, progress=bar.update,
                         on_epoch=lambda h: bar.set_postfix_str(_epoch_figures(h), refresh=False))
    else:  # a log file or a pipe: one plain line per epoch, written as it ends
        hist = train(g, epochs, split, on_epoch=lambda h: print(f"epoch {h['epoch']:>3}  {_epoch_figures(h)}", flush=True))
    if not args.json:
        print(f"final: train accuracy {100 * hist[-1]['train_accuracy']:.2f}%, test accuracy {100 * hist[-1]['test_accuracy']:.2f}%")
    if args.save:
        ir.save(g, args.save)
        print(f"saved {args.save}")
    return 0
