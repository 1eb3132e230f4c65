"""Render items as RSS 2.0 or Atom 1.0 bytes. The only module that imports feedgen.

feedgen's traps, and where each is handled here:
- it stamps the time of rendering into updated/lastBuildDate: both are always set;
- it prepends entries by default: entries are appended, already newest first;
- the RSS channel <link> is the last link() given: self goes first, alternate last;
- no RSS pubDate unless published() is called: it always is;
- 1.0.0 drops rel and type from Atom entry links: _EntryFixes writes them again;
- RSS <category> gets the label, not the slug its domain needs: _EntryFixes again;
- RSS <description> is HTML: a plain-text summary is escaped once more for RSS.
"""

from __future__ import annotations

import html
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


def _cdata_safe(text: str) -> str:
    # RSS content:encoded is a CDATA section, which cannot hold "]]>"; in HTML the
    # escaped form means the same.
    return text.replace("]]>", "]]&gt;")


def _person(author: Author) -> dict[str, str]:
    person = {"name": author.name}
    if author.email:
        person["email"] = author.email
    if author.uri:
        person["uri"] = str(author.uri)
    return person


def render_feed(items: Sequence[Item], meta: FeedMeta, fmt: Format) -> bytes:
    """Render a feed of these items (newest first) as bytes; deterministic.

    Raises:
        RenderError: feedgen refused the input, which validation should prevent.
    """
    try:
        return _render(items, meta, fmt)
    except ValueError as e:
        raise RenderError(f"cannot render {meta.self_url}: {e}") from e


def _render(items: Sequence[Item], meta: FeedMeta, fmt: Format) -> bytes:
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    fg.register_extension("medfeed_fixes", _NoFeedExtension, _EntryFixes, atom=True, rss=True)
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
    for item in items:
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
        summary = html.escape(entry.summary) if fmt == "rss" else entry.summary
        fe.summary(summary)
        content = item.content_html
        if entry.link:
            source = html.escape(str(entry.link))
            content += f'\n<p>Source: <a href="{source}">{source}</a></p>'
        if content:
            fe.content(_cdata_safe(content), type="html")
        fe.published(entry.published)
        fe.updated(entry.last_changed)
        for slug in entry.categories:
            label = meta.category_titles.get(slug, slug)
            fe.category(term=slug, label=label, scheme=scheme)
        for author in entry.authors or (meta.author,):
            fe.author(_person(author))
            fe.dc.dc_creator(author.name)
    if fmt == "rss":
        return bytes(fg.rss_str(pretty=True))
    return bytes(fg.atom_str(pretty=True))
