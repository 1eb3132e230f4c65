"""What the live folder knows of one entry file between two reads of it.

A file's stat signature tells whether it changed, is gone, or cannot be looked at, so
that only changed files are read again; a ``FileState`` holds what was last read from
the file: the version in use, the last valid one to fall back on, and its problems;
``TouchedFiles`` holds them by name and says which names changed.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

from medfeed.errors import Problem
from medfeed.store import Item

Signature = tuple[int, int, int, int, int]
"""What stat says of a file: (mtime_ns, ctime_ns, size, inode, device).

Any write, rename over, chmod or new hard link gives a new ctime, and the inode and
device tell one file from another (a folder swapped for a copy): equal signatures mean
the same bytes, short of two writes within one tick of the file system's clock."""


class StatError(Exception):
    """The file may be there, but stat() was refused (permissions, I/O)."""


def read_signature(path: str | Path) -> Signature | None:
    """The file's signature, or None if it is gone.

    Raises:
        StatError: the file may exist but cannot be looked at.
    """
    try:
        # Follow links, so that an edited link target is noticed.
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        try:
            st = os.lstat(path)  # a dangling link is there; reading it will say why
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            raise StatError(e.strerror or str(e)) from e
    except OSError as e:
        if e.errno != errno.ELOOP:
            raise StatError(e.strerror or str(e)) from e
        st = os.lstat(path)  # a link loop is there; reading it will say why
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_dev)


# A named tuple, not a frozen dataclass: one per entry file, 100,000 made at a start-up
# in a large folder, and a tuple is made without a Python-level __init__.
class FileState(NamedTuple):
    """What was last read from one entry file."""

    signature: Signature | None
    item: Item | None
    last_good: Item | None
    problems: tuple[Problem, ...]
    read_ns: int = 0
    """The wall clock, in nanoseconds, just before the signature was taken."""


class TouchedFiles(dict[str, FileState]):
    """A live folder's files by name that tell ``touched`` of each name set or removed,
    whichever code path does it (see ``itemchoice``)."""

    def __init__(self, touched: Callable[[Iterable[str]], None]) -> None:
        super().__init__()
        self._touched = touched

    def __setitem__(self, name: str, state: FileState) -> None:
        self._touched((name,))
        super().__setitem__(name, state)

    def __delitem__(self, name: str) -> None:
        self._touched((name,))
        super().__delitem__(name)

    def pop(self, name: str, *default: Any) -> Any:
        self._touched((name,))
        return super().pop(name, *default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        changes = dict(*args, **kwargs)
        self._touched(changes)
        super().update(changes)

    def setdefault(self, name: str, default: FileState) -> FileState:
        self._touched((name,))
        return super().setdefault(name, default)

    def popitem(self) -> tuple[str, FileState]:
        name, state = super().popitem()
        self._touched((name,))
        return name, state

    def clear(self) -> None:
        self._touched(self)
        super().clear()
