"""The Last-Modified date of each document's versions: one date per version, kept for as
long as its bytes stay the same, and later than every date given to an earlier version.

A document's date is computed from the folder (its entries' files, the folder's own
time), which cannot see everything: deleting the newest entry of an archive makes the
computed date go back, a file copied in with an old mtime brings an old date, and a
change elsewhere in the folder moves the date of a feed whose bytes did not change. The
ledger remembers the date each path's current version was given and the bytes it
named, so that:

- bytes that did not change keep their date (readers' If-Modified-Since keeps its 304);
- changed bytes get a date later than any date given before (so If-Modified-Since never
  hides them), the time of the change where the computed one is not later;
- where no later second can be had (two versions within one second), the date is given
  but does not answer If-Modified-Since (ETags still do).

With a log file (in the state folder), every process serving the folder and every
restart reads and appends the same record, so that all of them give each version the
same date: the first decision logged for a version stands.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from medfeed.coordination import create_private, replacing

log = logging.getLogger("medfeed")

LOG_NAME = "dates.log"
COMPACT_FACTOR = 4
"""The log is rewritten once it holds this many times as many lines as there are paths."""
COMPACT_FROM = 4096


class Dated(NamedTuple):
    """The version of a path last given a date: its ETag, its second, and whether that
    second tells it from every earlier version."""

    etag: str
    second: int
    validates: bool


def _line(path: str, dated: Dated) -> str:
    """One decision as the log holds it."""
    return f"{path}\t{dated.etag}\t{dated.second}\t{int(dated.validates)}\n"


def _moment(second: int) -> datetime:
    return datetime.fromtimestamp(second, UTC)


class DateLedger:
    """The dated versions of every path; with ``log``, shared through that file."""

    def __init__(self, log_file: Path | None = None) -> None:
        self._dated: dict[str, Dated] = {}
        self._lock = threading.Lock()
        self._file = log_file
        self._pid = os.getpid()
        self._fd: int | None = None
        self._offset = 0
        self._lines = 0
        self._pending = b""

    def date(
        self, path: str, etag: str, computed: datetime, now: datetime
    ) -> tuple[datetime, bool]:
        """The Last-Modified of this version of ``path`` and whether If-Modified-Since
        may be answered for it; ``computed`` is the folder's idea of it, ``now`` the time
        of the version (neither later than the answers that will carry the date)."""
        if self._pid != os.getpid():
            self._forked()
        with self._lock:
            self._sync()
            before = self._dated.get(path)
            if before is not None and before.etag == etag:
                return _moment(before.second), before.validates
            second = int(computed.timestamp())
            validates = True
            if before is not None and second <= before.second:
                # The folder cannot date this change: it happened now, as far as anyone
                # reading the folder can tell.
                second = max(second, int(now.timestamp()))
                validates = second > before.second
                second = max(second, before.second)
            decided = Dated(etag, second, validates)
            if not self._append(path, decided):
                self._dated[path] = decided
            # The first decision logged for this version stands (another process may
            # have dated it a moment before this one).
            found = self._dated.get(path)
            if found is None or found.etag != etag:
                found = decided
            return _moment(found.second), found.validates

    def gives(self, path: str, etag: str, moment: datetime) -> bool:
        """Whether this version of ``path`` is dated ``moment`` here already (so that
        a build need not make it to learn its date)."""
        if self._pid != os.getpid():
            self._forked()
        with self._lock:
            self._sync()
            dated = self._dated.get(path)
        return dated is not None and (dated.etag, dated.second) == (etag, moment.timestamp())

    def remember(self, path: str, etag: str, moment: datetime) -> None:
        """Take a version's date as given earlier (a static build's manifest)."""
        with self._lock:
            self._dated[path] = Dated(etag, int(moment.timestamp()), True)

    # --- the shared log -----------------------------------------------------------------

    def _forked(self) -> None:
        # A forked worker: the lock may have been held by a thread that is gone, and a
        # descriptor shared with the parent would share its file lock too.
        self._lock = threading.Lock()
        self._pid = os.getpid()
        if self._fd is not None:
            os.close(self._fd)
            self._fd, self._offset, self._pending = None, 0, b""

    def _open(self) -> int | None:
        if self._file is None:
            return None
        if self._fd is not None:
            try:
                if os.fstat(self._fd).st_ino == os.stat(self._file).st_ino:
                    return self._fd
            except OSError:
                pass
            # Compacted by another process (a new file in its place): read it anew.
            os.close(self._fd)
            self._fd, self._offset, self._pending = None, 0, b""
        try:
            self._file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._fd = os.open(self._file, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as e:
            log.warning(
                "%s: cannot keep dates there (%s); this process keeps its own",
                self._file,
                e.strerror,
            )
            self._file = None
            return None
        return self._fd

    def _sync(self) -> None:
        fd = self._open()
        if fd is None:
            return
        while True:
            chunk = os.pread(fd, 1 << 20, self._offset)
            if not chunk:
                break
            self._offset += len(chunk)
            data = self._pending + chunk
            complete, _, self._pending = data.rpartition(b"\n")
            if complete:
                for line in complete.split(b"\n"):
                    self._replay(line)

    def _replay(self, line: bytes) -> None:
        self._lines += 1
        try:
            path, etag, second, validates = line.decode().split("\t")
            dated = Dated(etag, int(second), validates == "1")
        except ValueError:
            return  # a damaged line decides nothing
        before = self._dated.get(path)
        if before is None or before.etag != dated.etag:
            self._dated[path] = dated

    def _append(self, path: str, dated: Dated) -> bool:
        """Log a decision and read the log up to it; False where there is no log."""
        fd = self._open()
        if fd is None or "\t" in path or "\n" in path:
            return False
        line = _line(path, dated).encode()
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)  # compaction takes it exclusively
            try:
                if self._open() != fd:  # compacted meanwhile: append to the new file
                    return self._append(path, dated)
                os.write(fd, line)  # O_APPEND: one write, one whole line
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError as e:
            log.warning("%s: cannot keep dates there (%s)", self._file, e.strerror)
            return False
        self._sync()
        if self._lines > max(COMPACT_FROM, COMPACT_FACTOR * len(self._dated)):
            self._compact()
        return True

    def _compact(self) -> None:
        """Rewrite the log as the last decision of each path."""
        fd, file = self._fd, self._file
        assert fd is not None and file is not None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                self._sync()
                body = "".join(_line(path, d) for path, d in self._dated.items()).encode()
                with replacing(file) as temp, os.fdopen(create_private(temp), "wb") as out:
                    out.write(body)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            return
        self._lines = len(self._dated)
