"""The layout of the entry cache's file after its header: each entry's pickle, one
after another; the records naming them (framed pickles of CHUNK records, each entry
named by its head and where its pickle lies); and a trailer saying where the records
begin and what the entries' bytes sum to. A restart reads the records and checks the
entries' bytes; the entries themselves are read back one at a time, when a document
shows them (see ``storedentry``).
"""

from __future__ import annotations

import io
import math
import multiprocessing
import os
import pickle
import struct
from collections.abc import Iterator, Mapping
from typing import BinaryIO

from medfeed.cachecodec import (
    Record,
    RecordPickler,
    Ref,
    Version,
    decode,
    decode_entry,
    entry_bytes,
)
from medfeed.crc import crc32
from medfeed.storedentry import Blobs, Head, StoredEntry, head
from medfeed.storedentry import published as published_of

FRAME = struct.Struct("<QI")
"""Each chunk's length and CRC-32; a length of 0 ends the records."""
TRAILER = struct.Struct("<QQI8s")
"""Where the entries' pickles begin and the records begin, and the entries' CRC-32."""
TRAILER_MARK = b"medfeed\n"
READ_SIZE = 1 << 20
"""Bytes read at a time to check the entries' CRC-32 at load (the file is 300 MB at
100,000 entries: never read whole into memory)."""
CHUNK = 500
"""Records per pickle: a writer thread lets requests run between two of them."""

Pickled = tuple[Head, int, int, int]
"""An entry pickled among others: its head, where its pickle starts, its length and CRC-32."""


class Spill:
    """Entries kept in an unnamed file rather than in memory, read back like a restart's.

    A first start validates every file; at 100,000 entries the models would weigh
    600 MB in each process serving them, where their pickles weigh 270 MB of the
    operating system's page cache, which it can drop and read again. The file vanishes
    with the last entry read back from it. Processes forked after it was made write to
    it too, each where it reserved room.
    """

    def __init__(self, f: BinaryIO) -> None:
        self._fd = f.fileno()
        self._blobs = Blobs(f, decode_entry)
        context = multiprocessing.get_context("fork")
        self._end = context.RawValue("q", 0)
        self._lock = context.Lock()

    def write(self, data: bytes | bytearray) -> int:
        """Write ``data`` where no other process writes; where it starts.

        Raises:
            OSError: the file cannot take it (its disk is full).
        """
        with self._lock:
            base: int = self._end.value
            self._end.value = base + len(data)
        view = memoryview(data)
        written = 0
        while written < len(data):
            wrote = os.pwrite(self._fd, view[written:], base + written)
            if wrote <= 0:
                raise OSError("the file takes no more bytes")
            written += wrote
        return base

    def stored(self, base: int, pickled: list[Pickled]) -> list[StoredEntry]:
        """The entries ``write`` wrote at ``base``, as ``pickled`` says they lie there."""
        return [
            StoredEntry(facts, self._blobs, base + start, length, crc)
            for facts, start, length, crc in pickled
        ]


def write_records(f: BinaryIO, records: Mapping[str, Record]) -> None:
    """After the header: every entry's pickle, the records naming them, the trailer.

    An entry read back from the cache being replaced is copied as its bytes, not
    unpickled and pickled again."""
    start = f.tell()
    crc = 0
    placed: dict[int, Version] = {}  # by id(): a version both current and published once
    shared: dict[tuple[str, ...], tuple[str, ...]] = {}

    def place(version: Version | None) -> Version | None:
        nonlocal crc
        if version is None:
            return None
        found = placed.get(id(version))
        if found is None:
            data = entry_bytes(version.entry)
            facts = head(version.entry)
            # One tuple for each set of categories: pickled once per chunk of records,
            # read back as one object for all the chunk's entries that share it.
            facts = facts._replace(categories=shared.setdefault(facts.categories, facts.categories))
            ref = Ref(facts, f.tell(), len(data), checksum(data))
            f.write(data)
            crc = crc32(data, crc)
            found = placed[id(version)] = version._replace(entry=ref)  # type: ignore[arg-type]
        return found

    on_disk = {
        name: Record(record.signature, place(record.current), place(record.published))
        for name, record in sorted(records.items(), key=_oldest_first)
    }
    index = f.tell()
    for frame in encode(on_disk):
        f.write(frame)
    f.write(TRAILER.pack(start, index, crc, TRAILER_MARK))


def _oldest_first(row: tuple[str, Record]) -> tuple[float, str]:
    """Records in the order a folder's items are sorted in (``Item.order``): a restart
    makes its items in that order, and sorts them in one pass, on memory laid out in
    it; the entries of a month lie together in the file."""
    name, (_, current, published) = row
    version = published or current
    moment = published_of(version.entry).timestamp() if version is not None else -math.inf
    return moment, name.removesuffix(".json")


def encode(records: Mapping[str, Record]) -> Iterator[bytes]:
    """The records as framed pickles of CHUNK records each, made one at a time, then
    the frame that ends them."""
    rows = list(records.items())
    for i in range(0, len(rows), CHUNK):
        out = io.BytesIO()
        RecordPickler(out, pickle.HIGHEST_PROTOCOL).dump(dict(rows[i : i + CHUNK]))
        chunk = out.getvalue()
        yield FRAME.pack(len(chunk), checksum(chunk)) + chunk
    yield FRAME.pack(0, 0)


def read_records(f: BinaryIO, *, keep_all: bool = False) -> dict[str, Record]:
    """What ``write_records`` wrote after the header, the entries left in the file
    (``f`` stays open for them: ``Blobs``; ``keep_all``: each stays decoded once read).

    Raises:
        ValueError: the file is truncated, damaged, or holds anything else.
        pickle.UnpicklingError: a class other than the models' and their fields' types.
    """
    header_end = f.tell()
    size = f.seek(0, io.SEEK_END)
    if size - header_end < TRAILER.size:
        raise ValueError("truncated")
    f.seek(size - TRAILER.size)
    start, index, crc, mark = TRAILER.unpack(f.read(TRAILER.size))
    if mark != TRAILER_MARK or not header_end == start <= index <= size - TRAILER.size:
        raise ValueError("truncated or damaged")
    f.seek(start)
    if _crc_of(f, index - start) != crc:
        raise ValueError("the entries are damaged")
    blobs = Blobs(f, decode_entry, keep_all=keep_all)

    def place(pid: object) -> StoredEntry:
        if type(pid) is not tuple or len(pid) != 4:
            raise ValueError("a record names an entry in no known way")
        facts, offset, length, check = pid
        if not (
            type(facts) is Head
            and type(offset) is int
            and type(length) is int
            and type(check) is int
        ):
            raise ValueError("a record names an entry in no known way")
        if not start <= offset <= offset + length <= index:
            raise ValueError("a record names bytes outside the entries")
        return StoredEntry(facts, blobs, offset, length, check)

    records: dict[str, Record] = {}
    for chunk in read_frames(f, size - TRAILER.size):
        records.update(decode(chunk, place))
    return records


def _crc_of(f: BinaryIO, length: int) -> int:
    # Into one buffer: a new megabyte for each read is new pages to fault in (318 of
    # them at 100,000 entries).
    crc = 0
    buffer = bytearray(min(length, READ_SIZE))
    view = memoryview(buffer)
    while length > 0:
        got = f.readinto(view[: min(length, READ_SIZE)])  # type: ignore[attr-defined]
        if not got:
            raise ValueError("truncated")
        crc = crc32(view[:got], crc)
        length -= got
    return crc


def checksum(chunk: bytes) -> int:
    """What tells a damaged chunk (CRC-32: fast, and no one forges our own files)."""
    return crc32(chunk)


def read_frames(f: BinaryIO, end: int) -> Iterator[bytes]:
    """The chunks ``encode`` framed, checked, one at a time, up to ``end``.

    Raises:
        ValueError: the file is truncated, damaged or longer than its frames.
    """
    while True:
        head = f.read(FRAME.size)
        if len(head) != FRAME.size:
            raise ValueError("truncated")
        size, crc = FRAME.unpack(head)
        if size == 0:
            break
        chunk = f.read(size)
        if len(chunk) != size or checksum(chunk) != crc:
            raise ValueError("truncated or damaged")
        yield chunk
    if f.tell() != end:
        raise ValueError("longer than its frames")
