"""The live state of an entries folder, kept up to date one changed file at a time.

Nothing an editor or the file system does unpublishes an item by accident: a file that
breaks keeps its last valid version published; a file that cannot be read, or a folder
that cannot be listed, keeps what was published and is reported; a file that vanishes is
unpublished only if it stays gone for ``deletion_grace`` seconds (editors and sync tools
save by deleting and writing again); a broken site.toml, or one that drops a category
that published entries use, keeps the last valid site settings in force.

With a state folder, what was read and published outlives the process (see
``entrycache``): a restart takes unchanged files from the cache, and a file broken at
start-up falls back on the version last published, as on one read earlier.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from medfeed.cachecodec import gc_paused
from medfeed.errors import EntryError, Problem
from medfeed.filestate import FileState, StatError, read_signature
from medfeed.foldercache import FolderCache, item_of
from medfeed.identity import claim_of_file
from medfeed.models import SiteConfig, entry_id
from medfeed.reading import SITE_FILE, file_label, is_entry_name, read_entry
from medfeed.salvage import InvalidEntry, Salvage, salvage_entry, salvage_of
from medfeed.sitefile import SiteFile
from medfeed.store import Catalog, Item, assemble, build_item, time_problems

DELETION_GRACE = 1.0
"""Seconds a vanished file stays published, in case it is being saved by delete-and-write."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Folder:
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
        self.root = root
        self._where = os.fspath(root)
        self._label_prefix = file_label(root, "")
        self.deletion_grace = deletion_grace
        self._clock = clock
        self._now = now
        self._site_file = SiteFile(root)
        self.folder_problems: tuple[Problem, ...] = ()
        self._folder_modified = 0
        self.files: dict[str, FileState] = {}
        self._vanished: dict[str, float] = {}
        """Files found gone, with the moment their removal will be published."""
        self._published: dict[str, Item] = {}
        """What the last published catalog held, by source file."""
        self._salvaged: dict[str, Salvage] = {}
        """What the files with problems still say of who they are, by file name."""
        self.files_read = 0
        """How many times an entry file was read and validated (not taken from the cache)."""
        self.cache = FolderCache(state, root) if state is not None else None
        self._fallbacks: dict[str, Item] = {}
        """At start-up: the versions published before it (the cache's), by file name."""
        with gc_paused():
            if self.cache is not None:
                self._fallbacks = self.cache.recall(self._label, self.site)
                # Who published which id, as a process that had run all along would know.
                self._published = {item.source: item for item in self._fallbacks.values()}
            self.rescan()
        if self.cache is not None:
            self.cache.started()
            present = self.files
            self._published = {
                s: i for s, i in self._published.items() if s.rsplit("/", 1)[-1] in present
            }
        self._fallbacks = {}

    def _label(self, name: str) -> str:
        # The same as file_label's, which asks the OS for the folder's name on each call.
        return self._label_prefix + name

    # --- site.toml ----------------------------------------------------------------------

    @property
    def site(self) -> SiteConfig:
        """The site settings in force: the last valid ones while site.toml has problems."""
        return self._site_file.site

    @property
    def site_problems(self) -> tuple[Problem, ...]:
        """Why the site.toml on disk is not in force; empty when it is."""
        return self._site_file.problems

    def _read_site(self) -> bool:
        authority = self.site.authority
        changed = self._site_file.reload(self._published, self.files)
        if self.site.authority != authority:
            self._reidentify(self.site)
        return changed

    def _reidentify(self, site: SiteConfig) -> None:
        # Computed ids embed the authority; every item needs its new id.
        def again(item: Item | None) -> Item | None:
            if item is None or item.entry.id:
                return item
            return replace(item, id=entry_id(site.authority, item.entry.published, item.slug))

        for name, state in self.files.items():
            self.files[name] = replace(
                state, item=again(state.item), last_good=again(state.last_good)
            )

    # --- entry files --------------------------------------------------------------------

    def _read_file(self, name: str) -> bool:
        old = self.files.get(name)
        moment = self._now()
        try:
            # Not os.path.join: this runs for every file at start-up, and names have no "/".
            signature = read_signature(f"{self._where}/{name}")
        except StatError as e:
            # What readers have stays; the file is read again once it can be.
            problem = Problem(self._label(name), "", f"cannot be read ({e})")
            kept = old or FileState(None, None, self._fallbacks.get(name), ())
            self.files[name] = replace(kept, signature=None, problems=(problem,))
            return kept.problems != (problem,)
        if signature is None:
            if old is None:
                return False
            if self.deletion_grace <= 0:
                return self._forget(name)
            # From the latest sign of it: a watcher that is behind may see the file gone
            # twice with a new copy in between it never saw, which is no deletion.
            self._vanished[name] = self._clock() + self.deletion_grace
            return False
        self._vanished.pop(name, None)
        if old is not None and old.signature == signature:
            return False
        last_good = old.last_good if old else self._fallbacks.get(name)
        label = self._label(name)
        read_ns = int(moment.timestamp() * 1e9)
        cached = self.cache.cached(name, signature) if self.cache and old is None else None
        try:
            known = self._site_file.known
            if cached is None:
                self.files_read += 1
                entry, modified = read_entry(self.root / name, self.root, known)
            else:
                entry, modified = cached.entry, cached.modified_ns
            late = time_problems(entry, label, moment)
            if late:
                raise InvalidEntry(late, salvage_entry(entry))
        except EntryError as e:
            self._salvaged[name] = salvage_of(e)
            if old is None and last_good is None and self.cache is not None:
                last_good = self.cache.published_again(name, label, self.site)
            state = FileState(signature, None, last_good, e.problems, read_ns)
        else:
            self._salvaged.pop(name, None)
            if last_good is not None and (last_good.entry is entry or last_good.entry == entry):
                item = last_good  # touched, not changed: keep the rendered HTML and time
            elif cached is not None:
                item = item_of(name, label, cached, self.site)
            else:
                item = build_item(name.removesuffix(".json"), label, entry, self.site, modified)
            # An entry naming an unknown category is not good enough to fall back on.
            good = item if known.issuperset(entry.categories) else last_good
            state = FileState(signature, item, good, (), read_ns)
        self.files[name] = state
        return old is None or (state.item, state.last_good, state.problems) != (
            old.item,
            old.last_good,
            old.problems,
        )

    def _forget(self, name: str) -> bool:
        self._vanished.pop(name, None)
        self._salvaged.pop(name, None)
        return self.files.pop(name, None) is not None

    def settle(self) -> bool:
        """Publish the removal of files that stayed gone; whether anything changed."""
        now = self._clock()
        changed = False
        for name, deadline in list(self._vanished.items()):
            if now < deadline:
                continue
            del self._vanished[name]
            try:
                gone = read_signature(self.root / name) is None
            except StatError:
                gone = False
            changed |= self._forget(name) if gone else self._read_file(name)
        return changed

    def seconds_to_settle(self) -> float | None:
        """How long until a pending removal is due, if one is waiting."""
        if not self._vanished:
            return None
        return max(0.0, min(self._vanished.values()) - self._clock())

    def update(self, names: Iterable[str]) -> bool:
        """Re-check the named files only; whether anything changed."""
        changed = False
        names = set(names)
        for name in names - {SITE_FILE}:
            if is_entry_name(name) and "/" not in name:
                changed |= self._read_file(name)
        # A held-back site.toml may have become acceptable through entry edits.
        if SITE_FILE in names or (changed and self.site_problems):
            changed |= self._read_site()
        return changed | self.settle()

    def rescan(self) -> bool:
        """Check every file of the folder; whether anything changed."""
        try:
            with os.scandir(self.root) as it:
                present = {e.name for e in it if is_entry_name(e.name)}
        except OSError as e:
            # Gone for a moment (a deploy swapping it) or unreadable: keep what we have.
            reason = "does not exist" if isinstance(e, FileNotFoundError) else "cannot be listed"
            message = f"the entries folder {reason} ({e.strerror}); what was published stays"
            problems = (Problem(self._label(""), "", message),)
            changed = problems != self.folder_problems
            self.folder_problems = problems
            return changed
        changed = bool(self.folder_problems)
        self.folder_problems = ()
        for name in set(self.files) - present:
            changed |= self._read_file(name)
        return self.update(present | {SITE_FILE}) or changed

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
        newest = max(self._folder_modified, self._site_file.modified_ns)
        # The versions in use, valid or not published (a draft leaves every feed): a
        # broken file changes nothing readers see until it is fixed.
        for state in self.files.values():
            used = state.item or state.last_good
            if used is not None and used.modified_ns > newest:
                newest = used.modified_ns
        return newest

    def catalog(self, *, publish: bool = True) -> Catalog:
        """The entries as they should be published now, with every problem.

        ``publish`` records the result as what readers have (the fallback for later
        edits, and the owner of each id); pass False for a catalog that may be refused.
        """
        items = []
        last_good = {}
        problems = [*self.folder_problems, *self.site_problems]
        present_ids = set()
        present_entries = []
        if self._vanished:  # to tell a file renamed from one deleted
            for name, state in self.files.items():
                if name not in self._vanished and state.item is not None:
                    present_ids.add(state.item.id)
                    present_entries.append(state.item.entry)
        # Any order: assemble sorts, and ties are broken by slug.
        for name, state in self.files.items():
            problems.extend(state.problems)
            current = state.item or state.last_good
            if current is None:
                continue
            if name in self._vanished and (
                current.id in present_ids or current.entry in present_entries
            ):
                continue  # renamed: the new name already carries it
            if state.last_good is not None:
                last_good[state.last_good.source] = state.last_good
            items.append(current)
        # What readers have now is the best fallback for a file that breaks a rule.
        last_good.update((s, i) for s, i in self._published.items() if s in last_good)
        broken = [
            claim
            for name, salvaged in self._salvaged.items()
            if name not in self._vanished
            and (claim := claim_of_file(name, self._label(name), salvaged, self.site))
        ]
        published, cross = assemble(
            self.site,
            items,
            last_good=last_good,
            published={(item.id, source) for source, item in self._published.items()},
            broken=broken,
        )
        if publish:
            self.publish(published)
        return Catalog(
            self.site,
            published,
            tuple(sorted({*problems, *cross})),
            site_modified_ns=self._site_file.modified_ns,
            changed_ns=self._changed_ns(),
        )

    def publish(self, items: Iterable[Item]) -> None:
        """Record these items as what readers have (and, with a state folder, in it)."""
        self._published = {item.source: item for item in items}
        if self.cache is not None:
            # Copied: the cache is written from another thread while this one goes on.
            self.cache.remember(dict(self.files), self._published, news=self.files_read > 0)

    def save_cache(self) -> bool:
        """Write the cache now rather than in the background; whether anything was written."""
        return self.cache.save() if self.cache is not None else False
