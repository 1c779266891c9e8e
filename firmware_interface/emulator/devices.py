"""Device physics as plain config dataclasses, kept apart from the simulator (aihwkit's pattern).

Units: conductance in siemens, voltage in volts, current in amperes. Every non-ideality is a
field whose neutral value switches it off; :data:`ideal` has all of them off, :data:`reram`
uses parameters in the range of aihwkit's soft-bounds pulsed devices.
"""
from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESPONSES = ("constant_step", "soft_bounds", "piecewise")


@dataclass(frozen=True)
class PeripheryConfig:
    """DAC/ADC of the line drivers."""

    dac_bits: int = 16  # drive-voltage resolution (signed codes, ≤ 16)
    adc_bits: int = 32  # measurement resolution (signed codes, ≤ 32)
    v_max: float = 1.0  # DAC and voltage-ADC full scale, V (also the drive envelope)
    i_max: float = 1.0  # current-ADC full scale, A; larger currents clip
    read_noise: float = 0.0  # additive output noise, std as a fraction of the ADC full scale
    quantize: bool = False  # the board's own computations (LOCAL_LEARN, PROGRAM verify) see ADC codes
    g_fullscale: float = 2e-4  # conductance code full scale, S (uint16 codes)


@dataclass(frozen=True)
class DeviceConfig:
    """Pulse response of one resistive device and the periphery it is read through."""

    name: str = "custom"
    response: str = "constant_step"
    g_min: float = 1e-6  # nominal lower bound, S
    g_max: float = 1e-4  # nominal upper bound, S
    dw_min: float = 1e-7  # nominal step per pulse, S (soft bounds: at mid-range, aihwkit's w = 0)
    dw_min_dtod: float = 0.0  # device-to-device spread of the step (relative std)
    dw_min_std: float = 0.0  # cycle-to-cycle spread of each step (relative std)
    up_down: float = 0.0  # asymmetry: up step × (1 + up_down), down step × (1 − up_down)
    up_down_dtod: float = 0.0  # device-to-device spread of the asymmetry
    bounds_dtod: float = 0.0  # device-to-device spread of the range g_max − g_min (relative std)
    piecewise_up: tuple[float, ...] = ()  # step factors on an even grid of (g−g_lo)/(g_hi−g_lo)
    piecewise_down: tuple[float, ...] = ()
    stuck_fraction: float = 0.0  # devices stuck at a random conductance in their range
    analog_update: bool = False  # LOCAL_LEARN/PROGRAM write Δg exactly instead of by pulses
    periphery: PeripheryConfig = field(default_factory=PeripheryConfig)

    def __post_init__(self) -> None:
        p = self.periphery
        problems = []
        if self.response not in RESPONSES:
            problems.append(f"response {self.response!r} not one of {RESPONSES}")
        if not 0 < self.g_min < self.g_max <= p.g_fullscale:
            problems.append(f"need 0 < g_min < g_max <= g_fullscale, got {self.g_min}, {self.g_max}, {p.g_fullscale}")
        if not 0 < self.dw_min < self.g_max - self.g_min:
            problems.append(f"dw_min {self.dw_min} must be in (0, g_max - g_min)")
        for name in ("dw_min_dtod", "dw_min_std", "up_down_dtod", "bounds_dtod", "read_noise"):
            value = getattr(self, name, getattr(p, name, 0.0))
            if value < 0:
                problems.append(f"{name} {value} must be >= 0")
        if not -1 < self.up_down < 1:
            problems.append(f"up_down {self.up_down} must be in (-1, 1)")
        if not 0 <= self.stuck_fraction <= 1:
            problems.append(f"stuck_fraction {self.stuck_fraction} must be in [0, 1]")
        if self.response == "piecewise" and (len(self.piecewise_up) < 2 or len(self.piecewise_down) < 2):
            problems.append("piecewise response needs piecewise_up and piecewise_down with >= 2 points")
        if not 2 <= p.dac_bits <= 16:
            problems.append(f"dac_bits {p.dac_bits} must be in [2, 16]")
        if not 2 <= p.adc_bits <= 32:
            problems.append(f"adc_bits {p.adc_bits} must be in [2, 32]")
        if p.v_max <= 0 or p.i_max <= 0:
            problems.append("v_max and i_max must be > 0")
        if problems:
            raise ValueError(f"device model {self.name!r}: " + "; ".join(problems))

    @property
    def model_hash(self) -> int:
        return zlib.crc32(json.dumps(self.to_dict(), sort_keys=True).encode())

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "DeviceConfig":
        data = dict(data)
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"device model: unknown field(s) {sorted(unknown)}; known: {sorted(known)}")
        periphery = data.pop("periphery", {})
        punknown = set(periphery) - set(PeripheryConfig.__dataclass_fields__)
        if punknown:
            raise ValueError(f"device model periphery: unknown field(s) {sorted(punknown)}")
        for key in ("piecewise_up", "piecewise_down"):
            if key in data:
                data[key] = tuple(float(v) for v in data[key])
        return cls(**data, periphery=PeripheryConfig(**periphery))


ideal = DeviceConfig(name="ideal", analog_update=True)

reram = DeviceConfig(
    name="reram",
    response="soft_bounds",
    dw_min=0.25e-6,  # at mid-range (aihwkit's w = 0); 0.5 µS at the lower bound going up
    dw_min_dtod=0.3,
    dw_min_std=0.3,
    up_down=0.01,
    up_down_dtod=0.01,
    bounds_dtod=0.3,
    stuck_fraction=0.01,
    periphery=PeripheryConfig(dac_bits=10, adc_bits=12, v_max=1.0, i_max=4e-3, read_noise=5e-4,
                              quantize=True, g_fullscale=2.5e-4),
)

PRESETS = {"ideal": ideal, "reram": reram}


def load_device_config(path: str | Path) -> DeviceConfig:
    """Read a custom model from JSON (the fields of :class:`DeviceConfig`; missing ones default)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"device model file {path}: invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"device model file {path}: expected a JSON object")
    data.setdefault("name", path.stem)
    return DeviceConfig.from_dict(data)


def resolve_model(spec: str | DeviceConfig) -> DeviceConfig:
    """``ideal``, ``reram`` or a path to a JSON model file."""
    if isinstance(spec, DeviceConfig):
        return spec
    if spec in PRESETS:
        return PRESETS[spec]
    if Path(spec).suffix == ".json" or Path(spec).exists():
        return load_device_config(spec)
    raise ValueError(f"device model {spec!r}: not a preset ({', '.join(PRESETS)}) nor a JSON file")

