"""RSS items and Atom entries written as text: the bytes feedgen writes for them, at a
fraction of the cost.

Archive documents carry every entry of a feed, most of them twice (in the site's
archive and in their categories'), and each in three formats: feedgen's per-item work
(an lxml tree built, extended and pretty-printed) made the archive cost more than every
other document together. feeds.py still renders each document's own parts with feedgen
and splices these items in; tests/test_feeditems.py holds every item written here to
what feedgen writes for it, byte for byte, so the two cannot drift apart.

What lxml's pretty printer does, and this module repeats:
- two spaces of indentation per level: an RSS <item> is at level 2, an Atom <entry> at 1;
- an element with text is written on one line, the text as it is (newlines included);
- text escapes &, <, > and carriage returns; attributes also escape ", tabs and newlines;
- UTF-8 throughout: nothing else is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime
from typing import Literal

from medfeed.budget import SHORT_AUTHORS, shorten
from medfeed.georss import point
from medfeed.meta import FeedMeta
from medfeed.models import Author, Location, has_point
from medfeed.store import Item
from medfeed.urls import CATEGORIES_PATH, absolute, entry_path
from medfeed.wording import item_notes

Format = Literal["rss", "atom"]
RSS_ITEM = "    "
RSS_FIELD = "      "
ATOM_ENTRY = "  "
ATOM_FIELD = "    "
ATOM_PERSON = "      "
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# Chained str.replace: each pass is a C loop, many times faster than str.translate with
# a table, which maps every character through Python objects.
def text(value: str) -> str:
    """Text content as libxml2 escapes it."""
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value.replace("\r", "&#13;") if "\r" in value else value


def attribute(value: str) -> str:
    """An attribute's value as libxml2 escapes it (within double quotes)."""
    value = text(value).replace('"', "&quot;")
    if "\n" in value or "\t" in value:
        value = value.replace("\n", "&#10;").replace("\t", "&#9;")
    return value


def rfc2822(moment: datetime) -> str:
    """``moment.strftime('%a, %d %b %Y %H:%M:%S %z')`` in the C locale, as feedgen writes
    RSS dates, without changing the process's locale to get it."""
    offset = moment.utcoffset()
    zone = moment.strftime("%z") if offset is not None else ""
    return (
        f"{_DAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} "
        f"{moment.year:04d} {moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} {zone}"
    )


def summary_text(item: Item, fmt: Format, short: bool) -> str:
    """The summary as the format carries it: RSS readers take <description> as HTML."""
    summary = shorten(item.entry.summary) if short else item.entry.summary
    return html.escape(summary) if fmt == "rss" else summary


def item_authors(item: Item, meta: FeedMeta, short: bool) -> tuple[Author, ...]:
    """Who wrote the item: its own authors, else the site's; fewer if shortened."""
    authors = item.entry.authors or (meta.author,)
    return authors[:SHORT_AUTHORS] if short else authors


def content_text(item: Item, with_content: bool) -> str:
    """The HTML content: the event and source notes around the rendered Markdown."""
    before, after = item_notes(item.entry)
    return before + (item.content_html if with_content else "") + after


def _location(lines: list[str], location: Location | None, indent: str) -> None:
    if location is None or not has_point(location):
        return
    lines.append(f"{indent}<georss:point>{point(location)}</georss:point>\n")
    lines.append(f"{indent}<georss:featureName>{text(location.place)}</georss:featureName>\n")


def rss_item(item: Item, meta: FeedMeta, with_content: bool, short: bool) -> str:
    """One RSS <item>, indented for its place in <rss><channel>, with its final newline."""
    entry, i = item.entry, RSS_FIELD
    page = absolute(meta.base_url, entry_path(item.slug))
    authors = item_authors(item, meta, short)
    lines = [
        f"{RSS_ITEM}<item>\n",
        f"{i}<title>{text(entry.title)}</title>\n",
        f"{i}<link>{text(page)}</link>\n",
        f"{i}<description>{text(summary_text(item, 'rss', short))}</description>\n",
    ]
    content = content_text(item, with_content)
    if content:
        lines.append(f"{i}<content:encoded>{text(content)}</content:encoded>\n")
    for author in authors:
        if author.email:
            lines.append(f"{i}<author>{text(f'{author.email} ({author.name})')}</author>\n")
    lines.append(f'{i}<guid isPermaLink="false">{text(item.id)}</guid>\n')
    # feedgen writes the label; the value is the slug, so that domain + value is its page.
    scheme = attribute(absolute(meta.base_url, CATEGORIES_PATH))
    for slug in entry.categories:
        lines.append(f'{i}<category domain="{scheme}">{text(slug)}</category>\n')
    lines.append(f"{i}<pubDate>{rfc2822(entry.published)}</pubDate>\n")
    for author in authors:
        lines.append(f"{i}<dc:creator>{text(author.name)}</dc:creator>\n")
    _location(lines, entry.event.location if entry.event else None, i)
    lines.append(f"{RSS_ITEM}</item>\n")
    return "".join(lines)


def _atom_person(lines: list[str], author: Author) -> None:
    p = ATOM_PERSON
    lines.append(f"{ATOM_FIELD}<author>\n{p}<name>{text(author.name)}</name>\n")
    if author.email:
        lines.append(f"{p}<email>{text(author.email)}</email>\n")
    if author.uri:
        lines.append(f"{p}<uri>{text(str(author.uri))}</uri>\n")
    lines.append(f"{ATOM_FIELD}</author>\n")


def atom_entry(item: Item, meta: FeedMeta, with_content: bool, short: bool) -> str:
    """One Atom <entry>, indented for its place in <feed>, with its final newline."""
    entry, i = item.entry, ATOM_FIELD
    lines = [
        f"{ATOM_ENTRY}<entry>\n",
        f"{i}<id>{text(item.id)}</id>\n",
        f"{i}<title>{text(entry.title)}</title>\n",
        f"{i}<updated>{entry.last_changed.isoformat()}</updated>\n",
    ]
    for author in item_authors(item, meta, short):
        _atom_person(lines, author)
    content = content_text(item, with_content)
    if content:
        lines.append(f'{i}<content type="html">{text(content)}</content>\n')
    lines.append(f"{i}<summary>{text(summary_text(item, 'atom', short))}</summary>\n")
    scheme = attribute(absolute(meta.base_url, CATEGORIES_PATH))
    for slug in entry.categories:
        label = attribute(meta.category_titles.get(slug, slug))
        lines.append(f'{i}<category term="{attribute(slug)}" scheme="{scheme}" label="{label}"/>\n')
    lines.append(f"{i}<published>{entry.published.isoformat()}</published>\n")
    page = attribute(absolute(meta.base_url, entry_path(item.slug)))
    lines.append(f'{i}<link href="{page}" rel="alternate" type="text/html"/>\n')
    if entry.link:
        lines.append(f'{i}<link href="{attribute(str(entry.link))}" rel="related"/>\n')
    _location(lines, entry.event.location if entry.event else None, i)
    lines.append(f"{ATOM_ENTRY}</entry>\n")
    return "".join(lines)


Writer = Callable[[Item, FeedMeta, bool, bool], str]
WRITERS: dict[Format, Writer] = {"rss": rss_item, "atom": atom_entry}
