"""Where the reram board's per-step cosine goes: `examples/cl_iris.json` at the demo's learning rate,
300 steps, on the reram preset and on variants with one non-ideality switched off at a time, down to
a board whose only non-ideality is the pulse itself (a whole number of equal steps per device).

    .venv/bin/python bench/reram_budget.py [--steps N] [--reads N]

The backend runs with its defaults (one read per measurement, state-aware pulse counts) unless a
row says otherwise. Each row: the per-step global cosine between the measured update and the gradient step clipped to
the devices' range (the harness's `vs bounded step`), as quartiles over steps; the ratio column
divides the median by the ideal board's, run in the same invocation. `pulses/dev/step` is the mean
number of pulses the board applied per device and step (its own counters). The board runs in
process (emu://, virtual time) so the table takes about half a minute.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from neurophys.backends.crossbar import CrossbarBackend
from neurophys.firmware_interface.emulator import ideal, reram
from neurophys.hil.batches import batches
from neurophys.hil.measure import measure_step
from neurophys import ir
from neurophys.data import load_split

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cl_iris.json"
NO_PHYSICS = dict(response="constant_step", dw_min_dtod=0.0, dw_min_std=0.0, up_down=0.0, up_down_dtod=0.0,
                  bounds_dtod=0.0, stuck_fraction=0.0)


def variants(reads: int):
    """(row name, device model, backend options); the backend's defaults: 1 read, state-aware counts."""
    quiet = replace(reram.periphery, read_noise=0.0)
    return [
        ("ideal (analog writes, no noise)", ideal, {}),
        ("reram", reram, {}),
        ("reram, nominal pulse counts", reram, {"state_aware": False}),
        ("reram, --update mixed (calibrated)", reram, {"update": "mixed"}),
        (f"reram, {reads} reads averaged", reram, {"reads": reads}),
        ("reram, read noise off", replace(reram, periphery=quiet), {}),
        ("reram, soft bounds → constant step", replace(reram, response="constant_step"), {}),
        ("reram, cycle-to-cycle off", replace(reram, dw_min_std=0.0), {}),
        ("reram, device-to-device off", replace(reram, dw_min_dtod=0.0, up_down_dtod=0.0, bounds_dtod=0.0), {}),
        ("reram, stuck devices off", replace(reram, stuck_fraction=0.0), {}),
        ("pulses only, reram read noise", replace(reram, **NO_PHYSICS), {}),
        ("pulses only, no read noise", replace(reram, **NO_PHYSICS, periphery=quiet), {}),
        ("reram, steps ÷ 4 (800 levels)", replace(reram, dw_min=reram.dw_min / 4), {}),
        ("reram, steps ÷ 16 (3200 levels)", replace(reram, dw_min=reram.dw_min / 16), {}),
        (f"reram, steps ÷ 16, {reads} reads averaged", replace(reram, dw_min=reram.dw_min / 16), {"reads": reads}),
    ]


def run(model, options: dict, steps: int, folder: Path) -> dict:
    graph = ir.load(EXAMPLE)
    path = folder / f"{model.name}-{model.model_hash:08x}.json"
    path.write_text(json.dumps(model.to_dict()))
    rows, cols = CrossbarBackend.board_shape(graph)
    cosines = []
    with CrossbarBackend(board=f"emu://?model={path}&rows={rows}&cols={cols}&timing=0", **options) as b:
        b.compile(graph)
        start = b.link.counters()
        data = batches(load_split(graph.dataset), graph.training.batch_size, graph.training.seed)
        for _ in range(steps):
            m = measure_step(b, graph, *next(data))
            cosines.append(m.record["vs_bounded"]["global"]["cosine"])
        end = b.link.counters()
    n_dev = sum(len(c.edges) for c in graph.couplings)
    pulses = sum(int((getattr(end, k) - getattr(start, k)).sum()) for k in ("pulses_up", "pulses_down"))
    q25, q50, q75 = np.percentile(cosines, [25, 50, 75])
    return {"q25": q25, "median": q50, "q75": q75, "pulses": pulses / n_dev / steps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--reads", type=int, default=16, help="read-backs averaged in the rows that say so (default 16)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = [(name, run(model, options, args.steps, Path(tmp))) for name, model, options in variants(args.reads)]
    base = results[0][1]["median"]
    print(f"cl_iris, lr {ir.load(EXAMPLE).rule.lr:g}, {args.steps} steps: per-step cosine vs the bounded gradient step")
    print(f"{'board':<40} {'q25':>6} {'median':>7} {'q75':>6} {'ratio':>6} {'pulses/dev/step':>16}")
    for name, r in results:
        print(f"{name:<40} {r['q25']:6.3f} {r['median']:7.3f} {r['q75']:6.3f} {r['median'] / base:6.3f} "
              f"{r['pulses']:16.2f}")


if __name__ == "__main__":
    main()
