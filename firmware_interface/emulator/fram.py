"""The board's FRAM on disk (`neurophys board serve --state FILE`): a restarted board server boots
with its counters, boot count, board uid, reply cache and device conductances instead of as a
blank board that the host could not tell from the one it had.

The file is rewritten after every command that changed it, atomically (a temporary file in the
same folder, then ``os.replace``), so a killed server leaves either the old or the new state,
never half of one. Its mode follows the umask.
"""
from __future__ import annotations

import os
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

FORMAT = 1
_COUNTERS = ("commands", "crc_errors", "cache_hits", "boot_count", "rx_overflows", "nacks", "last_valid",
             "last_seq", "last_crc", "board_uid", "session_id")


def _identity(firmware) -> dict:
    """What the file must match: the same board size, device model and device-to-device seed."""
    c = firmware.config
    return {"rows": c.rows, "cols": c.cols, "model_hash": c.device.model_hash, "seed": c.seed}


class Fram:
    """Keeps ``firmware``'s non-volatile state and conductances in ``path``."""

    def __init__(self, path: str | os.PathLike, firmware) -> None:
        self.path = Path(path)
        self.firmware = firmware
        self._saved = None

    def boot(self) -> bool:
        """Load the file if there is one (this start counts as a boot) and write it back; False
        when the board starts blank (no file yet). ValueError names a file made for another board."""
        loaded = self.path.exists()
        if loaded:
            self._load()
            self.firmware.nv.boot_count += 1
        self.save()
        return loaded

    def _load(self) -> None:
        fw, nv = self.firmware, self.firmware.nv
        try:
            with np.load(self.path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise ValueError(f"--state {self.path}: not a board state file ({exc})") from None
        if int(data.get("format", -1)) != FORMAT:
            raise ValueError(f"--state {self.path}: format {data.get('format')!r}, this board writes {FORMAT}")
        for key, value in _identity(fw).items():
            if int(data[key]) != value:
                raise ValueError(f"--state {self.path}: made for a board with {key} {int(data[key])}, "
                                 f"this one has {value} (start it with the same --rows/--cols/--model/--seed)")
        for key in _COUNTERS:
            setattr(nv, key, int(data[key]))
        nv.pulses_up[...] = data["pulses_up"]
        nv.pulses_down[...] = data["pulses_down"]
        fw.crossbar.g[...] = data["g"]
        bodies, ends = data["cache_bodies"].tobytes(), data["cache_ends"]
        nv.reply_cache = OrderedDict(
            ((int(s), int(q), int(c)), (int(st), bodies[a:b], float(e)))
            for (s, q, c), st, e, a, b in zip(data["cache_keys"], data["cache_status"], data["cache_exec"],
                                              np.concatenate([[0], ends[:-1]]).astype(int), ends.astype(int)))

    def save(self) -> None:
        """Write the state if it changed since the last write (temporary file + rename)."""
        fw, nv = self.firmware, self.firmware.nv
        stamp = (nv.commands, nv.crc_errors, nv.boot_count, nv.rx_overflows, nv.nacks, fw.state_crc)
        if stamp == self._saved:
            return
        cache = list(nv.reply_cache.items())
        bodies = [bytes(body) for _, (_, body, _) in cache]
        arrays = {"format": FORMAT, **_identity(fw), **{k: np.uint64(getattr(nv, k)) for k in _COUNTERS},
                  "pulses_up": nv.pulses_up, "pulses_down": nv.pulses_down, "g": fw.crossbar.g,
                  "cache_keys": np.array([key for key, _ in cache], np.uint64).reshape(-1, 3),
                  "cache_status": np.array([st for _, (st, _, _) in cache], np.uint8),
                  "cache_exec": np.array([e for _, (_, _, e) in cache], float),
                  "cache_bodies": np.frombuffer(b"".join(bodies), np.uint8),
                  "cache_ends": np.cumsum([len(b) for b in bodies], dtype=np.int64)}
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, self.path)
        finally:
            if tmp.exists():
                tmp.unlink()
        self._saved = stamp
