"""Read a file of a folder safely: only regular files, links only within the folder, never
blocking on a FIFO or reading a device, never more than a limit.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class Unreadable(OSError):
    """A file that exists but cannot be used as text: its message says why."""


OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


def read_regular_file(path: Path, root: Path, limit: int) -> tuple[bytes, int]:
    """The bytes of a regular file in ``root`` and its mtime in nanoseconds.

    Links are followed only within the folder; FIFOs, devices and folders are refused
    without being opened for long or read (a FIFO would block, /dev/zero never ends);
    at most ``limit`` bytes are read.

    Raises:
        FileNotFoundError: there is no such file (a dangling link counts as a problem).
        Unreadable: the file is there but cannot be used, with the reason.
    """
    try:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            # strict: a loop or a dangling link is an error here, not a path to guess at.
            target = os.path.realpath(path, strict=True)
            inside = os.path.realpath(root, strict=True)
            if os.path.commonpath([target, inside]) != inside:
                raise Unreadable("is a link to outside the folder; not followed")
            mode = os.stat(target).st_mode
        if stat.S_ISDIR(mode):
            raise Unreadable("is a folder, not a file")
        if not stat.S_ISREG(mode):
            raise Unreadable("is not a regular file (a FIFO, socket or device); not read")
        fd = os.open(path, OPEN_FLAGS)
    except Unreadable:
        raise
    except FileNotFoundError:
        if path.is_symlink():
            raise Unreadable("is a link to a file that does not exist") from None
        raise
    except OSError as e:
        raise Unreadable(f"cannot be read ({e.strerror or e})") from e
    try:
        with os.fdopen(fd, "rb") as f:
            # Checked again on what was opened: the name may have changed hands since.
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise Unreadable("is not a regular file (a FIFO, socket or device); not read")
            raw = f.read(limit + 1) if info.st_size <= limit else b""
    except Unreadable:
        raise
    except OSError as e:
        raise Unreadable(f"cannot be read ({e.strerror or e})") from e
    if info.st_size > limit or len(raw) > limit:
        raise Unreadable(f"is larger than the {limit // 1024} KiB limit for this file")
    return raw, info.st_mtime_ns
