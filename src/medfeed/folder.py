"""The live state of an entries folder, kept up to date one changed file at a time.

Nothing an editor or the file system does unpublishes an item by accident: a file that
breaks keeps its last valid version published; a file that cannot be read, or a folder
that cannot be listed, keeps what was published and is reported, and is looked at again
every second until it can be (no notification says so); a file that vanishes is
unpublished only if it stays gone for ``deletion_grace`` seconds (editors and sync tools
save by deleting and writing again); a broken site.toml, or one that drops a category
that published entries use, keeps the last valid site settings in force.

With a state folder, what was read and published outlives the process (see
``entrycache`` and ``siterecord``): a restart takes unchanged files from the cache, a
file broken at start-up falls back on the version last published, as on one read
earlier, and so do site.toml's settings; a file touched while it was stopped keeps the
date of what it says, as in a process that ran all along.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from medfeed.cachecodec import gc_paused
from medfeed.errors import EntryError, Problem
from medfeed.filestate import FileState, Signature, TouchedFiles
from medfeed.foldercache import FolderCache, item_of
from medfeed.folderfiles import FolderFiles
from medfeed.folderitems import FolderView
from medfeed.itemchoice import ItemChoice
from medfeed.models import SiteConfig, entry_id
from medfeed.readahead import Ahead, read_ahead
from medfeed.reading import SITE_FILE, read_entry
from medfeed.salvage import InvalidEntry, Salvage, salvage_entry, salvage_of
from medfeed.sitefile import SiteFile
from medfeed.siterecord import SiteRecord
from medfeed.store import Catalog, Changes, Item, build_item, time_problems
from medfeed.storedentry import AnyEntry, StoredEntry, loaded, same_entry

DELETION_GRACE = 1.0
"""Seconds a vanished file stays published, in case it is being saved by delete-and-write."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Folder(FolderFiles):
    """Tracks an entries folder; re-reads only the files that changed.

    Not thread-safe: callers serialise every method.
    """

    def __init__(
        self,
        root: Path,
        *,
        deletion_grace: float = DELETION_GRACE,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utc_now,
        state: Path | None = None,
    ) -> None:
        super().__init__(root, deletion_grace=deletion_grace, clock=clock, now=now)
        self._choice = ItemChoice()
        self.files = TouchedFiles(self._choice.touch)
        self._site_file = SiteFile(root, SiteRecord(state, root) if state is not None else None)
        self._folder_modified = 0
        self._published: dict[str, Item] = {}
        """What the last published catalog held, by source file."""
        self._published_items: tuple[Item, ...] | None = None
        """The same, as published (newest first)."""
        self._salvaged: dict[str, Salvage] = {}
        """What the files with problems still say of who they are, by file name."""
        self.files_read = 0
        """How many times an entry file was read and validated (not taken from the cache)."""
        self.cache = FolderCache(state, root) if state is not None else None
        self._fallbacks: dict[str, Item] = {}
        """At start-up: the versions published before it (the cache's), by file name."""
        self._starting = True
        self._ahead: dict[str, Ahead] = {}
        """At start-up: files read ahead on every core, by file name."""
        with gc_paused():
            if self.cache is not None:
                self._fallbacks = self.cache.recall(self._label, self.site, self._now())
                # Who published which id, as a process that had run all along would know.
                self._published = {item.source: item for item in self._fallbacks.values()}
            recorded = self.cache.recorded() if self.cache else ()
            spill = self.cache.cache.spill if self.cache else None
            self._listed = listed = self._listing(recorded)  # for both: 100,000 names
            self._ahead = read_ahead(
                self.root, listed or set(), self._site_file.known, recorded, spill
            )
            self.rescan()
        if self.cache is not None:
            self.cache.started()
            for name in self._fallbacks.keys() - self.files.keys():  # gone while stopped
                self._published.pop(self._label(name), None)
            self._choice.touch(self.files)
        self._fallbacks, self._ahead = {}, {}
        self._starting = False

    # --- site.toml ----------------------------------------------------------------------

    @property
    def site(self) -> SiteConfig:
        """The site settings in force: the last valid ones while site.toml has problems."""
        return self._site_file.site

    @property
    def site_problems(self) -> tuple[Problem, ...]:
        """Why the site.toml on disk is not in force; empty when it is."""
        return self._site_file.problems

    def _others_blocked(self) -> set[str]:
        return {SITE_FILE} if self._site_file.unreadable else set()

    def _check_others(self, names: set[str], changed: bool) -> bool:
        # A held-back site.toml may have become acceptable through entry edits.
        return (SITE_FILE in names or (changed and bool(self.site_problems))) and self._read_site()

    def _read_site(self) -> bool:
        authority = self.site.authority
        changed = self._site_file.reload(self._category_users, self.files)
        if self.site.authority != authority:
            self._reidentify(self.site)
        return changed

    def _category_users(self) -> dict[str, Item]:
        """Who uses each category: what readers have, of the files still there (a file
        gone takes its categories along). A pass over every file: only asked for when
        site.toml changed."""
        files = self.files
        users = {s: i for s, i in self._published.items() if s.rsplit("/", 1)[-1] in files}
        if self._starting:
            # As a process that had run all along would have published: the cache says
            # what was, and a file it knows nothing of publishes what it holds.
            for state in files.values():
                current = state.item or state.last_good
                if current is not None:
                    users.setdefault(current.source, current)
        return users

    def _reidentify(self, site: SiteConfig) -> None:
        # Computed ids embed the authority; every item needs its new id.
        def again(item: Item | None) -> Item | None:
            if item is None or item.head.id:
                return item
            return item.with_id(entry_id(site.authority, item.head.published, item.slug))

        for name, st in self.files.items():
            self.files[name] = st._replace(item=again(st.item), last_good=again(st.last_good))

    # --- entry files --------------------------------------------------------------------

    def _unseen(self, name: str) -> FileState:
        return FileState(None, None, self._fallbacks.get(name), ())

    def _prefill(self, names: set[str]) -> None:
        if self._starting and self.cache is not None:
            known = self.cache.as_published(names - self.files.keys(), self._now())
            self.files.update(known)
            self._looked = self.cache.looked_at(known)

    def _read_version(
        self, name: str, signature: Signature, old: FileState | None, moment: datetime
    ) -> FileState:
        label = self._label(name)
        read_ns = self._in_ns(moment)
        last_good = old.last_good if old else self._fallbacks.get(name)
        cached = self.cache.cached(name, signature) if self.cache and old is None else None
        known = self._site_file.known
        entry: AnyEntry
        try:
            if cached is None:
                self.files_read += 1
                ahead = self._ahead.pop(name, None) if self._ahead else None
                if ahead is not None and ahead[0] == signature:
                    _, entry, modified = ahead
                else:
                    entry, modified = read_entry(self.root / name, self.root, known)
            else:
                entry, modified = cached.entry, cached.modified_ns
            late = time_problems(entry, label, moment)
            if late:
                raise InvalidEntry(late, salvage_entry(loaded(entry)))
        except EntryError as e:
            self._salvaged[name] = salvage_of(e)
            if old is None and last_good is None and self.cache is not None:
                last_good = self.cache.published_again(name, label, self.site)
            return FileState(signature, None, last_good, e.problems, read_ns)
        self._salvaged.pop(name, None)
        if cached is None and old is None and self.cache:  # touched while stopped?
            cached = self.cache.earlier(name, entry)
        if last_good is not None and same_entry(last_good.stored, entry):
            item = last_good  # touched, not changed: keep the rendered HTML and time
        elif cached is not None:
            item = item_of(name, label, cached, self.site)
        else:
            item = build_item(name.removesuffix(".json"), label, entry, self.site, modified)
        # An entry naming an unknown category is not good enough to fall back on.
        good = item if known.issuperset(item.head.categories) else last_good
        return FileState(signature, item, good, (), read_ns)

    def _forget(self, name: str) -> bool:
        self._salvaged.pop(name, None)
        return super()._forget(name)

    def read_files_again(self) -> None:
        """Read again from its file every entry that lies in a cache file: that file
        changed under this process (see ``storedentry``)."""
        names = []
        for name, state in list(self.files.items()):
            if _stored(state.item) or _stored(state.last_good):
                names.append(name)
                last_good = None if _stored(state.last_good) else state.last_good
                # No signature: looked at again, and read, whatever it is now.
                self.files[name] = FileState(None, None, last_good, (), state.read_ns)
        self.update(names)

    def quarantine(self, problems: Iterable[Problem]) -> None:
        """Treat the files of these problems as broken (their versions cannot be rendered).

        Each keeps the version readers have, if that is not the one that failed.
        """
        for problem in problems:
            name = problem.path.rsplit("/", 1)[-1]
            state = self.files.get(name)
            if state is None or state.item is None:
                continue
            served = self._published.get(problem.path)
            fallback = served if served is not None and served != state.item else None
            self.files[name] = FileState(state.signature, None, fallback, (problem,))
            self._salvaged[name] = salvage_entry(state.item.entry)

    # --- the catalog --------------------------------------------------------------------

    def _changed_ns(self) -> int:
        try:
            self._folder_modified = self.root.stat().st_mtime_ns
        except OSError:
            pass  # keep the last time seen: the folder is reported as unreadable
        return self._choice.newest(max(self._folder_modified, self._site_file.modified_ns))

    def catalog(self, *, publish: bool = True) -> Catalog:
        """The entries as they should be published now, with every problem.

        ``publish`` records the result as what readers have (the fallback for later
        edits, and the owner of each id); pass False for a catalog that may be refused.
        """
        view = FolderView(
            self.site, self.files, self._vanished, self._published, self._salvaged, self._label
        )
        published, problems, changes = self._choice.choose(view)
        if publish:
            self.publish(published, changes)
        every = tuple(sorted({*self.folder_problems, *self.site_problems, *problems}))
        return Catalog(
            self.site, published, every, site_modified_ns=self._site_file.modified_ns,
            changed_ns=self._changed_ns(), changes=changes,
        )  # fmt: skip

    def publish(self, items: tuple[Item, ...], changes: Changes | None = None) -> None:
        """Record these items as what readers have (and, with a state folder, in it);
        ``changes``: how they differ from an earlier catalog's, if known."""
        before = self._published
        if changes is not None and changes.base is self._published_items:
            moved = {item.source: before.get(item.source) for item in changes.removed}
            moved.update((item.source, before.get(item.source)) for item in changes.added)
            for item in changes.removed:
                if before.get(item.source) is item:
                    del before[item.source]
            before.update((item.source, item) for item in changes.added)
            after = before
        else:
            after = self._published = {item.source: item for item in items}
            moved = {}
            if after != before:  # a restart's common case, in C: the items readers had
                moved = {s: before.get(s) for s, i in after.items() if before.get(s) is not i}
                moved.update((s, before[s]) for s in before.keys() - after.keys())
        self._published_items = items
        # Who owns which id follows what readers have.
        for source, old in moved.items():
            new = after.get(source)
            self._choice.republished(
                source.rsplit("/", 1)[-1],
                None if old is None else old.id,
                None if new is None else new.id,
            )
        if self.cache is not None:
            self.cache.remember(self.files, self._published, news=self.files_read > 0)

    def save_cache(self) -> bool:
        """Write the cache now rather than in the background; whether anything was written."""
        return self.cache.save() if self.cache is not None else False


def _stored(item: Item | None) -> bool:
    return item is not None and isinstance(item.stored, StoredEntry)
