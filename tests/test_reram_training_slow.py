"""Issue 16's numbers on the reram board (slow: minutes). Each cl_iris run is the command
`neurophys hil examples/cl_iris.json --backend crossbar --model reram --update mixed --steps 300
--board-seed S` (through the harness, on the embedded emulator's pty)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neurophys import ir
from neurophys.hil import open_backend
from neurophys.hil.harness import run

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
pytestmark = pytest.mark.slow


def _run(tmp_path, example: str, steps: int, seed: int, eval_every: int | None = None, **options) -> dict:
    g = ir.load(EXAMPLES / example)
    with open_backend("crossbar", graph=g, notify=lambda m: None, emulator={"model": "reram", "seed": seed},
                      **options) as b:
        return run(g, b, "train", steps, tmp_path / f"{example}-{seed}", eval_every=eval_every or steps, progress=False)


def test_cl_iris_mixed_over_ten_board_seeds(tmp_path):
    # the command's own evaluation schedule (every 10 steps): evaluations read the board, and its read
    # noise draws are part of the run
    runs = [_run(tmp_path, "cl_iris.json", 300, seed, eval_every=10, update="mixed") for seed in range(10)]
    acc = np.array([s["test_accuracy"] for s in runs])
    pulses = np.array([s["board"]["pulses_per_device_per_step"]["mean"] for s in runs])
    k10 = np.array([s["windowed_cosine"]["K=10"]["median"] for s in runs])
    print(f"accuracy {acc.round(3).tolist()} mean {acc.mean():.4f}; pulses/device/step {pulses.round(2).tolist()}; "
          f"K=10 windowed cosine {k10.round(3).tolist()}")
    assert (acc >= 0.935).sum() >= 9 and acc.mean() >= 0.94
    assert pulses.mean() <= 1.5
    assert k10.min() >= 0.8  # on every seed (median over the run's windows)


@pytest.mark.parametrize("update", ["direct", "managed", "mixed", "tiki-taka"])
def test_least_action_digits_on_reram(tmp_path, update):
    s = _run(tmp_path, "least_action_mlp.json", 240, 0, update=update)
    print(f"digits least-action on reram, {update}: {s['test_accuracy']:.4f}, "
          f"pulses/device/step {s['board']['pulses_per_device_per_step']['mean']:.3f}")
    assert s["test_accuracy"] >= 0.92
