"""Entries kept in the entry cache's file rather than in memory: what every pass over
all entries needs of each (its head), and the rest read back when a document shows it.

At 100,000 entries the validated models weigh 600 MB in each process serving them;
their heads weigh a tenth of that. A process restarted on unchanged content unpickles
an entry only when it renders one of its documents, from the cache file it loaded
(opened once, read with ``pread``: the operating system's page cache, not each
process's memory, holds the bytes, and every worker shares it).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime
from typing import BinaryIO, NamedTuple

from medfeed.crc import crc32
from medfeed.errors import CacheDamaged
from medfeed.models import Entry, has_point

DECODED_KEPT = 1024
"""How many entries read back from a cache file each process keeps decoded: a feed's
items and a page's neighbours are read once, not once per field."""


class Head(NamedTuple):
    """What the rules across files, the indexes and the start-up need of an entry."""

    id: str | None
    published: datetime
    updated: datetime | None
    categories: tuple[str, ...]
    aliases: tuple[str, ...]
    draft: bool
    event_days: tuple[date, date] | None
    """The first and last day of the entry's event, if it has one (a calendar orders
    its events without reading every entry back)."""
    event_located: bool = False
    """Whether the entry's event has a place with coordinates (a feed that shows it
    declares GeoRSS without reading every entry back)."""

    @property
    def has_event(self) -> bool:
        """Whether the entry reports an event."""
        return self.event_days is not None

    @property
    def last_changed(self) -> datetime:
        """``updated`` where given, else ``published``."""
        return self.updated or self.published


def head_of(entry: Entry) -> Head:
    """The head of a validated entry."""
    return Head(
        entry.id,
        entry.published,
        entry.updated,
        entry.categories,
        entry.aliases,
        entry.draft,
        entry.event.days if entry.event is not None else None,
        entry.event is not None and has_point(entry.event.location),
    )


class Blobs:
    """An open cache file from which entries are read back one at a time.

    The file is never written in place (a new cache replaces it by renaming), so what
    was checked when it was loaded stays true for as long as it is open.
    """

    def __init__(
        self, f: BinaryIO, decode: Callable[[bytes], Entry], *, keep_all: bool = False
    ) -> None:
        self._file = f
        self._keep_all = keep_all
        """Whether every entry read back stays decoded (a whole-folder read), not only
        the last DECODED_KEPT."""
        # Closed once no entry it holds is in use any more.
        weakref.finalize(self, f.close)
        self._decode = decode
        self._kept: OrderedDict[int, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def fileno(self) -> int:
        """The open file (a forked child that writes the next cache reads from it)."""
        return self._file.fileno()

    def read(self, offset: int, length: int, crc: int) -> bytes:
        """The bytes of one entry, checked.

        Raises:
            CacheDamaged: they are not there, or not those the file was written with.
        """
        data = os.pread(self._file.fileno(), length, offset)
        if len(data) != length or crc32(data) != crc:
            raise CacheDamaged(f"the entry cache's bytes at {offset} are damaged")
        return data

    def entry(self, offset: int, length: int, crc: int) -> Entry:
        """One entry, decoded (kept among the last DECODED_KEPT read)."""
        with self._lock:
            found = self._kept.get(offset)
            if found is not None:
                self._kept.move_to_end(offset)
                return found
        entry = self._decode(self.read(offset, length, crc))
        with self._lock:
            self._kept[offset] = entry
            if not self._keep_all and len(self._kept) > DECODED_KEPT:
                self._kept.popitem(last=False)
        return entry


class StoredEntry:
    """An entry whose head is in memory and whose whole lies in a cache file."""

    __slots__ = ("head", "_blobs", "_offset", "_length", "_crc")

    def __init__(self, head: Head, blobs: Blobs, offset: int, length: int, crc: int) -> None:
        self.head = head
        self._blobs = blobs
        self._offset, self._length, self._crc = offset, length, crc

    def load(self) -> Entry:
        """The entry itself."""
        return self._blobs.entry(self._offset, self._length, self._crc)

    @property
    def check(self) -> tuple[int, int]:
        """The length and CRC-32 of the entry's pickle, known without reading it back."""
        return self._length, self._crc

    def raw(self) -> bytes:
        """The entry's pickle as the cache file holds it (copied into the next one)."""
        return self._blobs.read(self._offset, self._length, self._crc)

    @property
    def place(self) -> tuple[Blobs, int]:
        """Where it lies: one place, one entry."""
        return self._blobs, self._offset

    def __eq__(self, other: object) -> bool:
        # The entry it holds, wherever that lies.
        if not isinstance(other, Entry | StoredEntry):
            return NotImplemented
        return same_entry(self, other)

    def __hash__(self) -> int:
        return hash(self.load())  # as the entry's own: equal to it, hashed alike

    def __reduce__(self) -> tuple[Callable[[Entry], Entry], tuple[Entry]]:
        # Sent to another process (a build's worker, a test's copy): the entry itself.
        return (_same, (self.load(),))


def _same(entry: Entry) -> Entry:
    return entry


AnyEntry = Entry | StoredEntry
"""An entry in memory, or one in a cache file."""


def loaded(entry: AnyEntry) -> Entry:
    """The entry itself, read back if it is in a cache file."""
    return entry.load() if isinstance(entry, StoredEntry) else entry


def head(entry: AnyEntry) -> Head:
    """The head of either kind."""
    return entry.head if isinstance(entry, StoredEntry) else head_of(entry)


def published(entry: AnyEntry) -> datetime:
    """The publication time of either kind (``head(entry).published``, none made)."""
    return entry.head.published if isinstance(entry, StoredEntry) else entry.published


def same_entry(a: AnyEntry, b: AnyEntry) -> bool:
    """Whether two entries are equal, without reading either back where that tells."""
    if a is b:
        return True
    if isinstance(a, StoredEntry) and isinstance(b, StoredEntry) and a.place == b.place:
        return True
    try:
        return head(a) == head(b) and loaded(a) == loaded(b)
    except CacheDamaged:
        return False  # not known to be the same: what holds it is read again
