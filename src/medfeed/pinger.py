"""Telling WebSub hubs of changed feeds, from a background thread of one process.

Every process serving a folder (gunicorn's workers) hands each new snapshot to its
``Pinger`` (a dictionary assignment: requests never wait on hubs). One process at a
time pings: the holder of a lock file in the state folder. It brings the record of
what each hub was told (``websub``, ``pingstate``) up to the snapshot and sends each hub,
from a thread of its own, one publish ping per topic it is still to be told of. The
record is the queue: a topic changed twice while a hub is away is one entry, pinged
once; failures (5xx, timeouts, refused connections) are retried with exponential
backoff, for as long as it takes; and a process that takes over, or starts again,
carries on from the record without pinging anything twice.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import replace
from pathlib import Path

from medfeed.coordination import Leader
from medfeed.logs import LOGGER
from medfeed.pings import BACKOFF_BASE, BACKOFF_CAP, PING_TIMEOUT, Outcome, Send, backoff, send_ping
from medfeed.pingstate import (
    LOCK_FILE,
    HubStatus,
    iso,
    read_record,
    write_record,
    write_status,
)
from medfeed.site import utc_now
from medfeed.snapshot import Snapshot
from medfeed.websub import ItemDigests, PingRecord, hubs_of, update_record

SETTLE = 1.0
"""Seconds a ping waits after the change it announces. Hubs fetch the feed at once, from
any worker: each sees a change by itself, some a little later than the pinging one. It
also makes a burst of edits one ping per feed."""
LEAD_RETRY = 5.0
"""Seconds between a waiting process's attempts to take over from the pinging one."""
SAVE_EVERY = 1.0
"""During a run of pings the record is written at most this often, and at its end."""


class Pinger:
    """Tells hubs of changed feeds from background threads, in one process at a time."""

    def __init__(
        self,
        state_folder: Path,
        *,
        send: Send = send_ping,
        timeout: float = PING_TIMEOUT,
        backoff_base: float = BACKOFF_BASE,
        backoff_cap: float = BACKOFF_CAP,
        lead_retry: float = LEAD_RETRY,
        settle: float = SETTLE,
    ) -> None:
        self.folder = state_folder
        self._settle = settle
        self._send, self._timeout = send, timeout
        self._backoff = (backoff_base, backoff_cap)
        self._lead_retry = lead_retry
        self._log = logging.getLogger(LOGGER)
        self._leader = Leader(state_folder / LOCK_FILE)
        self._start_lock = threading.Lock()
        self._pid: int | None = None
        self._stopped = False
        self._fresh_state()

    def _fresh_state(self) -> None:
        # Everything a forked child must not share with its parent's threads.
        self._wake = threading.Condition()
        self._latest: Snapshot | None = None
        self._work = threading.Condition()
        """Guards what follows; senders wait on it for topics to send."""
        self._record: PingRecord | None = None
        self._items = ItemDigests()
        self._seen: Snapshot | None = None
        self._hubs: tuple[str, ...] = ()
        self._statuses: dict[str, HubStatus] = {}
        self._senders: dict[str, threading.Thread] = {}
        self._saved_at = 0.0
        self._not_before = 0.0
        """No ping before this moment (monotonic): the last change has settled."""
        self._dirty = False
        self._save_trouble: str | None = None

    def notice(self, snapshot: Snapshot) -> None:
        """Take a new snapshot into account; returns at once."""
        if self._stopped or (self._pid is None and not snapshot.site.hubs):
            return  # no thread at all until a hub is named
        if self._pid != os.getpid():
            self._start()
        with self._wake:
            self._latest = snapshot
            self._wake.notify_all()

    def _start(self) -> None:
        with self._start_lock:
            if self._pid == os.getpid():
                return
            if self._pid is not None:
                self._fresh_state()  # a forked child: the parent's threads are not here
            self._pid = os.getpid()
            name = f"medfeed-websub-{self._pid}"
            threading.Thread(target=self._lead, name=name, daemon=True).start()

    def stop(self) -> None:
        """Stop pinging for good (threads end after the ping in flight, if any)."""
        self._stopped = True
        for condition in (self._wake, self._work):
            with condition:
                condition.notify_all()

    # --- the leading thread: the record follows the snapshots ---------------------------

    def _lead(self) -> None:
        seen_wake: Snapshot | None = None
        while True:
            with self._wake:
                if self._latest is seen_wake and not self._stopped:
                    self._wake.wait(None if self._record is not None else self._lead_retry)
                if self._stopped:
                    # Another process (or a new pinger here) may take over at once.
                    self._leader.resign()
                    return
                snapshot = seen_wake = self._latest
            if snapshot is None or not (self._record is not None or snapshot.site.hubs):
                continue
            if not self._leader.is_leader():
                continue
            try:
                self._follow(snapshot)
            except Exception:  # noqa: BLE001 - a bug here must not end pinging for good
                self._log.exception("websub: cannot work out what to ping")

    def _follow(self, snapshot: Snapshot) -> None:
        with self._work:
            if self._record is None:
                self._take_over()
            elif snapshot is self._seen:
                return
            record = self._record
            self._record = update_record(record, snapshot, items=self._items)
            self._seen = snapshot
            self._not_before = time.monotonic() + self._settle
            self._hubs = hubs_of(snapshot)
            for hub in self._hubs:
                status = self._statuses.get(hub, HubStatus(hub))
                self._statuses[hub] = replace(status, pending=len(self._record.pending(hub)))
                if hub not in self._senders or not self._senders[hub].is_alive():
                    thread = threading.Thread(
                        target=self._send_all,
                        args=(hub,),
                        name=f"medfeed-websub {hub}",
                        daemon=True,
                    )
                    self._senders[hub] = thread
                    thread.start()
            self._save(force=True)
            self._work.notify_all()

    def _take_over(self) -> None:
        record, trouble = read_record(self.folder)
        if trouble:
            self._log.warning("websub: %s; starting a new record", trouble)
        if record is None:
            self._log.info(
                "websub: no record of earlier pings in %s: the feeds as they are now count as told",
                self.folder,
            )
        else:
            self._log.info("websub: this process pings the hubs (pid %d)", os.getpid())
        self._record = record
        self._seen = None

    # --- one thread per hub: its pending topics, one ping each -------------------------

    def _send_all(self, hub: str) -> None:
        failures, next_try = 0, 0.0
        while True:
            with self._work:
                while True:
                    if self._stopped or hub not in self._hubs or self._record is None:
                        self._senders.pop(hub, None)
                        return
                    pending = self._record.pending(hub)
                    delay = max(next_try, self._not_before) - time.monotonic()
                    if pending and delay <= 0:
                        break
                    self._work.wait(delay if pending else None)
                url, etag = next(iter(pending.items()))
            outcome = self._send(hub, url, self._timeout)
            with self._work:
                if self._record is None:
                    continue
                if outcome.ok or not outcome.retry:
                    self._record.mark_told(hub, url, etag)
                    self._dirty = True
                    next_try = 0.0
                else:
                    next_try = time.monotonic() + backoff(failures + 1, *self._backoff)
                left = len(self._record.pending(hub))
                self._report(hub, url, outcome, failures, left, next_try)
                failures = 0 if outcome.ok else failures + outcome.retry
                self._save(force=left == 0)

    def _report(
        self, hub: str, url: str, outcome: Outcome, failures: int, left: int, next_try: float
    ) -> None:
        now = iso(utc_now())
        status = self._statuses.get(hub, HubStatus(hub))
        success = now if outcome.ok else status.last_success
        count = 0 if outcome.ok else failures + 1
        self._statuses[hub] = HubStatus(hub, now, outcome.status, outcome.ok, success, left, count)
        if outcome.ok:
            if failures:
                self._log.warning("websub: %s answers again (%s)", hub, outcome.status)
            self._log.info("websub: told %s of %s (%s)", hub, url, outcome.status)
        elif not outcome.retry:
            self._log.warning(
                "websub: %s refused %s (%s); not tried again", hub, url, outcome.status
            )
        else:
            wait = max(0.0, next_try - time.monotonic())
            level = logging.WARNING if failures == 0 else logging.INFO
            self._log.log(
                level,
                "websub: %s: %s; %d topic(s) wait, next try in %.0f s",
                hub,
                outcome.status,
                left,
                wait,
            )

    def _save(self, *, force: bool) -> None:
        """Write the status, and the record if it changed (at most every SAVE_EVERY s)."""
        try:
            write_status(self.folder, [self._statuses[hub] for hub in self._hubs])
            due = time.monotonic() - self._saved_at >= SAVE_EVERY
            if self._record is not None and (force or (self._dirty and due)):
                write_record(self.folder, self._record)
                self._saved_at, self._dirty = time.monotonic(), False
            self._save_trouble = None
        except OSError as e:
            trouble = f"{e.filename or self.folder}: {e.strerror or e}"
            if trouble != self._save_trouble:
                self._log.warning("websub: cannot write the ping record (%s)", trouble)
            self._save_trouble = trouble
