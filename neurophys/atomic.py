"""Files appear whole or not at all: each is written to a temporary in its own folder and moved
over the target with `os.replace`, so a crash, a full disk or Ctrl-C leaves the previous file (or
none), never half of one. The file gets the mode a plain `open` would give it (the umask's), not
`mkstemp`'s 0600, and errors name the target, not the temporary."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(path: str | os.PathLike) -> Path:
    """Refuse early (PermissionError / FileNotFoundError naming `path`) when `path` could not be
    written, so long work is not done first and lost at the end."""
    path = Path(path)
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(20, "is not a folder", str(folder))
    if not folder.is_dir():
        raise FileNotFoundError(2, "the folder to write into does not exist", str(path))
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise PermissionError(13, "not writable", str(path))
    if path.is_dir():
        raise IsADirectoryError(21, "is a folder", str(path))
    return path


@contextmanager
def replacing(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8"):
    """Yield a file object for `path` ("w" text, "wb" binary, "w+b" for writers that seek and read
    back, like HDF5); on a clean exit it replaces `path`, on an exception the temporary is removed
    and `path` is untouched."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:  # name the file the caller asked for, not the temporary
        raise type(exc)(exc.errno, exc.strerror, str(path)) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as fh:
            yield fh
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        if exc.errno is not None and exc.filename in (tmp, None):  # e.g. ENOSPC while writing, EACCES on replace
            raise type(exc)(exc.errno, exc.strerror, str(path)) from None
        raise
    except BaseException:
        _remove(tmp)
        raise


def _remove(tmp: str) -> None:
    try:
        os.remove(tmp)
    except FileNotFoundError:
        pass
