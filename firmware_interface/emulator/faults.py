"""Fault injection on the link: byte drops, flips and inserts, delayed and duplicated replies,
and board resets at chosen commands."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, fields

import numpy as np


@dataclass(frozen=True)
class FaultConfig:
    drop: float = 0.0  # per-byte probability, both directions
    flip: float = 0.0  # per-byte probability of XOR with a random non-zero mask
    insert: float = 0.0  # per-byte probability of a random byte inserted after it
    delay: float = 0.0  # probability that a reply is held back by delay_s
    delay_s: float = 0.2
    duplicate: float = 0.0  # probability that a reply is sent twice
    reset_at: tuple[int, ...] = ()  # reset right after executing the N-th command; its reply is lost
    seed: int = 12345

    def __post_init__(self) -> None:
        for f in ("drop", "flip", "insert", "delay", "duplicate"):
            if not 0.0 <= getattr(self, f) <= 1.0:
                raise ValueError(f"fault {f}={getattr(self, f)} is not a probability in [0, 1]")
        if self.delay_s < 0:
            raise ValueError(f"fault delay_s={self.delay_s} must be >= 0")

    @property
    def active(self) -> bool:
        return any((self.drop, self.flip, self.insert, self.delay, self.duplicate, self.reset_at))

    @classmethod
    def parse(cls, spec: str) -> "FaultConfig":
        """``"drop=1e-3,flip=1e-3,insert=1e-3,delay=0.01,delay_s=0.2,duplicate=0.01,reset_at=500:900,seed=3"``"""
        kinds = {f.name: f.type for f in fields(cls)}
        values: dict = {}
        for item in filter(None, (s.strip() for s in (spec or "").split(","))):
            key, sep, value = item.partition("=")
            if not sep or key not in kinds:
                raise ValueError(f"fault spec item {item!r}: expected KEY=VALUE with KEY in {sorted(kinds)}")
            try:
                if key == "reset_at":
                    values[key] = tuple(int(v) for v in value.split(":") if v)
                elif key == "seed":
                    values[key] = int(value)
                else:
                    values[key] = float(value)
            except ValueError:
                raise ValueError(f"fault spec item {item!r}: bad value {value!r}") from None
        return cls(**values)


class FaultInjector:
    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = np.random.default_rng(config.seed)
        self.injected: Counter = Counter()  # how many of each fault actually happened

    def corrupt(self, data: bytes) -> bytes:
        c = self.config
        if not data or not (c.drop or c.flip or c.insert):
            return data
        n = len(data)
        buf = np.frombuffer(data, np.uint8).copy()
        flips = self._rng.random(n) < c.flip
        buf[flips] ^= self._rng.integers(1, 256, int(flips.sum()), dtype=np.uint8)
        keep = self._rng.random(n) >= c.drop
        inserts = np.flatnonzero(self._rng.random(n) < c.insert)
        self.injected.update(flip=int(flips.sum()), drop=int(n - keep.sum()), insert=inserts.size)
        if inserts.size:
            buf = np.insert(buf, inserts + 1, self._rng.integers(0, 256, inserts.size, dtype=np.uint8))
            keep = np.insert(keep, inserts + 1, True)
        return buf[keep].tobytes()

    def delayed(self) -> bool:
        hit = bool(self.config.delay) and self._rng.random() < self.config.delay
        self.injected["delay"] += hit
        return hit

    def duplicated(self) -> bool:
        hit = bool(self.config.duplicate) and self._rng.random() < self.config.duplicate
        self.injected["duplicate"] += hit
        return hit
