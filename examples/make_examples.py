"""Regenerate the core example graphs (ep_xor, ep_digits, cl_iris, least_action_mlp).

    python examples/make_examples.py

The files are committed; this script is how they were made, so a change is reviewable."""
from pathlib import Path

from neurophys.ir import Dataset, Relaxation, Training, save
from neurophys.ir.builders import feedforward, layered_ep, resistor_network

HERE = Path(__file__).parent


def main():
    graphs = [
        # Euler relaxation with a fixed step count: the discretisation Lava/Brian twins reproduce.
        layered_ep([2, 8, 2], activation="hard_sigmoid", beta=0.5, lr=0.2, estimator="symmetric",
                   relaxation=Relaxation("euler", dt=0.5, max_steps=60, tol=0.0), dataset=Dataset("xor"),
                   training=Training(batch_size=4, epochs=200, seed=0), seed=2, bias_scale=0.5, name="ep_xor"),
        layered_ep([64, 128, 10], activation="hard_sigmoid", beta=0.5, lr=0.05, estimator="symmetric",
                   relaxation=Relaxation("newton", tol=1e-8, max_steps=500), dataset=Dataset("digits"),
                   training=Training(batch_size=8, epochs=10, seed=0), seed=0, bias_scale=0.1, name="ep_digits"),
        # thermometer code + complement: a resistive (convex) network can then separate the classes
        resistor_network(16, 3, 0, family="coupled_learning", eta=0.1, lr=0.3,
                         dataset=Dataset("iris", encoding="thermometer", levels=2, complement=True,
                                         target_values=(0.2, 0.6), seed=1),
                         training=Training(batch_size=8, epochs=100, seed=0), seed=0, name="cl_iris"),
        feedforward([64, 64, 10], activation="tanh", lr=0.1, cost="cross_entropy", dataset=Dataset("digits"),
                    training=Training(batch_size=32, epochs=20, seed=0), seed=0, name="least_action_mlp"),
    ]
    for g in graphs:
        print("wrote", save(g, HERE / f"{g.name}.json"))


if __name__ == "__main__":
    main()
