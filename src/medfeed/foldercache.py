"""The entry cache as a live folder uses it: what it recalls at start-up, the records its
state gives, and a thread that writes them once the folder has been quiet for a moment,
so that neither a request nor a refresh ever waits for the cache.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

from medfeed.cachecodec import Record, Version, gc_paused
from medfeed.entrycache import RACY_NS, EntryCache
from medfeed.filestate import FileState, Signature
from medfeed.models import SiteConfig
from medfeed.store import Item, build_item

log = logging.getLogger("medfeed")

HTML_KEPT = 1000
"""How many of the newest published items keep their rendered HTML in the cache: what
the current feeds show, with room to spare. Every entry's HTML would add its weight to
the memory of every process that loads the cache."""
QUIET = 1.0
"""Seconds without a change before the cache is written..."""
LONGEST_WAIT = 10.0
"""...or at the longest after the first change not yet written."""
SPACING = 10
"""Writes are at least this many times the last one's duration apart."""

FORKS = sys.platform == "linux" and hasattr(os, "fork")
"""Whether the writer thread writes from a forked child (see CacheWriter._save_apart):
on Linux, where production runs; elsewhere fork() beside threads is not to be trusted
(macOS's system libraries), and the write stays in the thread."""
Made = tuple[dict[str, Record], list[str]]
"""Records to write, and the names whose published version on disk is to be kept."""


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


def _close_all_but(keep: list[int]) -> None:
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


class CacheWriter:
    """Writes what ``request`` is handed to an entry cache, from a thread of its own.

    Survives fork(): a child starts its own thread on its first request.
    """

    def __init__(
        self, cache: EntryCache, *, quiet: float = QUIET, longest: float = LONGEST_WAIT
    ) -> None:
        self.cache = cache
        self._quiet, self._longest = quiet, longest
        self._pid: int | None = None
        self._condition = threading.Condition()
        self._saving = threading.Lock()
        self._pending: Callable[[], Made] | None = None
        self._due = 0.0
        self._deadline = 0.0
        self._thread: threading.Thread | None = None
        self._spent = 0.0
        """How long the last write took."""

    def request(self, make: Callable[[], Made], *, at_once: bool = False) -> None:
        """Have what ``make`` returns written once the folder is quiet (or ``at_once``).

        ``make`` runs in the writer's thread: it must only read what nobody changes.
        """
        self._own()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="medfeed-cache-writer", daemon=True
            )
            self._thread.start()
        clock = time.monotonic()
        # A write takes time in proportion to the folder (100,000 entries: seconds):
        # writes at least ten times that apart keep the writer to a tenth of a core.
        wait = max(self._quiet, SPACING * self._spent)
        with self._condition:
            if self._pending is None:
                self._deadline = clock + max(self._longest, wait)
            self._pending = make
            self._due = clock if at_once else min(clock + wait, self._deadline)
            self._condition.notify()

    def flush(self, *, apart: bool = False) -> bool:
        """Write what is pending here and now, once a write under way is done
        (``apart``: in a forked child, where fork() exists).

        Returns whether anything was written.
        """
        self._own()
        with self._saving:
            with self._condition:
                make, self._pending = self._pending, None
            if make is None:
                return False
            started = time.monotonic()
            if apart and FORKS:
                written = self._save_apart(make)
            else:
                # The records and pickles are dropped once written: nothing to promote.
                with gc_paused(promote=False):
                    written = self.cache.save(*make())
            self._spent = time.monotonic() - started
            return written

    def _save_apart(self, make: Callable[[], Made]) -> bool:
        """Save from a child forked for it: at 100,000 entries a write holds the
        interpreter for seconds (records, digest, pickles of 270 MB), which would hold
        up this process's refreshes and requests; the child has its own, and a copy of
        the state as it was at the fork (``make`` reads only what nobody changes)."""
        # The cache files entries are read back from: copied into the new one.
        keep = self.cache.open_files()
        with warnings.catch_warnings():
            # Python 3.12 warns of fork() beside threads: the child touches no lock
            # another thread may hold (its lock on the cache is its own file lock).
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: what it does is seen in the file it writes
            code = 1
            try:
                # It needs no other file this process has open, and must not keep
                # their locks (an flock() lasts while any copy of it is open: the
                # WebSub leader's) or its listening sockets after this process ends.
                _close_all_but(keep)
                gc.disable()  # nothing it makes outlives it
                # Behind the processes that serve: on a busy machine it waits, they do not.
                os.nice(10)
                code = 0 if self.cache.save(*make()) else 3
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 3):
            raise OSError(f"the process writing it ended with status {code}")
        return code == 0

    def _own(self) -> None:
        pid = os.getpid()
        if self._pid == pid:
            return
        # First use, or a forked child: the parent's thread is not here, and the locks
        # it held at the fork would never be released.
        self._condition = threading.Condition()
        self._saving = threading.Lock()
        self._pending = None
        self._thread = None
        self._pid = pid

    def _run(self) -> None:
        condition = self._condition
        while True:
            with condition:
                while self._pending is None:
                    condition.wait()
                while (left := self._due - time.monotonic()) > 0:
                    condition.wait(left)
            try:
                self.flush(apart=True)
            except Exception as e:  # noqa: BLE001 - the thread must outlive one bad write
                log.warning("the entry cache could not be written (%s: %s)", type(e).__name__, e)


class FolderCache:
    """The entry cache of one live folder: read at start-up, written after each publish."""

    def __init__(self, state_folder: Path, root: Path) -> None:
        self.cache = EntryCache(state_folder, root)
        self.writer = CacheWriter(self.cache)
        self._records: dict[str, Record] | None = None
        self._written_once = False

    def recall(self, label: Callable[[str], str], site: SiteConfig) -> dict[str, Item]:
        """Load the cache for start-up; the versions last published, by file name."""
        self._records = self.cache.load()
        return {
            name: item_of(name, label(name), record.published, site)
            for name, record in self._records.items()
            if record.published is not None
        }

    def cached(self, name: str, signature: Signature) -> Version | None:
        """The cached version of a file read at start-up, if its signature is unchanged."""
        record = self._records.get(name) if self._records is not None else None
        if record is None or record.signature != signature:
            return None
        return record.current

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
        self._records = None

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
