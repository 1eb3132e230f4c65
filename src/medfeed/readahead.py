"""A first start's reading of many entry files, shared out between every core: at
10,000 files, validating them is most of a start-up without an entry cache."""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

from medfeed.cachecodec import decode_entry, entry_bytes
from medfeed.cachefile import Pickled, Spill, checksum
from medfeed.errors import EntryError
from medfeed.filestate import Signature, StatError, read_signature
from medfeed.parallel import FILE_SHARE, FILES_FROM, in_shares
from medfeed.reading import read_entry
from medfeed.storedentry import AnyEntry, head_of

Ahead = tuple[Signature, AnyEntry, int]
"""A valid file read ahead: its signature taken just before, its entry and its mtime."""
Share = tuple[int, bytes, list[tuple[str, Signature, int]], list[Pickled]]
"""A share's valid files: where in the spill their entries' pickles were written (-1:
not written there), those pickles where they were not, one after another, each
file's name, signature and mtime, and where in those bytes its entry's pickle lies."""


def read_ahead(
    root: Path,
    listed: set[str],
    known: Collection[str],
    recorded: Collection[str] = (),
    spill_to: Callable[[], Spill | None] | None = None,
) -> dict[str, Ahead]:
    """The valid entry files of ``root`` but those ``recorded`` (in the entry cache), of
    the names ``listed`` there, read by this process and forked children; their entries
    kept in the spill ``spill_to`` gives, where it gives one (see ``Spill``), else in
    memory.

    Each comes with the signature taken before it was read: whoever uses it checks the
    file's signature is still that one (else the file changed since, and is read
    again). Files with problems are left out, to be read (and reported) where needed.
    """
    names = sorted(listed.difference(recorded))
    if len(names) < FILES_FROM:
        return {}  # read where they are needed, one at a time
    spill = spill_to() if spill_to is not None else None
    found: dict[str, Ahead] = {}
    for base, data, files, pickled in in_shares(
        names, lambda share: _read_share(root, share, known, spill), FILE_SHARE
    ):
        entries = _entries(base, data, pickled, spill)
        for (name, signature, modified), entry in zip(files, entries, strict=True):
            found[name] = (signature, entry, modified)
    return found


def _entries(base: int, data: bytes, pickled: list[Pickled], spill: Spill | None) -> list[AnyEntry]:
    if base >= 0 and spill is not None:
        return list(spill.stored(base, pickled))
    view = memoryview(data)
    return [decode_entry(bytes(view[at : at + length])) for _, at, length, _ in pickled]


def _read_share(root: Path, names: list[str], known: Collection[str], spill: Spill | None) -> Share:
    # Each entry pickled alone, as the entry cache holds it; written to the spill by
    # whichever process read it, and sent back as the heads alone.
    data = bytearray()
    files: list[tuple[str, Signature, int]] = []
    pickled: list[Pickled] = []
    where = str(root)
    for name in names:
        try:
            signature = read_signature(f"{where}/{name}")
            if signature is None:
                continue
            entry, modified = read_entry(root / name, root, known)
        except (StatError, EntryError):
            continue
        raw = entry_bytes(entry)
        files.append((name, signature, modified))
        pickled.append((head_of(entry), len(data), len(raw), checksum(raw)))
        data += raw
    if spill is not None:
        try:
            return spill.write(data), b"", files, pickled
        except OSError:
            pass  # a full disk: these are sent back, to be kept in memory
    return -1, bytes(data), files, pickled
