"""The renderers of the site's documents: each takes one content version (``Content``)
and a subject (a category or entry slug, a period) and returns bytes. Which renderer
makes which document is the table in ``documents``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from medfeed.feedparts import FEED_FORMATS, take_back
from medfeed.ical import CalendarMeta, render_calendar
from medfeed.itemtexts import ItemTexts
from medfeed.meta import EPOCH, Archive, FeedMeta
from medfeed.models import SiteConfig
from medfeed.pages import PageRenderer
from medfeed.sitemap import render_robots
from medfeed.store import Item
from medfeed.urls import Scope, absolute, folder, page_path, subject_of

FEED_ID_DATE = "2000"
CALENDAR_NAME = "events.ics"
SITEMAP_PATH = "/sitemap.xml"
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
    item_texts: ItemTexts
    """Items written for feeds, shared by every document of this version that shows them."""
    changed_at: datetime
    """When any file of the folder last changed (the Last-Modified of lists)."""
    settings_changed_at: datetime
    """When the site's settings last changed (site.toml): the date of what shows them only."""

    @property
    def updated(self) -> datetime:
        """The newest change of any visible entry, as entries date it."""

    def items_of(self, category: str | None) -> tuple[Item, ...]:
        """The visible items of a category (None: all), newest first."""

    def calendar(self, category: str | None) -> tuple[Item, ...]:
        """The visible items of a category (None: all) with an event, in calendar order."""

    def item(self, slug: str) -> Item:
        """The visible item with this slug."""

    def sitemap(self, path: str) -> bytes:
        """One document of the sitemap (one, or an index and its parts)."""

    def redirect_list(self, path: str) -> bytes:
        """One of the redirect lists static hosts read."""

    def newest_archive_month(self, category: str | None) -> tuple[Month, ...]:
        """``archive_months(category)[:1]``, without working out the others."""

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
FeedWriter = Callable[[Sequence[Item], FeedMeta, ItemTexts], bytes]
"""A feed format's document writer: its items (newest first), what the feed says of
itself, and the item texts the content version shares."""


def title(content: Content, category: str | None) -> str:
    if category is None:
        return content.site.title
    found = content.site.category(category)
    return f"{content.site.title}: {found.title if found else category}"


def archive_links(
    content: Content, category: str | None, name: str, month: Month | None
) -> Archive | None:
    """The RFC 5005 links of a feed document: the current feed's (month None) or a month's."""
    scope: Scope = "month" if category is None else "category-month"

    def url(at: Month) -> str:
        return absolute(content.base_url, folder(scope, subject_of(category, *at)) + name)

    if month is None:
        # The current feed needs only the newest archive: no sorting of every item into
        # months on every change.
        newest = content.newest_archive_month(category)
        return Archive(prev_archive=url(newest[0])) if newest else None
    months = content.archive_months(category)
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
        title=title(content, category),
        description=(found.description if found else None) or site.description,
        base_url=content.base_url,
        self_url=absolute(content.base_url, here + name),
        page_url=absolute(content.base_url, here),
        language=site.language,
        author=site.author,
        category_titles={c.slug: c.title for c in site.categories},
        # An empty feed's updated time is the whole site's newest change of an entry
        # (a feed with items takes theirs: the site's is not worked out for it).
        fallback_updated=EPOCH if content.items_of(category) else content.updated,
        archive=archive_links(content, category, name, month),
        hubs=tuple(str(hub) for hub in site.hubs),
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


def feed(name: str, write: FeedWriter) -> Renderer:
    """The renderer of a feed format's documents (file ``name``), current and archive,
    written by the format's ``write``."""

    def render(content: Content, subject: str | None) -> bytes:
        category, month, shown = _feed_items(content, subject)
        return write(shown, feed_meta(content, category, name, month), content.item_texts)

    return render


EarlierTexts = Callable[[Content, str | None, Sequence[Item], Callable[[], "bytes | None"]], int]
"""Takes back the item texts of a document written earlier: the version, the subject,
the items the document showed then (in order), and a reader of its bytes (None where
gone); how many texts were taken (see feedparts.take_back)."""


def earlier_feed(name: str) -> EarlierTexts | None:
    """``EarlierTexts`` of the feeds in file ``name``, current and archive; None for a
    format whose documents feedparts cannot split."""
    fmt = FEED_FORMATS.get(name.rpartition(".")[2])
    if fmt is None:
        return None

    def take(
        content: Content,
        subject: str | None,
        shown: Sequence[Item],
        body: Callable[[], bytes | None],
    ) -> int:
        category, month, now = _feed_items(content, subject)
        meta = feed_meta(content, category, name, month)
        wanted = {id(item) for item in now}
        return take_back(content.item_texts, meta, fmt, shown, body, wanted)

    return take


def calendar(content: Content, category: str | None) -> bytes:
    site = content.site
    found = site.category(category) if category else None
    meta = CalendarMeta(
        name=f"{title(content, category)}: events",
        description=(found.description if found else None) or site.description,
        base_url=content.base_url,
        self_url=absolute(content.base_url, page_path(category) + CALENDAR_NAME),
        page_url=absolute(content.base_url, page_path(category)),
        language=site.language,
        refresh_seconds=site.max_age,
        category_titles={c.slug: c.title for c in site.categories},
    )
    items, events = content.items_of(category), content.calendar(category)
    return render_calendar(items, meta, content.item_texts, events=events)


def list_page(content: Content, category: str | None) -> bytes:
    items = content.items_of(category)
    shown = items[: content.site.item_limit]
    if category is None:
        return content.pages.index(shown, len(items))
    found = content.site.category(category)
    assert found is not None  # the snapshot checks the subject before rendering
    return content.pages.category(found, shown, len(items))


def entry_page(content: Content, slug: str | None) -> bytes:
    assert slug is not None
    older, newer = content.neighbours(slug)
    return content.pages.entry(content.item(slug), older=older, newer=newer)


def archive_index(content: Content, category: str | None) -> bytes:
    found = content.site.category(category) if category else None
    return content.pages.archive(found, content.periods(category))


def period_page(content: Content, subject: str | None) -> bytes:
    parts = (subject or "").split("/")
    numbers = [int(p) for p in parts[-2:] if p.isdigit() and len(p) in (2, 4)]
    category = parts[0] if len(parts) > len(numbers) else None
    year, month = numbers[0], (numbers[1] if len(numbers) > 1 else None)
    found = content.site.category(category) if category else None
    items = content.period(category, year, month)
    return content.pages.period(found, year, month, items)


def robots(content: Content, _: str | None) -> bytes:
    return render_robots(absolute(content.base_url, SITEMAP_PATH))


def sitemap(content: Content, part: str | None) -> bytes:
    return content.sitemap(f"/sitemap-{part}.xml" if part else SITEMAP_PATH)


def redirects(name: str) -> Renderer:
    return lambda content, _: content.redirect_list("/" + name)
