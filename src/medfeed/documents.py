"""The one table of the site's documents: for each sort of document, where it lives, its
media type, what content it shows and how it is rendered.

The app's dispatch, the static build, the sitemap, the OPML list, the pages' feed links
(autodiscovery) and the nginx configurations' types (checked by the tests) all read
``KINDS``: a new format is one renderer module and one row here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from medfeed.feeds import render_feed
from medfeed.ical import CalendarMeta, render_calendar
from medfeed.jsonfeed import render_json_feed
from medfeed.meta import FeedMeta
from medfeed.models import SiteConfig
from medfeed.opml import Outline, render_opml
from medfeed.pages import FeedLink, PageRenderer
from medfeed.sitemap import render_robots
from medfeed.store import Item
from medfeed.urls import absolute, page_path

Scope = Literal["site", "category", "entry"]
Shows = Literal["feed", "list", "calendar", "entry", "site", "fixed"]
"""What a document's bytes depend on, besides the site's settings and base URL:
- feed: the newest ``item_limit`` visible items of its scope;
- list: the same and how many there are (an HTML list page);
- calendar: every visible item of its scope that has an event;
- entry: one visible item;
- site: everything (the sitemap, the OPML list, redirect lists);
- fixed: nothing (the icon).
"""
FEED_ID_DATE = "2000"
FAVICON = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    b'<rect width="16" height="16" rx="3" fill="#0b4f9c"/>'
    b'<path d="M4 12a1 1 0 1 0 0.01 0M4 8a4 4 0 0 1 4 4M4 4a8 8 0 0 1 8 8" '
    b'stroke="#fff" stroke-width="1.6" fill="none"/></svg>\n'
)


class Content(Protocol):
    """What renderers read: one content version of the site (a Snapshot)."""

    site: SiteConfig
    base_url: str
    items: tuple[Item, ...]
    pages: PageRenderer
    changed_at: datetime
    """When any file of the folder last changed (the Last-Modified of lists)."""
    updated: datetime
    """The newest change of any visible entry, as entries date it."""

    def items_of(self, category: str | None) -> tuple[Item, ...]:
        """The visible items of a category (None: all), newest first."""

    def item(self, slug: str) -> Item:
        """The visible item with this slug."""

    def sitemap(self, path: str) -> bytes:
        """One document of the sitemap (one, or an index and its parts)."""

    def redirect_list(self, path: str) -> bytes:
        """One of the redirect lists static hosts read."""


Renderer = Callable[[Content, str | None], bytes]


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
        folder = "/categories/" if self.scope == "category" else "/entries/"
        return f"{folder}{subject}/{self.name}"


def _title(content: Content, category: str | None) -> str:
    if category is None:
        return content.site.title
    found = content.site.category(category)
    return f"{content.site.title}: {found.title if found else category}"


def feed_meta(content: Content, category: str | None, name: str) -> FeedMeta:
    """What a feed (file ``name`` in its folder) of a category or the site says of itself."""
    site = content.site
    found = site.category(category) if category else None
    return FeedMeta(
        id=f"tag:{site.authority},{FEED_ID_DATE}:feed" + (f"/{category}" if category else ""),
        title=_title(content, category),
        description=(found.description if found else None) or site.description,
        base_url=content.base_url,
        self_url=absolute(content.base_url, page_path(category) + name),
        page_url=absolute(content.base_url, page_path(category)),
        language=site.language,
        author=site.author,
        category_titles={c.slug: c.title for c in site.categories},
        # An empty feed's updated time is the whole site's newest change of an entry.
        fallback_updated=content.updated,
    )


def _feed(fmt: Literal["rss", "atom"]) -> Renderer:
    def render(content: Content, category: str | None) -> bytes:
        shown = content.items_of(category)[: content.site.item_limit]
        return render_feed(shown, feed_meta(content, category, f"feed.{fmt}"), fmt)

    return render


def _json_feed(content: Content, category: str | None) -> bytes:
    shown = content.items_of(category)[: content.site.item_limit]
    return render_json_feed(shown, feed_meta(content, category, JSON_FEED.name))


def _calendar(content: Content, category: str | None) -> bytes:
    site = content.site
    found = site.category(category) if category else None
    meta = CalendarMeta(
        name=f"{_title(content, category)}: events",
        description=(found.description if found else None) or site.description,
        base_url=content.base_url,
        self_url=absolute(content.base_url, page_path(category) + CALENDAR.name),
        page_url=absolute(content.base_url, page_path(category)),
        language=site.language,
        refresh_seconds=site.max_age,
        category_titles={c.slug: c.title for c in site.categories},
    )
    return render_calendar(content.items_of(category), meta)


def _list_page(content: Content, category: str | None) -> bytes:
    items = content.items_of(category)
    shown = items[: content.site.item_limit]
    if category is None:
        return content.pages.index(shown, len(items))
    found = content.site.category(category)
    assert found is not None  # the snapshot checks the subject before rendering
    return content.pages.category(found, shown, len(items))


def _entry_page(content: Content, slug: str | None) -> bytes:
    assert slug is not None
    return content.pages.entry(content.item(slug))


def _opml(content: Content, _: str | None) -> bytes:
    outlines = []
    for category in (None, *(c.slug for c in content.site.categories)):
        html_url = absolute(content.base_url, page_path(category))
        for kind in FEEDS:
            title = f"{_title(content, category)} ({kind.label})"
            url = absolute(content.base_url, page_path(category) + kind.name)
            outlines.append(Outline(title, url, html_url, _OPML_FORMATS[kind.name]))
    home = absolute(content.base_url, page_path())
    return render_opml(content.site.title, content.changed_at, home, outlines)


def _robots(content: Content, _: str | None) -> bytes:
    return render_robots(absolute(content.base_url, SITEMAP.path()))


def _sitemap(content: Content, part: str | None) -> bytes:
    return content.sitemap(SITEMAP_PART.path(part) if part else SITEMAP.path())


def _redirects(name: str) -> Renderer:
    return lambda content, _: content.redirect_list("/" + name)


XML = "; charset=utf-8"
RSS = Kind("feed.rss", "site", "application/rss+xml" + XML, "feed", _feed("rss"), "RSS")
ATOM = Kind("feed.atom", "site", "application/atom+xml" + XML, "feed", _feed("atom"), "Atom")
JSON_FEED = Kind(
    "feed.json", "site", "application/feed+json; charset=utf-8", "feed", _json_feed, "JSON Feed"
)
CALENDAR = Kind(
    "events.ics", "site", "text/calendar; charset=utf-8", "calendar", _calendar, "Calendar"
)
HTML = "text/html; charset=utf-8"
SITEMAP = Kind("sitemap.xml", "site", "application/xml; charset=utf-8", "site", _sitemap)
SITEMAP_PART = Kind("sitemap-{}.xml", "site", SITEMAP.media_type, "site", _sitemap)
FAVICON_KIND = Kind("favicon.svg", "site", "image/svg+xml", "fixed", lambda c, s: FAVICON)

_SITE_FEEDS = (RSS, ATOM, JSON_FEED)
FEEDS: tuple[Kind, ...] = _SITE_FEEDS
"""The feed formats, in the order pages and the OPML list offer them."""
FEED_KINDS = {"rss": RSS, "atom": ATOM, "json": JSON_FEED}
_OPML_FORMATS: dict[str, Literal["rss", "atom", "json"]] = {
    RSS.name: "rss", ATOM.name: "atom", JSON_FEED.name: "json",
}  # fmt: skip


def _in(scope: Scope, kind: Kind) -> Kind:
    return Kind(kind.name, scope, kind.media_type, kind.shows, kind.render, kind.label)


KINDS: tuple[Kind, ...] = (
    Kind("", "site", HTML, "list", _list_page),
    *_SITE_FEEDS,
    CALENDAR,
    Kind("feeds.opml", "site", "text/x-opml; charset=utf-8", "site", _opml),
    SITEMAP,
    SITEMAP_PART,
    Kind("robots.txt", "site", "text/plain; charset=utf-8", "site", _robots),
    FAVICON_KIND,
    Kind("_redirects", "site", "text/plain; charset=utf-8", "site", _redirects("_redirects"),
         served=False),
    Kind(".redirects.map", "site", "text/plain; charset=utf-8", "site",
         _redirects(".redirects.map"), served=False),
    Kind("", "category", HTML, "list", _list_page),
    *(_in("category", kind) for kind in (*_SITE_FEEDS, CALENDAR)),
    Kind("", "entry", HTML, "entry", _entry_page),
)  # fmt: skip
"""Every sort of document the site has."""

_BY_NAME = {(kind.scope, kind.name): kind for kind in KINDS if "{}" not in kind.name}
_NUMBERED = [
    (re.compile(re.escape(kind.name).replace(r"\{\}", r"([1-9][0-9]{0,5})")), kind)
    for kind in KINDS
    if "{}" in kind.name
]


def locate(path: str) -> tuple[Kind, str | None] | None:
    """The kind and subject (a category or entry slug, a part number) of a site path."""
    parts = path.split("/")
    match parts:
        case ["", name]:
            kind = _BY_NAME.get(("site", name))
            if kind is not None:
                return kind, None
            for pattern, numbered in _NUMBERED:
                found = pattern.fullmatch(name)
                if found:
                    return numbered, found[1]
            return None
        case ["", "categories", slug, name] if slug:
            kind = _BY_NAME.get(("category", name))
            return (kind, slug) if kind else None
        case ["", "entries", slug, name] if slug:
            kind = _BY_NAME.get(("entry", name))
            return (kind, slug) if kind else None
    return None


def advertised(scope: Scope) -> Sequence[Kind]:
    """The documents pages of this scope offer to subscribe to (feeds, then calendars)."""
    return [kind for kind in KINDS if kind.label and kind.scope == scope]


def feed_links(content: Content, category: str | None) -> list[FeedLink]:
    """The feeds and calendar of a scope, as pages advertise them."""
    scope: Scope = "site" if category is None else "category"
    return [
        FeedLink(
            title=f"{_title(content, category)} ({kind.label})",
            url=absolute(content.base_url, kind.path(category)),
            media_type=kind.media_type.split(";")[0],
            format_name=kind.label,
        )
        for kind in advertised(scope)
    ]
