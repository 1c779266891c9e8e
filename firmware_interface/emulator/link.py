"""How the serial link between host and board behaves in time."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LinkConfig:
    baud: int = 921600  # UART rate; 10 bits per byte (8N1)
    latency_s: float = 1e-3  # per transfer and direction: USB frame / FTDI latency timer
    timing: bool = False  # pace bytes in real time; off = virtual time, same model, no waiting
    rx_fifo: int = 256  # bytes the MCU buffers while it executes a command; more are lost
    packet: int = 64  # bytes per USB packet: replies reach the host in these units
    boot_s: float = 0.05  # after a reset the board hears nothing for this long

    def __post_init__(self) -> None:
        if self.baud <= 0:
            raise ValueError(f"baud {self.baud} must be > 0")
        if self.latency_s < 0 or self.boot_s < 0 or self.rx_fifo < 0 or self.packet < 1:
            raise ValueError("latency_s, boot_s, rx_fifo must be >= 0 and packet >= 1")

    @property
    def byte_time(self) -> float:
        return 10.0 / self.baud
