"""The texts a static build wrote of each entry (its VEVENT, its line in the lists, its
item in a feed), kept in the state folder for the next build: a rebuild writes again only
the texts of the entries that changed, so that a calendar of thousands of events or a
year's page that changed costs a splice, not thousands of texts.

A text is found by its context (``ItemTexts``), its cut and its entry's digest
(``DocumentKeys``: the file, slug, id, mtime and the entry's content); the whole file
holds texts for one build context (the code, base URL and settings), and is checked
whole (CRC-32) when read. A file in any doubt is not used: the texts are written again.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Collection, Hashable
from datetime import date, datetime
from pathlib import Path

from pydantic import BaseModel

from medfeed.coordination import FOLDER_MODE, create_private, replacing
from medfeed.crc import crc32
from medfeed.documentkeys import DocumentKeys
from medfeed.itemtexts import Cut, ItemTexts
from medfeed.store import Item

log = logging.getLogger("medfeed")

FILE = "build-texts"
MAGIC = b"medfeed build texts 1\n"
_HEAD = struct.Struct(">I")
_ROW = struct.Struct(">I16sBBBI")
"""Context index, entry digest, length of the format's name, with content, shortened,
length of the text."""

TextKey = tuple[int, bytes, Cut]


def _plain(value: object) -> bool:
    # Contexts are named by repr(), which only values like these give alike everywhere.
    if value is None or isinstance(value, str | int | float | bool | date | datetime):
        return True
    if isinstance(value, BaseModel):  # its repr() names every field
        return all(_plain(part) for part in value.__dict__.values())
    if isinstance(value, tuple):
        return all(_plain(part) for part in value)
    return False


class BuildTexts:
    """The texts an earlier build kept, and those this one adds, for one build context."""

    def __init__(self, state: Path, keys: DocumentKeys, formats: Collection[str]) -> None:
        self._path = state / FILE
        self._keys = keys
        self._formats = formats
        """Those kept: the texts of documents that show every entry, or many."""
        self._stamp = keys.context.encode()
        self._contexts: list[str] = []
        self._index: dict[str, int] = {}
        self._last: tuple[Hashable, int | None] = (None, None)
        self._texts: dict[TextKey, bytes] = {}
        self._loaded = False

    def load(self) -> None:
        """Read the kept texts; none where the file is missing, damaged or another
        context's."""
        self._loaded = True
        try:
            data = self._path.read_bytes()
        except OSError:
            return
        try:
            self._contexts, self._texts = _decode(data, MAGIC + self._stamp)
        except (ValueError, struct.error, UnicodeDecodeError) as e:
            log.info("%s: not used (%s); the texts are written again", self._path, e)
        self._index = {name: n for n, name in enumerate(self._contexts)}

    def take_keys(self, keys: DocumentKeys) -> None:
        """Find items by the digests of ``keys``, a later content version's in the same
        context (a watching build's round): ids name items only while a version holds
        them. The texts are read now if they were not (a watching build's start, which
        may make nothing, stays quick)."""
        assert keys.context == self._keys.context, "the texts of another context"
        self._keys = keys
        if not self._loaded:
            self.load()

    def recall(self, context: Hashable, item: Item, cut: Cut) -> bytes | None:
        """The kept text of an item in a context and cut, or None (``ItemTexts.recall``)."""
        if not self._texts or cut[0] not in self._formats:
            return None
        if context is not self._last[0]:  # one document asks for many items' texts
            self._last = (context, self._index.get(repr(context)))
        index = self._last[1]
        if index is None:
            return None
        return self._texts.get((index, self._keys.item_digest(item), cut))

    def save(self, texts: ItemTexts, items: tuple[Item, ...]) -> None:
        """Keep the texts this build holds, and the kept ones of entries it still has
        (what it made no document of), if that differs from what was kept."""
        present = {self._keys.item_digest(item) for item in items}
        index = dict(self._index)
        kept = {key: text for key, text in self._texts.items() if key[1] in present}
        named: dict[int, int | None] = {}  # by id(): each context is asked about once
        for context, item, cut, text in texts.rows():
            if cut[0] not in self._formats:
                continue
            at = named.get(id(context), -1)
            if at == -1:
                plain = _plain(context)
                at = named[id(context)] = (
                    index.setdefault(repr(context), len(index)) if plain else None
                )
            if at is not None:
                kept[at, self._keys.item_digest(item), cut] = text
        contexts = list(index)
        if kept.keys() == self._texts.keys() and contexts == self._contexts:
            return
        try:
            self._path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
            with replacing(self._path) as temp:
                fd = create_private(temp)
                with os.fdopen(fd, "wb") as f:
                    f.write(_encode(MAGIC + self._stamp, contexts, kept))
        except OSError as e:
            log.warning("%s: cannot be written (%s)", self._path, e.strerror or e)


def _encode(stamp: bytes, contexts: list[str], texts: dict[TextKey, bytes]) -> bytes:
    parts = [_HEAD.pack(len(contexts))]
    for name in contexts:
        encoded = name.encode()
        parts += [_HEAD.pack(len(encoded)), encoded]
    for (index, digest, (fmt, with_content, short)), text in texts.items():
        kind = fmt.encode()
        parts += [_ROW.pack(index, digest, len(kind), with_content, short, len(text)), kind, text]
    body = b"".join(parts)
    return _HEAD.pack(len(stamp)) + stamp + body + _HEAD.pack(crc32(body))


def _decode(data: bytes, stamp: bytes) -> tuple[list[str], dict[TextKey, bytes]]:
    (length,) = _HEAD.unpack_from(data, 0)
    if data[4 : 4 + length] != stamp:
        raise ValueError("written by another release, or for other settings")
    body = memoryview(data)[4 + length : -4]
    if len(data) < 8 + length or crc32(body) != _HEAD.unpack_from(data, len(data) - 4)[0]:
        raise ValueError("damaged")
    (count,) = _HEAD.unpack_from(body, 0)
    at = 4
    contexts = []
    for _ in range(count):
        (size,) = _HEAD.unpack_from(body, at)
        contexts.append(bytes(body[at + 4 : at + 4 + size]).decode())
        at += 4 + size
    texts: dict[TextKey, bytes] = {}
    end = len(body)
    while at < end:
        index, digest, fmt_size, with_content, short, size = _ROW.unpack_from(body, at)
        at += _ROW.size
        fmt = bytes(body[at : at + fmt_size]).decode()
        text = bytes(body[at + fmt_size : at + fmt_size + size])
        at += fmt_size + size
        if index >= count or len(text) != size:
            raise ValueError("damaged")
        texts[index, digest, (fmt, bool(with_content), bool(short))] = text
    return contexts, texts
