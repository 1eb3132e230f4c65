"""A first start's reading of many entry files, shared out between every core: at
10,000 files, validating them is most of a start-up without an entry cache."""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

from medfeed.errors import EntryError
from medfeed.filestate import Signature, StatError, read_signature
from medfeed.models import Entry
from medfeed.parallel import FILE_SHARE, FILES_FROM, in_shares
from medfeed.reading import is_entry_name, read_entry

Ahead = tuple[Signature, Entry, int]
"""A valid file read ahead: its signature taken just before, its entry and its mtime."""


def read_ahead(
    root: Path, known: Collection[str], recorded: Collection[str] = ()
) -> dict[str, Ahead]:
    """The valid entry files of the folder but those ``recorded`` (in the entry cache),
    read by this process and forked children.

    Each comes with the signature taken before it was read: whoever uses it checks the
    file's signature is still that one (else the file changed since, and is read
    again). Files with problems are left out, to be read (and reported) where needed.
    """
    try:
        listed = os.listdir(root)
    except OSError:
        return {}  # reported by whoever looks at the folder next
    names = sorted(n for n in set(listed).difference(recorded) if is_entry_name(n))
    if len(names) < FILES_FROM:
        return {}  # read where they are needed, one at a time
    found: dict[str, Ahead] = {}
    for share in in_shares(names, lambda share: _read_share(root, share, known), FILE_SHARE):
        found.update(share)
    return found


def _read_share(root: Path, names: list[str], known: Collection[str]) -> dict[str, Ahead]:
    read: dict[str, Ahead] = {}
    where = str(root)
    for name in names:
        try:
            signature = read_signature(f"{where}/{name}")
            if signature is None:
                continue
            entry, modified = read_entry(root / name, root, known)
        except (StatError, EntryError):
            continue
        read[name] = (signature, entry, modified)
    return read
