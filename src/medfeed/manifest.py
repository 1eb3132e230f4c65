"""The manifest of a static build (``.medfeed-build``): what medfeed wrote in its output
folder, read back with distrust.

A rebuild deletes only what the manifest lists, so every path in it is checked to stay
inside the folder, and every file is checked to be the one medfeed wrote (its mtime, size
and inode) before it goes; ``outdir`` does the writing and deleting.
"""

from __future__ import annotations

import bisect
import errno
import json
import os
import stat
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

MARKER = ".medfeed-build"
"""The manifest of what medfeed wrote in a folder; a rebuild touches nothing else."""
MANIFEST_FORMAT = 1

Record = tuple[str, int, int, int, int, int]
"""A document as written: etag, mtime (ns), then size and inode of the file and its .gz."""


@dataclass(frozen=True)
class Manifest:
    """What earlier builds wrote in a folder: documents by file, and folders they made."""

    documents: dict[str, Record | None]
    """None: listed before it was written, by a build that may have stopped before."""
    folders: frozenset[str]
    legacy: bool = False
    keys: dict[str, str] = field(default_factory=dict)
    """What the document of each listed file showed, where it is known (``documentkeys``):
    a rebuild does not make again a document that shows the same, if its file is intact."""


def inside(rel: object) -> str:
    """A path as medfeed lists it, relative to the output folder and never leaving it.

    Raises:
        ValueError: it is empty, absolute, not normalised, has a ``..`` (or ``.``), a
            backslash or a NUL, or cannot be a file name.
    """
    # An empty part is a leading, trailing or doubled slash, or an empty path.
    if not isinstance(rel, str) or {"", ".", ".."} & {*rel.split("/")} or {"\0", "\\"} & {*rel}:
        raise ValueError(f"not a path inside the folder: {rel!r}")
    os.fsencode(rel)  # a lone surrogate is no file name (UnicodeEncodeError)
    return rel


def _record(value: object) -> Record | None:
    if value is None:
        return None
    if isinstance(value, list) and len(value) == 6 and isinstance(value[0], str):
        # Times, sizes and inodes are 64-bit: a larger number is no file's.
        if all(type(n) is int and -(2**63) <= n < 2**63 for n in value[1:]):
            return (value[0], value[1], value[2], value[3], value[4], value[5])
    raise ValueError(f"not a record: {value!r}")


def read_manifest(root: Path) -> Manifest | None:
    """The manifest of an earlier build in ``root``, or None if medfeed never built there.

    A damaged manifest, and one naming any path that is not inside ``root`` (``../x``,
    ``/etc/x``), is read as a marker from before manifests: none of its paths is trusted.
    """
    try:
        raw = _read_marker(root / MARKER)
    except FileNotFoundError:
        return None
    try:
        data = json.loads(raw)
        if data["medfeed-build"] != MANIFEST_FORMAT:
            raise ValueError("another manifest format")
        documents = {inside(k): _record(v) for k, v in data["documents"].items()}
        folders = frozenset(inside(f) for f in data["folders"])
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        # A marker from before manifests, or a damaged one: medfeed built this folder but
        # did not list what, so the files at the new build's paths count as medfeed's
        # (and, none being listed, none is deleted).
        return Manifest({}, frozenset(), legacy=True)
    return Manifest(documents, folders, keys=_keys(data.get("keys"), documents))


def _keys(found: object, documents: Mapping[str, Record | None]) -> dict[str, str]:
    # Written by builds since keys were kept; anything else about them makes every
    # document be made again, nothing worse.
    if not isinstance(found, dict):
        return {}
    keys = {rel: key for rel, key in found.items() if documents.get(rel) is not None}
    return keys if all(isinstance(key, str) for key in keys.values()) else {}


def _read_marker(path: Path) -> bytes:
    # Not through a symbolic link, and never waiting on a FIFO: such a marker is damaged.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        if e.errno != errno.ELOOP:
            raise
        return b""
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
        if not stat.S_ISREG(mode):
            return b""
        with os.fdopen(os.dup(fd), "rb") as marker:
            return marker.read()
    finally:
        os.close(fd)


def manifest_bytes(
    documents: Mapping[str, Record | None],
    folders: set[str],
    keys: Mapping[str, str] | None = None,
) -> bytes:
    """The manifest listing these documents and folders (and what the documents show,
    where it is known), in a stable order."""
    listed = {rel: documents[rel] for rel in sorted(documents)}
    data: dict[str, object] = {
        "medfeed-build": MANIFEST_FORMAT,
        "documents": listed,
        "folders": sorted(folders),
    }
    if keys:
        data["keys"] = {rel: keys[rel] for rel in sorted(keys) if rel in documents}
    return json.dumps(data, separators=(",", ":")).encode()


class ManifestText:
    """A manifest's text kept document by document, for a process that writes it again
    after each few changes: a join of what changed, where ``manifest_bytes`` encodes every
    record (100,000 entries: 0.6 s). The same bytes as ``manifest_bytes``.

    The files are joined in blocks of ``block``, each joined again only once one of its
    files changed (or files before it came or went), and the folders only once they
    change: a round of a few documents over 20,000 joins a few blocks."""

    def __init__(
        self,
        documents: Mapping[str, Record | None],
        keys: Mapping[str, str] | None = None,
        block: int = 256,
    ) -> None:
        self._documents = {rel: _pair(rel, record) for rel, record in documents.items()}
        self._keys = {rel: _pair(rel, key) for rel, key in (keys or {}).items()}
        self._order = sorted(self._documents.keys() | self._keys.keys())
        """Every file listed with a record or a key, in order (kept so, not sorted again)."""
        self._block = block
        self._blocks: list[tuple[str, str] | None] = [None] * self._block_count()
        """Each block's documents and keys, joined; None where to be joined again."""
        self._folders: tuple[frozenset[str], str] | None = None

    def _block_count(self) -> int:
        return -(-len(self._order) // self._block)

    def _changed(self, index: int, shifted: bool) -> None:
        # A file that came or went moves every file after it to another place.
        first = index // self._block
        if shifted:
            del self._blocks[first:]
            self._blocks += [None] * (self._block_count() - first)
        else:
            self._blocks[first] = None

    def put(self, rel: str, record: Record | None, key: str | None) -> None:
        """List a document with its record and what it shows (None: not known)."""
        index = bisect.bisect_left(self._order, rel)
        if rel not in self._documents and rel not in self._keys:
            self._order.insert(index, rel)
            self._changed(index, shifted=True)
        else:
            self._changed(index, shifted=False)
        self._documents[rel] = _pair(rel, record)
        if key is None:
            self._keys.pop(rel, None)
        else:
            self._keys[rel] = _pair(rel, key)

    def drop(self, rel: str) -> None:
        """List a document no more."""
        found = self._documents.pop(rel, None), self._keys.pop(rel, None)
        if found != (None, None):
            index = bisect.bisect_left(self._order, rel)
            del self._order[index]
            self._changed(index, shifted=True)

    def _joined(self, number: int) -> tuple[str, str]:
        found = self._blocks[number]
        if found is None:
            listed, keyed = self._documents, self._keys
            rels = self._order[number * self._block : (number + 1) * self._block]
            found = self._blocks[number] = (
                ",".join([listed[rel] for rel in rels if rel in listed]),
                ",".join([keyed[rel] for rel in rels if rel in keyed and rel in listed]),
            )
        return found

    def text(self, folders: set[str]) -> bytes:
        """The manifest, listing these folders."""
        blocks = [self._joined(number) for number in range(len(self._blocks))]
        documents = ",".join([joined for joined, _ in blocks if joined])
        if self._folders is None or self._folders[0] != folders:
            self._folders = frozenset(folders), json.dumps(sorted(folders), separators=(",", ":"))
        head = f'{{"medfeed-build":{MANIFEST_FORMAT},"documents":{{{documents}}},"folders":'
        text = head + self._folders[1]
        if self._keys:
            keys = ",".join([joined for _, joined in blocks if joined])
            text += f',"keys":{{{keys}}}'
        return (text + "}").encode()


def _pair(rel: str, value: object) -> str:
    return json.dumps(rel) + ":" + json.dumps(value, separators=(",", ":"))


def as_written(found: os.stat_result, record: Record, gz: bool = False) -> bool:
    """Whether a document's file (or its .gz) is still the one medfeed wrote."""
    # A file replaced or edited since medfeed wrote it has a new inode, size or mtime.
    size, inode = (record[4], record[5]) if gz else (record[2], record[3])
    on_disk = (found.st_mtime_ns, found.st_size, found.st_ino)
    return stat.S_ISREG(found.st_mode) and on_disk == (record[1], size, inode)


def a_written_pair(main: os.stat_result, gz: os.stat_result, body: bytes, packed: bytes) -> bool:
    """Whether a file and its .gz, of a document listed without a record, are as a build
    writes them: both of one mtime, the .gz holding the file's bytes."""
    if not (stat.S_ISREG(main.st_mode) and stat.S_ISREG(gz.st_mode)):
        return False
    if main.st_mtime_ns != gz.st_mtime_ns or main.st_size != len(body):
        return False
    try:
        # At most one byte more than the file: a .gz of anything larger is not its copy.
        unpacked = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(packed, len(body) + 1)
    except zlib.error:
        return False
    return unpacked == body
