"""The thread that writes the entry cache once the folder has been quiet for a moment
(on Linux from a forked child), so that neither a request nor a refresh ever waits
for it.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable

from medfeed.cachecodec import Record, gc_paused
from medfeed.entrycache import EntryCache

log = logging.getLogger("medfeed")

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
SAME = 3
"""The status of a forked writer that found the cache on disk already as it would write it."""
Made = tuple[dict[str, Record], list[str]]
"""Records to write, and the names whose published version on disk is to be kept."""


def _close_all_but(keep: list[int]) -> None:
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


def run_forked(run: Callable[[], int], keep: list[int], *, nice: bool = False) -> int:
    """The pid of a child forked to ``run``, which ends with its exit status (1: it
    raised). The child keeps no file of this process's but ``keep``."""
    with warnings.catch_warnings():
        # Python 3.12 warns of fork() beside threads: the children made here touch no
        # lock another thread may hold (a cache writer's lock is its own file lock).
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: what it does is seen in what it writes
        code = 1
        try:
            # It needs no other file this process has open, and must not keep their
            # locks (an flock() lasts while any copy of it is open: the WebSub
            # leader's) or its listening sockets after this process ends.
            _close_all_but(keep)
            gc.disable()  # nothing it makes outlives it
            if nice:
                os.nice(10)
            code = run()
        finally:
            os._exit(code)
    return pid


def _save_forked(cache: EntryCache, save: Callable[[], int], *, nice: bool = False) -> int:
    """The pid of a child forked to run ``save``, which writes ``cache`` and says how
    with its exit status (1: it raised)."""
    # The cache files entries are read back from: copied into the new one.
    return run_forked(save, cache.open_files(), nice=nice)


class CacheWriter:
    """Writes what ``request`` is handed to an entry cache, from a thread of its own.

    Survives fork(): a child starts its own thread on its first request.
    """

    def __init__(
        self,
        cache: EntryCache,
        *,
        quiet: float = QUIET,
        longest: float = LONGEST_WAIT,
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
        # Behind the processes that serve: on a busy machine it waits, they do not.
        pid = _save_forked(self.cache, lambda: 0 if self.cache.save(*make()) else SAME, nice=True)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, SAME):
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


class SavesApart:
    """Entry caches written by forked children while this process goes on, for a
    process with no other thread (a build: its documents are made while the cache of
    the files it read is written, on another core); ``wait`` before it ends."""

    def __init__(self) -> None:
        self._children: list[int] = []

    def save(self, cache: EntryCache, records: dict[str, Record], adopt: list[str]) -> None:
        """``cache.save(records, adopt)``, in a child where fork() is to be trusted."""
        if not FORKS:
            cache.save(records, adopt)
            return
        pid = _save_forked(cache, lambda: 0 if cache.save(records, adopt) else SAME)
        self._children.append(pid)

    def wait(self) -> None:
        """Wait for every write started; one that failed costs the next start its
        cache, and is logged."""
        children, self._children = self._children, []
        for pid in children:
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            if code not in (0, SAME):
                log.warning("the entry cache could not be written (status %s)", code)
