"""PROTOCOL.md is the contract a firmware author implements: its tables must say what the code does."""
from __future__ import annotations

import json
import re
import struct
from pathlib import Path

from neurophys.firmware_interface.capabilities import _IDENTITY, _LAYOUT, _SESSION
from neurophys.firmware_interface.emulator.devices import PRESETS
from neurophys.firmware_interface.protocol import HEADER, HELLO_BODY, PROTOCOL_VERSION, Msg, Status

DOC = (Path(__file__).resolve().parents[1] / "firmware_interface" / "PROTOCOL.md").read_text()
TYPES = {"u8": "B", "u16": "H", "u32": "I", "u64": "Q", "i16": "h", "i32": "i", "f64": "d"}


def section(start: str, end: str) -> str:
    return DOC[DOC.index(start):DOC.index(end, DOC.index(start))]


def test_version():
    assert re.search(r"^# .* version (\d+)$", DOC, re.M).group(1) == str(PROTOCOL_VERSION)


def test_header_table_is_the_header_struct():
    rows = re.findall(r"^\| (\d+)\s+\| (u8|u16)\s+\| `(\w+)`", section("## 1.", "## 2."), re.M)
    fmt = "<" + "".join(TYPES[t] for _, t, _ in rows)
    assert fmt == HEADER.format
    offsets = [int(o) for o, _, _ in rows]
    assert offsets == [struct.calcsize(fmt[:i + 1]) - struct.calcsize(fmt[i]) for i in range(1, len(fmt))]
    assert [name for _, _, name in rows] == ["version", "type", "seq", "flags", "status", "frag_index",
                                            "frag_count", "length"]


def test_message_table_lists_every_message():
    rows = re.findall(r"^\| 0x([0-9A-F]{2}) \| (\w+) \|", section("## 3.", "### HELLO"), re.M)
    assert {name: int(code, 16) for code, name in rows} == {m.name: int(m) for m in Msg}


def test_status_table_lists_every_status():
    rows = re.findall(r"^\| (\d+) \| (\w+) \|", section("## 4.", "## 5."), re.M)
    assert {name: int(code) for code, name in rows} == {s.name: int(s) for s in Status}


def test_hello_layout_is_the_codec_layout():
    text = section("### HELLO reply body", "### Command semantics")
    pairs = re.findall(r"(\w+) (u8|u16|u32|u64|f64|16 bytes)", text)
    layout = {name: ("16s" if kind == "16 bytes" else kind) for name, kind in pairs}
    assert list(layout.items()) == [*_LAYOUT.items(), *_SESSION.items(), *_IDENTITY.items()]
    size = sum(16 if k == "16s" else struct.calcsize(TYPES[k]) for k in layout.values())
    assert size == HELLO_BODY and f"{size} bytes in all" in text


def test_preset_parameters_are_the_code_presets():
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)\n```", DOC, re.S)]
    assert {b["name"]: b for b in blocks} == {name: json.loads(json.dumps(d.to_dict())) for name, d in PRESETS.items()}
