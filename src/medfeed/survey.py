"""A restart's look at every file the entry cache knows, taken by a forked child while
this process makes the items the cache holds: at 100,000 files, stat() on each costs
half a second, a sixth of a restart."""

from __future__ import annotations

import os
import weakref
from collections.abc import Mapping
from itertools import compress

from medfeed.cachecodec import Record
from medfeed.cachewriter import FORKS, run_forked
from medfeed.parallel import FILES_FROM, cores

SURVEYED_FROM = FILES_FROM
"""A cache of at least this many records has its files looked at by a child."""


def _unchanged(where: str, records: Mapping[str, Record]) -> bytearray:
    """One byte per record, in the mapping's order: 1 where the file's signature is
    still the one its record was read under."""
    flags = bytearray(len(records))
    for at, (name, record) in enumerate(records.items()):
        expected = record.signature
        if expected is None:
            continue
        try:
            st = os.stat(f"{where}/{name}")
        except OSError:
            continue  # gone, or refused: the folder's own look says which
        if (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_dev) == expected:
            flags[at] = 1
    return flags


class Survey:
    """Which of the files ``records`` name still have the signature recorded, worked
    out by a child forked now (on Linux, with a second core, for a large cache).

    The child shares ``records`` as they are at the fork; they must not change until
    ``unchanged`` or ``close``, each of which reaps the child (as does dropping the
    object, where a start-up fails before it asks).
    """

    def __init__(self, where: str, records: Mapping[str, Record]) -> None:
        self._records = records
        self._read_end = -1
        self._end: weakref.finalize[[int, int], Survey] | None = None
        if len(records) < SURVEYED_FROM or cores() < 2 or not FORKS:
            return
        read_end, write_end = os.pipe()

        def look() -> int:
            flags = _unchanged(where, records)
            with os.fdopen(write_end, "wb") as out:
                out.write(flags)
            return 0

        pid = run_forked(look, [write_end])
        os.close(write_end)
        self._read_end = read_end
        self._end = weakref.finalize(self, _end_child, pid, read_end)

    def unchanged(self) -> set[str] | None:
        """The names of the files that had the signature recorded; None where no child
        looked (or it failed): the caller looks itself."""
        if self._end is None or not self._end.alive:
            return None
        flags = bytearray()
        while chunk := os.read(self._read_end, 1 << 16):
            flags += chunk
        if self._end() != 0 or len(flags) != len(self._records):
            return None
        return set(compress(self._records, flags))

    def close(self) -> None:
        """Forget the answer (if any) and reap the child."""
        if self._end is not None:
            self._end()


def _end_child(pid: int, read_end: int) -> int:
    """Close the pipe (a child still writing gets EPIPE, not a wait) and reap the child;
    its exit status."""
    os.close(read_end)
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return -1  # not this process's child: it was forked with the object
