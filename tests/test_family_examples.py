"""The family examples are what make_family_examples.py builds, and their local updates track the gradient."""
import sys
from pathlib import Path

import numpy as np
import pytest

from neurophys import metrics
from neurophys.data import load_split
from neurophys.families import family
from neurophys.ir import graph_to_dict, load

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))
from make_family_examples import EXAMPLES as BUILDERS  # noqa: E402

# the agreement each family's theory promises on one batch (exact ones to rounding, estimators not)
MIN_COSINE = {"pc_alm_deep_linear": 1 - 1e-12, "pc_alm_tanh": 0.999, "lse_layer": 1 - 1e-12,
              "holo_ep": 0.9999, "stlp_cycle": 0.99}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_example(name):
    g = load(EXAMPLES / f"{name}.json")
    assert graph_to_dict(g) == graph_to_dict(BUILDERS[name]())
    split = load_split(g.dataset)
    x, y = split.x_train[:8], split.y_train[:8]
    fam = family(g)
    u = fam.local_update(g, x, y)
    ref = {k: -g.rule.lr * v for k, v in fam.exact_gradient(g, x, y).items()}
    cos = metrics.cosine(metrics.flatten(u, list(ref)), metrics.flatten(ref))
    assert cos >= MIN_COSINE[name]
    assert np.all(np.isfinite(fam.outputs(g, x)))
