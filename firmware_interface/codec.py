"""Little-endian payload writer/reader used by both sides; a short or long payload is a
:class:`MalformedFrame`, never an ``IndexError``/``struct.error``."""
from __future__ import annotations

import struct

import numpy as np

from .errors import MalformedFrame

_SCALARS = {"u8": "<B", "u16": "<H", "u32": "<I", "u64": "<Q", "i16": "<h", "i32": "<i", "f64": "<d"}


class Writer:
    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def put(self, kind: str, value) -> "Writer":
        self._parts.append(struct.pack(_SCALARS[kind], value))
        return self

    def array(self, values, dtype: str) -> "Writer":
        self._parts.append(np.ascontiguousarray(values, dtype=np.dtype(dtype).newbyteorder("<")).tobytes())
        return self

    def sparse(self, counts: np.ndarray) -> "Writer":
        """Signed per-device counts as u32 n, u32 flat index[n], i16 value[n] (zeros omitted)."""
        flat = np.asarray(counts).ravel()
        idx = np.flatnonzero(flat)
        return self.put("u32", idx.size).array(idx, "u4").array(flat[idx], "i2")

    def raw(self, data: bytes) -> "Writer":
        self._parts.append(bytes(data))
        return self

    def bytes(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    def __init__(self, payload: bytes, what: str) -> None:
        self._buf = memoryview(payload)
        self._pos = 0
        self._what = what

    def _take(self, n: int) -> memoryview:
        if n < 0 or self._pos + n > len(self._buf):
            raise MalformedFrame(f"{self._what}: payload too short ({len(self._buf)} bytes)")
        out = self._buf[self._pos:self._pos + n]
        self._pos += n
        return out

    def get(self, kind: str):
        fmt = _SCALARS[kind]
        return struct.unpack(fmt, self._take(struct.calcsize(fmt)))[0]

    def array(self, dtype: str, count: int) -> np.ndarray:
        dt = np.dtype(dtype).newbyteorder("<")
        return np.frombuffer(self._take(dt.itemsize * count), dtype=dt).astype(dt.newbyteorder("="))

    def sparse(self, shape: tuple[int, int]) -> np.ndarray:
        n = self.get("u32")
        size = shape[0] * shape[1]
        if n > size:
            raise MalformedFrame(f"{self._what}: {n} sparse entries for {size} devices")
        idx, values = self.array("u4", n), self.array("i2", n)
        if n and idx.max() >= size:
            raise MalformedFrame(f"{self._what}: sparse index {int(idx.max())} beyond {size} devices")
        out = np.zeros(size, np.int64)
        out[idx] = values
        return out.reshape(shape)

    def rest(self) -> bytes:
        return bytes(self._take(len(self._buf) - self._pos))

    def end(self) -> None:
        if self._pos != len(self._buf):
            raise MalformedFrame(f"{self._what}: {len(self._buf) - self._pos} unexpected trailing bytes")
