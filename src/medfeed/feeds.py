"""Render items as RSS 2.0 or Atom 1.0 bytes. The only module that imports feedgen.

feedgen's traps, and where each is handled here:
- it stamps the time of rendering into updated/lastBuildDate: both are always set;
- it prepends entries by default: entries are appended, already newest first;
- the RSS channel <link> is the last link() given: self goes first, alternate last;
- no RSS pubDate unless published() is called: it always is;
- 1.0.0 drops rel and type from Atom entry links: _EntryFixes writes them again;
- RSS <category> gets the label, not the slug its domain needs: _EntryFixes again;
- RSS <description> is HTML: a plain-text summary is escaped once more for RSS;
- its geo extension writes georss:featurename, which GeoRSS does not define: georss.py
  writes the elements instead, and the namespace is declared on the root only where used;
- link() takes RFC 5005's archive relations and WebSub's rel="hub", but RSS gets only
  the self link from it: _FeedFixes writes hub and archive links and fh:archive in both
  formats alike.

A document never exceeds MAX_FEED_BYTES: where its items written in full would not fit,
its size is estimated from its texts (feedsizes.py) and what does not fit is cut,
oldest items first.

feedgen renders each document's own parts; its items are written by feeditems.py (the
same bytes, much faster, each item once per content version: see ItemTexts) and spliced
in. ``render_with_feedgen`` renders the items with feedgen too: the reference the tests
hold the written items to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from medfeed.budget import Cut, fit
from medfeed.errors import RenderError
from medfeed.feeditems import WRITERS, Format, item_authors, summary_text
from medfeed.feedsizes import Sizes, archive_links
from medfeed.georss import GEORSS_NS, GEORSS_PREFIX, add_location
from medfeed.itemtexts import ItemTexts
from medfeed.meta import MAX_FEED_BYTES, Archive, FeedMeta, feed_updated
from medfeed.models import Author, Location
from medfeed.store import Item
from medfeed.urls import CATEGORIES_PATH, absolute, entry_path
from medfeed.wording import item_notes

MEDIA_TYPES: dict[Format, str] = {"rss": "application/rss+xml", "atom": "application/atom+xml"}

ATOM_NS = "http://www.w3.org/2005/Atom"
HISTORY_NS = "http://purl.org/syndication/history/1.0"
HISTORY_PREFIX = "fh"


def _check_archive(meta: FeedMeta) -> None:
    # A reader walks prev-archive until there is none: a link back to the document
    # itself never ends. The current feed is the newest: no next-archive is newer.
    archive = meta.archive
    if archive is None:
        return
    if any(href == meta.self_url for _, href in archive_links(archive)):
        raise ValueError("an archive link points at the document itself")
    if archive.next_archive is not None and not archive.is_archive:
        raise ValueError("the current feed has a next-archive link")


class _FeedFixes(BaseExtension):  # type: ignore[misc]
    """Writes the feed-level parts feedgen cannot: namespaces declared on the root only
    where used, RFC 5005 archive links and the fh:archive mark."""

    def __init__(self) -> None:
        self.located = False
        self.archive: Archive | None = None
        self.hubs: tuple[str, ...] = ()
        self.media_type = ""

    def extend_ns(self) -> dict[str, str]:
        namespaces = {GEORSS_PREFIX: GEORSS_NS} if self.located else {}
        if self.archive is not None and self.archive.is_archive:
            namespaces[HISTORY_PREFIX] = HISTORY_NS
        return namespaces

    def extend_atom(self, feed: Any) -> Any:
        # Atom elements carry no namespace in lxml's view (see _EntryFixes).
        self._add_archive(feed.findall("link")[-1], "link")
        return feed

    def extend_rss(self, rss: Any) -> Any:
        # After the self link, the only atom:link feedgen writes in RSS.
        self._add_archive(rss.find(f"channel/{{{ATOM_NS}}}link"), f"{{{ATOM_NS}}}link")
        return rss

    def _add_archive(self, after: Any, tag: str) -> None:
        # Each new element goes after the last, so they are written in this order.
        for hub in self.hubs:
            after.addnext(etree.Element(tag, href=hub, rel="hub"))
            after = after.getnext()
        for rel, href in archive_links(self.archive):
            after.addnext(etree.Element(tag, href=href, rel=rel, type=self.media_type))
            after = after.getnext()
        if self.archive is not None and self.archive.is_archive:
            after.addnext(etree.Element(f"{{{HISTORY_NS}}}archive"))


class _EntryFixes(BaseEntryExtension):  # type: ignore[misc]
    """Writes what feedgen 1.0.0 gets wrong: Atom link rel/type, RSS category values,
    GeoRSS element names."""

    def __init__(self) -> None:
        self.links: list[dict[str, str]] = []
        self.category_slugs: list[str] = []
        self.location: Location | None = None

    def extend_atom(self, entry: Any) -> Any:
        # feedgen declares the Atom namespace as a plain xmlns attribute, so its
        # elements carry no namespace in lxml's view; new ones must match.
        for old in entry.findall("link"):
            entry.remove(old)
        for attrs in self.links:
            etree.SubElement(entry, "link", attrs)
        add_location(entry, self.location)
        return entry

    def extend_rss(self, item: Any) -> Any:
        # feedgen writes the label; with domain=<site>/categories/ the value must be the
        # slug, so that domain + value names the category's page.
        for element, slug in zip(item.findall("category"), self.category_slugs, strict=True):
            element.text = slug
        add_location(item, self.location)
        return item


def _person(author: Author) -> dict[str, str]:
    person = {"name": author.name}
    if author.email:
        person["email"] = author.email
    if author.uri:
        person["uri"] = str(author.uri)
    return person


def render_feed(
    items: Sequence[Item], meta: FeedMeta, fmt: Format, texts: ItemTexts | None = None
) -> bytes:
    """Render a feed of these items (newest first) as bytes under MAX_FEED_BYTES.

    Where everything would be too big, the oldest items lose their content first, then
    over-long summaries and author lists are shortened (oldest first), then the oldest
    items are left out; the newest item is always there. Deterministic.

    Raises:
        RenderError: feedgen refused the input, which validation should prevent, or
            ``meta.archive`` links the document to itself or gives the current feed a
            next-archive link.
    """
    written = ItemTexts() if texts is None else texts
    try:
        _check_archive(meta)
        # Nearly always everything fits: then the items written in full are the document.
        count = len(items)
        shell = _shell(items, meta, fmt, items)
        parts = _items(items, meta, fmt, Cut(count, count, count), written)
        if len(shell) + sum(len(part) for part in parts) <= MAX_FEED_BYTES:
            return _splice(shell, parts, fmt)
        sizes = Sizes(items, meta, fmt)
        return fit(
            lambda cut: _render(items, meta, fmt, cut, written), sizes, count, MAX_FEED_BYTES
        )
    except ValueError as e:
        raise RenderError(f"cannot render {meta.self_url}: {e}") from e


def _render(
    items: Sequence[Item], meta: FeedMeta, fmt: Format, cut: Cut, texts: ItemTexts
) -> bytes:
    shown = items[: cut.count]
    return _splice(_shell(items, meta, fmt, shown), _items(shown, meta, fmt, cut, texts), fmt)


def _items(
    shown: Sequence[Item], meta: FeedMeta, fmt: Format, cut: Cut, texts: ItemTexts
) -> list[bytes]:
    """The items of a document as text, each written once per content version."""
    write = WRITERS[fmt]
    context = meta.item_context
    parts = []
    for index, item in enumerate(shown):
        with_content, short = index < cut.with_content, index >= cut.shortened_from

        def written(
            item: Item = item, with_content: bool = with_content, short: bool = short
        ) -> bytes:
            return write(item, meta, with_content, short).encode()

        parts.append(texts.text(context, item, fmt, with_content, short, written))
    return parts


DOCUMENT_END: dict[Format, bytes] = {"rss": b"  </channel>\n</rss>\n", "atom": b"</feed>\n"}
"""What follows a document's items: they are the last children of <channel> and <feed>."""


def _shell(items: Sequence[Item], meta: FeedMeta, fmt: Format, shown: Sequence[Item]) -> bytes:
    """The document without its items, as feedgen writes it."""
    fg = _generator(items, meta, fmt, shown)
    body = bytes(fg.rss_str(pretty=True) if fmt == "rss" else fg.atom_str(pretty=True))
    if not body.endswith(DOCUMENT_END[fmt]):
        raise ValueError("feedgen wrote the document's end in an unexpected way")
    return body


def _splice(shell: bytes, parts: list[bytes], fmt: Format) -> bytes:
    end = DOCUMENT_END[fmt]
    return shell[: -len(end)] + b"".join(parts) + end


def _generator(
    items: Sequence[Item], meta: FeedMeta, fmt: Format, shown: Sequence[Item]
) -> FeedGenerator:
    """feedgen set up with the document's own parts, and no items yet."""
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    located = any(item.head.event_located for item in shown)
    fg.register_extension("medfeed_fixes", _FeedFixes, _EntryFixes, atom=True, rss=True)
    # The GeoRSS namespace goes on the root, and only into documents that use it.
    fg.medfeed_fixes.located = located
    fg.medfeed_fixes.archive = meta.archive
    fg.medfeed_fixes.hubs = meta.hubs
    fg.medfeed_fixes.media_type = MEDIA_TYPES[fmt]
    # The feed's time stays that of every item, shown or not: leaving one out is no change.
    updated = feed_updated(items, meta.fallback_updated)
    fg.id(meta.id)
    fg.title(meta.title)
    fg.subtitle(meta.description)
    # Self first: feedgen takes the RSS channel <link> from the last link() call.
    fg.link(href=meta.self_url, rel="self", type=MEDIA_TYPES[fmt])
    fg.link(href=meta.page_url, rel="alternate", type="text/html")
    fg.language(meta.language)
    fg.author(_person(meta.author))
    fg.generator("medfeed")
    fg.docs("https://www.rssboard.org/rss-specification")
    fg.updated(updated)
    fg.lastBuildDate(updated)
    return fg


def render_with_feedgen(items: Sequence[Item], meta: FeedMeta, fmt: Format, cut: Cut) -> bytes:
    """The document with feedgen writing its items too: what ``_render`` must equal."""
    shown = items[: cut.count]
    fg = _generator(items, meta, fmt, shown)
    scheme = absolute(meta.base_url, CATEGORIES_PATH)
    for index, item in enumerate(shown):
        short = index >= cut.shortened_from
        entry = item.entry
        fe = fg.add_entry(order="append")
        page = absolute(meta.base_url, entry_path(item.slug))
        fe.id(item.id)
        fe.guid(item.id, permalink=False)
        fe.title(entry.title)
        fe.link(href=page, rel="alternate", type="text/html")
        links = [{"href": page, "rel": "alternate", "type": "text/html"}]
        if entry.link:
            links.append({"href": str(entry.link), "rel": "related"})
        fe.medfeed_fixes.links = links
        fe.medfeed_fixes.category_slugs = list(entry.categories)
        fe.medfeed_fixes.location = entry.event.location if entry.event else None
        fe.summary(summary_text(item, fmt, short))
        before, after = item_notes(entry)
        content = before + (item.content_html if index < cut.with_content else "") + after
        if content:
            fe.content(content, type="html")
        fe.published(entry.published)
        fe.updated(entry.last_changed)
        for slug in entry.categories:
            label = meta.category_titles.get(slug, slug)
            fe.category(term=slug, label=label, scheme=scheme)
        for author in item_authors(item, meta, short):
            fe.author(_person(author))
            fe.dc.dc_creator(author.name)
    if fmt == "rss":
        return bytes(fg.rss_str(pretty=True))
    return bytes(fg.atom_str(pretty=True))
