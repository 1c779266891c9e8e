"""Regenerate the crossbar's small example (least_action_iris): a least-action MLP that fits a
7×18 board, used for the UPDATE_OUTER statistics (stat mode) where the digits MLP would need a
65×148 board and thousands of repeats.

    python examples/make_crossbar_examples.py
"""
from pathlib import Path

from neurophys.ir import Dataset, Training, save
from neurophys.ir.builders import feedforward

HERE = Path(__file__).parent


def least_action_iris():
    # lr = 1: enough pulses per device per step that every device's mean is estimable in ~40 repeats
    return feedforward([4, 6, 3], activation="tanh", lr=1.0, cost="mse", dataset=Dataset("iris"),
                       training=Training(batch_size=8, epochs=50, seed=0), seed=0, name="least_action_iris")


def main():
    g = least_action_iris()
    print("wrote", save(g, HERE / f"{g.name}.json"))


if __name__ == "__main__":
    main()
