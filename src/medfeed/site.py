"""The live publisher: the current snapshot of one entries folder, made again when the
folder changes, with what /healthz reports.

Both the web app and the command line read documents from snapshots, so they cannot drift.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Protocol

from medfeed.errors import CacheDamaged, Problem
from medfeed.folder import DELETION_GRACE, Folder
from medfeed.ledger import LOG_NAME as LEDGER_NAME
from medfeed.ledger import DateLedger
from medfeed.logs import ProblemLog, problem_log
from medfeed.settings import Settings
from medfeed.snapshot import Snapshot
from medfeed.store import Catalog
from medfeed.watch import Watcher

log = logging.getLogger("medfeed")


def utc_now() -> datetime:
    """The current time; the one place medfeed reads the clock."""
    return datetime.now(UTC)


def public_base_url(settings: Settings, catalog: Catalog) -> str:
    """The operator's base URL where set, else site.toml's."""
    return settings.base_url or str(catalog.site.base_url)


@dataclass(frozen=True)
class Health:
    """What /healthz reports."""

    status: str
    entries: int
    version: str
    last_check: datetime
    problems: tuple[Problem, ...]
    watching: str


class SnapshotListener(Protocol):
    """Told of every snapshot a watching process serves (the WebSub pinger)."""

    def notice(self, snapshot: Snapshot) -> None:
        """Take a new snapshot into account; must return at once."""

    def stop(self) -> None:
        """Stop for good."""


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
        listener: SnapshotListener | None = None,
        ledger: DateLedger | None = None,
        problems: ProblemLog | None = None,
        serving: bool = True,
    ) -> None:
        """``ledger`` and ``problems`` are the app's (shared through the state folder)
        unless given; a publisher not ``serving`` (a watching build) renders a document
        only when asked for it, as a build does, and compresses none."""
        self.settings = settings
        self._listener = listener
        self._now = now
        self._lock = threading.Lock()
        self._serving = serving
        # Shared by every process serving the folder and kept across restarts, so that
        # all of them date each version of a document alike (see DateLedger).
        self._ledger = ledger or DateLedger(settings.state_folder / LEDGER_NAME)
        self._given_problem_log = problems
        # The entry cache in the state folder: a restart reads no unchanged file, and a
        # file broken before this process first read it keeps its published version.
        self.folder = Folder(
            settings.entries_dir,
            deletion_grace=deletion_grace,
            now=now,
            state=settings.state_folder,
        )
        self.last_check = now()
        self._snapshot = self._make_snapshot(self.last_check, None)
        # Its feeds are compressed once watching begins, beside the first requests (one
        # that wants a form not yet made makes it): a restart serves sooner.
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
        return self._given_problem_log or problem_log(self.settings.state_folder)

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
            self._snapshot.compress()  # served first: readers get the change sooner
            if changed:
                self._report()
            self._tell()
            return True

    def _tell(self) -> None:
        if self._listener is not None:
            self._listener.notice(self._snapshot)

    def _make_snapshot(
        self, now: datetime, previous: Snapshot | None, changed: bool = True
    ) -> Snapshot:
        catalog = self.folder.catalog(publish=False) if changed or previous is None else None
        for attempt in range(3):
            current = catalog or (previous.catalog if previous else self.folder.catalog())
            base_url = public_base_url(self.settings, current)
            try:
                snapshot = Snapshot(
                    current, base_url, now, previous, prepare=self._serving, ledger=self._ledger
                )
            except CacheDamaged as e:
                if attempt == 2:
                    raise
                self._read_files_again(e)
                catalog = self.folder.catalog(publish=False)
                continue
            if not snapshot.unrenderable:
                break
            # Versions no renderer takes are set aside like broken files: the version
            # readers have stays, and the problem is reported.
            self.folder.quarantine(snapshot.unrenderable.values())
            catalog = self.folder.catalog(publish=False)
        self.folder.publish(snapshot.catalog.items, snapshot.catalog.changes)
        return snapshot

    def read_files_again(self, error: CacheDamaged) -> None:
        """The entry cache's file changed under this process (``error`` says where):
        read the entries it held from their files, and serve what they hold."""
        with self._lock:
            self._read_files_again(error)
            self._snapshot = self._make_snapshot(self._now(), self._snapshot)
            self._tell()

    def _read_files_again(self, error: CacheDamaged) -> None:
        log.warning("%s; reading the entries from their files again", error)
        self.folder.read_files_again()

    def snapshot(self) -> Snapshot:
        """The documents as they stand now; scheduled entries appear when their time comes."""
        current = self._snapshot
        if current.valid_until is not None and self._now() >= current.valid_until:
            self.refresh(set())
        return self._snapshot

    def _seconds_to_next_change(self) -> float | None:
        until = self._snapshot.valid_until
        release = None if until is None else (until - self._now()).total_seconds()
        # A removal waiting out its grace, or a look again at what could not be read.
        check = self.folder.seconds_to_next_check()
        return min((t for t in (release, check) if t is not None), default=None)

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
                self.settings.entries_dir,
                self.refresh,
                next_wake=self._seconds_to_next_change,
                scan=self.folder.maybe_changed,
            )
            self._watcher.start()
            self._watch_pid = pid
        # Whatever changed before watching began (since loading, or in a forked
        # worker's past) is picked up before this process answers its first request.
        self.refresh(None)
        # Only a process that watches is told of changes, so only one may ping: this one
        # compares what it serves with the record of what hubs were told.
        self._tell()
        if self._serving:  # a publisher that does not serve compresses nothing
            threading.Thread(
                target=self._snapshot.compress, name="medfeed-compress", daemon=True
            ).start()

    def stop(self) -> None:
        """Stop watching for good."""
        self._stopped = True
        if self._watcher is not None and self._watch_pid == os.getpid():
            self._watcher.stop()
        self._watcher = None
        if self._listener is not None:
            self._listener.stop()

    def health(self) -> Health:
        """The state a load balancer or an operator checks."""
        snapshot = self._snapshot
        # With the entries a document made since refused (see refusals): left out of it.
        problems = (*snapshot.catalog.problems, *(p for _, p in snapshot.left_out.values()))
        return Health(
            status="degraded" if problems else "ok",
            entries=len(snapshot.items),
            version=snapshot.version,
            last_check=self.last_check,
            problems=problems,
            watching=self._watcher.mode if self._watcher else "off",
        )
