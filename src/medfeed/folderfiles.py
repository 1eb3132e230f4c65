"""The files of an entries folder as the live folder keeps track of them: which changed
since they were last looked at, which vanished (a removal waits out a grace, in case
the file is being saved by delete-and-write), and what could not be looked at (the
folder, a file), looked at again every second until it can be, since no notification
says when a permission comes back. What a file holds is ``Folder``'s business.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from pathlib import Path

from medfeed.errors import Problem
from medfeed.filestate import FileState, Signature, StatError, read_signature
from medfeed.reading import SITE_FILE, file_label, is_entry_name

RETRY_EVERY = 1.0
"""Seconds between two looks at what could not be looked at."""


class FolderFiles:
    """The entry files of a folder by name, each re-read only when its signature changes.

    Not thread-safe: callers serialise every method.
    """

    def __init__(
        self,
        root: Path,
        *,
        deletion_grace: float,
        clock: Callable[[], float],
        now: Callable[[], datetime],
    ) -> None:
        self.root = root
        self._where = os.fspath(root)
        self._label_prefix = file_label(root, "")
        self.deletion_grace = deletion_grace
        self._clock = clock
        self._now = now
        self.folder_problems: tuple[Problem, ...] = ()
        self.files: dict[str, FileState] = {}
        self._vanished: dict[str, float] = {}
        """Files found gone, with the moment their removal will be published."""
        self._blocked: set[str] = set()
        """Files whose stat was refused, to look at again."""
        self._listed: set[str] | None = None
        """For the next pass: the entry files listed just before it, if they were."""
        self._looked: set[str] | None = None
        """For the next pass: the files another process found, just before it, with
        the signature their state has (the rest are looked at in the pass)."""
        self._retry_at: float | None = None
        """When to look again at what could not be looked at, if anything."""
        self._moment = (datetime.min, 0)
        """The last moment files were looked at after, and it in nanoseconds."""

    def _in_ns(self, moment: datetime) -> int:
        """``moment`` in nanoseconds since the epoch (worked out once for the many files
        of a pass, which share their moment)."""
        if moment is not self._moment[0]:
            self._moment = (moment, int(moment.timestamp() * 1e9))
        return self._moment[1]

    def _entry_names(self, known: Collection[str] = ()) -> set[str]:
        """The entry files in the folder now; ``known``: names known to be entry names
        (the cache's: not checked again). Raises OSError."""
        listed = set(os.listdir(self._where))
        return listed.intersection(known) | {
            name for name in listed.difference(known) if is_entry_name(name)
        }

    def _listing(self, known: Collection[str] = ()) -> set[str] | None:
        """``_entry_names``, or None where the folder cannot be listed (a rescan says why)."""
        try:
            return self._entry_names(known)
        except OSError:
            return None

    def _label(self, name: str) -> str:
        # The same as file_label's, which asks the OS for the folder's name on each call.
        return self._label_prefix + name

    # --- what a subclass says of the files ----------------------------------------------

    def _read_version(
        self, name: str, signature: Signature, old: FileState | None, moment: datetime
    ) -> FileState:
        """What a new or changed file holds, its signature taken just after ``moment``."""
        raise NotImplementedError

    def _unseen(self, name: str) -> FileState:
        """What stands for a file first met when it cannot be looked at."""
        return FileState(None, None, None, ())

    def _check_others(self, names: set[str], changed: bool) -> bool:
        """Check the named files that are not entries (``changed``: entries did);
        whether anything changed."""
        return False

    def _others_blocked(self) -> set[str]:
        """The files other than entries that could not be looked at."""
        return set()

    # --- looking at files ---------------------------------------------------------------

    def _read_file(self, name: str, moment: datetime | None = None) -> bool:
        """Look at one file, just after ``moment`` (default: now); whether anything changed."""
        old = self.files.get(name)
        moment = moment or self._now()
        try:
            # Not os.path.join: this runs for every file at start-up, and names have no "/".
            signature = read_signature(f"{self._where}/{name}")
        except StatError as e:
            # What readers have stays; the file is read again once it can be.
            self._blocked.add(name)
            problem = Problem(self._label(name), "", f"cannot be read ({e})")
            kept = old or self._unseen(name)
            self.files[name] = kept._replace(signature=None, problems=(problem,))
            return kept.problems != (problem,)
        self._blocked.discard(name)
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
        state = self._read_version(name, signature, old, moment)
        self.files[name] = state
        return old is None or (state.item, state.last_good, state.problems) != (
            old.item,
            old.last_good,
            old.problems,
        )

    def _forget(self, name: str) -> bool:
        self._vanished.pop(name, None)
        self._blocked.discard(name)
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

    def seconds_to_next_check(self) -> float | None:
        """How long until ``update`` has work of its own (a removal due, a look again at
        what could not be looked at), if any is waiting."""
        waits = [self.seconds_to_settle()]
        if self._retry_at is not None:
            waits.append(max(0.0, self._retry_at - self._clock()))
        return min((wait for wait in waits if wait is not None), default=None)

    def update(self, names: Iterable[str]) -> bool:
        """Re-check the named files only, and, every second, what could not be looked at;
        whether anything changed."""
        names = set(names)
        if self._retry_at is not None and self._clock() >= self._retry_at:
            self._retry_at = None
            if self.folder_problems:
                changed = self.rescan()
                return self._check(names) | changed if names else changed
            names |= self._blocked | self._others_blocked()
        return self._check(names)

    def _check(self, names: set[str]) -> bool:
        changed = False
        # One moment for the pass, taken before any file is looked at: what each file
        # held is known to be at least as new as that (100,000 files at a start-up).
        moment = self._now()
        for name in names - {SITE_FILE}:
            if is_entry_name(name) and "/" not in name:
                changed |= self._read_file(name, moment)
        changed |= self._check_others(names, changed)
        changed |= self.settle()
        self._schedule_retry()
        return changed

    def _schedule_retry(self) -> None:
        if self.folder_problems or self._blocked or self._others_blocked():
            if self._retry_at is None:
                self._retry_at = self._clock() + RETRY_EVERY
        else:
            self._retry_at = None

    def rescan(self) -> bool:
        """Check every file of the folder; whether anything changed."""
        listed, self._listed = self._listed, None
        try:
            present = listed if listed is not None else self._entry_names()
        except OSError as e:
            # Gone for a moment (a deploy swapping it) or unreadable: keep what we have.
            reason = "does not exist" if isinstance(e, FileNotFoundError) else "cannot be listed"
            message = f"the entries folder {reason} ({e.strerror}); what was published stays"
            problems = (Problem(self._label(""), "", message),)
            changed = problems != self.folder_problems
            self.folder_problems = problems
            self._schedule_retry()
            return changed
        changed = bool(self.folder_problems)
        self.folder_problems = ()
        for name in set(self.files) - present:
            changed |= self._read_file(name)
        self._prefill(present)
        looked, self._looked = self._looked, None
        return self._check(self._maybe_changed(present, looked) | {SITE_FILE}) or changed

    def _prefill(self, names: set[str]) -> None:
        """Before a rescan looks at ``names``: set what is known already of those not
        looked at yet, under the signature it was known by (a file whose signature is
        another is then read as changed)."""

    def maybe_changed(self) -> set[str] | None:
        """The files a rescan would find changed, or may (new, gone, another signature,
        not looked at yet), and site.toml; None if the folder cannot be listed.

        Changes nothing: safe beside the thread that updates this object (its reads are
        single dictionary and set operations; a change it misses is notified anyway).
        """
        try:
            present = self._entry_names()
        except OSError:
            return None
        return (set(self.files) - present) | self._maybe_changed(present) | {SITE_FILE}

    def _maybe_changed(self, names: set[str], looked: set[str] | None = None) -> set[str]:
        """``names`` less the files whose signature is the one last read: what
        ``_read_file`` would find unchanged, in a few steps each (a rescan looks at every
        file; at 100,000 of them, the steps ``_read_file`` takes cost half a second).
        ``looked``: files known to have that signature (another process looked)."""
        files, where, settled = self.files, self._where, self._vanished.keys() | self._blocked
        if looked is not None:
            return names - looked.difference(settled)
        unchanged = set()
        for name in names:
            state = files.get(name)
            if state is None or state.signature is None or name in settled:
                continue
            try:
                st = os.stat(f"{where}/{name}")
            except OSError:
                continue  # gone, or refused: _read_file says which
            if (
                st.st_mtime_ns,
                st.st_ctime_ns,
                st.st_size,
                st.st_ino,
                st.st_dev,
            ) == state.signature:
                unchanged.add(name)
        return names - unchanged
