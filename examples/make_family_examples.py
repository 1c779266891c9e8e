"""Write the example graphs of the PC-ALM, STLP, log-sum-exp and holomorphic-EP families.

    python examples/make_family_examples.py        # rewrites examples/*.json (+ .npz) reproducibly
Each runs with `neurophys gradcheck FILE` and `neurophys train FILE`.
"""
from pathlib import Path

from neurophys.ir import Dataset, Training, builders, save

HERE = Path(__file__).parent

EXAMPLES = {
    # depth 128, linear: the local update equals backprop (teacher task, 8 features, 3 outputs)
    "pc_alm_deep_linear": lambda: builders.pc_alm(
        [8] + [8] * 127 + [3], lr=0.01, dataset=Dataset("teacher", n_samples=64, n_features=8, n_classes=3),
        training=Training(batch_size=16, epochs=1), name="pc_alm_deep_linear"),
    "pc_alm_tanh": lambda: builders.pc_alm(
        [4] + [16] * 7 + [3], activation="tanh", cost="cross_entropy", lr=0.05, gain=1.2, dataset=Dataset("iris"),
        training=Training(batch_size=16, epochs=20), name="pc_alm_tanh"),
    "stlp_cycle": lambda: builders.stlp_cycle(
        4, 8, 3, steps=100, dt=0.5, lr=0.5, cost="cross_entropy", dataset=Dataset("iris"),
        training=Training(batch_size=16, epochs=20), name="stlp_cycle"),
    "lse_layer": lambda: builders.lse_network(
        [4, 3], epsilon=0.1, lr=0.5, cost="cross_entropy", dataset=Dataset("iris"),
        training=Training(batch_size=16, epochs=30), name="lse_layer"),
    "holo_ep": lambda: builders.holomorphic_ep(
        [4, 16, 3], activation="sigmoid", beta=0.5, n_nudges=8, lr=0.2, dataset=Dataset("iris"),
        training=Training(batch_size=16, epochs=10), name="holo_ep"),
}

if __name__ == "__main__":
    for name, build in EXAMPLES.items():
        print("wrote", save(build(), HERE / f"{name}.json"))
