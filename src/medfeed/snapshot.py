"""The documents of one content version: every document of the table in ``documents`` as
bytes with their validators, rendered once and kept while what they show is unchanged.
No format knowledge lives here.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping
from datetime import datetime
from functools import cached_property

from medfeed.delivery import PAGE_HEADERS, Document, make_document
from medfeed.documents import CALENDAR, FEED_KINDS, KINDS, Kind, locate
from medfeed.errors import CacheDamaged, NotFound, Problem, RenderError, UnknownCategory
from medfeed.ledger import DateLedger
from medfeed.refusals import problem, refused, render_without
from medfeed.store import Catalog, Item
from medfeed.version import ContentVersion, Key, same_key

log = logging.getLogger("medfeed")


class Snapshot(ContentVersion):
    """The documents of one content version.

    Feeds are rendered when the snapshot is made to be served (so that the version
    names their bytes); every other document, and every one of a snapshot made for a
    static build (``prepare=False``), when first asked for. A document whose content
    did not change since the previous snapshot is kept, not rendered again.
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
        same_context = previous is not None and (
            previous.base_url,
            previous.site,
            previous.catalog.site_modified_ns,
        ) == (base_url, catalog.site, catalog.site_modified_ns)
        # What was written of entries that are still there, as they were, is kept.
        kept = None
        if previous is not None and same_context:
            changes = catalog.changes
            if changes is not None and changes.base is previous.catalog.items:
                kept = previous.item_texts.without(changes.removed)
            else:
                kept = previous.item_texts.kept_for(catalog.items)
        super().__init__(catalog, base_url, now, kept, previous)
        self.ledger = ledger or DateLedger()
        self.unrenderable: dict[str, Problem] = {}
        """Items whose versions no renderer could take while the version was made, by
        source file (the publisher sets their files aside: see refusals)."""
        self.left_out: dict[str, tuple[Item, Problem]] = {}
        """Items a document made since refused, by source file: left out of the
        documents that refuse them, while their files are unchanged."""
        self._made = False
        # The app compresses each document as it renders it (the feeds of a new snapshot
        # just after it is served: see compress); a static build need not.
        self.prepare = False
        self._unprepared: list[Document] = []
        self._documents: dict[str, tuple[Key, Document]] = {}
        """Documents by path with what they show, kept from snapshot to snapshot."""
        self._ready: dict[str, Document] = {}
        """This snapshot's served documents by path, once made or checked."""
        self._dates: dict[str, datetime] = {}
        """The Last-Modified of this snapshot's documents, once made (here, or by the
        processes of a static build: see ``dated``)."""
        if previous is not None and same_context:
            # Kept only where the key (what the document shows) is the same.
            self._documents = dict(previous._documents)
            # The documents kept from it still leave those out.
            self.left_out = {
                source: (item, problem)
                for source, (item, problem) in previous.left_out.items()
                if self.by_slug.get(item.slug) is item
            }
        # Found before the version is served or built, not when a document showing the
        # entry is first made: its last good version then stays in every one.
        self.unrenderable.update(refused(self, self.indexes.new or (), CALENDAR))
        if prepare:
            # Rendered now, so that the version names their bytes before it is served.
            self._unprepared = [doc for _, doc in self.feeds()]
            self.prepare = True
            self.version  # noqa: B018 - worked out while the snapshot is being made
        self._made = True

    @cached_property
    def version(self) -> str:
        """What tells this content version's feeds and settings from every other's
        (a static build, which may make no feed, never asks)."""
        return hashlib.sha256(
            b"".join(doc.etag.encode() for _, doc in self.feeds())
            + self.base_url.encode()
            + self.site.model_dump_json().encode()
        ).hexdigest()[:16]

    def document_of(self, kind: Kind, subject: str | None) -> Document:
        """The document of this kind about ``subject``, rendered on first use."""
        path = kind.path(subject)
        ready = self._ready.get(path)
        if ready is not None:
            return ready
        key = self._key(kind, subject)
        kept = self._documents.get(path)
        if kept is not None and same_key(kept[0], key):
            doc = kept[1]
            # Same bytes, same date (see DateLedger), whatever else changed in the folder.
            dated, validates = self.ledger.date(path, doc.etag, doc.last_modified, self.now)
            if (dated, validates) != (doc.last_modified, doc.date_validates):
                doc = doc.redated(dated, date_validates=validates)
                self._documents[path] = (key, doc)
            self._dates[path] = doc.last_modified
            if kind.served:
                self._ready[path] = doc
            return doc
        body = self._render(kind, subject, path)
        computed = self.last_modified(kind, subject, key)
        doc = make_document(
            body,
            kind.media_type,
            computed,
            self._max_age(kind, subject),
            PAGE_HEADERS if kind.page else (),
            # The archive is fetched rarely (and cached for long): compressed for speed.
            fast=kind.shows in ("archive", "period"),
        )
        dated, validates = self.ledger.date(path, doc.etag, computed, self.now)
        if (dated, validates) != (computed, True):
            doc = doc.redated(dated, date_validates=validates)
        doc = doc.prepare() if self.prepare else doc
        # Two threads may render the same document at once; both get the same bytes.
        self._documents[path] = (key, doc)
        self._dates[path] = doc.last_modified
        if kind.served:  # what only a static build writes is never answered for
            self._ready[path] = doc
        return doc

    def release(self) -> None:
        """Drop the documents made so far, keeping their dates: a watching build has put
        them in place and asks for them again only once they change."""
        self._documents.clear()
        self._ready.clear()

    def dated_all(self, dates: Mapping[str, datetime]) -> None:
        """``dated`` for many documents at once."""
        self._dates.update(dates)
        self._sitemaps = None

    def dated(self, path: str, moment: datetime) -> None:
        """Learn the Last-Modified another process gave a document of this snapshot."""
        self._dates[path] = moment
        # A sitemap made before (a build counts its parts while planning) is made anew
        # with what is now known.
        self._sitemaps = None

    def page_date(self, kind: Kind, subject: str | None) -> datetime:
        """The date a page is served with where it was made (its bytes unchanged since
        a date the ledger kept), else the folder's idea of it (see ContentVersion)."""
        path = kind.path(subject)
        found = self._dates.get(path)
        if found is not None:
            return found
        if kind.shows == "site":  # an archive's index: a few pages, made to be sure
            return self.document_of(kind, subject).last_modified
        kept = self._documents.get(path)  # made for an earlier snapshot, still current
        if kept is not None and same_key(kept[0], self._key(kind, subject)):
            return kept[1].last_modified
        # Not made since it last changed: the folder's date, never earlier than the one
        # it will be served with.
        return self.last_modified(kind, subject)

    def compress(self) -> None:
        """Make the compressed forms of the feeds rendered with the snapshot.

        The publisher serves a new snapshot first and compresses its feeds just after:
        readers get the change a compression sooner, and a request in between that
        wants gzip or brotli makes its form itself (Document.variant)."""
        unprepared, self._unprepared = self._unprepared, []
        for doc in unprepared:
            doc.prepare()

    def _render(self, kind: Kind, subject: str | None, path: str) -> bytes:
        try:
            return kind.render(self, subject)
        except CacheDamaged:
            raise  # no fault of the entry's: its file is read again (Publisher)
        except Exception as e:  # noqa: BLE001 - a reader gets an error page, never a 500
            if kind.shows not in ("feed", "calendar", "archive"):
                # The last line of defence: validation should make this impossible.
                log.error("%s: cannot be rendered (%s)", path, e)
                raise RenderError(f"{path} cannot be rendered") from e
        # One entry that no renderer takes is that entry's problem, not every feed's.
        shown = [part for part in self.key(kind, subject) if isinstance(part, Item)]
        known = {*self.unrenderable, *self.left_out}
        body, found = render_without(self, kind, subject, shown, known)
        for item in shown:
            reason = found.get(item.source)
            if reason is None:
                continue
            if not self._made:  # the publisher sets its file aside
                self.unrenderable[item.source] = problem(item, reason)
            else:  # served already: left out of what refuses it, and said
                self.left_out[item.source] = (item, problem(item, reason, set_aside=False))
                log.warning("%s: %s", path, self.left_out[item.source][1])
        return body

    def document(self, path: str) -> Document | None:
        """The document at a site path, rendered on first use; None if there is none."""
        ready = self._ready.get(path)
        if ready is not None:
            return ready  # the request path of a document asked for before: one lookup
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
        """The feed of a category (None: every entry) in a format, named by its file
        extension ("rss", "atom", "json").

        Raises:
            UnknownCategory: the vocabulary has no such slug.
        """
        if category is not None:
            self.category(category)
        return self.document_of(
            FEED_KINDS["site" if category is None else "category", fmt], category
        )

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
