"""UPDATE_OUTER on the reram board: how close one stochastic outer-product update comes to the
requested −lr·x dᵀ, by update policy, at about 1 and about 10 pulses per device.

    .venv/bin/python bench/update_outer_policies.py [--trials N] [--size N]

Each trial draws x and d (standard normal, as a layer's activations and errors would be, then
divided by their largest entry as a host must to send them), re-centres the devices at their
symmetric points (CALIBRATE once, then PROGRAM), sends one update and takes the cosine between the
change of the true conductances (the emulator's own state: no read noise in the statistic) and
−lr·x dᵀ over all devices. The learning rate is set per row so that the expected pulse count per
device is about 1 or 10 under nominal trains. Rows:

* `aihwkit-style, no management` — what a user of aihwkit's default pulsed update (no update
  management, BL from lr) gets: the baseline, run in the same process;
* `direct` — UPDATE_OUTER with x, d as sent, nominal counts (firmware 1.2 behaviour);
* `direct, state-aware` — firmware 1.3 flag bit1;
* `managed` — aihwkit's update + bit-length management (backends/crossbar/update_policy.py), state-aware.

The ratio column divides each row's median cosine by the baseline's. The issue quotes aihwkit 1.2
with management at the same preset settings: 0.816 (~1 pulse) and 0.935 (~10 pulses).
"""
from __future__ import annotations

import argparse

import numpy as np

import neurophys.firmware_interface as fi
from neurophys.backends.crossbar.update_policy import managed_trains


def _cos(a, b) -> float:
    return float((a * b).sum() / (np.linalg.norm(a) * np.linalg.norm(b)))


def trial(board, x, d, lr_raw, policy: str) -> tuple[float, int]:
    """One update with lr_raw in S per unit x·d (x, d raw): (cosine with −lr_raw·x dᵀ, pulses)."""
    caps = board.caps
    g0 = board.serial.emulator.conductances.copy()
    if policy == "managed":
        px, pd, lr, bl = managed_trains(x, d, lr_raw, caps.dw_min, caps.max_bl)
        pulses = board.update_outer(px, pd, lr, bl=bl, state_aware=True).pulses
    else:
        xm, dm = np.abs(x).max(), np.abs(d).max()
        lr = lr_raw * xm * dm
        bl = caps.max_bl if policy != "aihwkit-style, no management" else int(min(max(np.ceil(lr / caps.dw_min), 1), 31))
        lr = min(lr, caps.dw_min * bl)
        pulses = board.update_outer(x / xm, d / dm, lr, bl=bl, state_aware=policy == "direct, state-aware").pulses
    dG = board.serial.emulator.conductances - g0
    return _cos(dG, -lr_raw * np.outer(x, d)), pulses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--size", type=int, default=32, help="rows = cols of the board (default 32)")
    args = ap.parse_args()
    n = args.size
    policies = ["aihwkit-style, no management", "direct", "direct, state-aware", "managed"]
    print(f"UPDATE_OUTER on a {n}x{n} reram board, {args.trials} trials per row: cosine of ΔG with −lr·x dᵀ")
    print(f"{'pulses/device (target)':<24} {'policy':<30} {'median':>7} {'q25':>6} {'q75':>6} {'ratio':>6} {'pulses/dev':>10}")
    with fi.Board.open(f"emu://?model=reram&rows={n}&cols={n}&timing=0&seed=1") as board:
        cal = board.calibrate()
        centre = np.clip(cal.g_sym, board.caps.g_min, board.caps.g_max)
        for target in (1, 10):
            rows = {}
            for policy in policies:
                rng = np.random.default_rng(7)
                cos, pul = [], []
                for _ in range(args.trials):
                    board.program(centre, max_iters=10)
                    x, d = rng.standard_normal(n), rng.standard_normal(n)
                    # E[pulses per device] = lr·E|x||d| / dw_min under nominal trains → lr for the target
                    lr_raw = target * board.caps.dw_min / float(np.mean(np.abs(np.outer(x, d))))
                    c, p = trial(board, x, d, lr_raw, policy)
                    cos.append(c)
                    pul.append(p / n / n)
                rows[policy] = (np.percentile(cos, [50, 25, 75]), float(np.mean(pul)))
            base = rows[policies[0]][0][0]
            for policy, ((med, q25, q75), pul) in rows.items():
                print(f"{'~' + str(target):<24} {policy:<30} {med:7.3f} {q25:6.3f} {q75:6.3f} {med / base:6.3f} {pul:10.2f}")


if __name__ == "__main__":
    main()
