"""How big an RSS or Atom document will be, estimated from its texts before it is written:
what the size budget (budget.py) plans a document's cut with.

The estimates err on the large side (tags, dates and indentation are counted
generously), so a document planned to fit almost always does; budget.fit renders again
with less where one does not.
"""

from __future__ import annotations

from collections.abc import Sequence

from medfeed.feeditems import Format, item_authors, summary_text
from medfeed.georss import location_bytes
from medfeed.meta import Archive, FeedMeta
from medfeed.models import Author
from medfeed.store import Item
from medfeed.urls import CATEGORIES_PATH, absolute
from medfeed.wording import item_notes

# Generous sizes of the fixed parts of a document: tags, dates, indentation.
FEED_BYTES = 1024
ITEM_BYTES = 260
CATEGORY_BYTES = 60
AUTHOR_BYTES = 80
ARCHIVE_LINK_BYTES = 100  # <atom:link href="" rel="prev-archive" type="..."/>
ARCHIVE_MARK_BYTES = 100  # <fh:archive/> and the xmlns:fh declaration on the root


def archive_links(archive: Archive | None) -> list[tuple[str, str]]:
    """The RFC 5005 (rel, href) links of a feed document, in the order written."""
    if archive is None:
        return []
    links = [
        ("prev-archive", archive.prev_archive),
        ("next-archive", archive.next_archive),
        ("current", archive.current),
    ]
    return [(rel, href) for rel, href in links if href is not None]


def _xml_bytes(text: str) -> int:
    # What lxml writes for a text node: UTF-8, with &, <, > and \r escaped.
    size = len(text) if text.isascii() else len(text.encode())
    size += 4 * (text.count("&") + text.count("\r"))
    return size + 3 * (text.count("<") + text.count(">"))


def _attribute_bytes(text: str) -> int:
    # Attributes also escape quotes (&quot;) and tabs and newlines (&#9;, &#10;).
    return _xml_bytes(text) + 5 * text.count('"') + 4 * (text.count("\n") + text.count("\t"))


def _notes(item: Item) -> str:
    # Kept whether or not the content fits: the event and the source are short.
    return "".join(item_notes(item.entry))


class Sizes:
    """Estimates of a document's bytes from the sizes of its items' texts; no rendering.

    They err on the large side (tags, dates and indentation are counted generously), so
    a document planned to fit almost always does.
    """

    def __init__(self, items: Sequence[Item], meta: FeedMeta, fmt: Format) -> None:
        self.items, self.meta, self.fmt = items, meta, fmt
        self.scheme = absolute(meta.base_url, CATEGORIES_PATH)
        texts = (meta.id, meta.title, meta.self_url, meta.page_url, meta.language)
        self.feed = FEED_BYTES + sum(_attribute_bytes(t) for t in texts)
        self.feed += 2 * _xml_bytes(meta.description) + AUTHOR_BYTES
        self.feed += _xml_bytes("".join(self.person(meta.author)))
        links = archive_links(meta.archive)
        self.feed += sum(ARCHIVE_LINK_BYTES + _attribute_bytes(href) for _, href in links)
        self.feed += ARCHIVE_MARK_BYTES if meta.archive and meta.archive.is_archive else 0
        self.feed += sum(ARCHIVE_LINK_BYTES + _attribute_bytes(hub) for hub in meta.hubs)

    def person(self, author: Author) -> list[str]:
        """The texts the format writes for one author."""
        if self.fmt == "atom":
            return [author.name, author.email or "", str(author.uri or "")]
        # <dc:creator>name, and <author>email (name) where there is an e-mail.
        return [author.name, *((author.email, author.name) if author.email else ())]

    def item(self, index: int, short: bool) -> int:
        """An item without its content (but with its event and source, which always stay)."""
        item, meta = self.items[index], self.meta
        entry = item.entry
        authors = item_authors(item, meta, short)
        texts = [entry.title, item.id, summary_text(item, self.fmt, short), _notes(item)]
        texts += [text for author in authors for text in self.person(author)]
        labels = [meta.category_titles.get(slug, slug) for slug in entry.categories]
        # One count over all texts joined costs less than one per text.
        size = _xml_bytes("".join(texts)) + _attribute_bytes("".join(labels))
        size += ITEM_BYTES + len(meta.base_url) + len(item.slug) + AUTHOR_BYTES * len(authors)
        size += sum(CATEGORY_BYTES + len(self.scheme) + len(slug) for slug in entry.categories)
        size += location_bytes(entry.event.location if entry.event else None)
        return size + (len(str(entry.link)) if entry.link else 0)

    def content(self, index: int) -> int:
        """What an item's content adds: renders its Markdown if that was not done yet."""
        return _xml_bytes(self.items[index].content_html)
