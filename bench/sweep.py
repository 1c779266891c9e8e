"""Speed-up of `neurophys sweep --workers 2` over `--serial`, Ray's start-up, and Ray's per-run overhead.

    .venv/bin/python bench/sweep.py [--runs 8] [--steps 3000] [--workers 2]

The sweep: coupled learning on iris (examples/cl_iris.json) on the emulated crossbar board — the
embedded emulator on a pty with its real link pacing — `--runs` seeds of `--steps` steps each
(the defaults are meant for runs of ≥ 10 s on a 2-core machine; the table prints the median run of each
phase, and the load average: on a machine busy with other work the ratio says little).
Goal: ≥ 1.7× on a 2-core machine, Ray's start-up reported separately, not in the ratio.

Baseline (measured in the same process, before the Ray phase): the same runs one after another in
this process, each the `neurophys hil` command — what a fluent user writes to run a grid without Ray
(a loop over `neurophys hil` calls, here without even paying an interpreter start per run).

Per-run overhead: tiny runs (2 steps), interleaved one at a time: the same configuration in this
process and as a Ray task on a warm worker (submit → result back, files included); the difference
of the medians is what Ray adds to each run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from neurophys.hil.sweep.driver import run_sweep
from neurophys.hil.sweep.executors import RayExecutor, SerialExecutor
from neurophys.hil.sweep.run import execute
from neurophys.hil.sweep.spec import load_spec

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cl_iris.json"


def spec_file(folder: Path, name: str, steps: int, seeds: int) -> Path:
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"graph": str(EXAMPLE), "backend": "crossbar", "steps": steps, "eval_every": 50,
                                "grid": {"seed": list(range(seeds))}}))
    return path


def quiet(msg: str) -> None:
    pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tiny", type=int, default=6, help="tiny runs for the per-run overhead")
    args = ap.parse_args()
    load_before = os.getloadavg()[0]  # the speed-up needs idle cores: say how busy the machine was
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        tmp = Path(tmp)
        spec = load_spec(spec_file(tmp, "sweep", args.steps, args.runs))
        t0 = time.perf_counter()
        serial_rows = run_sweep(spec, tmp / "serial", SerialExecutor(), {}, retries=0, say=quiet)
        serial = time.perf_counter() - t0

        executor = RayExecutor(workers=args.workers)
        try:
            t0 = time.perf_counter()
            ray_rows = run_sweep(spec, tmp / "ray", executor, {}, retries=0, say=quiet)
            distributed = time.perf_counter() - t0

            tiny = load_spec(spec_file(tmp, "tiny", 2, args.tiny)).configurations
            here, remote = [], []
            for config in tiny:
                t0 = time.perf_counter()
                execute(config)
                here.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                executor.next_done([executor.submit(config)])
                remote.append(time.perf_counter() - t0)
        finally:
            executor.close()
    failed = [r["name"] for r in serial_rows + ray_rows if r["status"] != "completed"]
    assert not failed, f"runs failed: {failed}"
    run_wall = {name: statistics.median(r["wall_s"] for r in rows) for name, rows in (("serial", serial_rows),
                                                                                       ("ray", ray_rows))}
    print(f"{args.runs} runs of {args.steps} steps (coupled learning on iris, emulated crossbar on a pty); "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores")
    print(f"{'executor':<32}{'wall s':>10}{'speed-up':>10}{'median run s':>14}")
    print(f"{'serial (baseline, in-process)':<32}{serial:>10.1f}{1.0:>10.2f}{run_wall['serial']:>14.1f}")
    print(f"{f'Ray, {args.workers} workers, after start-up':<32}{distributed:>10.1f}{serial / distributed:>10.2f}"
          f"{run_wall['ray']:>14.1f}")
    print(f"{'  … counting Ray start-up':<32}{distributed + executor.startup_s:>10.1f}"
          f"{serial / (distributed + executor.startup_s):>10.2f}")
    print(f"Ray start-up (ray.init, local, {args.workers} CPUs): {executor.startup_s:.1f} s")
    print(f"per-run overhead of Ray (tiny runs, median of {len(tiny)}): in-process {statistics.median(here):.2f} s, "
          f"as a Ray task {statistics.median(remote):.2f} s → +{statistics.median(remote) - statistics.median(here):.2f} s")
    print(f"speed-up ratio: {serial / distributed:.2f}x (goal ≥ 1.7x on a 2-core machine)")


if __name__ == "__main__":
    main()
