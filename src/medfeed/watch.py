"""Notice changes in a folder: inotify through watchdog, a stat pass as the fallback.

The watcher only collects which names changed and hands them to a callback on its own
thread; it knows nothing of entries.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import watchdog.events
from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

log = logging.getLogger("medfeed")

# Opens and reads are left out: the callback's own reads must not wake it again.
EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent, FileDeletedEvent, FileModifiedEvent, FileMovedEvent, FileClosedEvent,
    DirCreatedEvent, DirDeletedEvent, DirMovedEvent,
]  # fmt: skip
# A chmod (a file or the folder readable again) is an attribute event since watchdog 5;
# before, a modification, which is in the list already.
EVENTS += [
    kind
    for kind in (
        getattr(watchdog.events, "FileAttribEvent", None),
        getattr(watchdog.events, "DirAttribEvent", None),
    )
    if kind is not None
]

OnChange = Callable[[set[str] | None], object]
"""Called with the changed names, or None for "check everything"."""


class _Collector(FileSystemEventHandler):
    def __init__(self, root: Path, wake: Callable[[set[str]], None]) -> None:
        self.root = str(root)
        self.wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        names = set()
        for path in (event.src_path, getattr(event, "dest_path", "")):
            if path:
                text = os.fsdecode(path)
                if os.path.dirname(text) == self.root:
                    names.add(os.path.basename(text))
                elif text == self.root:
                    names.add("")
        if names:
            self.wake(names)


Identity = tuple[int, int]
"""Which folder a path names: (device, inode)."""
Access = tuple[int, int, int]
"""Who may read a folder: (mode, owner, group)."""


def _look(root: Path) -> tuple[Identity | None, Access | None]:
    try:
        st = os.stat(root)
    except OSError:
        return None, None
    return (st.st_dev, st.st_ino), (st.st_mode, st.st_uid, st.st_gid)


class Watcher:
    """Calls ``on_change`` soon after files in ``root`` change, and on a slow timer.

    ``on_change(None)`` asks for a full check: every ``rescan_every`` seconds
    (in case the kernel dropped events), every ``poll_every`` seconds where inotify
    is not available, and within ``identity_every`` seconds of the folder being
    replaced or its permissions changing (inotify says nothing of either).

    With ``scan`` (the names a full check would find changed, or may; None: it cannot
    tell), the checks every ``rescan_every`` or ``poll_every`` seconds run it on a
    thread of its own and take what it finds as notified names: at 100,000 files it
    takes half a second, during which changes notified meanwhile are not kept waiting
    (and polling does not hold the publisher every second).
    """

    def __init__(
        self,
        root: Path,
        on_change: OnChange,
        *,
        rescan_every: float = 60.0,
        poll_every: float = 1.0,
        settle: float = 0.05,
        quiet: float = 0.01,
        identity_every: float = 1.0,
        next_wake: Callable[[], float | None] = lambda: None,
        scan: Callable[[], set[str] | None] | None = None,
    ) -> None:
        self.root = root
        self.scan = scan
        self._scanning = threading.Lock()
        self.on_change = on_change
        self.rescan_every = rescan_every
        self.poll_every = poll_every
        self.settle = settle
        self.quiet = quiet
        self.identity_every = identity_every
        self._identity: Identity | None = None
        self._access: Access | None = None
        self.next_wake = next_wake
        self.mode = "stopped"
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._observer: BaseObserver | None = None
        self._thread: threading.Thread | None = None

    def _notify(self, names: set[str]) -> None:
        with self._lock:
            self._pending |= names
        self._wake.set()

    def start(self) -> None:
        """Start watching on a daemon thread."""
        self._identity, self._access = _look(self.root)
        self._start_observer()
        self._thread = threading.Thread(target=self._run, name="medfeed-watch", daemon=True)
        self._thread.start()

    def _start_observer(self) -> None:
        try:
            root = self.root.resolve(strict=True)
            observer = Observer()
            observer.schedule(
                _Collector(root, self._notify), str(root), recursive=False, event_filter=EVENTS
            )
            observer.daemon = True
            observer.start()
        except (OSError, RuntimeError) as e:
            if self.mode != "poll":
                log.warning(
                    "%s: file notifications unavailable (%s); checking every %ss",
                    self.root,
                    e,
                    self.poll_every,
                )
            self.mode = "poll"
        else:
            self._observer = observer
            self.mode = "notify"

    def _stop_observer(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=2)
            self._observer = None

    def _folder_changed(self) -> bool:
        """Whether the folder itself changed: replaced, or its permissions."""
        identity, access = _look(self.root)
        reopened = access != self._access
        self._access = access
        if identity == self._identity:
            # A folder that can be read again says so by no event: look at it all.
            return reopened
        # Deploy tools replace a folder whole (mv a copy into place, or repoint a
        # symlink): inotify keeps watching the old one, so follow the name.
        self._identity = identity
        self._stop_observer()
        if identity is not None:
            self._start_observer()
        return True

    def stop(self) -> None:
        """Stop watching and wait for the thread to end."""
        self._stop.set()
        self._wake.set()
        self._stop_observer()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _interval(self) -> float:
        return self.poll_every if self.mode == "poll" else self.rescan_every

    def _timeout(self, last_full: float) -> float:
        interval = self._interval()
        timeout = min(self.identity_every, max(0.0, last_full + interval - time.monotonic()))
        wake = self.next_wake()
        if wake is not None:
            timeout = min(timeout, max(0.0, wake))
        return timeout

    def _run(self) -> None:
        last_full = time.monotonic()
        while not self._stop.is_set():
            woken = self._wake.wait(self._timeout(last_full))
            if self._stop.is_set():
                return
            if self._folder_changed():
                self._wake.clear()
                with self._lock:
                    self._pending = set()
                self._call(None)
                last_full = time.monotonic()
            elif woken:
                self._settle()
                with self._lock:
                    names, self._pending = self._pending, set()
                full = "" in names
                self._call(None if full else names)
            elif time.monotonic() >= last_full + self._interval():
                if self.scan is not None:
                    self._scan_apart()
                else:
                    self._call(None)
                last_full = time.monotonic()
            else:
                wake = self.next_wake()
                if wake is not None and wake <= 0:
                    self._call(set())  # a scheduled moment: a release, a settled removal

    def _settle(self) -> None:
        """Wait out a burst of notifications: editors write in bursts (truncate, write,
        rename), taken as one once ``quiet`` seconds pass without another, or at most
        ``settle`` seconds after the first."""
        deadline = time.monotonic() + self.settle
        self._wake.clear()
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or not self._wake.wait(min(self.quiet, left)):
                return
            self._wake.clear()

    def _scan_apart(self) -> None:
        if not self._scanning.acquire(blocking=False):
            return  # the last one is still looking

        def scan() -> None:
            try:
                assert self.scan is not None
                names = self.scan()
                found = {""} if names is None else names
                if found and not self._stop.is_set():
                    self._notify(found)
            except Exception:  # noqa: BLE001 - the next look will try again
                log.exception("%s: looking for changes failed", self.root)
            finally:
                self._scanning.release()

        threading.Thread(target=scan, name="medfeed-scan", daemon=True).start()

    def _call(self, names: set[str] | None) -> None:
        try:
            self.on_change(names)
        except Exception:  # noqa: BLE001 - the watcher must outlive any one bad check
            log.exception("%s: checking for changes failed", self.root)
