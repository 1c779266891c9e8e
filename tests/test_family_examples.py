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


def assert_same(a, b, path="graph"):
    """Equal structure and text; numbers equal to 1e-12 (the builders use QR/matmul, whose last bit
    depends on the CPU's BLAS kernels)."""
    assert type(a) is type(b), path
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (u, v) in enumerate(zip(a, b)):
            assert_same(u, v, f"{path}[{i}]")
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-15), path
    else:
        assert a == b, path


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_example(name):
    g = load(EXAMPLES / f"{name}.json")
    assert_same(graph_to_dict(g), graph_to_dict(BUILDERS[name]()))
    split = load_split(g.dataset)
    x, y = split.x_train[:8], split.y_train[:8]
    fam = family(g)
    u = fam.local_update(g, x, y)
    ref = {k: -g.rule.lr * v for k, v in fam.exact_gradient(g, x, y).items()}
    cos = metrics.cosine(metrics.flatten(u, list(ref)), metrics.flatten(ref))
    assert cos >= MIN_COSINE[name]
    assert np.all(np.isfinite(fam.outputs(g, x)))
