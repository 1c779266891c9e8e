"""cl_iris on the reram board over board seeds, by update policy: test accuracy, pulses per device per
step and the windowed cosine — the numbers of issue 16, judged over seeds (38 test samples: one
sample is 2.6 %).

    .venv/bin/python bench/reram_seeds.py [--seeds N] [--steps N] [--rows direct,mixed,...]
                                         [--thresholds 4,6,8] [--digits]

Each run is exactly `neurophys hil examples/cl_iris.json --backend crossbar --model reram --update U
--board-seed S --steps 300` (the embedded emulator on a pty, the harness measuring every step); the
`ideal` row is the same command on the ideal board (one seed: it has no device draw). Rows:
`direct` (the default: state-aware counts, no calibration) is the baseline the ratio column divides
by; `mixed-uncalibrated` (--update mixed, calibrate=False: the nominal step model); `mixed` (CALIBRATE
on, the default with mixed); `managed` and `tiki-taka` refuse cl_iris (LOCAL_LEARN has no pulse trains
to manage and no second array).
`--thresholds` adds a `mixed` row per mixed-precision threshold (`--threshold T`, device steps): the
trade-off between pulses and how closely the devices' summed updates follow the gradient. The K=10
column is the median over seeds of each run's median window cosine; `K=10 min` the lowest seed's.
`--digits` adds the least-action MLP on digits (examples/least_action_mlp.json, 240 steps of batch
32, one seed) with direct, managed, mixed and tiki-taka (about a minute per run). Takes about 10 s per cl_iris run on an idle core.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from neurophys import ir
from neurophys.hil import open_backend
from neurophys.hil.harness import run

ROOT = Path(__file__).resolve().parents[1]
ROWS = {"ideal": ("ideal", {}), "direct": ("reram", {}), "mixed-uncalibrated": ("reram", {"update": "mixed", "calibrate": False}),
        "mixed": ("reram", {"update": "mixed"}), "managed": ("reram", {"update": "managed"}),
        "tiki-taka": ("reram", {"update": "tiki-taka"})}


def one(example: str, model: str, options: dict, seed: int, steps: int, folder: Path) -> dict:
    """One run, in its own folder under `folder` (each run gets a fresh one)."""
    graph = ir.load(ROOT / "examples" / example)
    with open_backend("crossbar", graph=graph, notify=lambda m: None, emulator={"model": model, "seed": seed},
                      **options) as backend:
        s = run(graph, backend, "train", steps, Path(tempfile.mkdtemp(dir=folder)) / "run",
                eval_every=steps, progress=False)
    k10 = (s["windowed_cosine"] or {}).get("K=10")
    return {"acc": s["test_accuracy"], "pulses": s["board"]["pulses_per_device_per_step"]["mean"],
            "k10": k10["median"] if k10 else np.nan}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rows", default="ideal,direct,mixed-uncalibrated,mixed",
                    help="comma-separated rows of " + ", ".join(ROWS))
    ap.add_argument("--thresholds", default="", help="comma-separated mixed-precision thresholds (device steps), "
                                                     "a row each")
    ap.add_argument("--digits", action="store_true")
    args = ap.parse_args()
    rows = [r for r in args.rows.split(",") if r]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        ap.error(f"--rows: unknown row(s) {unknown}; known: {', '.join(ROWS)}")
    for t in filter(None, args.thresholds.split(",")):
        ROWS[f"mixed, threshold {float(t):g}"] = ("reram", {"update": "mixed", "threshold": float(t)})
        rows.append(f"mixed, threshold {float(t):g}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in rows:
            model, options = ROWS[name]
            seeds = [0] if model == "ideal" else range(args.seeds)
            results[name] = []
            for s in seeds:
                results[name].append(one("cl_iris.json", model, options, s, args.steps, Path(tmp)))
                x = results[name][-1]
                print(f"  {name}, seed {s}: accuracy {x['acc']:.3f}, pulses/device/step {x['pulses']:.2f}, "
                      f"K=10 cosine {x['k10']:.3f}", flush=True)
        digits = {}
        if args.digits:
            for name in ("direct", "managed", "mixed", "tiki-taka"):
                model, options = ROWS[name]
                digits[name] = one("least_action_mlp.json", model, options, 0, 240, Path(tmp))
    base = np.mean([x["acc"] for x in results.get("direct", results[rows[0]])])
    print(f"\ncl_iris, {args.steps} steps, board seeds 0..{args.seeds - 1}: test accuracy (38 samples), "
          f"pulses per device per step, K=10 windowed cosine (median over windows, healthy devices)")
    print(f"{'row':<24} {'mean acc':>8} {'std':>6} {'min':>6} {'>=93.5%':>8} {'ratio':>6} {'pulses':>7} {'K=10':>6} "
          f"{'K=10 min':>8}")
    for name, r in results.items():
        acc = np.array([x["acc"] for x in r])
        k10 = [x["k10"] for x in r]
        print(f"{name:<24} {acc.mean():8.4f} {acc.std():6.3f} {acc.min():6.3f} {int((acc >= 0.935).sum()):>4}/{acc.size:<3} "
              f"{acc.mean() / base:6.3f} {np.mean([x['pulses'] for x in r]):7.2f} {np.nanmedian(k10):6.3f} "
              f"{np.nanmin(k10):8.3f}")
    for name, d in digits.items():
        print(f"digits least-action, {name:<10} accuracy {d['acc']:.4f}, pulses/device/step {d['pulses']:.3f}")


if __name__ == "__main__":
    main()
