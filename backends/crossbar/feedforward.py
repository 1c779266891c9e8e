"""Least action on the crossbar: the doubled field (a, δ) through the board's devices, the local
update by the board's own stochastic pulse trains.

Activations use MVM (rows driven with a, columns sensed: z = Wa + b from the pair currents),
sensitivities MVM_T over the *same* devices (columns driven with ±δ, rows sensed: Wᵀδ). The
nonlinearity f, its derivative and the cost derivative ∂loss/∂a are computed on the host; so is
the per-command normalisation of drive vectors into the DAC range. The update ΔW = −lr·δ aᵀ/B
is never computed on the host: for each sample and tile the host sends a and δ (scaled into
[−1, 1]) and UPDATE_OUTER fires coincident pulse trains with E[ΔG] = −lr_b·x dᵀ on the board.
With Tiki-Taka those trains go to the fast array A instead, and C follows by transfers (tiki_taka.py).
"""
from __future__ import annotations

import numpy as np

from neurophys import activations as act
from neurophys.families.least_action import input_rates, relax
from neurophys.ir.graph import Graph, topological_order

from .conductance import PROGRAM_ITERS, DifferentialPair, calibration_report
from .feedforward_layout import FeedforwardLayout, Tile, layout
from .link import BoardLink
from .tiki_taka import TikiTaka, TikiTakaConfig
from .update_policy import HostAccumulator, managed_trains

TINY = 1e-300


class FeedforwardOnBoard:
    def __init__(self, graph: Graph, link: BoardLink, scale: float | None = None, volts: float = 1.0,
                 program_tol: float | None = None, update: str = "direct", state_aware: bool = False,
                 threshold: float = 1.0, transfer: TikiTakaConfig | None = None):
        caps = link.caps
        self.graph, self.link, self.volts = graph, link, volts
        self.update, self.state_aware, self.threshold = update, state_aware, threshold
        self.devices = None  # Calibration, once measured: pairs centred on their symmetric points
        self.chi = None  # host-side accumulators of the mixed policy
        self.transfer_config = transfer or TikiTakaConfig()
        self.tiki_taka = None  # the transfer A → C, once programmed
        self.layout: FeedforwardLayout = layout(graph, caps.rows, caps.cols, fast=update == "tiki-taka")
        w0 = np.concatenate([np.ravel(v) for v in graph.params().values()])
        self.pair = (DifferentialPair(scale, 0.5 * (caps.g_min + caps.g_max)) if scale is not None
                     else DifferentialPair.fit(w0, caps.g_min, caps.g_max))
        self.tol = 2 * caps.g_lsb if program_tol is None else program_tol
        pops = {p.name: p for p in graph.populations}
        self.order = [pops[n] for n in topological_order(graph)]
        self.free = [p for p in self.order if not p.clamped]
        self.into = {p.name: [t for t in self.layout.tiles if t.dst == p.name] for p in self.free}
        self.out_of = {p.name: [t for t in self.layout.tiles if t.src == p.name] for p in self.order}
        self.calibration: dict = {}
        self.pulses = 0

    # -- parameters ---------------------------------------------------------------------------
    def _window(self, g: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for t in self.layout.tiles:
            block = g[:, t.cols]
            w = self.pair.from_device(block[:, 0::2], block[:, 1::2])
            out[t.coupling] = w[:t.n_src].T.copy()
            if t.bias:
                out[t.bias] = w[self.layout.bias_row].copy()
        return out

    def read(self) -> dict[str, np.ndarray]:
        return self._window(self.link.read_window(self.layout.window))

    def read_params(self, sample: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The weights/biases at the given flat positions, by one READ_DEVICES of their pairs."""
        C = self.link.caps.cols
        plus = []
        for name, flat in sample.items():
            t = next(t for t in self.layout.tiles if name in (t.coupling, t.bias))
            if name == t.coupling:  # W[dst, src]: source i on row i, destination j on columns col0 + 2j (+1)
                j, i = np.divmod(flat, t.n_src)
            else:
                j, i = flat, np.full_like(flat, self.layout.bias_row)
            plus.append(i * C + t.col0 + 2 * j)
        index = np.concatenate(plus)
        g = self.link.read_listed(np.concatenate([index, index + 1]))
        w = self.pair.from_device(g[:index.size], g[index.size:])
        return dict(zip(sample, np.split(w, np.cumsum([len(p) for p in plus])[:-1])))

    def program(self, params: dict[str, np.ndarray]) -> None:
        caps = self.link.caps
        target = np.full(self.layout.window, self.pair.g_ref)
        centre = self._centres()
        clipped = 0
        for t in self.layout.tiles:
            rows = [(slice(0, t.n_src), np.asarray(params[t.coupling], float).T)]
            if t.bias:
                rows.append((self.layout.bias_row, np.asarray(params[t.bias], float)))
            for r, w in rows:
                gp, gm = self.pair.to_device(w)
                shift = centre[r, t.col0:t.col0 + 2 * t.n_dst:2] - self.pair.g_ref
                gp, gm = gp + shift, gm + shift
                clipped += int(((gp > caps.g_max) | (gm < caps.g_min) | (gp < caps.g_min) | (gm > caps.g_max)).sum())
                target[r, t.col0:t.col0 + 2 * t.n_dst:2] = np.clip(gp, caps.g_min, caps.g_max)
                target[r, t.col0 + 1:t.col0 + 2 * t.n_dst:2] = np.clip(gm, caps.g_min, caps.g_max)
        if self.layout.fast_row0 is not None:  # A: every device at its own symmetric point (A = its zero)
            nr, nc = self.layout.window
            sym = (self.devices.g_sym[nr:2 * nr, :nc] if self.devices is not None
                   else np.full((nr, nc), self.pair.g_ref))
            target = np.vstack([target, np.clip(sym, caps.g_min, caps.g_max)])
        res = self.link.program(target, (0, 0), tol=self.tol, max_iters=PROGRAM_ITERS)
        self.calibration = calibration_report(res, target, self.tol, caps.dw_min, self.pair.siemens_per_unit, clipped)
        if self.layout.fast_row0 is not None:
            dw = self.devices.dw if self.devices is not None else np.full((caps.rows, caps.cols), caps.dw_min)
            self.tiki_taka = TikiTaka(self.link, self.layout, self.pair, dw, self.transfer_config, self.volts)
            self.tiki_taka.set_zero()

    def _centres(self) -> np.ndarray:
        """Per column pair, the conductance w = 0 is written around: g_ref, or once the devices are
        calibrated the mean of the pair's two symmetric points (each device then starts where its up
        and down steps are equal, and w = (G+ − G−)/s is unchanged). On both columns of the pair."""
        nr, nc = self.layout.window
        if self.devices is None:
            return np.full((nr, nc), self.pair.g_ref)
        sym = self.devices.g_sym[:nr, :nc]
        mid = 0.5 * (sym[:, 0::2] + sym[:, 1::2])
        return np.clip(np.repeat(mid, 2, axis=1)[:, :nc], self.link.caps.g_min, self.link.caps.g_max)

    def device_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """The devices that hold a weight or bias (both of each pair), on a board of `shape`."""
        mask = np.zeros(shape, bool)
        for t in self.layout.tiles:
            mask[:t.n_src, t.cols] = True
            if t.bias:
                mask[self.layout.bias_row, t.cols] = True
        return mask

    def healthy(self, theta: dict, cal) -> dict[str, np.ndarray]:
        """Calibration's verdict on both devices of each pair at the conductances θ puts them."""
        centre = self._centres()
        out = {}
        for t in self.layout.tiles:
            rows = [(t.coupling, np.arange(t.n_src), np.asarray(theta[t.coupling], float).T)]
            if t.bias:
                rows.append((t.bias, np.array([self.layout.bias_row]), np.asarray(theta[t.bias], float)[None, :]))
            for name, r, w in rows:
                cp = t.col0 + 2 * np.arange(t.n_dst)
                half = 0.5 * self.pair.siemens_per_unit * w
                ok = (cal.healthy(centre[r][:, cp] + half, index=np.ix_(r, cp))
                      & cal.healthy(centre[r][:, cp + 1] - half, index=np.ix_(r, cp + 1)))
                out[name] = ok.T if name == t.coupling else ok[0]
        return out

    def limits_w(self) -> float:
        return self.pair.w_max(self.link.caps.g_min, self.link.caps.g_max)

    def configure(self) -> None:
        """MVM, MVM_T and UPDATE_OUTER set their own lines; nothing to configure."""

    # -- analog products over the pairs -------------------------------------------------------
    def _mvm(self, t: Tile, a: np.ndarray) -> np.ndarray:
        """z = W a (+ b) of tile t for a batch, from the column-pair currents."""
        R = self.link.caps.rows
        v = np.zeros((len(a), R))
        v[:, :t.n_src] = a
        if t.bias:
            v[:, self.layout.bias_row] = 1.0
        m = max(float(np.abs(v).max()), TINY)
        I = self.link.mvm(v * (self.volts / m))[:, t.cols]
        return (I[:, 0::2] - I[:, 1::2]) * (m / (self.pair.siemens_per_unit * self.volts))

    def _mvm_t(self, t: Tile, d: np.ndarray) -> np.ndarray:
        """e = Wᵀ δ of tile t for a batch: columns driven with ±δ, row currents sensed."""
        u = np.zeros((len(d), self.link.caps.cols))
        u[:, t.col0:t.col0 + 2 * t.n_dst:2] = d
        u[:, t.col0 + 1:t.col0 + 2 * t.n_dst:2] = -d
        m = float(np.abs(u).max())
        if m == 0.0:
            return np.zeros((len(d), t.n_src))
        I = self.link.mvm_t(u * (self.volts / m))
        return I[:, :t.n_src] * (m / (self.pair.siemens_per_unit * self.volts))

    def _preact(self, p, a) -> np.ndarray:
        z = np.zeros((len(next(iter(a.values()))), p.size))
        for t in self.into[p.name]:
            if t.bias or np.any(a[t.src]):
                z = z + self._mvm(t, a[t.src])
        return z

    def _feedback(self, p, d) -> np.ndarray:
        """Σ Wᵀ δ over the tiles leaving p (0 where none do)."""
        return sum(self._mvm_t(t, d[t.dst]) for t in self.out_of[p.name])

    def fields(self, x: np.ndarray, y: np.ndarray) -> tuple[dict, dict]:
        """The doubled field with the rule's Euler step, from rest — the reference's discretisation,
        with every W·a and Wᵀ·δ measured on the board."""
        return relax(self.graph, input_rates(self.graph, x), self._preact, self._feedback, y)

    def learn(self, x: np.ndarray, y: np.ndarray) -> None:
        """Per sample and tile one UPDATE_OUTER: rows carry a_src (and 1 on the bias row), the column
        pairs carry ±δ_dst, so E[ΔG±] = ∓s·lr·δ aᵀ/(2B) and E[ΔW] = −lr·δ aᵀ/B."""
        caps, lr, B = self.link.caps, self.graph.rule.lr, len(x)
        a, d = self.fields(x, y)
        s = self.pair.siemens_per_unit
        if self.update == "mixed":
            return self._learn_mixed(a, d, s * lr / (2 * B))
        row0 = self.layout.fast_row0 or 0  # Tiki-Taka: the gradient goes into A
        for b in range(B):
            for t in self.layout.tiles:
                xr = np.zeros(caps.rows)
                xr[row0:row0 + t.n_src] = a[t.src][b]
                if t.bias:
                    xr[row0 + self.layout.bias_row] = 1.0
                dc = np.zeros(caps.cols)
                dc[t.col0:t.col0 + 2 * t.n_dst:2] = d[t.dst][b]
                dc[t.col0 + 1:t.col0 + 2 * t.n_dst:2] = -d[t.dst][b]
                if self.update == "managed":
                    trains = managed_trains(xr, dc, s * lr / (2 * B), caps.dw_min, caps.max_bl)
                    if trains is not None:
                        px, pd, lr_b, bl = trains
                        self.pulses += self.link.update_outer(px, pd, lr_b, bl=bl, state_aware=self.state_aware).pulses
                    continue
                xm, dm = float(np.abs(xr).max()), float(np.abs(dc).max())
                if xm == 0.0 or dm == 0.0:
                    continue
                lr_b = s * lr * xm * dm / (2 * B)
                cap = caps.dw_min * caps.max_bl
                n = int(np.ceil(lr_b / cap))
                for _ in range(n):
                    self.pulses += self.link.update_outer(xr / xm, dc / dm, lr_b / n,
                                                          state_aware=self.state_aware).pulses
        if self.tiki_taka is not None:
            self.pulses += self.tiki_taka.transfer()

    def _learn_mixed(self, a: dict, d: dict, lr_s: float) -> None:
        """Mixed precision with χ on the host: the batch's ΔG = −lr_s·Σ_b x_b d_bᵀ per tile is
        computed digitally, added to each device's accumulator, and only whole device steps are sent,
        by one PULSE over the window (counts beyond the board's limit stay in χ)."""
        caps = self.link.caps
        nr, nc = self.layout.window
        if self.chi is None:
            dw = (self.devices.dw[:nr, :nc] if self.devices is not None else np.full((nr, nc), caps.dw_min))
            self.chi = HostAccumulator(dw, self.threshold, caps.max_pulse_count)
        dG = np.zeros((nr, nc))
        for t in self.layout.tiles:
            xs = np.zeros((len(a[t.src]), nr))
            xs[:, :t.n_src] = a[t.src]
            if t.bias:
                xs[:, self.layout.bias_row] = 1.0
            outer = -lr_s * xs.T @ d[t.dst]  # (rows, n_dst): ΔG+ ; ΔG− is its negative
            dG[:, t.col0:t.col0 + 2 * t.n_dst:2] += outer
            dG[:, t.col0 + 1:t.col0 + 2 * t.n_dst:2] -= outer
        stuck = self.devices.stuck[:nr, :nc] if self.devices is not None else None
        n = self.chi.pulses(dG, stuck)
        if n.any():
            self.pulses += self.link.pulse(n)

    def outputs(self, x: np.ndarray) -> np.ndarray:
        a = input_rates(self.graph, x)
        for p in self.free:
            a[p.name] = act.rho(p.activation, self._preact(p, a))
        return a[self.graph.cost.output]

    def limits(self) -> dict[str, tuple[float, float]]:
        """Every weight and bias is a differential pair: |w| ≤ w_max."""
        w = self.limits_w()
        return {name: (-w, w) for name in self.graph.params()}

    def info(self) -> dict:
        caps = self.link.caps
        return {"layout": self.layout.report(),
                "mapping": {"pair": "G± = g_ref ± s·w/2", "siemens_per_unit": self.pair.siemens_per_unit,
                            "g_ref_S": self.pair.g_ref, "volts_per_unit": self.volts,
                            "representable_weight": self.pair.w_max(caps.g_min, caps.g_max),
                            "weight_per_pulse": caps.dw_min / self.pair.siemens_per_unit},
                "on_host": "activations f(z), f′(z), the cost derivative ∂loss/∂a, and scaling of drive vectors "
                           "into the DAC range; W·a by MVM and Wᵀ·δ by MVM_T on the board",
                "learning": {"direct": "UPDATE_OUTER on the board: stochastic coincident pulse trains per sample "
                                       "and tile, E[ΔW] = −lr·δ·aᵀ/B; the host never computes ΔW",
                             "managed": "UPDATE_OUTER per sample and tile with aihwkit's update and bit-length "
                                        "management (BL and train probabilities chosen per outer product)",
                             "mixed": "mixed precision: ΔW of the batch accumulated per device on the host (χ), "
                                      "whole device steps sent by PULSE",
                             "tiki-taka": "UPDATE_OUTER per sample and tile into the fast array A, then a transfer "
                                          "of A's rows into C (tiki_taka.py)"}[self.update],
                "tiki_taka": self.tiki_taka.info() if self.tiki_taka is not None else None,
                "pulse_trains": "state-aware (each device's step at its conductance)" if self.state_aware
                                else "nominal (dw_min per pulse)",
                "calibration": self.calibration, "pulses_sent": self.pulses}
