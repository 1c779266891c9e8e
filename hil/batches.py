"""Minibatches drawn without replacement, reshuffled each pass, from a seeded generator: a HIL run
and its twin see the same batches, and a rerun sees them again."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from neurophys.data import Split


def batches(split: Split, batch_size: int, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    n = len(split.x_train)
    while True:
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            yield split.x_train[idx], split.y_train[idx]
