"""The one table of the site's documents: for each sort of document, where it lives, its
media type, what content it shows and how it is rendered.

The app's dispatch, the static build, the sitemap, the OPML list, the pages' feed links
(autodiscovery) and the nginx configurations' types (checked by the tests) all read
``KINDS``: a new format is one renderer and one row here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from medfeed.links import nginx_link_map
from medfeed.opml import Outline, render_opml
from medfeed.pages import FeedLink
from medfeed.renderers import (
    FAVICON,
    Content,
    Renderer,
    archive_index,
    calendar,
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

Shows = Literal["feed", "list", "calendar", "entry", "site", "fixed", "archive", "period"]
"""What a document's bytes depend on, besides the site's settings and base URL:
- feed: the newest ``item_limit`` visible items of its scope;
- list: the same and how many there are (an HTML list page);
- calendar: every visible item of its scope that has an event;
- entry: one visible item;
- site: everything (the sitemap, the OPML list, redirect lists, the archive's index);
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


def _opml(content: Content, _: str | None) -> bytes:
    outlines = []
    for category in (None, *(c.slug for c in content.site.categories)):
        html_url = absolute(content.base_url, page_path(category))
        for kind in FEEDS:
            name = f"{title(content, category)} ({kind.label})"
            url = absolute(content.base_url, page_path(category) + kind.name)
            outlines.append(Outline(name, url, html_url, _OPML_FORMATS[kind.name]))
    home = absolute(content.base_url, page_path())
    return render_opml(content.site.title, content.changed_at, home, outlines)


def _link_map(content: Content, _: str | None) -> bytes:
    hubs = (str(hub) for hub in content.site.hubs)
    return nginx_link_map(absolute(content.base_url, ""), hubs, feed_path_pattern())


XML = "; charset=utf-8"
RSS = Kind("feed.rss", "site", "application/rss+xml" + XML, "feed", feed("rss"), "RSS")
ATOM = Kind("feed.atom", "site", "application/atom+xml" + XML, "feed", feed("atom"), "Atom")
JSON_FEED = Kind(
    "feed.json", "site", "application/feed+json; charset=utf-8", "feed", feed("json"),
    "JSON Feed",
)  # fmt: skip
CALENDAR = Kind(
    "events.ics", "site", "text/calendar; charset=utf-8", "calendar", calendar, "Calendar"
)
HTML = "text/html; charset=utf-8"
SITEMAP = Kind("sitemap.xml", "site", "application/xml; charset=utf-8", "site", sitemap)
SITEMAP_PART = Kind("sitemap-{}.xml", "site", SITEMAP.media_type, "site", sitemap)
FAVICON_KIND = Kind("favicon.svg", "site", "image/svg+xml", "fixed", lambda c, s: FAVICON)

_SITE_FEEDS = (RSS, ATOM, JSON_FEED)
FEEDS: tuple[Kind, ...] = _SITE_FEEDS
"""The feed formats, in the order pages and the OPML list offer them."""
FEED_KINDS = {"rss": RSS, "atom": ATOM, "json": JSON_FEED}
_OPML_FORMATS: dict[str, Literal["rss", "atom", "json"]] = {
    RSS.name: "rss", ATOM.name: "atom", JSON_FEED.name: "json",
}  # fmt: skip


def _in(scope: Scope, kind: Kind, shows: Shows | None = None, label: str | None = None) -> Kind:
    return Kind(
        kind.name, scope, kind.media_type, shows or kind.shows, kind.render,
        kind.label if label is None else label,
    )  # fmt: skip


KINDS: tuple[Kind, ...] = (
    Kind("", "site", HTML, "list", list_page),
    *_SITE_FEEDS,
    CALENDAR,
    Kind("feeds.opml", "site", "text/x-opml; charset=utf-8", "site", _opml),
    SITEMAP,
    SITEMAP_PART,
    Kind("robots.txt", "site", "text/plain; charset=utf-8", "site", robots),
    FAVICON_KIND,
    Kind("_redirects", "site", "text/plain; charset=utf-8", "site", redirects("_redirects"),
         served=False),
    Kind(".redirects.map", "site", "text/plain; charset=utf-8", "site",
         redirects(".redirects.map"), served=False),
    # nginx's copy of the feeds' Link headers (WebSub), for deploy/nginx-static.conf.
    Kind(".links.map", "site", "text/plain; charset=utf-8", "site", _link_map, served=False),
    Kind("", "category", HTML, "list", list_page),
    *(_in("category", kind) for kind in (*_SITE_FEEDS, CALENDAR)),
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
      for kind in _SITE_FEEDS),
)  # fmt: skip
"""Every sort of document the site has."""
TOPICS: tuple[Kind, ...] = tuple(kind for kind in KINDS if kind.shows in ("feed", "archive"))
"""The feed documents, current and archive, of every format: what WebSub hubs are told of
and what carries Link headers."""

_BY_NAME = {(kind.scope, kind.name): kind for kind in KINDS if "{}" not in kind.name}
_NUMBERED = [
    (re.compile(re.escape(kind.name).replace(r"\{\}", r"([1-9][0-9]{0,5})")), kind)
    for kind in KINDS
    if "{}" in kind.name
]
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
        kind = _BY_NAME.get(("site", name))
        if kind is not None:
            return kind, None
        for pattern, numbered in _NUMBERED:
            found = pattern.fullmatch(name)
            if found:
                return numbered, found[1]
        return None
    for scope, pattern in _FOLDER_PATTERNS:
        matched = pattern.match(path)
        if matched:
            kind = _BY_NAME.get((scope, matched.groups()[-1]))
            subject = "/".join(matched.groups()[:-1]) or None
            return (kind, subject) if kind else None
    return None


def feed_path_pattern() -> str:
    """A regular expression matching the site path of every document of ``TOPICS`` and
    of no other kind; nginx (PCRE) reads it too."""
    parts = {"c": r"[a-z0-9]+(?:-[a-z0-9]+)*", "y": "[0-9]{4}", "m": "(?:0[1-9]|1[0-2])"}
    paths = (
        re.sub(r"\{(\w)\}", lambda m: parts[m[1]], FOLDERS[kind.scope]) + re.escape(kind.name)
        for kind in TOPICS
    )
    return "|".join(dict.fromkeys(paths))


def advertised(scope: Scope) -> Sequence[Kind]:
    """The documents pages of this scope offer to subscribe to (feeds, then calendars)."""
    return [kind for kind in KINDS if kind.label and kind.scope == scope]


def feed_links(content: Content, category: str | None) -> list[FeedLink]:
    """The feeds and calendar of a scope, as pages advertise them."""
    scope: Scope = "site" if category is None else "category"
    return [
        FeedLink(
            title=f"{title(content, category)} ({kind.label})",
            url=absolute(content.base_url, kind.path(category)),
            media_type=kind.media_type.split(";")[0],
            format_name=kind.label,
        )
        for kind in advertised(scope)
    ]
