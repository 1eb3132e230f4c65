"""The one table of the site's documents: for each sort of document, where it lives, its
media type, what content it shows and how it is rendered.

The app's dispatch, the static build, the sitemap, the OPML list, the pages' feed links
(autodiscovery), the footer and the nginx configurations' types (checked by the tests)
all read ``KINDS``, made of the site folder's rows (``SITE_KINDS``): a new feed format is
its writer's module and one ``feed_kind`` row, and its category feeds and monthly archives
follow from that row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from medfeed.feeds import render_feed
from medfeed.jsonfeed import render_json_feed
from medfeed.links import nginx_link_map
from medfeed.opml import Outline, render_opml
from medfeed.pages import FeedLink
from medfeed.renderers import (
    FAVICON,
    Content,
    EarlierTexts,
    FeedWriter,
    Renderer,
    archive_index,
    calendar,
    earlier_feed,
    entry_page,
    feed,
    list_page,
    period_page,
    redirects,
    robots,
    sitemap,
    title,
)
from medfeed.urls import FOLDERS, Scope, absolute, folder, page_path

Shows = Literal[
    "feed", "list", "calendar", "entry", "site", "settings", "fixed", "archive", "period"
]
"""What a document's bytes depend on, besides the site's settings and base URL:
- feed: the newest ``item_limit`` visible items of its scope;
- list: the same and how many there are (an HTML list page);
- calendar: every visible item of its scope that has an event;
- entry: one visible item;
- site: everything (the sitemap, redirect lists, the archive's index);
- settings: nothing else (the OPML list, robots.txt, nginx's Link map): dated when
  site.toml last changed, what an entry's file does leaves them as they are;
- fixed: nothing (the icon);
- archive: the items of one month that have left the current feed (RFC 5005 archives);
- period: every visible item of one year or month of its scope (archive pages).
"""


@dataclass(frozen=True)
class Kind:
    """One sort of document: its file name in its folder, and how it is made."""

    name: str
    """File name in the scope's folder; "" for the folder's page; "{}" marks a number."""
    scope: Scope
    media_type: str
    shows: Shows
    render: Renderer
    label: str = ""
    """How pages name a feed of this kind ("RSS"); empty for what is not subscribed to."""
    served: bool = True
    """False for files only a static build writes (redirect lists for static hosts)."""
    opml_version: str = ""
    """A feed's ``version`` in the OPML list: OPML 2.0 names "RSS2" for RSS, nothing else."""
    earlier: EarlierTexts | None = None
    """How a document of this kind written earlier gives back its items' texts (feeds)."""

    @property
    def page(self) -> bool:
        """Whether this is an HTML page (listed in the sitemap, sent with page headers)."""
        return self.media_type.startswith("text/html")

    @property
    def extension(self) -> str:
        """The file extension static servers map to the media type ("" for pages)."""
        return self.name.rpartition(".")[2] if "." in self.name else ""

    def path(self, subject: str | None = None) -> str:
        """The site path of the document of this kind about ``subject``."""
        if self.scope == "site":
            return "/" + (self.name.format(subject) if "{}" in self.name else self.name)
        return folder(self.scope, subject) + self.name


def feed_kind(
    name: str, media_type: str, label: str, write: FeedWriter, opml_version: str = ""
) -> Kind:
    """A feed format's row: the site's current feed in file ``name``, written by ``write``.
    The table makes each category's feed and the monthly archives of the same row."""
    return Kind(name, "site", media_type, "feed", feed(name, write), label,
                opml_version=opml_version, earlier=earlier_feed(name))  # fmt: skip


def _feedgen(fmt: Literal["rss", "atom"]) -> FeedWriter:
    """``feeds.render_feed`` bound to one of its formats."""
    return lambda items, meta, texts: render_feed(items, meta, fmt, texts)


def _opml(content: Content, _: str | None) -> bytes:
    outlines = []
    for category in (None, *(c.slug for c in content.site.categories)):
        html_url = absolute(content.base_url, page_path(category))
        for kind in TABLE.feeds:
            name = f"{title(content, category)} ({kind.label})"
            url = absolute(content.base_url, page_path(category) + kind.name)
            outlines.append(Outline(name, url, html_url, kind.opml_version))
    home = absolute(content.base_url, page_path())
    return render_opml(content.site.title, content.settings_changed_at, home, outlines)


def _link_map(content: Content, _: str | None) -> bytes:
    hubs = (str(hub) for hub in content.site.hubs)
    return nginx_link_map(absolute(content.base_url, ""), hubs, feed_path_pattern())


XML = "; charset=utf-8"
HTML = "text/html; charset=utf-8"
ICS = "text/calendar; charset=utf-8"
CALENDAR = Kind("events.ics", "site", ICS, "calendar", calendar, "Calendar")
OPML = Kind("feeds.opml", "site", "text/x-opml; charset=utf-8", "settings", _opml)
SITEMAP = Kind("sitemap.xml", "site", "application/xml; charset=utf-8", "site", sitemap)
SITEMAP_PART = Kind("sitemap-{}.xml", "site", SITEMAP.media_type, "site", sitemap)
FAVICON_KIND = Kind("favicon.svg", "site", "image/svg+xml", "fixed", lambda c, s: FAVICON)

SITE_KINDS: tuple[Kind, ...] = (
    Kind("", "site", HTML, "list", list_page),
    # The feed formats, in the order pages and the OPML list offer them.
    feed_kind("feed.rss", "application/rss+xml" + XML, "RSS", _feedgen("rss"), "RSS2"),
    feed_kind("feed.atom", "application/atom+xml" + XML, "Atom", _feedgen("atom")),
    feed_kind("feed.json", "application/feed+json; charset=utf-8", "JSON Feed",
              render_json_feed),
    CALENDAR,
    OPML,
    SITEMAP,
    SITEMAP_PART,
    Kind("robots.txt", "site", "text/plain; charset=utf-8", "settings", robots),
    FAVICON_KIND,
    Kind("_redirects", "site", "text/plain; charset=utf-8", "site", redirects("_redirects"),
         served=False),
    Kind(".redirects.map", "site", "text/plain; charset=utf-8", "site",
         redirects(".redirects.map"), served=False),
    # nginx's copy of the feeds' Link headers (WebSub), for deploy/nginx-static.conf.
    Kind(".links.map", "site", "text/plain; charset=utf-8", "settings", _link_map,
         served=False),
)  # fmt: skip
"""The documents of the site's folder: the rows the whole table is made of. A new feed
format is its writer's module and one ``feed_kind`` row here."""


@dataclass(frozen=True)
class Table:
    """Every sort of document the site has, and the lookups made of them."""

    kinds: tuple[Kind, ...]
    feeds: tuple[Kind, ...]
    """The feed formats (the site's current feeds), in the order pages and OPML offer them."""
    feed_kinds: dict[tuple[Scope, str], Kind]
    """The current feeds by scope ("site", "category") and format (their extension)."""
    topics: tuple[Kind, ...]
    """The feed documents, current and archive, of every format: what WebSub hubs are
    told of and what carries Link headers."""
    by_name: dict[tuple[Scope, str], Kind]
    numbered: tuple[tuple[re.Pattern[str], Kind], ...]


def _in(scope: Scope, kind: Kind, shows: Shows | None = None, label: str | None = None) -> Kind:
    return replace(
        kind, scope=scope, shows=shows or kind.shows, label=kind.label if label is None else label
    )


def make_table(site_kinds: Iterable[Kind]) -> Table:
    """The table of every document made of the site folder's rows: each category's feeds
    and calendars, and each month's feed archives, follow the site's."""
    site = tuple(site_kinds)
    kinds = (
        *site,
        Kind("", "category", HTML, "list", list_page),
        *(_in("category", kind) for kind in site if kind.label),
        Kind("", "entry", HTML, "entry", entry_page),
        # The archive: an index of periods, a page per year and per month, and each feed's
        # archive documents (RFC 5005), one per month, for the site and every category.
        Kind("", "archive", HTML, "site", archive_index),
        Kind("", "category-archive", HTML, "site", archive_index),
        Kind("", "year", HTML, "period", period_page),
        Kind("", "category-year", HTML, "period", period_page),
        Kind("", "month", HTML, "period", period_page),
        Kind("", "category-month", HTML, "period", period_page),
        *(_in(scope, kind, "archive", "") for scope in ("month", "category-month")
          for kind in site if kind.shows == "feed"),
    )  # fmt: skip
    current = [kind for kind in kinds if kind.shows == "feed"]
    return Table(
        kinds=kinds,
        feeds=tuple(kind for kind in current if kind.scope == "site"),
        feed_kinds={(kind.scope, kind.extension): kind for kind in current},
        topics=tuple(kind for kind in kinds if kind.shows in ("feed", "archive")),
        by_name={(kind.scope, kind.name): kind for kind in kinds if "{}" not in kind.name},
        numbered=tuple(
            (re.compile(re.escape(kind.name).replace(r"\{\}", r"([1-9][0-9]{0,5})")), kind)
            for kind in kinds
            if "{}" in kind.name
        ),
    )


TABLE = make_table(SITE_KINDS)
"""The site's table; the names below are its parts, for the modules that read them."""
KINDS = TABLE.kinds
"""Every sort of document the site has."""
FEEDS = TABLE.feeds
FEED_KINDS = TABLE.feed_kinds
TOPICS = TABLE.topics

_PARTS = {"c": r"([a-z0-9]+(?:-[a-z0-9]+)*)", "y": r"([0-9]{4})", "m": r"(0[1-9]|1[0-2])"}
_FOLDER_PATTERNS: list[tuple[Scope, re.Pattern[str]]] = [
    (scope, re.compile("^" + re.sub(r"\{(\w)\}", lambda m: _PARTS[m[1]], pattern) + "([^/]*)$"))
    for scope, pattern in FOLDERS.items()
    if scope != "site"
]


def locate(path: str) -> tuple[Kind, str | None] | None:
    """The kind and subject (a slug, a period, a part number) of a site path, if any."""
    if path.count("/") == 1:
        name = path[1:]
        kind = TABLE.by_name.get(("site", name))
        if kind is not None:
            return kind, None
        for pattern, numbered in TABLE.numbered:
            found = pattern.fullmatch(name)
            if found:
                return numbered, found[1]
        return None
    for scope, pattern in _FOLDER_PATTERNS:
        matched = pattern.match(path)
        if matched:
            kind = TABLE.by_name.get((scope, matched.groups()[-1]))
            subject = "/".join(matched.groups()[:-1]) or None
            return (kind, subject) if kind else None
    return None


def feed_path_pattern() -> str:
    """A regular expression matching the site path of every document of ``TOPICS`` and
    of no other kind; nginx (PCRE) reads it too."""
    parts = {"c": r"[a-z0-9]+(?:-[a-z0-9]+)*", "y": "[0-9]{4}", "m": "(?:0[1-9]|1[0-2])"}
    paths = (
        re.sub(r"\{(\w)\}", lambda m: parts[m[1]], FOLDERS[kind.scope]) + re.escape(kind.name)
        for kind in TABLE.topics
    )
    return "|".join(dict.fromkeys(paths))


def advertised(scope: Scope) -> Sequence[Kind]:
    """The documents pages of this scope offer to subscribe to (feeds, then calendars)."""
    return [kind for kind in TABLE.kinds if kind.label and kind.scope == scope]


class Subscriptions(list[FeedLink]):
    """A scope's feeds and calendars as pages advertise them, with what pages say of
    every feed at once: the names of the feed formats and the OPML list of every feed."""

    def __init__(
        self, links: Iterable[FeedLink], feed_names: Sequence[str], every_feed: FeedLink
    ) -> None:
        super().__init__(links)
        self.feed_names = tuple(feed_names)
        self.every_feed = every_feed


def _link(content: Content, kind: Kind, name: str, subject: str | None) -> FeedLink:
    return FeedLink(
        title=f"{title(content, subject)} ({name})",
        url=absolute(content.base_url, kind.path(subject)),
        media_type=kind.media_type.split(";")[0],
        format_name=name,
        calendar=kind.shows == "calendar",
    )


def feed_links(content: Content, category: str | None) -> Subscriptions:
    """The feeds and calendar of a scope, as pages advertise them."""
    scope: Scope = "site" if category is None else "category"
    return Subscriptions(
        (_link(content, kind, kind.label, category) for kind in advertised(scope)),
        [kind.label for kind in TABLE.feeds],
        _link(content, OPML, "OPML", None),
    )
