"""What each document of a content version shows, as a digest that outlives the process:
a rebuild puts in place only the documents whose digest differs from the one the build
that wrote them kept in its manifest, and renders none of the others.

A content version compares what documents show item by item, by identity (see
``ContentVersion.key``): equal keys, equal bytes. Here an item stands for its file, its
slug, its id, its mtime and the length and CRC-32 of its entry's pickle (an entry in the
cache's file has them written beside it; one in memory is pickled once to learn them),
and the digest also names what every document depends on besides its items: the code
that renders (medfeed's modules and templates, the libraries that write the bytes), the
base URL and the site's settings. A document that shows the whole site (the sitemap,
which dates every page; the archive's indexes) has no digest and is always made.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from datetime import datetime
from importlib import metadata
from itertools import chain
from pathlib import Path

from medfeed.cachecodec import code_fingerprint, content_tag
from medfeed.documents import Kind
from medfeed.parallel import FILE_SHARE, FILES_FROM, in_shares
from medfeed.store import Item
from medfeed.storedentry import StoredEntry
from medfeed.version import ContentVersion

LIBRARIES = ("feedgen", "lxml", "jinja2", "markupsafe", "nh3", "cmarkgfm", "pydantic")
"""Those whose versions can change the bytes of a document."""


def render_fingerprint() -> str:
    """What the bytes of every document depend on besides the content: medfeed's code
    and templates, and the versions of Python and of the libraries that write them."""
    digest = hashlib.sha256(code_fingerprint().encode() + sys.version.encode())
    templates = Path(__file__).parent / "templates"
    for path in sorted(templates.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(templates)).encode() + b"\0" + path.read_bytes())
    for name in LIBRARIES:
        try:
            digest.update(f"{name}={metadata.version(name)}\0".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}=-\0".encode())
    return digest.hexdigest()


class DocumentKeys:
    """The digests of a content version's documents."""

    def __init__(self, content: ContentVersion, fingerprint: str | None = None) -> None:
        self._content = content
        self.fingerprint = fingerprint or render_fingerprint()
        """What every document's bytes depend on besides the content (see render_fingerprint)."""
        context = (
            self.fingerprint,
            content.base_url,
            content.site.model_dump_json(),
            content.catalog.site_modified_ns,
        )
        self.context = repr(context)
        """What every document depends on besides what it shows."""
        self._context = self.context.encode()
        self._digests: dict[int, bytes] = {}
        """Each item's digest by id(): the content version keeps the items alive."""

    def of(self, kind: Kind, subject: str | None) -> str | None:
        """The digest of what the document shows; None where it shows the whole site."""
        parts = [self._context, _part((kind.name, subject))]
        known = self._digests  # a calendar's key holds thousands of items
        for shown in self._content.key(kind, subject):
            if isinstance(shown, Item):
                digest = known.get(id(shown))
                parts.append(b"I" + (self.item_digest(shown) if digest is None else digest))
            elif shown is None or isinstance(shown, bool | int | str):
                parts.append(_part(shown))
            elif isinstance(shown, datetime):
                parts.append(_part(shown.isoformat()))
            elif isinstance(shown, tuple) and all(type(n) is int for n in shown):
                parts.append(_part(shown))  # a month
            else:
                return None
        return hashlib.blake2b(b"".join(parts), digest_size=16).hexdigest()

    def carry(self, earlier: DocumentKeys) -> None:
        """Take the digests ``earlier`` worked out of items this content version shows
        too: ``earlier``'s content version keeps its items alive, so an id names the same
        item in both."""
        known = earlier._digests
        self._digests = {
            id(item): known[id(item)] for item in self._content.items if id(item) in known
        }

    def prime(self, items: Sequence[Item]) -> None:
        """Work out the digests of these items' entries held in memory at once, on every
        core: each is pickled to learn its content tag, most of a first build's serial
        time before its documents are shared out (0.3 s at 10,000 entries). Those in a
        cache file have theirs written beside them."""
        missing = [
            item
            for item in items
            if not isinstance(item.stored, StoredEntry) and id(item) not in self._digests
        ]
        if len(missing) < FILES_FROM:
            return  # done here, as asked for
        done = in_shares(missing, lambda share: [self.item_digest(i) for i in share], FILE_SHARE)
        for item, digest in zip(missing, chain.from_iterable(done), strict=True):
            self._digests[id(item)] = digest

    def item_digest(self, item: Item) -> bytes:
        """What stands for an item (16 bytes): its file, slug, id, mtime and content."""
        digest = self._digests.get(id(item))
        if digest is None:
            tag = content_tag(item.stored)
            token = (item.slug, item.source, item.id, item.modified_ns, *tag)
            digest = hashlib.blake2b(repr(token).encode(), digest_size=16).digest()
            self._digests[id(item)] = digest
        return digest


def _part(value: object) -> bytes:
    # Each part says what it is and how long it is, so no two lists join alike; repr()
    # of strings, numbers and tuples of them tells any two values apart.
    text = repr(value).encode()
    return b"R" + len(text).to_bytes(4, "big") + text
