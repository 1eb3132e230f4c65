"""One content version of the site: the items visible at one moment, and every document of
the table in ``documents`` as bytes with their validators. No format knowledge lives here.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import cast

from medfeed.delivery import PAGE_HEADERS, Document, make_document
from medfeed.documents import (
    FEED_KINDS,
    KINDS,
    SITEMAP,
    Content,
    Kind,
    Month,
    feed_links,
    locate,
    split,
    subject_of,
)
from medfeed.errors import NotFound, Problem, RenderError, UnknownCategory, UnknownEntry
from medfeed.meta import EPOCH, feed_updated
from medfeed.models import Category
from medfeed.pages import PageRenderer
from medfeed.sitemap import render_sitemaps
from medfeed.store import Catalog, Item
from medfeed.urls import absolute, entry_path

log = logging.getLogger("medfeed")
NGINX_REDIRECTS = "/.redirects.map"
STATIC_REDIRECTS = "/_redirects"
ARCHIVE_MAX_AGE = 7 * 24 * 3600
"""Cache-Control max-age of an archive document that no longer changes as entries arrive."""
Key = tuple[object, ...]
"""What a document shows, compared by identity: equal keys, equal bytes."""


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class DateLedger:
    """The Last-Modified second of each document path, and the bytes it named.

    HTTP dates count whole seconds: two versions of a document made within one second
    (or a folder swapped for one with older files) share a date. Such a date cannot
    tell them apart, so ``If-Modified-Since`` is not honoured for it (ETags still are).
    """

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, int]] = {}

    def date_validates(self, path: str, etag: str, last_modified: datetime) -> bool:
        """Record a document; whether its date tells it from every earlier version."""
        second = int(last_modified.timestamp())
        before = self._seen.get(path)
        self._seen[path] = (etag, second) if before is None else (etag, max(second, before[1]))
        return before is None or before[0] == etag or second > before[1]


def _same(a: Key, b: Key) -> bool:
    return len(a) == len(b) and all(x is y or x == y for x, y in zip(a, b, strict=True))


class Snapshot(Content):
    """The documents of one content version.

    Feeds are rendered when the snapshot is made (so that the version names their
    bytes); every other document when first asked for. A document whose content did not
    change since the previous snapshot is kept, not rendered again.
    """

    def __init__(
        self,
        catalog: Catalog,
        base_url: str,
        now: datetime,
        previous: Snapshot | None = None,
        *,
        prepare: bool = True,
        ledger: DateLedger | None = None,
    ) -> None:
        self.catalog = catalog
        self.now = now
        self.ledger = ledger or DateLedger()
        self.unrenderable: dict[str, Problem] = {}
        """Items whose versions no renderer could take, by source file (left out)."""
        # The app compresses each document as it renders it; a static build need not.
        self.prepare = prepare
        self.site = catalog.site
        self.base_url = base_url
        self.items = catalog.visible(now)
        self.valid_until = catalog.next_release(now)
        self.by_slug = {item.slug: item for item in self.items}
        self.redirects = {
            alias: slug for alias, slug in catalog.aliases.items() if slug in self.by_slug
        }
        """Earlier slugs of visible entries, and the slug each now has."""
        members: dict[str, list[Item]] = {c.slug: [] for c in self.site.categories}
        for item in self.items:
            for slug in item.entry.categories:
                members[slug].append(item)
        self.by_category = {slug: tuple(found) for slug, found in members.items()}
        self.updated = feed_updated(self.items)
        # Lists and feeds change with any file of the folder (an entry can leave a
        # category, be deleted or turned into a draft): their Last-Modified is the
        # newest change anywhere in it, or the newest release of a scheduled entry.
        newest = max(catalog.changed_ns / 1e9, max((i.published_at for i in self.items), default=0))
        self.changed_at = min(now, _moment(newest))
        self.pages = PageRenderer(self.site, base_url, lambda c: feed_links(self, c))
        self._documents: dict[str, tuple[Key, Document]] = {}
        self._sitemaps: dict[str, bytes] | None = None
        self._by_month: dict[str | None, dict[Month, tuple[Item, ...]]] = {}
        self._archives: dict[str | None, dict[Month, tuple[Item, ...]]] = {}
        self._positions: dict[str, int] | None = None
        if previous is not None and (
            previous.base_url,
            previous.site,
            previous.catalog.site_modified_ns,
        ) == (base_url, self.site, catalog.site_modified_ns):
            # Kept only where the key (what the document shows) is the same.
            self._documents = dict(previous._documents)
        for kind in KINDS:
            if kind.shows == "feed":
                for subject in self.subjects(kind):
                    self.document_of(kind, subject)
        self.version = hashlib.sha256(
            b"".join(doc.etag.encode() for _, doc in self.feeds())
            + base_url.encode()
            + self.site.model_dump_json().encode()
        ).hexdigest()[:16]

    # --- what renderers read ------------------------------------------------------------

    def items_of(self, category: str | None) -> tuple[Item, ...]:
        """The visible items of a category (None: all), newest first."""
        return self.items if category is None else self.by_category[category]

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
            pages = [
                (absolute(self.base_url, kind.path(subject)), self.last_modified(kind, subject))
                for kind in KINDS
                if kind.page
                for subject in self.subjects(kind)
            ]
            self._sitemaps = dict(render_sitemaps(pages, self.base_url))
        return self._sitemaps[path]

    def redirect_list(self, path: str) -> bytes:
        """What static hosts read to redirect earlier slugs: nginx's map and ``_redirects``.

        The map's lines are ``from to;`` for ``map $uri $medfeed_moved`` (see
        deploy/nginx-static.conf); ``_redirects`` is the format of Netlify, Cloudflare
        Pages and others.
        """
        moves = []
        for alias, slug in sorted(self.redirects.items()):
            target, old = entry_path(slug), entry_path(alias)
            moves += [(old, target), (old.rstrip("/"), target), (old + "index.html", target)]
        if path == NGINX_REDIRECTS:
            return "".join(f"{old} {target};\n" for old, target in moves).encode()
        return "".join(f"{old} {target} 301\n" for old, target in moves).encode()

    # --- the archive ----------------------------------------------------------------------

    def _months(self, category: str | None) -> dict[Month, tuple[Item, ...]]:
        """Every visible item of the scope by month of publication, newest first."""
        found = self._by_month.get(category)
        if found is None:
            months: dict[Month, list[Item]] = {}
            for item in self.items_of(category):
                published = item.entry.published
                months.setdefault((published.year, published.month), []).append(item)
            found = {month: tuple(items) for month, items in months.items()}
            self._by_month[category] = found
        return found

    def _archive(self, category: str | None) -> dict[Month, tuple[Item, ...]]:
        found = self._archives.get(category)
        if found is None:
            # Items that left the current feed, by month: each in exactly one document.
            window = set(map(id, self.items_of(category)[: self.site.item_limit]))
            found = {}
            for month, items in self._months(category).items():
                older = tuple(i for i in items if id(i) not in window)
                if older:
                    found[month] = older
            self._archives[category] = found
        return found

    def archive_months(self, category: str | None) -> tuple[Month, ...]:
        """Months, newest first, holding items of the scope that left its current feed."""
        return tuple(self._archive(category))

    def archived(self, category: str | None, month: Month) -> tuple[Item, ...]:
        """Those items of one month, newest first."""
        return self._archive(category).get(month, ())

    def period(self, category: str | None, year: int, month: int | None) -> tuple[Item, ...]:
        """Every visible item of the scope published in that year or month, newest first."""
        months = self._months(category)
        if month is not None:
            return months.get((year, month), ())
        return tuple(i for (y, _), items in months.items() if y == year for i in items)

    def neighbours(self, slug: str) -> tuple[Item | None, Item | None]:
        """The entries published just before and just after this one (site-wide)."""
        if self._positions is None:
            self._positions = {item.slug: index for index, item in enumerate(self.items)}
        index = self._positions[slug]
        older = self.items[index + 1] if index + 1 < len(self.items) else None
        return older, (self.items[index - 1] if index > 0 else None)

    def periods(self, category: str | None) -> list[tuple[Month, int]]:
        """Every month with visible items of the scope, newest first, with its count."""
        return [(month, len(items)) for month, items in self._months(category).items()]

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
                return [subject_of(c, *m) for c in scopes for m in self._archive(c)]
            return [subject_of(c, *m) for c in scopes for m in self._months(c)]
        if scope.endswith("year"):
            years = ((c, y) for c in scopes for y in dict.fromkeys(y for y, _ in self._months(c)))
            return [subject_of(c, y) for c, y in years]
        if "{}" in kind.name:
            self.sitemap(SITEMAP.path())
            assert self._sitemaps is not None
            return [str(n) for n in range(1, len(self._sitemaps))]
        return [None]

    def _exists(self, kind: Kind, subject: str | None) -> bool:
        if kind.scope == "entry":
            return subject in self.by_slug
        category, year, month = split(kind.scope, subject)
        if kind.scope.startswith("category") and category not in self.by_category:
            return False
        if year is not None and month is not None:
            months = self._archive(category) if kind.shows == "archive" else self._months(category)
            return (year, month) in months
        if year is not None:
            return any(y == year for y, _ in self._months(category))
        if "{}" in kind.name:
            return subject in self.subjects(kind)
        return True

    def _key(self, kind: Kind, subject: str | None) -> Key:
        if kind.shows == "feed":
            shown = self.items_of(subject)[: self.site.item_limit]
            newest = self.archive_months(subject)[:1]
            # An empty feed's updated time is the whole site's, so it must follow that.
            return (*shown, self.updated, *newest) if not shown else (*shown, *newest)
        if kind.shows == "list":
            items = self.items_of(subject)
            return (len(items), *items[: self.site.item_limit], bool(self.archive_months(subject)))
        if kind.shows == "calendar":
            return tuple(i for i in self.items_of(subject) if i.entry.event)
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

    def last_modified(self, kind: Kind, subject: str | None) -> datetime:
        """When the document's bytes last changed, as the folder shows it."""
        if kind.shows == "fixed":
            return EPOCH
        if kind.shows in ("entry", "archive", "period"):
            # What it shows and the site's settings, nothing else: adding an entry
            # elsewhere leaves an archive's validators as they were.
            items = [i for i in self._key(kind, subject) if isinstance(i, Item)]
            newest = max([self.catalog.site_modified_ns] + [i.modified_ns for i in items]) / 1e9
            released = max((i.published_at for i in items), default=0)
            return min(self.now, _moment(max(newest, released)))
        return self.changed_at

    def document_of(self, kind: Kind, subject: str | None) -> Document:
        """The document of this kind about ``subject``, rendered on first use."""
        path = kind.path(subject)
        key = self._key(kind, subject)
        updated = self.last_modified(kind, subject)
        kept = self._documents.get(path)
        if kept is not None and _same(kept[0], key):
            doc = kept[1]
            if doc.last_modified != updated:
                # Same bytes, dated as a restarted process would date them.
                validates = self.ledger.date_validates(path, doc.etag, updated)
                doc = doc.redated(updated, date_validates=validates)
                self._documents[path] = (key, doc)
            return doc
        body = self._render(kind, subject, path)
        doc = make_document(
            body, kind.media_type, updated, self._max_age(kind, subject),
            PAGE_HEADERS if kind.page else (),
        )
        if not self.ledger.date_validates(path, doc.etag, updated):
            doc = doc.redated(updated, date_validates=False)
        doc = doc.prepare() if self.prepare else doc
        # Two threads may render the same document at once; both get the same bytes.
        self._documents[path] = (key, doc)
        return doc

    def _render(self, kind: Kind, subject: str | None, path: str) -> bytes:
        try:
            return kind.render(self, subject)
        except Exception as e:  # noqa: BLE001 - a reader gets an error page, never a 500
            if kind.shows not in ("feed", "calendar", "archive"):
                # The last line of defence: validation should make this impossible.
                log.error("%s: cannot be rendered (%s)", path, e)
                raise RenderError(f"{path} cannot be rendered") from e
        # One entry that no renderer takes is that entry's problem, not every feed's.
        for item in self.items_of(subject):
            reason = self._failure_alone(kind, item)
            if reason is not None:
                message = f"cannot be rendered ({reason}); its last good version stays"
                self.unrenderable[item.source] = Problem(item.source, "", message)
        return kind.render(cast(Content, _Without(self, set(self.unrenderable))), subject)

    def _failure_alone(self, kind: Kind, item: Item) -> str | None:
        try:
            kind.render(cast(Content, _Only(self, item)), None)
        except (RenderError, ValueError) as e:
            return str(e.__cause__ or e)
        return None

    def document(self, path: str) -> Document | None:
        """The document at a site path, rendered on first use; None if there is none."""
        found = locate(path)
        if found is None or not found[0].served or not self._exists(*found):
            return None
        try:
            return self.document_of(*found)
        except (NotFound, RenderError):
            return None  # the web app's views answer with the matching error page

    def documents(self) -> Iterator[tuple[Kind, str, Document]]:
        """Every document of the site, a static build's files included."""
        for kind in KINDS:
            for subject in self.subjects(kind):
                yield kind, kind.path(subject), self.document_of(kind, subject)

    def feeds(self) -> Iterator[tuple[str, Document]]:
        """Every feed (every format, every scope) with its site path."""
        for kind in KINDS:
            if kind.shows == "feed":
                for subject in self.subjects(kind):
                    yield kind.path(subject), self.document_of(kind, subject)

    def feed(self, category: str | None, fmt: str) -> Document:
        """The feed of a category (None: every entry) in a format ("rss", "atom", "json").

        Raises:
            UnknownCategory: the vocabulary has no such slug.
        """
        kind = FEED_KINDS[fmt]
        if category is not None:
            self.category(category)
            kind = next(k for k in KINDS if k.scope == "category" and k.name == kind.name)
        return self.document_of(kind, category)

    def page(self, path: str) -> Document:
        """The page or document at a path.

        Raises:
            NotFound: there is none (UnknownCategory, UnknownEntry where that is why).
            RenderError: it cannot be rendered.
        """
        found = locate(path)
        if found is None or not found[0].served:
            raise NotFound(path)
        kind, subject = found
        if kind.scope == "category" and subject not in self.by_category:
            raise UnknownCategory(subject or "")
        if kind.scope == "entry":
            self.item(subject or "")
        if not self._exists(kind, subject):
            raise NotFound(path)
        return self.document_of(kind, subject)

    def error_page(self, status: int, title: str, message: str) -> bytes:
        """An error page in the site's look."""
        return self.pages.error(status, title, message)


class _Only:
    """A snapshot's content seen with one item alone, to find which item fails."""

    def __init__(self, snapshot: Snapshot, item: Item) -> None:
        self._snapshot, self._item = snapshot, item

    def __getattr__(self, name: str) -> object:
        return getattr(self._snapshot, name)

    def items_of(self, category: str | None) -> tuple[Item, ...]:
        return (self._item,)


class _Without:
    """A snapshot's content without the items no renderer takes."""

    def __init__(self, snapshot: Snapshot, sources: set[str]) -> None:
        self._snapshot, self._sources = snapshot, sources

    def __getattr__(self, name: str) -> object:
        return getattr(self._snapshot, name)

    def items_of(self, category: str | None) -> tuple[Item, ...]:
        return tuple(
            i for i in self._snapshot.items_of(category) if i.source not in self._sources
        )
