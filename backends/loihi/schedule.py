"""The phase schedule of a ring of samples run one after another (the chip path), as a table each
neuron model holds and reads one column of per time step — the schedule lives in the neuron, as it
would in Loihi 2 microcode, not in a control process.

Columns: MODE (reset / save-and-hold / restore / hold / evolve), BETA (the nudge while evolving),
SIGN (±1 on a phase's last step: the phase end's sign in the contrast, 0 elsewhere), SLOT (which
sample of the ring the step belongs to: slots at or past the batch's real samples are padding and
contribute nothing), APPLY (1 on the ring's apply steps, after the last sample: the post-synaptic
neurons raise the third factor y1 so the learning engine moves the weights by the accumulated tag),
MEASURE (1 on a phase's last `window` steps: where spiking units count spikes into a rate).
Every phase opens with one hold step: Dense delivers a field one step late, so the hold step lets it
carry ρ(s₀) before the first Euler step and the phase runs exactly `max_steps` updates.
"""
from __future__ import annotations

import numpy as np

RESET, SAVE, RESTORE, HOLD, EVOLVE = 0, 1, 2, 3, 4
MODE, BETA, SIGN, SLOT, APPLY, MEASURE = range(6)
WIDTH = 6


def ep_phases(beta: float, lr: float, estimator: str, learn: bool) -> list[tuple[int, float, float]]:
    """(opening mode, β, contrast coefficient) per phase of the EP rule."""
    if not learn:
        return [(RESET, 0.0, 0.0)]
    if estimator == "symmetric":
        c = lr / (2 * beta)
        return [(RESET, 0.0, 0.0), (SAVE, beta, c), (RESTORE, -beta, -c)]
    return [(RESET, 0.0, -lr / beta), (HOLD, beta, lr / beta)]


def least_action_phases(lr: float, learn: bool) -> list[tuple[int, float, float]]:
    """One phase: a and δ flow together from rest; ΔW = −lr δ aᵀ at its end."""
    return [(RESET, 0.0, -lr if learn else 0.0)]


def magnitude(phases) -> float:
    """|coefficient| shared by every contrasted phase end (EP: lr/2β or lr/β; least action: lr)."""
    return max(abs(c) for _, _, c in phases)


def sample_steps(phases, steps: int) -> int:
    return len(phases) * (steps + 1)


def control(phases, steps: int, slots: int, length: int, apply_steps: int = 0, window: int = 1) -> np.ndarray:
    """The (WIDTH, length) table: `slots` samples of `phases`, then `apply_steps` apply steps, then holds."""
    S = sample_steps(phases, steps)
    assert slots * S + apply_steps <= length
    ctrl = np.zeros((WIDTH, length))
    ctrl[MODE] = HOLD
    ctrl[SLOT] = slots
    for k in range(slots):
        t = k * S
        ctrl[SLOT, t:t + S] = k
        for mode, beta, coef in phases:
            ctrl[MODE, t] = mode
            ctrl[MODE, t + 1:t + steps + 1] = EVOLVE
            ctrl[BETA, t + 1:t + steps + 1] = beta
            ctrl[MEASURE, t + steps + 1 - window:t + steps + 1] = 1
            ctrl[SIGN, t + steps] = np.sign(coef)
            t += steps + 1
    ctrl[APPLY, slots * S:slots * S + apply_steps] = 1
    return ctrl


def phase_ends(phases, steps: int, n: int) -> list[int]:
    """Ring index of the first phase's last step (the free state) for each of n samples."""
    S = sample_steps(phases, steps)
    return [k * S + steps for k in range(n)]
