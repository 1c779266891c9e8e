"""The per-timestep control word every neuron and plasticity process reads from one source
RingBuffer: what to do this step, so a whole batch of samples and phases runs in one `run` call.

Columns: MODE (reset / save-and-hold / restore / hold / evolve), BETA (the nudge while evolving),
COEF (weight of this step's pre×post in the phase contrast; non-zero only on a phase's last
step), APPLY (on the ring's last step: scale 1/B at which accumulated updates are applied),
MEASURE (1 on a phase's last `window` steps: where spiking units count spikes into a rate).
Every phase opens with one hold step: Dense delivers a field one step late, so the hold step
lets it carry ρ(s₀) before the first Euler step and the phase runs exactly `max_steps` updates.
"""
from __future__ import annotations

import numpy as np

RESET, SAVE, RESTORE, HOLD, EVOLVE = 0, 1, 2, 3, 4
MODE, BETA, COEF, APPLY, MEASURE = range(5)
WIDTH = 5


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


def sample_steps(phases, steps: int) -> int:
    return len(phases) * (steps + 1)


def control(phases, steps: int, n_slots: int, n_real: int, apply_scale: float, window: int = 1) -> np.ndarray:
    """The control series (WIDTH, n_slots·S) for n_real samples in n_slots slots (the rest padding)."""
    S = sample_steps(phases, steps)
    ctrl = np.zeros((WIDTH, n_slots * S))
    for k in range(n_slots):
        t = k * S
        for mode, beta, coef in phases:
            ctrl[MODE, t] = mode
            ctrl[MODE, t + 1:t + steps + 1] = EVOLVE
            ctrl[BETA, t + 1:t + steps + 1] = beta
            ctrl[MEASURE, t + steps + 1 - window:t + steps + 1] = 1
            if k < n_real:
                ctrl[COEF, t + steps] = coef
            t += steps + 1
    ctrl[APPLY, -1] = apply_scale
    return ctrl


def phase_ends(phases, steps: int, n: int) -> list[int]:
    """Ring index of the first phase's last step (the free state) for each of n samples."""
    S = sample_steps(phases, steps)
    return [k * S + steps for k in range(n)]
