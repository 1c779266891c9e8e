"""Loss and accuracy on the train and test splits from any `outputs(x)` — the backend's measured
outputs or the twin's — so hardware and twin learning curves are computed the same way."""
from __future__ import annotations

from typing import Callable

import numpy as np

from neurophys import costs
from neurophys.data import Split


def evaluate(outputs: Callable[[np.ndarray], np.ndarray], split: Split, cost_kind: str) -> dict:
    out = {"loss": {}, "accuracy": {}}
    for part, x, y, labels in (("train", split.x_train, split.y_train, split.labels_train),
                               ("test", split.x_test, split.y_test, split.labels_test)):
        if len(x) == 0:
            out["loss"][part] = out["accuracy"][part] = None
            continue
        o = np.asarray(outputs(x), dtype=float)
        out["loss"][part] = float(np.mean(costs.value(cost_kind, o, y)))
        out["accuracy"][part] = float(np.mean(costs.predict(cost_kind, o) == labels))
    return out
