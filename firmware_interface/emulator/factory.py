"""One place that turns user-facing options (URL query, CLI flags, keyword arguments) into an
:class:`Emulator`, so ``emu://``, ``serve_pty``, ``serve_tcp`` and the CLI accept the same set."""
from __future__ import annotations

from .board_config import BoardConfig
from .devices import DeviceConfig, resolve_model
from .emulator import Emulator
from .faults import FaultConfig
from .link import LinkConfig

OPTIONS = ("model", "rows", "cols", "seed", "noise_seed", "baud", "latency", "timing", "faults", "max_payload")


def make_emulator(model: str | DeviceConfig = "ideal", rows: int = 16, cols: int = 16, seed: int = 0,
                  noise_seed: int = 1, baud: int = 921600, latency: float = 1e-3, timing: bool = False,
                  faults: str | FaultConfig = "", max_payload: int = 8192, clock=None,
                  token: str | bytes = b"") -> Emulator:
    """``token``: the pairing token HELLO must carry (empty: none)."""
    config = BoardConfig(rows=int(rows), cols=int(cols), device=resolve_model(model), seed=int(seed),
                         noise_seed=int(noise_seed), max_payload=int(max_payload),
                         token=token.encode() if isinstance(token, str) else bytes(token))
    link = LinkConfig(baud=int(baud), latency_s=float(latency), timing=bool(timing))
    fault_config = faults if isinstance(faults, FaultConfig) else FaultConfig.parse(faults)
    return Emulator(config, link, fault_config, clock)
