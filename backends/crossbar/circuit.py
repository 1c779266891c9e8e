"""Coupled learning and circuit EP run by the board itself (LOCAL_LEARN).

The host only sets the scene: it drives the input and ground lines, names the output lines and
sends the targets; the board relaxes the free and the clamped/nudged states, computes each
device's Δg from its own two voltage drops and writes it. The rule's constants are translated
into the board's units once: with g = s·k and volts = v·(IR volts), the IR update
Δk = (lr/η)[(ΔV^F)² − (ΔV^C)²] (batch mean) is Δg = s·Δk when α = s·lr/(v²·B) for CL, and for
circuit EP (nudge conductance β_S = s·β) when α = s²·lr/(v²·B). By default the board counts pulses
state-aware: on soft-bounds devices a nominal count undershoots by the step factor (half on average).
"""
from __future__ import annotations

import numpy as np

from neurophys.ir.errors import ValidationError
from neurophys.ir.graph import Graph

from .circuit_layout import CircuitLayout, layout
from .circuit_twin import extra_devices, twin_graph
from .conductance import PROGRAM_ITERS, ConductanceScale, calibration_report
from .link import BoardLink


class CircuitOnBoard:
    def __init__(self, graph: Graph, link: BoardLink, scale: float | None = None, volts: float = 1.0,
                 program_tol: float | None = None, state_aware: bool = True, mixed: float | None = None):
        """`mixed`: the mixed-precision threshold (in device steps) of LOCAL_LEARN, None for direct."""
        caps = link.caps
        self.graph, self.link, self.state_aware, self.mixed = graph, link, state_aware, mixed
        self.devices = None  # Calibration, once measured (the board uses its own copy)
        self.layout: CircuitLayout = layout(graph, caps.rows, caps.cols)
        k0 = np.concatenate([c.conductance for c in graph.couplings])
        self.scale = (ConductanceScale(scale, volts) if scale is not None
                      else ConductanceScale.fit(k0, caps.g_min, caps.g_max, volts))
        self.tol = 2 * caps.g_lsb if program_tol is None else program_tol
        self.calibration: dict = {}

    # -- parameters ---------------------------------------------------------------------------
    def read(self) -> dict[str, np.ndarray]:
        """The graph's conductances. On a board with lines the graph does not use, the whole array is
        read (the devices beyond the graph's edges conduct too: the twin needs them)."""
        if extra_devices(self.layout):
            g = self.board_g = self.link.read_window((self.link.caps.rows, self.link.caps.cols))
        else:
            g = self.link.read_window(self.layout.window)
        return {name: self.scale.from_device(g[r, c]) for name, (r, c) in self.layout.cells.items()}

    def twin(self, graph: Graph) -> Graph:
        """The network the board relaxes and learns on: `graph` plus, on a larger board, its unused lines
        and every other device that conducts, at the conductances of the last read."""
        g = getattr(self, "board_g", None)
        if not extra_devices(self.layout) or g is None:
            return graph
        return twin_graph(graph, self.layout, g, self.scale.siemens_per_unit)

    def read_params(self, sample: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The parameters at the given flat positions, by one READ_DEVICES of their devices."""
        C = self.link.caps.cols
        index = [self.layout.cells[name][0][i] * C + self.layout.cells[name][1][i] for name, i in sample.items()]
        g = self.link.read_listed(np.concatenate(index))
        parts = np.split(g, np.cumsum([len(i) for i in index])[:-1])
        return {name: self.scale.from_device(p) for name, p in zip(sample, parts)}

    def program(self, params: dict[str, np.ndarray]) -> None:
        """Write-verify the window: edges at s·k (clipped to the device range), every other device at g_min."""
        caps = self.link.caps
        nr, nc = self.layout.window
        target = np.full((nr, nc), caps.g_min)
        clipped = 0
        for name, (r, c) in self.layout.cells.items():
            g = self.scale.to_device(params[name])
            clipped += int(((g < caps.g_min) | (g > caps.g_max)).sum())
            target[r, c] = np.clip(g, caps.g_min, caps.g_max)
        res = self.link.program(target, (0, 0), tol=self.tol, max_iters=PROGRAM_ITERS)
        self.calibration = calibration_report(res, target, self.tol, caps.dw_min, self.scale.siemens_per_unit, clipped)

    def device_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """The devices that are edges of the graph, on a board of `shape`."""
        mask = np.zeros(shape, bool)
        for r, c in self.layout.cells.values():
            mask[r, c] = True
        return mask

    def healthy(self, theta: dict, cal) -> dict[str, np.ndarray]:
        """Calibration's verdict on each edge's device at the conductance θ puts it."""
        return {name: cal.healthy(self.scale.to_device(theta[name]), index=(r, c))
                for name, (r, c) in self.layout.cells.items()}

    # -- the board's physics --------------------------------------------------------------------
    def configure(self) -> None:
        """Inputs and ground driven (0 V until a sample replaces them), all other lines float."""
        self.link.configure_lines({int(ln): 0.0 for ln in self.layout.driven})

    def _drive(self, x: np.ndarray) -> np.ndarray:
        """(B, n_driven) volts in ascending line order: the input columns of x, 0 V for ground."""
        which = self.layout.driven_input
        v = np.zeros((len(x), len(which)))
        v[:, which >= 0] = x[:, which[which >= 0]] * self.scale.volts_per_unit
        return v

    def _check_batch(self, x) -> None:
        if len(x) > self.link.caps.max_batch:
            raise ValidationError("batch", f"{len(x)} samples exceed the board's LOCAL_LEARN batch of "
                                           f"{self.link.caps.max_batch}")

    def learn(self, x: np.ndarray, y: np.ndarray) -> None:
        """One LOCAL_LEARN over the batch: the board computes and applies the whole update (and, from
        firmware 1.2, sends back none of the voltages it measured: the host does not use them)."""
        self._check_batch(x)
        r, s, v, B = self.graph.rule, self.scale.siemens_per_unit, self.scale.volts_per_unit, len(x)
        targets = y * v
        lean = {"states": False} if self.link.caps.device_reads else {}
        if self.mixed is not None:
            lean["mixed"] = self.mixed
        if r.family == "coupled_learning":
            self.link.local_learn("cl", self.layout.outputs, targets, alpha=s * r.lr / (v * v * B), eta=r.eta,
                                  inputs=self._drive(x), state_aware=self.state_aware, **lean)
        else:
            self.link.local_learn("ep", self.layout.outputs, targets, alpha=s * s * r.lr / (v * v * B),
                                  beta=s * r.beta, inputs=self._drive(x), state_aware=self.state_aware, **lean)

    def outputs(self, x: np.ndarray) -> np.ndarray:
        """Free-state output voltages, measured by the board: LOCAL_LEARN with α = 0 relaxes the free
        state of up to max_batch samples in one command and writes nothing (Δg = 0); from firmware
        1.2 it relaxes the free state only (no clamped state measured and thrown away)."""
        out = []
        pos = None
        free_only = self.link.caps.device_reads
        for s in range(0, len(x), self.link.caps.max_batch):
            xb = x[s:s + self.link.caps.max_batch]
            res = self.link.local_learn("cl", self.layout.outputs, np.zeros((len(xb), len(self.layout.outputs))),
                                        alpha=0.0, eta=1.0, inputs=self._drive(xb), free_only=free_only)
            if pos is None:
                where = {int(ln): i for i, ln in enumerate(res.floating_lines)}
                pos = np.array([where[int(o)] for o in self.layout.outputs])
            out.append(res.free_v[:, pos] / self.scale.volts_per_unit)
        return np.concatenate(out)

    def limits(self) -> dict[str, tuple[float, float]]:
        """Every conductance is held within the devices' range."""
        lo, hi = self.scale.range(self.link.caps.g_min, self.link.caps.g_max)
        return {name: (lo, hi) for name in self.layout.cells}

    def info(self) -> dict:
        caps = self.link.caps
        lo, hi = self.scale.range(caps.g_min, caps.g_max)
        return {"layout": self.layout.report(),
                "mapping": {"siemens_per_unit": self.scale.siemens_per_unit,
                            "volts_per_unit": self.scale.volts_per_unit,
                            "representable_conductance": [lo, hi],
                            "graph_bounds": {c.name: list(c.bounds) if c.bounds else None for c in self.graph.couplings},
                            "note": "a conductance the rule drives past the representable range stops at the "
                                    "device bound; the harness clips the twin's updates to the same range"},
                "learning": "LOCAL_LEARN on the board (free + clamped/nudged states, Δg per device); "
                            "the host sends inputs and targets and computes nothing of the update",
                "pulse_counts": (f"mixed precision: Δg accumulated per device in the board's RAM, whole steps "
                                 f"pulsed from {self.mixed:g} steps" if self.mixed is not None
                                 else "state-aware (each device's step at its conductance)" if self.state_aware
                                 else "nominal (dw_min per pulse)"),
                "calibration": self.calibration}

