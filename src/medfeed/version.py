"""One content version of the site: the items visible at one moment, and what each
document of the table shows, when it last changed and how long it may be cached. What
renderers read (``renderers.Content``); the documents themselves are ``snapshot``'s.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property

from medfeed.documents import KINDS, Kind, feed_links
from medfeed.errors import UnknownCategory, UnknownEntry
from medfeed.history import History
from medfeed.indexes import Indexes, make_indexes
from medfeed.itemtexts import ItemTexts
from medfeed.meta import EPOCH
from medfeed.models import Category
from medfeed.pages import PageRenderer
from medfeed.renderers import Month
from medfeed.sitemap import render_sitemaps
from medfeed.sitepages import Page, SitePages, Subjects
from medfeed.store import Catalog, Item
from medfeed.urls import entry_path, split, subject_of

NGINX_REDIRECTS = "/.redirects.map"
STATIC_REDIRECTS = "/_redirects"
ARCHIVE_MAX_AGE = 7 * 24 * 3600
"""Cache-Control max-age of an archive document that no longer changes as entries arrive."""
Key = tuple[object, ...]
"""What a document shows, compared by identity: equal keys, equal bytes."""


def same_key(a: Key, b: Key) -> bool:
    """Whether two documents show the same (item by item, by identity): the same bytes."""
    # Tuples compare element by element, each by identity before equality.
    return a == b


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class ContentVersion:
    """The visible items of one moment, as every renderer reads them."""

    def __init__(
        self,
        catalog: Catalog,
        base_url: str,
        now: datetime,
        texts: ItemTexts | None = None,
        previous: ContentVersion | None = None,
    ) -> None:
        self.catalog = catalog
        self.now = now
        self.site = catalog.site
        self.base_url = base_url
        # Carried over from the previous version where only some entries changed.
        self.indexes: Indexes = make_indexes(
            catalog, now.timestamp(), previous.indexes if previous is not None else None
        )
        self.items = self.indexes.items
        self.valid_until = catalog.next_release(now)
        self.by_slug = self.indexes.by_slug
        self.by_category = self.indexes.by_category
        # Lists and feeds change with any file of the folder (an entry can leave a
        # category, be deleted or turned into a draft): their Last-Modified is the
        # newest change anywhere in it, or the newest release of a scheduled entry
        # (items are newest first).
        released = self.items[0].published_at if self.items else 0
        self.changed_at = min(now, _moment(max(catalog.changed_ns / 1e9, released)))
        self.settings_changed_at = min(now, _moment(catalog.site_modified_ns / 1e9))
        self.item_texts = ItemTexts() if texts is None else texts
        """Entries written for feeds, calendars and lists, once for every document."""
        self.pages = PageRenderer(
            self.site, base_url, lambda c: feed_links(self, c), self.item_texts
        )
        self.history = History(self.items, self.by_category, self.site.item_limit)
        self._sitemaps: dict[str, bytes] | None = None
        # Each page, its URL and its sitemap line, taken over while the base URL is kept.
        self.site_pages: SitePages = SitePages(
            base_url, previous.site_pages if previous is not None else None
        )

    @cached_property
    def updated(self) -> datetime:
        """The newest change of any visible entry, as entries date it (``updated``, else
        ``published``): what an empty feed says it was updated."""
        newest = self.indexes.newest_change
        return newest.head.last_changed if newest is not None else EPOCH

    @cached_property
    def redirects(self) -> dict[str, str]:
        """Earlier slugs of visible entries, and the slug each now has (worked out when
        first asked for: a change does not pass over every entry for it)."""
        return {alias: slug for alias, slug in self.catalog.aliases.items() if slug in self.by_slug}

    # --- what renderers read ------------------------------------------------------------

    def items_of(self, category: str | None) -> tuple[Item, ...]:
        """The visible items of a category (None: all), newest first."""
        return self.items if category is None else self.by_category[category]

    def calendar(self, category: str | None) -> tuple[Item, ...]:
        """The visible items of a category (None: all) with an event, in calendar order."""
        return self.indexes.calendar(category)

    def item(self, slug: str) -> Item:
        """The visible item with this slug.

        Raises:
            UnknownEntry: no visible entry has this slug.
        """
        found = self.by_slug.get(slug)
        if found is None:
            raise UnknownEntry(slug)
        return found

    def category(self, slug: str) -> Category:
        """The category with this slug.

        Raises:
            UnknownCategory: the vocabulary has no such slug.
        """
        category = self.site.category(slug)
        if category is None:
            raise UnknownCategory(slug)
        return category

    def sitemap(self, path: str) -> bytes:
        """One document of the sitemap: every page, with its Last-Modified."""
        if self._sitemaps is None:
            listed = self._page_list()
            pages = [(url, self.page_date(k, s)) for k, s, url in listed]
            self.site_pages.drop_lines_beyond(listed)
            lines = self.site_pages.lines
            self._sitemaps = dict(render_sitemaps(pages, self.base_url, lines=lines))
        return self._sitemaps[path]

    @cached_property
    def _page_subjects(self) -> Subjects:
        return [(kind, self.subjects(kind)) for kind in KINDS if kind.page]

    def _page_list(self) -> list[Page]:
        """Every page, with its URL (worked out once, or taken over; see SitePages)."""
        return self.site_pages.pages(self._page_subjects)

    def redirect_list(self, path: str) -> bytes:
        """What static hosts read to redirect earlier slugs: nginx's map (``from to;`` for
        ``map $uri $medfeed_moved``, see deploy/nginx-static.conf) and ``_redirects`` (the
        format of Netlify, Cloudflare Pages and others)."""
        moves = []
        for alias, slug in sorted(self.redirects.items()):
            target, old = entry_path(slug), entry_path(alias)
            moves += [(old, target), (old.rstrip("/"), target), (old + "index.html", target)]
        if path == NGINX_REDIRECTS:
            return "".join(f"{old} {target};\n" for old, target in moves).encode()
        return "".join(f"{old} {target} 301\n" for old, target in moves).encode()

    # --- the archive ----------------------------------------------------------------------

    def newest_archive_month(self, category: str | None) -> tuple[Month, ...]:
        """``archive_months(category)[:1]``, without working out the others."""
        return self.history.newest_archive_month(category)

    def archive_months(self, category: str | None) -> tuple[Month, ...]:
        """Months, newest first, holding items of the scope that left its current feed."""
        return self.history.archive_months(category)

    def archived(self, category: str | None, month: Month) -> tuple[Item, ...]:
        """Those items of one month, newest first."""
        return self.history.archived(category, month)

    def period(self, category: str | None, year: int, month: int | None) -> tuple[Item, ...]:
        """Every visible item of the scope published in that year or month, newest first."""
        return self.history.period(category, year, month)

    def periods(self, category: str | None) -> list[tuple[Month, int]]:
        """Every month with visible items of the scope, newest first, with its count."""
        return self.history.periods(category)

    def neighbours(self, slug: str) -> tuple[Item | None, Item | None]:
        """The entries published just before and just after this one (site-wide)."""
        return self.history.neighbours(slug)

    # --- the documents ------------------------------------------------------------------

    def subjects(self, kind: Kind) -> list[str | None]:
        """What documents of this kind exist about: categories, entries, periods, parts."""
        scope = kind.scope
        categories: list[str | None] = [c.slug for c in self.site.categories]
        scopes = categories if scope.startswith("category") else [None]
        if scope in ("category", "category-archive"):
            return categories
        if scope == "entry":
            return [item.slug for item in self.items]
        if scope.endswith("month"):
            if kind.shows == "archive":
                return [subject_of(c, *m) for c in scopes for m in self.archive_months(c)]
            return [subject_of(c, *m) for c in scopes for m, _ in self.periods(c)]
        if scope.endswith("year"):
            return [
                subject_of(c, year)
                for c in scopes
                for year in dict.fromkeys(year for (year, _), _ in self.periods(c))
            ]
        if "{}" in kind.name:
            # The parts of the sitemap: every lastmod is written at one length, so how
            # many there are is known without dating every page.
            made = self._sitemaps
            count = len(made) if made else self.site_pages.count(self._page_subjects)
            return [str(n) for n in range(1, count)]
        return [None]

    def _exists(self, kind: Kind, subject: str | None) -> bool:
        if kind.scope == "entry":
            return subject in self.by_slug
        category, year, month = split(kind.scope, subject)
        if kind.scope.startswith("category") and category not in self.by_category:
            return False
        if year is not None and month is not None:
            if kind.shows == "archive":
                return (year, month) in self.archive_months(category)
            return bool(self.period(category, year, month))
        if year is not None:
            return bool(self.period(category, year, None))
        if "{}" in kind.name:
            return subject in self.subjects(kind)
        return True

    def key(self, kind: Kind, subject: str | None) -> Key:
        """What the document of this kind about ``subject`` shows: equal keys (item by
        item, by identity), equal bytes. The pinger compares them across versions."""
        return self._key(kind, subject)

    def _key(self, kind: Kind, subject: str | None) -> Key:
        """What a document shows: equal keys (item by item, by identity), equal bytes."""
        if kind.shows == "feed":
            shown = self.items_of(subject)[: self.site.item_limit]
            newest = self.history.newest_archive_month(subject)
            # An empty feed's updated time is the whole site's, so it must follow that.
            return (*shown, self.updated, *newest) if not shown else (*shown, *newest)
        if kind.shows == "list":
            items = self.items_of(subject)
            newest = self.history.newest_archive_month(subject)
            return (len(items), *items[: self.site.item_limit], bool(newest))
        if kind.shows == "calendar":
            return self.history.events(subject)
        if kind.shows == "entry":
            # Its page links to the entries published just before and after it.
            older, newer = self.neighbours(subject or "")
            return (self.by_slug[subject or ""], older, newer)
        if kind.shows == "archive":
            category, year, month = split(kind.scope, subject)
            assert year is not None and month is not None
            months = self.archive_months(category)
            at = months.index((year, month))
            return (*self.archived(category, (year, month)), *months[max(0, at - 1) : at + 2])
        if kind.shows == "period":
            category, year, month = split(kind.scope, subject)
            assert year is not None
            return self.period(category, year, month)
        if kind.shows == "settings":  # their date follows the clock for a future site.toml
            return (self.settings_changed_at,)
        if kind.shows == "fixed":
            return ()
        return (self,)  # the whole site: made again for every content version

    def _max_age(self, kind: Kind, subject: str | None) -> int:
        if kind.shows == "archive":
            category, year, month = split(kind.scope, subject)
            # A closed archive changes only when an entry in it is edited or deleted;
            # the newest may still grow as entries leave the current feed.
            if self.archive_months(category)[0] != (year, month):
                return max(self.site.max_age, ARCHIVE_MAX_AGE)
        return self.site.max_age

    def page_date(self, kind: Kind, subject: str | None) -> datetime:
        """A page's Last-Modified as the sitemap gives it: the folder's idea of it here;
        a snapshot knows the date it serves a page with, once the page is made."""
        return self.last_modified(kind, subject)

    def last_modified(self, kind: Kind, subject: str | None, key: Key | None = None) -> datetime:
        """When the document's bytes last changed, as the folder shows it (``key``: what
        it shows, where the caller has it already)."""
        if kind.shows == "fixed":
            return EPOCH
        if kind.shows == "settings":
            return self.settings_changed_at
        if kind.shows in ("entry", "archive", "period"):
            # What it shows and the site's settings, nothing else: adding an entry
            # elsewhere leaves an archive's validators as they were.
            shown = self._key(kind, subject) if key is None else key
            items = [i for i in shown if isinstance(i, Item)]
            newest = max([self.catalog.site_modified_ns] + [i.modified_ns for i in items]) / 1e9
            released = max((i.published_at for i in items), default=0)
            return min(self.now, _moment(max(newest, released)))
        return self.changed_at
