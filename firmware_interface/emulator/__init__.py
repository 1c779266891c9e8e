"""The crossbar board emulator: device physics (config dataclasses), the Kirchhoff solver, the
firmware and the link model."""
from .board_config import BoardConfig, EnvelopeConfig, TimingConfig
from .devices import PRESETS, DeviceConfig, PeripheryConfig, ideal, load_device_config, reram, resolve_model
from .emulator import Emulator
from .factory import make_emulator
from .faults import FaultConfig
from .link import LinkConfig
from .network import solve

__all__ = ["BoardConfig", "EnvelopeConfig", "TimingConfig", "PRESETS", "DeviceConfig", "PeripheryConfig",
           "ideal", "reram", "load_device_config", "resolve_model", "Emulator", "make_emulator",
           "FaultConfig", "LinkConfig", "solve"]
