"""Frames on the wire: header + payload + CRC-32, COBS-encoded, terminated by 0x00.

The decoder resynchronises at every delimiter, so one corrupted frame costs that frame only.
Messages larger than the board's max payload travel as consecutive fragments of one sequence
number; :class:`Reassembler` puts them back together.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

from cobs import cobs

from .protocol import CRC_SIZE, HEADER, MIN_FRAME

DELIMITER = b"\x00"


@dataclass(frozen=True)
class Frame:
    version: int
    type: int
    seq: int
    flags: int
    status: int
    frag_index: int
    frag_count: int
    payload: bytes


@dataclass(frozen=True)
class BadFrame:
    """Bytes between two delimiters that are not a frame; ``reason`` says why."""

    reason: str
    size: int


def encode_frame(frame: Frame) -> bytes:
    raw = HEADER.pack(frame.version, frame.type, frame.seq, frame.flags, frame.status,
                      frame.frag_index, frame.frag_count, len(frame.payload)) + frame.payload
    return cobs.encode(raw + zlib.crc32(raw).to_bytes(CRC_SIZE, "little")) + DELIMITER


def fragment(version: int, type_: int, seq: int, flags: int, status: int, payload: bytes,
             max_payload: int) -> bytes:
    """Encode a message as ⌈len/max_payload⌉ back-to-back frames (at least one)."""
    chunks = [payload[i:i + max_payload] for i in range(0, len(payload), max_payload)] or [b""]
    if len(chunks) > 255:
        raise ValueError(f"message of {len(payload)} bytes needs {len(chunks)} fragments (max 255)")
    return b"".join(encode_frame(Frame(version, type_, seq, flags, status, i, len(chunks), c))
                    for i, c in enumerate(chunks))


def max_encoded_size(max_payload: int) -> int:
    raw = MIN_FRAME + max_payload
    return raw + raw // 254 + 2


class FrameDecoder:
    """Byte stream → frames. ``feed`` returns ``(end_offset, Frame | BadFrame)`` per delimiter."""

    def __init__(self, max_payload: int) -> None:
        self._buf = bytearray()
        self._limit = max_encoded_size(max_payload)
        self._overlong = False

    def reset(self) -> None:
        self._buf.clear()
        self._overlong = False

    def feed(self, data: bytes) -> list[tuple[int, Frame | BadFrame]]:
        out: list[tuple[int, Frame | BadFrame]] = []
        start = 0
        while True:
            end = data.find(0, start)
            if end < 0:
                self._append(data[start:])
                return out
            self._append(data[start:end])
            if self._overlong:
                out.append((end + 1, BadFrame("overlong frame", self._limit)))
            elif self._buf:
                out.append((end + 1, self._decode(bytes(self._buf))))
            self._buf.clear()
            self._overlong = False
            start = end + 1

    def _append(self, chunk: bytes) -> None:
        if self._overlong:
            return
        if len(self._buf) + len(chunk) > self._limit:
            self._overlong = True
            self._buf.clear()
        else:
            self._buf += chunk

    @staticmethod
    def _decode(encoded: bytes) -> Frame | BadFrame:
        try:
            raw = cobs.decode(encoded)
        except cobs.DecodeError:
            return BadFrame("COBS decode error", len(encoded))
        if len(raw) < MIN_FRAME:
            return BadFrame("frame shorter than header + CRC", len(encoded))
        body, crc = raw[:-CRC_SIZE], raw[-CRC_SIZE:]
        if zlib.crc32(body).to_bytes(CRC_SIZE, "little") != crc:
            return BadFrame("CRC mismatch", len(encoded))
        version, type_, seq, flags, status, index, count, length = HEADER.unpack_from(body)
        payload = body[HEADER.size:]
        if length != len(payload):
            return BadFrame(f"length field {length} != payload {len(payload)}", len(encoded))
        if count == 0 or index >= count:
            return BadFrame(f"fragment {index} of {count}", len(encoded))
        return Frame(version, type_, seq, flags, status, index, count, payload)


class Reassembler:
    """Collects the fragments of one message, in order; anything out of order restarts it."""

    def __init__(self, max_message: int) -> None:
        self._max = max_message
        self._key: tuple[int, int] | None = None
        self._parts: list[bytes] = []
        self._size = 0

    def reset(self) -> None:
        self._key, self._parts, self._size = None, [], 0

    def add(self, frame: Frame) -> bytes | None:
        """Return the whole payload when ``frame`` completes a message, else ``None``."""
        if frame.frag_count == 1:
            self.reset()
            return frame.payload
        key = (frame.type, frame.seq)
        if frame.frag_index == 0:
            self._key, self._parts, self._size = key, [], 0
        elif key != self._key or frame.frag_index != len(self._parts):
            self.reset()
            return None
        self._parts.append(frame.payload)
        self._size += len(frame.payload)
        if self._size > self._max:
            self.reset()
            return None
        if len(self._parts) == frame.frag_count:
            payload = b"".join(self._parts)
            self.reset()
            return payload
        return None
