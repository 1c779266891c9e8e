"""sweep.png: each headline metric against each swept value, every run a dot, the median a line —
the spread at one value is over seeds (and the other swept settings)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

from .spec import value_text  # noqa: E402

PLOTTED = ("cosine", "rel_error", "test_accuracy", "test_loss")
LOG = {"rel_error", "test_loss"}
SPREAD = "seed"  # the key whose values are the spread, not an axis (unless it is the only one)


def write(out: Path, grid: dict, rows: list[dict]) -> str | None:
    done = [r for r in rows if r["status"] == "completed"]
    axes_keys = [k for k in grid if k != SPREAD] or list(grid)
    if not done or not axes_keys:
        return None
    fig, axes = plt.subplots(len(PLOTTED), len(axes_keys), figsize=(3.6 * len(axes_keys) + 1, 2.4 * len(PLOTTED)),
                             squeeze=False)
    for j, key in enumerate(axes_keys):
        labels = [value_text(v) for v in grid[key]]
        for i, metric in enumerate(PLOTTED):
            ax = axes[i, j]
            medians = []
            for x, label in enumerate(labels):
                ys = [r["metrics"][metric] for r in done if value_text(r["values"][key]) == label]
                ys = np.array([y for y in ys if y is not None], dtype=float)
                ax.plot(np.full(ys.size, x), ys, "o", ms=4, alpha=0.5, color="C0")
                medians.append(np.median(ys) if ys.size else np.nan)
            ax.plot(range(len(labels)), medians, "-", color="C1", lw=1.5, label="median")
            ax.set_xticks(range(len(labels)), labels, fontsize=7, rotation=30 if len(labels) > 4 else 0)
            if metric in LOG and all(r["metrics"][metric] is None or r["metrics"][metric] > 0 for r in done):
                ax.set_yscale("log")
            ax.set(xlabel=key if i == len(PLOTTED) - 1 else None, ylabel=metric if j == 0 else None)
    axes[0, -1].legend(fontsize=7)
    fig.suptitle(f"{len(done)} completed runs: each dot a run, the line the median"
                 + (f" (spread over {SPREAD} and the other settings)" if SPREAD in grid else ""), fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "sweep.png", dpi=100)
    plt.close(fig)
    return "sweep.png"
