"""Task-level numbers of the reference engine (slow: minutes)."""
import pytest

from neurophys import ir
from neurophys.train import train


@pytest.mark.slow
@pytest.mark.parametrize("name, target", [("ep_digits", 0.95), ("cl_iris", 0.93), ("least_action_mlp", 0.95)])
def test_examples_reach_their_test_accuracy(examples_dir, name, target):
    g = ir.load(examples_dir / f"{name}.json")
    hist = train(g)
    print(name, hist[-1])
    assert hist[-1]["test_accuracy"] >= target
