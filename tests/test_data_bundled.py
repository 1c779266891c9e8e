"""Iris and digits are read from scikit-learn's bundled files without importing scikit-learn."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn import datasets

from neurophys.data import _bundled


@pytest.mark.parametrize("name, loader", [("iris", datasets.load_iris), ("digits", datasets.load_digits)])
def test_bundled_data_equal_scikit_learns_own_loader(name, loader):
    x, y = _bundled(name)
    bunch = loader()
    np.testing.assert_array_equal(x, bunch.data)
    np.testing.assert_array_equal(y, bunch.target)


def test_loading_a_graphs_data_does_not_import_scikit_learn(examples_dir):
    code = ("import sys; from neurophys import ir; from neurophys.data import load_split; "
            f"load_split(ir.load({str(examples_dir / 'cl_iris.json')!r}).dataset); "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
