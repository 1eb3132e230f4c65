"""Compose catalog, URLs, feeds and pages into documents: bytes with their validators.

Both the web app and the command line read documents from here, so they cannot drift.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property, partial

from medfeed.delivery import HTML_TYPE, PAGE_HEADERS, Document, Headers, make_document
from medfeed.errors import NotFound, Problem, RenderError, UnknownCategory, UnknownEntry
from medfeed.feeds import render_feed
from medfeed.folder import DELETION_GRACE, Folder
from medfeed.logs import ProblemLog, problem_log
from medfeed.meta import EPOCH, FeedMeta, feed_updated
from medfeed.models import Category
from medfeed.pages import PageRenderer
from medfeed.settings import Settings
from medfeed.store import Catalog, Item
from medfeed.urls import FORMATS, MEDIA_TYPES, Format, absolute, entry_path, feed_path, page_path
from medfeed.watch import Watcher

log = logging.getLogger("medfeed")
FORMAT_OF: dict[str, Format] = {"feed.rss": "rss", "feed.atom": "atom"}
FAVICON_PATH = "/favicon.svg"
SVG_TYPE = "image/svg+xml"
FAVICON = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    b'<rect width="16" height="16" rx="3" fill="#0b4f9c"/>'
    b'<path d="M4 12a1 1 0 1 0 0.01 0M4 8a4 4 0 0 1 4 4M4 4a8 8 0 0 1 8 8" '
    b'stroke="#fff" stroke-width="1.6" fill="none"/></svg>\n'
)
FEED_ID_DATE = "2000"
NGINX_REDIRECTS = "/.redirects.map"
STATIC_REDIRECTS = "/_redirects"


def utc_now() -> datetime:
    """The current time; the one place medfeed reads the clock."""
    return datetime.now(UTC)


def public_base_url(settings: Settings, catalog: Catalog) -> str:
    """The operator's base URL where set, else site.toml's."""
    return settings.base_url or str(catalog.site.base_url)


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


class Snapshot:
    """One content version: the items visible at one moment and their documents.

    Feeds are rendered when the snapshot is made; pages when first asked for, then kept.
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
        self.pages = PageRenderer(self.site, base_url)
        self._page_cache: dict[str, Document] = {}
        # Documents of the previous snapshot can be kept where nothing they show changed.
        earlier = previous
        if earlier is not None and (
            earlier.base_url,
            earlier.site,
            earlier.catalog.site_modified_ns,
        ) != (base_url, self.site, catalog.site_modified_ns):
            earlier = None
        self._feeds: dict[tuple[str | None, Format], Document] = {}
        for category in (None, *self.by_category):
            shown = self._items_of(category)[: self.site.item_limit]
            # An empty feed's updated time is the whole site's, so it must follow that.
            same = earlier is not None and earlier.shows(category, shown)
            if same and earlier is not None and not shown:
                same = earlier.updated == self.updated
            for fmt in FORMATS:
                if same and earlier is not None:
                    kept = earlier._feeds[(category, fmt)]
                    self._feeds[(category, fmt)] = self._redate(feed_path(category, fmt), kept)
                else:
                    self._feeds[(category, fmt)] = self._render_feed(category, fmt)
        if earlier is not None:
            self._keep_entry_pages(earlier)
        self.version = hashlib.sha256(
            b"".join(doc.etag.encode() for doc in self._feeds.values())
            + base_url.encode()
            + self.site.model_dump_json().encode()
        ).hexdigest()[:16]

    def shows(self, category: str | None, items: tuple[Item, ...]) -> bool:
        """Whether this snapshot's feed of ``category`` holds exactly these item objects."""
        if category is not None and category not in self.by_category:
            return False
        mine = self._items_of(category)[: self.site.item_limit]
        return len(mine) == len(items) and all(a is b for a, b in zip(mine, items, strict=True))

    def _redate(self, path: str, doc: Document) -> Document:
        # Same bytes, but their date is the folder's newest change, as a restarted
        # process would compute it: only the headers are made again.
        if doc.last_modified == self.changed_at:
            return doc
        validates = self.ledger.date_validates(path, doc.etag, self.changed_at)
        return doc.redated(self.changed_at, date_validates=validates)

    def _keep_entry_pages(self, previous: Snapshot) -> None:
        for key, doc in list(previous._page_cache.items()):
            slug = key.removeprefix("/entries/").removesuffix("/")
            if key.startswith("/entries/") and previous.by_slug.get(slug) is self.by_slug.get(slug):
                self._page_cache[key] = doc

    def category(self, slug: str) -> Category:
        """The category with this slug.

        Raises:
            UnknownCategory: the vocabulary has no such slug.
        """
        category = self.site.category(slug)
        if category is None:
            raise UnknownCategory(slug)
        return category

    def _items_of(self, category: str | None) -> tuple[Item, ...]:
        return self.items if category is None else self.by_category[category]

    def _render_feed(self, slug: str | None, fmt: Format) -> Document:
        items = self._items_of(slug)[: self.site.item_limit]
        title, description, feed_id = self.site.title, self.site.description, "feed"
        if slug is not None:
            category = self.category(slug)
            title = f"{self.site.title}: {category.title}"
            description = category.description or self.site.description
            feed_id = f"feed/{slug}"
        meta = FeedMeta(
            id=f"tag:{self.site.authority},{FEED_ID_DATE}:{feed_id}",
            title=title,
            description=description,
            base_url=self.base_url,
            self_url=absolute(self.base_url, feed_path(slug, fmt)),
            page_url=absolute(self.base_url, page_path(slug)),
            language=self.site.language,
            author=self.site.author,
            category_titles={c.slug: c.title for c in self.site.categories},
            fallback_updated=self.updated,
        )
        try:
            body = render_feed(items, meta, fmt)
        except RenderError:
            # The last line of defence: validation should make this impossible. One
            # entry that no renderer takes is that entry's problem, not every feed's.
            for item in items:
                try:
                    render_feed([item], meta, fmt)
                except RenderError as e:
                    reason = e.__cause__ or e
                    message = f"cannot be rendered ({reason}); its last good version stays"
                    self.unrenderable[item.source] = Problem(item.source, "", message)
            body = render_feed([i for i in items if i.source not in self.unrenderable], meta, fmt)
        return self._made(
            feed_path(slug, fmt), body, f"{MEDIA_TYPES[fmt]}; charset=utf-8", self.changed_at
        )

    def _made(
        self, path: str, body: bytes, content_type: str, updated: datetime, headers: Headers = ()
    ) -> Document:
        doc = make_document(body, content_type, updated, self.site.max_age, headers)
        if not self.ledger.date_validates(path, doc.etag, updated):
            doc = doc.redated(updated, date_validates=False)
        return doc.prepare() if self.prepare else doc

    def feed(self, category: str | None, fmt: Format) -> Document:
        """A feed of every entry or of one category.

        Raises:
            UnknownCategory: the vocabulary has no such slug.
        """
        if category is not None:
            self.category(category)
        return self._feeds[(category, fmt)]

    def feeds(self) -> Iterator[tuple[str, Document]]:
        """Every feed with its site path."""
        for (category, fmt), doc in self._feeds.items():
            yield feed_path(category, fmt), doc

    def _page(
        self,
        key: str,
        render: Callable[[], bytes],
        updated: datetime,
        content_type: str = HTML_TYPE,
    ) -> Document:
        doc = self._page_cache.get(key)
        if doc is None:
            # Two threads may render the same page at once; both get the same bytes.
            headers = PAGE_HEADERS if content_type == HTML_TYPE else ()
            try:
                body = render()
            except ValueError as e:
                # The last line of defence, as for feeds: validation should prevent it.
                log.error("%s: cannot be rendered (%s)", key, e)
                raise RenderError(f"{key} cannot be rendered") from e
            doc = self._made(key, body, content_type, updated, headers)
            self._page_cache[key] = doc
        return doc

    def index_page(self) -> Document:
        """The home page."""
        shown = self.items[: self.site.item_limit]
        return self._page("/", lambda: self.pages.index(shown, len(self.items)), self.changed_at)

    def category_page(self, slug: str) -> Document:
        """A category's page.

        Raises:
            UnknownCategory: the vocabulary has no such slug.
        """
        category = self.category(slug)
        items = self.by_category[slug]
        shown = items[: self.site.item_limit]
        return self._page(
            page_path(slug),
            lambda: self.pages.category(category, shown, len(items)),
            self.changed_at,
        )

    def entry_page(self, slug: str) -> Document:
        """One entry's page.

        Raises:
            UnknownEntry: no visible entry has this slug.
        """
        item = self.by_slug.get(slug)
        if item is None:
            raise UnknownEntry(slug)
        # An entry's page shows that entry and the site's settings, nothing else.
        newest = max(item.modified_ns, self.catalog.site_modified_ns) / 1e9
        updated = min(self.now, _moment(max(newest, item.published_at)))
        return self._page(entry_path(slug), lambda: self.pages.entry(item), updated)

    def redirect_lists(self) -> list[tuple[str, Document]]:
        """What static hosts read to redirect earlier slugs: nginx's map and ``_redirects``.

        The map's lines are ``from to;`` for ``map $uri $medfeed_moved`` (see
        deploy/nginx-static.conf); ``_redirects`` is the format of Netlify, Cloudflare
        Pages and others.
        """
        moves = []
        for alias, slug in sorted(self.redirects.items()):
            target = entry_path(slug)
            old = entry_path(alias)
            moves += [(old, target), (old.rstrip("/"), target), (old + "index.html", target)]
        nginx = "".join(f"{old} {target};\n" for old, target in moves)
        static = "".join(f"{old} {target} 301\n" for old, target in moves)
        text = "text/plain; charset=utf-8"
        return [
            (path, self._page(path, partial(str.encode, body), self.changed_at, text))
            for path, body in ((NGINX_REDIRECTS, nginx), (STATIC_REDIRECTS, static))
        ]

    def favicon(self) -> Document:
        """The site's icon; browsers ask for one and log an error where there is none."""
        return self._page(FAVICON_PATH, lambda: FAVICON, EPOCH, content_type=SVG_TYPE)

    def document(self, path: str) -> Document | None:
        """The feed or page at a site path, rendering a page on first use; None if none."""
        parts = path.split("/")
        try:
            match parts:
                case ["", ""]:
                    return self.index_page()
                case ["", "feed.rss" | "feed.atom" as name]:
                    return self.feed(None, FORMAT_OF[name])
                case ["", "categories", slug, ""]:
                    return self.category_page(slug)
                case ["", "categories", slug, "feed.rss" | "feed.atom" as name]:
                    return self.feed(slug, FORMAT_OF[name])
                case ["", "entries", slug, ""]:
                    return self.entry_page(slug)
                case ["", "favicon.svg"]:
                    return self.favicon()
        except (NotFound, RenderError):
            return None  # the web app's views answer with the matching error page
        return None

    def error_page(self, status: int, title: str, message: str) -> bytes:
        """An error page in the site's look."""
        return self.pages.error(status, title, message)


@dataclass(frozen=True)
class Health:
    """What /healthz reports."""

    status: str
    entries: int
    version: str
    last_check: datetime
    problems: tuple[Problem, ...]
    watching: str


class Publisher:
    """Serves the current snapshot of one entries folder and replaces it when it is stale.

    ``refresh`` (called by the watcher thread, or by hand) re-reads what changed and
    makes a new snapshot; requests only ever read ``snapshot()``.
    """

    def __init__(
        self,
        settings: Settings,
        now: Callable[[], datetime] = utc_now,
        *,
        deletion_grace: float = DELETION_GRACE,
    ) -> None:
        self.settings = settings
        self._now = now
        self._lock = threading.Lock()
        self._ledger = DateLedger()
        self.folder = Folder(settings.entries_dir, deletion_grace=deletion_grace, now=now)
        self.last_check = now()
        self._snapshot = self._make_snapshot(self.last_check, None)
        self._report()
        self._watcher: Watcher | None = None
        self._watch_pid: int | None = None
        self._watch_lock = threading.Lock()
        self._stopped = False

    @property
    def catalog(self) -> Catalog:
        """The catalog the current snapshot was made from."""
        return self._snapshot.catalog

    @property
    def base_url(self) -> str:
        """The base URL the current snapshot's links use."""
        return self._snapshot.base_url

    def _report(self) -> None:
        # One log line per problem when it appears and one when it is fixed, not once per
        # request or check, and from one process of those serving the folder.
        self._problem_log.update(self.catalog.problems)

    @cached_property
    def _problem_log(self) -> ProblemLog:
        return problem_log(self.settings.state_folder)

    def refresh(self, names: set[str] | None = None) -> bool:
        """Re-check the named files (None: all); make a new snapshot if anything changed."""
        with self._lock:
            changed = self.folder.rescan() if names is None else self.folder.update(names)
            now = self._now()
            self.last_check = now
            due = self._snapshot.valid_until is not None and now >= self._snapshot.valid_until
            if not (changed or due):
                return False
            # The snapshot carries its catalog, so /healthz and the feeds always agree.
            self._snapshot = self._make_snapshot(now, self._snapshot, changed)
            if changed:
                self._report()
            return True

    def _make_snapshot(
        self, now: datetime, previous: Snapshot | None, changed: bool = True
    ) -> Snapshot:
        catalog = self.folder.catalog(publish=False) if changed or previous is None else None
        for _ in range(3):
            current = catalog or (previous.catalog if previous else self.folder.catalog())
            base_url = public_base_url(self.settings, current)
            snapshot = Snapshot(current, base_url, now, previous, ledger=self._ledger)
            if not snapshot.unrenderable:
                break
            # Versions no renderer takes are set aside like broken files: the version
            # readers have stays, and the problem is reported.
            self.folder.quarantine(snapshot.unrenderable.values())
            catalog = self.folder.catalog(publish=False)
        self.folder.publish(snapshot.catalog.items)
        return snapshot

    def snapshot(self) -> Snapshot:
        """The documents as they stand now; scheduled entries appear when their time comes."""
        current = self._snapshot
        if current.valid_until is not None and self._now() >= current.valid_until:
            self.refresh(set())
        return self._snapshot

    def _seconds_to_next_change(self) -> float | None:
        until = self._snapshot.valid_until
        release = None if until is None else (until - self._now()).total_seconds()
        settle = self.folder.seconds_to_settle()
        return min((t for t in (release, settle) if t is not None), default=None)

    def watch(self) -> None:
        """Watch the folder from this process; again in a child after a fork."""
        pid = os.getpid()
        if self._watch_pid == pid or self._stopped:
            return
        with self._watch_lock:
            if self._watch_pid == pid:
                return
            if self._watch_pid is not None:
                # A forked child: the parent's watcher thread and lock holders are gone.
                self._lock = threading.Lock()
            self._watcher = Watcher(
                self.settings.entries_dir, self.refresh, next_wake=self._seconds_to_next_change
            )
            self._watcher.start()
            self._watch_pid = pid
        # Whatever changed before watching began (since loading, or in a forked
        # worker's past) is picked up before this process answers its first request.
        self.refresh(None)

    def stop(self) -> None:
        """Stop watching for good."""
        self._stopped = True
        if self._watcher is not None and self._watch_pid == os.getpid():
            self._watcher.stop()
        self._watcher = None

    def health(self) -> Health:
        """The state a load balancer or an operator checks."""
        snapshot = self._snapshot
        problems = snapshot.catalog.problems
        return Health(
            status="degraded" if problems else "ok",
            entries=len(snapshot.items),
            version=snapshot.version,
            last_check=self.last_check,
            problems=problems,
            watching=self._watcher.mode if self._watcher else "off",
        )
