"""The crossbar backend: a graph laid out on an analog crossbar board that learns on its own.

Resistor networks (coupled learning, circuit EP) learn by the board's LOCAL_LEARN; feed-forward
least-action graphs run activations by MVM, sensitivities by MVM_T over the same differential
pairs, and their outer-product update by UPDATE_OUTER pulse trains generated on the board. Every
step reads the conductances before and after and returns the measured difference.
"""
from __future__ import annotations

import numpy as np

from neurophys.backend import Backend, UnsupportedGraph
from neurophys.firmware_interface.emulator.board_config import MAX_SIDE
from neurophys.ir.errors import ValidationError
from neurophys.firmware_interface.capabilities import FINE_THRESHOLDS_SINCE, UPDATE_POLICIES_SINCE
from neurophys.firmware_interface.errors import BoardException
from neurophys.firmware_interface.protocol import MIXED_THRESHOLD_CODES_1_3, MIXED_THRESHOLDS
from neurophys.ir.graph import CIRCUIT_FAMILIES, Graph

from . import circuit_layout, feedforward_layout
from .circuit import CircuitOnBoard
from .feedforward import FeedforwardOnBoard
from .link import BoardLink
from .tiki_taka import TikiTakaConfig
from .update_policy import POLICIES


#: Mixed precision's default threshold (device steps), measured on the examples over 10 reram board
#: seeds (bench/reram_seeds.py --thresholds): on cl_iris (LOCAL_LEARN, χ on the board) a larger
#: threshold lets more of the rule's back-and-forth cancel in χ — fewer pulses, but the devices'
#: summed updates lag the gradient's; 6 steps (firmware 1.5) keeps both pulses per device per step
#: (≤ 1.5) and the K = 10 windowed cosine (≥ 0.8) in bounds on every seed, 8 is the nearest a 1.3–1.4
#: board has. UPDATE_OUTER's host-side χ uses one step.
MIXED_DEFAULT_THRESHOLD = {"circuit": 6.0, "feedforward": 1.0}
OLD_FIRMWARE_CIRCUIT_THRESHOLD = 8.0
MAX_READS = 64  # beyond this averaging costs link time and buys little: read noise ÷ 8


class CrossbarBackend(Backend):
    name = "crossbar"
    families = CIRCUIT_FAMILIES + ("least_action",)

    def __init__(self, board: str | None = None, baudrate: int = 921600, scale: float | None = None,
                 volts: float = 1.0, reads: int = 1, state_aware: bool | None = None, update: str = "direct",
                 calibrate: bool | None = None, threshold: float | None = None, transfer: dict | None = None,
                 **options):
        """`board`: /dev/ttyACM0, a pty path, socket://HOST:PORT or emu://?...; `scale`: siemens per
        unit of conductance/weight (default: fitted to the graph's initial parameters); `reads`:
        read-backs averaged per measurement of the conductances (read noise ÷ √reads);
        `state_aware`: LOCAL_LEARN (and from firmware 1.3 UPDATE_OUTER) counts pulses with each
        device's step at its conductance (default: when the board's firmware can; False: nominal
        steps, the devices' raw response); `update`: direct, managed, mixed (update_policy.py);
        `calibrate`: measure every device with CALIBRATE before programming (default: where the
        firmware has it, >= 1.3, with managed and mixed, and with state-aware UPDATE_OUTER, whose
        counts use the measured steps: the nominal ones are off by the devices' spread); `threshold`: mixed
        precision's pulse threshold in device steps (1, 2, 4, 8; 3, 5, 6, 7 from firmware 1.5; default
        MIXED_DEFAULT_THRESHOLD of the graph's family); `transfer`: Tiki-Taka's settings
        (tiki_taka.TikiTakaConfig's fields)."""
        super().__init__(board=board, baudrate=baudrate, scale=scale, volts=volts, reads=reads,
                         state_aware=state_aware, update=update, calibrate=calibrate, threshold=threshold,
                         transfer=transfer, **options)
        self.check_update(update)
        if transfer is not None and update != "tiki-taka":
            raise ValidationError("transfer", "Tiki-Taka's transfer settings need update='tiki-taka'")
        if isinstance(transfer, dict):
            unknown = set(transfer) - set(TikiTakaConfig.__dataclass_fields__)
            if unknown:
                raise ValidationError(f"transfer.{sorted(unknown)[0]}", "is not a Tiki-Taka setting (one of "
                                      f"{', '.join(TikiTakaConfig.__dataclass_fields__)})")
        self._transfer = TikiTakaConfig(**(transfer or {}))
        if threshold is not None:
            self.check_threshold(threshold)
        if board is None:
            raise ValidationError("board", "the crossbar backend needs a board URL (or use `neurophys hil`, "
                                           "which serves the emulator when no --board is given)")
        if isinstance(reads, bool) or not isinstance(reads, int) or not 1 <= reads <= MAX_READS:
            raise ValidationError("reads", f"{reads!r} must be an integer in 1..{MAX_READS}")
        self.link = BoardLink.open(board, baudrate, reads)
        caps = self.link.caps
        if state_aware is None:
            self.options["state_aware"] = caps.state_aware_learning
        elif state_aware and not caps.state_aware_learning:
            self.link.close()
            raise ValidationError("state_aware", f"the board's firmware {caps.firmware_major}.{caps.firmware_minor} "
                                                 "has no state-aware pulse counts (firmware >= 1.1)")
        if update != "direct" and not caps.update_policies:
            self.link.close()
            raise ValidationError("update", f"--update {update} needs firmware >= {UPDATE_POLICIES_SINCE[0]}."
                                            f"{UPDATE_POLICIES_SINCE[1]} (update policies, CALIBRATE); the board has "
                                            f"{caps.firmware_major}.{caps.firmware_minor}")
        if threshold is not None and MIXED_THRESHOLDS.index(threshold) >= MIXED_THRESHOLD_CODES_1_3 \
                and not caps.fine_thresholds:
            self.link.close()
            raise ValidationError("threshold", f"{threshold:g} steps needs firmware >= {FINE_THRESHOLDS_SINCE[0]}."
                                               f"{FINE_THRESHOLDS_SINCE[1]}; the board has {caps.firmware_major}."
                                               f"{caps.firmware_minor} (1, 2, 4 or 8 steps)")
        self._calibrate_default = calibrate is None
        if calibrate is None:
            self.options["calibrate"] = update != "direct" and caps.update_policies
        elif calibrate and not caps.update_policies:
            self.link.close()
            raise ValidationError("calibrate", f"the board's firmware {caps.firmware_major}.{caps.firmware_minor} has "
                                               "no CALIBRATE (firmware >= 1.3)")
        self.engine = None
        self.calibration = None  # what CALIBRATE measured (firmware_interface.results.Calibration)
        self._theta = None  # the last read-back, valid until a command changes a conductance
        self._pulse_steps = 0  # learning steps since the pulse counters were last read
        self._pulses_at_compile = None

    @staticmethod
    def check_update(update: str, graph: Graph | None = None) -> None:
        """Refuse an update policy that is unknown, not built, or (with `graph`) not one its family's
        learning command takes — before a board is opened or a run folder written."""
        if update not in POLICIES:
            raise ValidationError("update", f"{update!r} is not an update policy (one of {', '.join(POLICIES)})")
        if graph is not None and update == "managed" and graph.rule.family in CIRCUIT_FAMILIES:
            raise ValidationError("update", "managed (aihwkit's update management) shapes UPDATE_OUTER's pulse trains; "
                                            f"a {graph.rule.family} graph learns by LOCAL_LEARN: use direct or mixed")
        if graph is not None and update == "tiki-taka" and graph.rule.family in CIRCUIT_FAMILIES:
            raise ValidationError("update", "tiki-taka writes the gradient into a second array by UPDATE_OUTER; a "
                                            f"{graph.rule.family} graph learns by LOCAL_LEARN on its one network: use "
                                            "direct or mixed")

    @staticmethod
    def check_threshold(threshold, field: str = "threshold") -> None:
        """Refuse a mixed-precision threshold that no firmware has, before a board is opened."""
        if isinstance(threshold, bool) or threshold not in MIXED_THRESHOLDS:
            shown = f"{threshold:g}" if isinstance(threshold, (int, float)) else repr(threshold)
            raise ValidationError(field, f"{shown} is not one of "
                                         f"{', '.join(f'{t:g}' for t in sorted(MIXED_THRESHOLDS))} (device steps)")

    @staticmethod
    def board_shape(graph: Graph, update: str = "direct") -> tuple[int, int]:
        """The smallest board (rows, cols) that hosts `graph` with the update policy `update`
        (tiki-taka needs a second array; UnsupportedGraph if no board does)."""
        if graph.rule.family in CIRCUIT_FAMILIES:
            rows, cols = circuit_layout.shape(graph)
        elif graph.rule.family == "least_action":
            rows, cols = feedforward_layout.shape(graph, fast=update == "tiki-taka")
        else:
            raise UnsupportedGraph("rule.family", f"the crossbar runs {', '.join(CrossbarBackend.families)}; "
                                                  f"not {graph.rule.family!r}")
        if max(rows, cols) > MAX_SIDE:
            raise UnsupportedGraph("graph", f"{graph.name!r} needs a {rows}x{cols} crossbar; the largest board has "
                                            f"{MAX_SIDE} lines a side (split the graph or use another backend)")
        return rows, cols

    def _build(self, graph: Graph) -> None:
        o = self.options
        circuit = graph.rule.family in CIRCUIT_FAMILIES
        self.check_update(o["update"], graph)
        state_aware = o["state_aware"] if circuit else bool(o["state_aware"]) and self.link.caps.update_policies
        threshold = o["threshold"] or MIXED_DEFAULT_THRESHOLD["circuit" if circuit else "feedforward"]
        if circuit and not o["threshold"] and not self.link.caps.fine_thresholds:
            threshold = OLD_FIRMWARE_CIRCUIT_THRESHOLD
        with self.link.account(self.timing):
            self.engine = (CircuitOnBoard(graph, self.link, o["scale"], o["volts"], state_aware=state_aware,
                                          mixed=threshold if o["update"] == "mixed" else None)
                           if circuit
                           else FeedforwardOnBoard(graph, self.link, o["scale"], o["volts"], update=o["update"],
                                                   state_aware=state_aware, threshold=threshold,
                                                   transfer=self._transfer))
            if not circuit and state_aware and self._calibrate_default:
                o["calibrate"] = True
            if o["calibrate"]:
                self.calibration = self.link.calibrate()
                self.engine.devices = self.calibration
            self.engine.configure()
            self.engine.program(graph.params())
            self._theta = None
            self._pulses_at_compile = self._pulse_totals()
            self._pulse_steps = 0

    def _pulse_totals(self) -> np.ndarray:
        c = self.link.counters()
        return c.pulses_up + c.pulses_down

    def _engine(self):
        if self.engine is None:
            raise ValidationError("backend", "compile a graph first")
        return self.engine

    def _read(self) -> dict[str, np.ndarray]:
        """Conductances as read back; a read is reused only while nothing on the board has been
        written since (MVM, MVM_T and LOCAL_LEARN with α = 0 write nothing)."""
        if self._theta is None:
            self._theta = self.engine.read()
        return {k: v.copy() for k, v in self._theta.items()}

    def step(self, x, y):
        eng = self._engine()
        x, y = np.asarray(x, float), np.asarray(y, float)
        with self.link.account(self.timing):
            before = self._read()
            self._theta = None
            eng.learn(x, y)
            self._pulse_steps += 1
            after = self._read()
            return {k: after[k] - before[k] for k in before}

    def learn(self, x, y) -> None:
        """The board's own update, nothing read back (a sampled audit reads what it needs)."""
        eng = self._engine()
        with self.link.account(self.timing):
            self._theta = None
            eng.learn(np.asarray(x, float), np.asarray(y, float))
            self._pulse_steps += 1

    def read_params(self, sample: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The parameters at the flat positions `sample[name]`, read back by READ_DEVICES (firmware
        >= 1.2): a few percent of a large array costs a few percent of the link time."""
        eng = self._engine()
        if not self.link.caps.device_reads:
            caps = self.link.caps
            raise ValidationError("audit", f"the board's firmware {caps.firmware_major}.{caps.firmware_minor} has "
                                           "no READ_DEVICES (firmware >= 1.2): a sampled audit cannot run on it")
        with self.link.account(self.timing):
            return eng.read_params({k: np.asarray(v, np.int64) for k, v in sample.items()})

    def get_params(self):
        self._engine()
        with self.link.account(self.timing):
            return self._read()

    def set_params(self, params):
        eng = self._engine()
        with self.link.account(self.timing):
            full = self._read() if set(params) < set(self.graph.params()) else {}
            full.update({k: np.asarray(v, float) for k, v in params.items()})
            self._theta = None
            eng.program(full)

    def outputs(self, x):
        eng = self._engine()
        with self.link.account(self.timing):
            return eng.outputs(np.atleast_2d(np.asarray(x, float)))

    def info(self):
        caps = self.link.caps
        out = {"board": {"model": caps.model_id, "rows": caps.rows, "cols": caps.cols, "board_id": caps.board_id,
                         "firmware": f"{caps.firmware_major}.{caps.firmware_minor}", "baud": caps.baud,
                         "dw_min_S": caps.dw_min, "g_range_S": [caps.g_min, caps.g_max]},
               "reads_per_measurement": self.link.reads, "update": self.options["update"]}
        if self.engine is not None:
            out.update(self.engine.info())
            out["pulses_per_device_per_step"] = self.pulse_rate()
        if self.calibration is not None:
            out["device_calibration"] = self.calibration.summary()
        return out

    def identity(self):
        """The board's uid, boot count and the digest of its device state (firmware >= 1.4; an older
        board reports zeros, which still catches nothing but never refuses a run). One HELLO,
        left out of the step's modelled link time: it is the harness's check, not the learning."""
        return self.link.board.identity()

    def twin_graph(self, graph: Graph) -> Graph:
        """The graph as the board hosts it (for the harness's twin): on a board larger than a resistor
        network, plus the devices on its unused lines at their last read conductances."""
        twin = getattr(self.engine, "twin", None)
        return graph if twin is None else twin(graph)

    def healthy(self, theta: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
        """Per parameter: do its devices respond and sit more than 5 % of their own range from a
        bound, at the conductances θ stands for? From CALIBRATE's measurement; None without one."""
        if self.calibration is None or self.engine is None:
            return None
        return self.engine.healthy(theta, self.calibration)

    def pulse_rate(self) -> dict | None:
        """Pulses the board applied (its counters) per device of the graph and learning step since
        compile — what endurance pays — as mean and median over those devices."""
        if self._pulses_at_compile is None or not self._pulse_steps:
            return None
        try:
            with self.link.account(self.timing):
                sent = self._pulse_totals() - self._pulses_at_compile
        except BoardException:  # the link is gone (a failed run is still summarised): counters unknown
            return None
        used = self.engine.device_mask(sent.shape)
        per = sent[used] / self._pulse_steps
        return {"mean": float(per.mean()), "median": float(np.median(per)), "steps": self._pulse_steps,
                "devices": int(used.sum())}

    def limits(self):
        return {} if self.engine is None else self.engine.limits()

    def close(self):
        self.link.close()
