"""The entry cache as a live folder uses it: what it recalls at start-up, the records its
state gives, written by ``cachewriter``'s thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from collections.abc import Set as AbstractSet
from datetime import datetime
from pathlib import Path

from medfeed.cachecodec import Record, Version, same_as_before
from medfeed.cachewriter import FORKS, CacheWriter, Made
from medfeed.entrycache import RACY_NS, EntryCache
from medfeed.filestate import FileState, Signature
from medfeed.models import SiteConfig
from medfeed.store import Item, build_item, latest_update
from medfeed.storedentry import AnyEntry
from medfeed.survey import Survey

HTML_KEPT = 1000
"""How many of the newest published items keep their rendered HTML in the cache: what
the current feeds show, with room to spare. Every entry's HTML would add its weight to
the memory of every process that loads the cache."""


def item_of(name: str, label: str, version: Version, site: SiteConfig) -> Item:
    """The item of a version the cache gave, with its HTML where the cache had it."""
    item = build_item(name.removesuffix(".json"), label, version.entry, site, version.modified_ns)
    if version.html is not None:
        item.keep_html(version.html)
    return item


def _newest_first(item: Item) -> tuple[float, str]:
    return item.order


def records_of(files: Mapping[str, FileState], published: Mapping[str, Item]) -> Made:
    """What a live folder's state gives the cache: each file's current version where it
    is valid and settled, and the version readers were given."""
    by_name = {source.rsplit("/", 1)[-1]: item for source, item in published.items()}
    newest = sorted(published.values(), key=_newest_first, reverse=True)[:HTML_KEPT]
    with_html = {id(item) for item in newest}

    def version(item: Item) -> Version:
        html = item.rendered_html() if id(item) in with_html else None
        return Version(item.stored, item.modified_ns, html)

    records: dict[str, Record] = {}
    adopt: list[str] = []
    for name, state in files.items():
        item, signature = state.item, state.signature
        current = None
        if item is not None and signature is not None and signature[1] < state.read_ns - RACY_NS:
            current = version(item)
        shown = by_name.get(name)
        if shown is None:
            adopt.append(name)
            kept = None
        elif current is not None and item is not None and shown.stored is item.stored:
            kept = current
        else:
            kept = version(shown)
        if current is not None or kept is not None:
            records[name] = Record(signature if current else None, current, kept)
    return records, adopt


class FolderCache:
    """The entry cache of one live folder: read at start-up, written after each publish."""

    def __init__(self, state_folder: Path, root: Path) -> None:
        self.cache = EntryCache(state_folder, root)
        self.writer = CacheWriter(self.cache)
        self._records: dict[str, Record] | None = None
        self._survey: Survey | None = None
        self._states: dict[str, FileState] = {}
        self._last_update = -math.inf
        self._written_once = False

    def recall(
        self, label: Callable[[str], str], site: SiteConfig, moment: datetime
    ) -> dict[str, Item]:
        """Load the cache for start-up, just after ``moment``; the versions last
        published, by file name."""
        self._records = records = self.cache.load()
        # Their files are looked at beside the making of their items.
        self._survey = Survey(self.cache.root, records)
        # What Folder._read_version makes of a file whose one cached version is the one
        # published, without its steps (100,000 files), for ``as_published``.
        read_ns = int(moment.timestamp() * 1e9)
        recalled: dict[str, Item] = {}
        states: dict[str, FileState] = {}
        updated = -math.inf
        for name, (signature, current, published) in records.items():
            if published is None:
                continue
            item = recalled[name] = item_of(name, label(name), published, site)
            if current is published and signature is not None:
                states[name] = FileState(signature, item, item, (), read_ns)
                if item.changed_at > updated and item.head.updated is not None:
                    updated = item.changed_at
        self._states, self._last_update = states, updated
        return recalled

    def recorded(self) -> Collection[str]:
        """The names the cache read at start-up has a record of."""
        return self._records.keys() if self._records is not None else ()

    def as_published(self, names: AbstractSet[str], moment: datetime) -> dict[str, FileState]:
        """At start-up, once, for the ``names`` of files whose one cached version is the
        one published (``recall`` gave their items): what reading them just after
        ``recall``'s moment gives, should their signature be the one the cache has.
        Those whose time is a problem at ``moment`` (an ``updated`` too far ahead) are
        left out."""
        states, self._states = self._states, {}
        latest = latest_update(moment)
        if self._last_update <= latest.timestamp() and states.keys() <= names:
            return states  # a restart's common case: no check each
        return {
            name: state
            for name, state in states.items()
            if name in names
            and (state.item is None or (u := state.item.head.updated) is None or u <= latest)
        }

    def looked_at(self, prefilled: Collection[str]) -> set[str] | None:
        """At start-up, after ``recall``: of the files ``as_published`` gave states, those
        whose signature was still the cache's when a child looked, since ``recall``
        (None: none looked, and the caller looks itself)."""
        survey, self._survey = self._survey, None
        unchanged = survey.unchanged() if survey is not None else None
        return None if unchanged is None else unchanged.intersection(prefilled)

    def cached(self, name: str, signature: Signature) -> Version | None:
        """The cached version of a file read at start-up, if its signature is unchanged."""
        record = self._records.get(name) if self._records is not None else None
        if record is None or record.signature != signature:
            return None
        return record.current

    def earlier(self, name: str, entry: AnyEntry) -> Version | None:
        """At start-up, the cache's version of a changed file that says what it says."""
        return same_as_before(self._records.get(name), entry) if self._records else None

    def published_again(self, name: str, label: str, site: SiteConfig) -> Item | None:
        """The version last published of a file broken at start-up, looking again at a
        cache that another process wrote since it was loaded (workers start together)."""
        if self._records is None:
            return None
        if self.cache.changed_since_load():
            self._records = self.cache.load()
        record = self._records.get(name)
        if record is None or record.published is None:
            return None
        return item_of(name, label, record.published, site)

    def started(self) -> None:
        """Start-up is over: drop the records (a file first seen later is a new file)."""
        if self._survey is not None:
            self._survey.close()
        self._records, self._survey = None, None

    def remember(
        self, files: Mapping[str, FileState], published: Mapping[str, Item], *, news: bool
    ) -> None:
        """Have the cache written from this state; ``news``: files were read, not
        recalled. The mappings are read as they are when the cache is written, in a
        child forked for it (a copy of this process at that moment, taken while no
        other thread is halfway through changing them); where the write happens in this
        process instead, they are copied now."""
        # A first write with news goes at once: a worker starting beside this one may
        # find a file broken and need what this process published. Without news it can
        # wait until start-up is over, when it will most likely find nothing to write.
        at_once = news and not self._written_once
        self._written_once = True
        if not FORKS:
            files, published = dict(files), dict(published)
        self.writer.request(lambda: records_of(files, published), at_once=at_once)

    def save(self) -> bool:
        """Write what is pending now; whether anything was written."""
        return self.writer.flush()
