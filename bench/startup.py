"""Start-up time of the command line (issue 13, goal 5: `--help` and `validate FILE` ≤ 0.5 s).

Each command runs as a fresh process, the way a user types it; the table gives the median wall
time of `--repeat` runs, interleaved with the bare interpreter importing numpy (the floor any
numpy tool pays) so a loaded machine shows up in both columns. `-X importtime` finds what to
make lazy when a row fails.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "neurophys.cli"]
GOAL_S = 0.5


def _once(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, cwd=ROOT)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=9, help="runs of each command (default 9)")
    args = ap.parse_args()
    rows = {
        "python -c 'import numpy' (floor)": [sys.executable, "-c", "import numpy"],
        "neurophys --help": [*CLI, "--help"],
        "neurophys validate examples/cl_iris.json": [*CLI, "validate", "examples/cl_iris.json"],
        "neurophys hil --help": [*CLI, "hil", "--help"],
    }
    times: dict[str, list[float]] = {k: [] for k in rows}
    for _ in range(args.repeat):  # interleaved: load drifts hit every row alike
        for name, cmd in rows.items():
            times[name].append(_once(cmd))
    floor = statistics.median(times[next(iter(rows))])
    print(f"{'command':<44}{'median s':>10}{'× floor':>9}  goal")
    failed = False
    for name, ts in times.items():
        med = statistics.median(ts)
        goal = "" if "floor" in name or "hil" in name else ("PASS" if med <= GOAL_S else "FAIL")
        failed |= goal == "FAIL"
        print(f"{name:<44}{med:>10.3f}{med / floor:>9.2f}  {goal}")
    print(f"goal: ≤ {GOAL_S} s for --help and validate (hil --help shown for reference)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
