"""Render items as RSS 2.0 or Atom 1.0 bytes. The only module that imports feedgen.

feedgen's traps, and where each is handled here:
- it stamps the time of rendering into updated/lastBuildDate: both are always set;
- it prepends entries by default: entries are appended, already newest first;
- the RSS channel <link> is the last link() given: self goes first, alternate last;
- no RSS pubDate unless published() is called: it always is;
- 1.0.0 drops rel and type from Atom entry links: _EntryFixes writes them again;
- RSS <category> gets the label, not the slug its domain needs: _EntryFixes again;
- RSS <description> is HTML: a plain-text summary is escaped once more for RSS.

A document never exceeds MAX_FEED_BYTES: its size is estimated from its texts before
feedgen renders it, and what does not fit is cut, oldest items first.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from medfeed.errors import RenderError
from medfeed.models import Author
from medfeed.store import Item
from medfeed.urls import CATEGORIES_PATH, MEDIA_TYPES, Format, absolute, entry_path

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_FEED_BYTES = 4 * 1024 * 1024
"""No feed document is larger: feed readers refuse feeds of a few MB."""
SUMMARY_CHARS = 1000
"""A summary shortened to fit is cut at a word boundary before this many characters."""
SHORT_AUTHORS = 10
"""An author list shortened to fit keeps this many names."""
# Generous sizes of the fixed parts of a document: tags, dates, indentation.
FEED_BYTES = 1024
ITEM_BYTES = 260
CATEGORY_BYTES = 60
AUTHOR_BYTES = 80
RETRY_MARGIN = 64 * 1024
_LAST_WORD = re.compile(r"\s\S*\Z")


@dataclass(frozen=True)
class FeedMeta:
    """What a feed says about itself; every URL already absolute."""

    id: str
    title: str
    description: str
    base_url: str
    self_url: str
    page_url: str
    language: str
    author: Author
    category_titles: Mapping[str, str] = field(default_factory=dict)
    fallback_updated: datetime = EPOCH


def feed_updated(items: Sequence[Item], fallback: datetime = EPOCH) -> datetime:
    """The feed's updated time: the latest change of any of its items."""
    if not items:
        return fallback
    return max(items, key=_changed_at).entry.last_changed


def _changed_at(item: Item) -> float:
    return item.changed_at


class _NoFeedExtension(BaseExtension):  # type: ignore[misc]
    def extend_ns(self) -> dict[str, str]:
        return {}


class _EntryFixes(BaseEntryExtension):  # type: ignore[misc]
    """Writes what feedgen 1.0.0 gets wrong: Atom link rel/type, RSS category values."""

    def __init__(self) -> None:
        self.links: list[dict[str, str]] = []
        self.category_slugs: list[str] = []

    def extend_atom(self, entry: Any) -> Any:
        # feedgen declares the Atom namespace as a plain xmlns attribute, so its
        # elements carry no namespace in lxml's view; new ones must match.
        for old in entry.findall("link"):
            entry.remove(old)
        for attrs in self.links:
            etree.SubElement(entry, "link", attrs)
        return entry

    def extend_rss(self, item: Any) -> Any:
        # feedgen writes the label; with domain=<site>/categories/ the value must be the
        # slug, so that domain + value names the category's page.
        for element, slug in zip(item.findall("category"), self.category_slugs, strict=True):
            element.text = slug
        return item


def _person(author: Author) -> dict[str, str]:
    person = {"name": author.name}
    if author.email:
        person["email"] = author.email
    if author.uri:
        person["uri"] = str(author.uri)
    return person


@dataclass(frozen=True)
class _Cut:
    """How much of its items (newest first) one feed document carries."""

    count: int  # the newest this many are in it
    with_content: int  # the newest this many keep their content, the rest a summary
    shortened_from: int  # items from this index on have short summaries and author lists


def _xml_bytes(text: str) -> int:
    # What lxml writes for a text node: UTF-8, with &, <, > and \r escaped.
    size = len(text) if text.isascii() else len(text.encode())
    size += 4 * (text.count("&") + text.count("\r"))
    return size + 3 * (text.count("<") + text.count(">"))


def _attribute_bytes(text: str) -> int:
    # Attributes also escape quotes (&quot;) and tabs and newlines (&#9;, &#10;).
    return _xml_bytes(text) + 5 * text.count('"') + 4 * (text.count("\n") + text.count("\t"))


def shorten(text: str, limit: int = SUMMARY_CHARS) -> str:
    """The text cut at a word boundary before ``limit`` characters, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]  # one character is left for the ellipsis
    if not text[limit - 1].isspace():
        # The cut falls inside a word: go back to the space before it, if there is one.
        partial = _LAST_WORD.search(cut)
        if partial is not None and partial.start() > 0:
            cut = cut[: partial.start()]
    return cut.rstrip().rstrip(",;:.-") + "\u2026"


def _summary(item: Item, fmt: Format, short: bool) -> str:
    text = shorten(item.entry.summary) if short else item.entry.summary
    # RSS readers take <description> as HTML, so the plain text is escaped for it.
    return html.escape(text) if fmt == "rss" else text


def _authors(item: Item, meta: FeedMeta, short: bool) -> tuple[Author, ...]:
    authors = item.entry.authors or (meta.author,)
    return authors[:SHORT_AUTHORS] if short else authors


def _source(item: Item) -> str:
    if not item.entry.link:
        return ""
    source = html.escape(str(item.entry.link))
    return f'\n<p>Source: <a href="{source}">{source}</a></p>'


class _Sizes:
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

    def person(self, author: Author) -> list[str]:
        """The texts the format writes for one author."""
        if self.fmt == "atom":
            return [author.name, author.email or "", str(author.uri or "")]
        # <dc:creator>name, and <author>email (name) where there is an e-mail.
        return [author.name, *((author.email, author.name) if author.email else ())]

    def item(self, index: int, short: bool) -> int:
        """An item without its content (but with the source link, which always stays)."""
        item, meta = self.items[index], self.meta
        entry = item.entry
        authors = _authors(item, meta, short)
        texts = [entry.title, item.id, _summary(item, self.fmt, short), _source(item)]
        texts += [text for author in authors for text in self.person(author)]
        labels = [meta.category_titles.get(slug, slug) for slug in entry.categories]
        # One count over all texts joined costs less than one per text.
        size = _xml_bytes("".join(texts)) + _attribute_bytes("".join(labels))
        size += ITEM_BYTES + len(meta.base_url) + len(item.slug) + AUTHOR_BYTES * len(authors)
        size += sum(CATEGORY_BYTES + len(self.scheme) + len(slug) for slug in entry.categories)
        return size + (len(str(entry.link)) if entry.link else 0)

    def content(self, index: int) -> int:
        """What an item's content adds: renders its Markdown if that was not done yet."""
        return _xml_bytes(self.items[index].content_html)

    def plan(self, budget: int) -> _Cut:
        """The most of the items that fits in ``budget`` bytes, by the estimates."""
        count = len(self.items)
        total = self.feed + sum(self.item(i, False) for i in range(count))
        # Content first goes from the oldest items: the newest keep it while it fits.
        with_content = 0
        while with_content < count:
            extra = self.content(with_content)
            if total + extra > budget:
                break
            total += extra
            with_content += 1
        shortened_from = count
        while total > budget and shortened_from > 0:
            shortened_from -= 1
            total -= self.item(shortened_from, False) - self.item(shortened_from, True)
        while total > budget and count > 1:
            count -= 1
            total -= self.item(count, True)
        return _Cut(count, with_content, shortened_from)


def render_feed(items: Sequence[Item], meta: FeedMeta, fmt: Format) -> bytes:
    """Render a feed of these items (newest first) as bytes under MAX_FEED_BYTES.

    Where everything would be too big, the oldest items lose their content first, then
    over-long summaries and author lists are shortened (oldest first), then the oldest
    items are left out; the newest item is always there. Deterministic.

    Raises:
        RenderError: feedgen refused the input, which validation should prevent.
    """
    sizes, budget = _Sizes(items, meta, fmt), MAX_FEED_BYTES
    try:
        cut = sizes.plan(budget)
        while True:
            body = _render(items, meta, fmt, cut)
            if len(body) <= MAX_FEED_BYTES:
                return body
            # The estimate fell short: ask for less by what was missing, and then some.
            budget -= len(body) - MAX_FEED_BYTES + RETRY_MARGIN
            smaller = sizes.plan(budget)
            if smaller == cut:
                return body  # the newest item alone, as short as it gets
            cut = smaller
    except ValueError as e:
        raise RenderError(f"cannot render {meta.self_url}: {e}") from e


def _render(items: Sequence[Item], meta: FeedMeta, fmt: Format, cut: _Cut) -> bytes:
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    fg.register_extension("medfeed_fixes", _NoFeedExtension, _EntryFixes, atom=True, rss=True)
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
    scheme = absolute(meta.base_url, CATEGORIES_PATH)
    for index, item in enumerate(items[: cut.count]):
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
        fe.summary(_summary(item, fmt, short))
        content = item.content_html if index < cut.with_content else ""
        content += _source(item)
        if content:
            fe.content(content, type="html")
        fe.published(entry.published)
        fe.updated(entry.last_changed)
        for slug in entry.categories:
            label = meta.category_titles.get(slug, slug)
            fe.category(term=slug, label=label, scheme=scheme)
        for author in _authors(item, meta, short):
            fe.author(_person(author))
            fe.dc.dc_creator(author.name)
    if fmt == "rss":
        return bytes(fg.rss_str(pretty=True))
    return bytes(fg.atom_str(pretty=True))
