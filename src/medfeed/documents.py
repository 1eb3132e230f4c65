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
from medfeed.meta import Archive, FeedMeta
from medfeed.models import SiteConfig
from medfeed.opml import Outline, render_opml
from medfeed.pages import FeedLink, PageRenderer
from medfeed.sitemap import render_robots
from medfeed.store import Item
from medfeed.urls import absolute, page_path

Scope = Literal[
    "site", "category", "entry",
    "archive", "category-archive", "year", "category-year", "month", "category-month",
]  # fmt: skip
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
FOLDERS: dict[Scope, str] = {
    "site": "/",
    "category": "/categories/{c}/",
    "entry": "/entries/{c}/",
    "archive": "/archive/",
    "category-archive": "/categories/{c}/archive/",
    "year": "/archive/{y}/",
    "category-year": "/categories/{c}/archive/{y}/",
    "month": "/archive/{y}/{m}/",
    "category-month": "/categories/{c}/archive/{y}/{m}/",
}
"""Where each scope's documents live; {c} is a category or entry slug."""
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

    def archive_months(self, category: str | None) -> tuple[Month, ...]:
        """Months, newest first, holding items of the scope that left its current feed."""

    def archived(self, category: str | None, month: Month) -> tuple[Item, ...]:
        """Those items of one month, newest first."""

    def period(self, category: str | None, year: int, month: int | None) -> tuple[Item, ...]:
        """Every visible item of the scope published in that year or month, newest first."""

    def periods(self, category: str | None) -> list[tuple[Month, int]]:
        """Every month with visible items of the scope, newest first, with its count."""

    def neighbours(self, slug: str) -> tuple[Item | None, Item | None]:
        """The entries published just before and just after this one (site-wide)."""


Renderer = Callable[[Content, str | None], bytes]
Month = tuple[int, int]


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


def folder(scope: Scope, subject: str | None) -> str:
    """The folder of a scope's subject: "visits" in category, "visits/2015/10" in
    category-month, "2015" in year."""
    parts = (subject or "").split("/")
    category = parts[0] if scope.startswith(("category", "entry")) else None
    dates = parts[1:] if category is not None else [p for p in parts if p]
    year = dates[0] if dates else ""
    month = dates[1] if len(dates) > 1 else ""
    return FOLDERS[scope].format(c=category, y=year, m=month)


def split(scope: Scope, subject: str | None) -> tuple[str | None, int | None, int | None]:
    """(category, year, month) of a subject: "visits/2015/10" in category-month."""
    parts = (subject or "").split("/") if subject else []
    category = parts.pop(0) if scope.startswith("category") and parts else None
    year = int(parts[0]) if parts else None
    month = int(parts[1]) if len(parts) > 1 else None
    return category, year, month


def subject_of(category: str | None, year: int, month: int | None = None) -> str:
    """The subject of a period of a category (None: the whole site)."""
    when = f"{year:04d}" if month is None else f"{year:04d}/{month:02d}"
    return when if category is None else f"{category}/{when}"


def _title(content: Content, category: str | None) -> str:
    if category is None:
        return content.site.title
    found = content.site.category(category)
    return f"{content.site.title}: {found.title if found else category}"


def archive_links(
    content: Content, category: str | None, name: str, month: Month | None
) -> Archive | None:
    """The RFC 5005 links of a feed document: the current feed's (month None) or a month's."""
    months = content.archive_months(category)
    scope: Scope = "month" if category is None else "category-month"

    def url(at: Month) -> str:
        return absolute(content.base_url, folder(scope, subject_of(category, *at)) + name)

    if month is None:
        return Archive(prev_archive=url(months[0])) if months else None
    index = months.index(month)
    older = url(months[index + 1]) if index + 1 < len(months) else None
    newer = url(months[index - 1]) if index > 0 else None
    current = absolute(content.base_url, page_path(category) + name)
    return Archive(prev_archive=older, next_archive=newer, current=current)


def feed_meta(
    content: Content, category: str | None, name: str, month: Month | None = None
) -> FeedMeta:
    """What a feed (file ``name``) of a category or the site, current or one month's
    archive, says of itself."""
    site = content.site
    found = site.category(category) if category else None
    scope: Scope = "month" if category is None else "category-month"
    here = page_path(category) if month is None else folder(scope, subject_of(category, *month))
    return FeedMeta(
        id=f"tag:{site.authority},{FEED_ID_DATE}:feed" + (f"/{category}" if category else ""),
        title=_title(content, category),
        description=(found.description if found else None) or site.description,
        base_url=content.base_url,
        self_url=absolute(content.base_url, here + name),
        page_url=absolute(content.base_url, here),
        language=site.language,
        author=site.author,
        category_titles={c.slug: c.title for c in site.categories},
        # An empty feed's updated time is the whole site's newest change of an entry.
        fallback_updated=content.updated,
        archive=archive_links(content, category, name, month),
    )


def _feed_items(
    content: Content, subject: str | None
) -> tuple[str | None, Month | None, tuple[Item, ...]]:
    """The scope, month (None: the current feed) and items of a feed document's subject."""
    parts = subject.split("/") if subject else []
    if len(parts) < 2:  # the current feed of the site or of a category
        shown = content.items_of(subject)[: content.site.item_limit]
        return subject, None, shown
    category = parts[0] if len(parts) == 3 else None
    month = (int(parts[-2]), int(parts[-1]))
    return category, month, content.archived(category, month)


def _feed(fmt: Literal["rss", "atom", "json"]) -> Renderer:
    def render(content: Content, subject: str | None) -> bytes:
        category, month, shown = _feed_items(content, subject)
        meta = feed_meta(content, category, f"feed.{fmt}", month)
        if fmt == "json":
            return render_json_feed(shown, meta)
        return render_feed(shown, meta, fmt)

    return render


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
    older, newer = content.neighbours(slug)
    return content.pages.entry(content.item(slug), older=older, newer=newer)


def _archive_index(content: Content, category: str | None) -> bytes:
    found = content.site.category(category) if category else None
    return content.pages.archive(found, content.periods(category))


def _period_page(content: Content, subject: str | None) -> bytes:
    parts = (subject or "").split("/")
    numbers = [int(p) for p in parts[-2:] if p.isdigit() and len(p) in (2, 4)]
    category = parts[0] if len(parts) > len(numbers) else None
    year, month = numbers[0], (numbers[1] if len(numbers) > 1 else None)
    found = content.site.category(category) if category else None
    items = content.period(category, year, month)
    return content.pages.period(found, year, month, items)


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
    "feed.json", "site", "application/feed+json; charset=utf-8", "feed", _feed("json"),
    "JSON Feed",
)  # fmt: skip
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


def _in(scope: Scope, kind: Kind, shows: Shows | None = None, label: str | None = None) -> Kind:
    return Kind(
        kind.name, scope, kind.media_type, shows or kind.shows, kind.render,
        kind.label if label is None else label,
    )  # fmt: skip


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
    # The archive: an index of periods, a page per year and per month, and each feed's
    # archive documents (RFC 5005), one per month, for the site and every category.
    Kind("", "archive", HTML, "site", _archive_index),
    Kind("", "category-archive", HTML, "site", _archive_index),
    Kind("", "year", HTML, "period", _period_page),
    Kind("", "category-year", HTML, "period", _period_page),
    Kind("", "month", HTML, "period", _period_page),
    Kind("", "category-month", HTML, "period", _period_page),
    *(_in(scope, kind, "archive", "") for scope in ("month", "category-month")
      for kind in _SITE_FEEDS),
)  # fmt: skip
"""Every sort of document the site has."""

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
