"""Coordination between the processes that serve one entries folder (gunicorn's workers).

Each worker has its own publisher and watcher and sees the same changes; what should
happen once per folder rather than once per worker (logging a problem) is done by the
process that holds an exclusive ``flock`` on a lock file in the state folder.
"""

from __future__ import annotations

import fcntl
import os
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600
OPEN_FLAGS = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW


def _open_private(path: Path) -> int:
    """Open (creating) a file only this user can read, in a folder only this user can enter."""
    path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    return os.open(path, OPEN_FLAGS, FILE_MODE)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (a private file, made if missing) for the block.

    A POSIX lock, not flock(): a child forked while it is held (a gunicorn master forking
    workers as a writer thread saves) does not inherit it, where it would hold an
    flock() for as long as it lives.
    """
    fd = _open_private(path)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A name beside ``path`` for the block to write a new version at (with
    ``create_private``); it takes ``path``'s place when the block ends without an error,
    and is removed otherwise. Names are ``<name>.<pid>.<random>``: a dead writer's
    leftovers can be found by their prefix."""
    temp = path.with_name(f"{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    try:
        yield temp
        # No fsync: a file a crash left damaged is told by its own checks and ignored.
        os.replace(temp, path)
    except BaseException:
        with suppress(OSError):
            temp.unlink()
        raise


def create_private(path: Path) -> int:
    """Create a new file only this user can read (never an existing one); its descriptor."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)


class Leader:
    """One process at a time among those sharing ``path``: the one that holds its lock.

    The lock is released by the kernel when its holder exits, however it exits, and the
    next process to ask takes over. Not thread-safe: callers serialise their calls.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.error: OSError | None = None
        """Why the lock file cannot be used, if it cannot; then every process leads."""
        self._fd: int | None = None
        self._pid = 0
        self._close: weakref.finalize[[int], Leader] | None = None

    def is_leader(self) -> bool:
        """Whether this process leads now; it takes the lead if no living process holds it."""
        if self._fd is not None and self._pid != os.getpid():
            # A forked child shares its parent's open file description, and so its lock.
            # A preloading gunicorn master loads the app (and may lead) but never serves:
            # unlocking lets the children elect one of their own; the parent, should it
            # ask again, competes like any other process.
            with suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            self.resign()
        try:
            if self._fd is None:
                fd = _open_private(self.path)
                # A leader dropped without resigning still lets go of its lock.
                self._close = weakref.finalize(self, _close_quietly, fd)
                self._fd, self._pid = fd, os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.error = None
            return False
        except OSError as e:
            # Better every process reporting than none; the caller can say why.
            self.error = e
            return True
        self.error = None
        return True

    def resign(self) -> None:
        """Let go of the lead, if held; the next process to ask takes it."""
        if self._close is not None:
            self._close()
        self._fd, self._close = None, None


def _close_quietly(fd: int) -> None:
    with suppress(OSError):
        os.close(fd)


def process_start_time() -> float | None:
    """When this process started (epoch seconds, to 10 ms), where /proc says; else None."""
    try:
        with open("/proc/self/stat", "rb") as f:
            # The command name may hold spaces and brackets: fields follow its last ")".
            fields = f.read().rsplit(b")", 1)[1].split()
        ticks = int(fields[19])  # field 22, starttime: clock ticks since boot
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    return time.time() - age


def claim_once(marker: Path, since: float) -> int:
    """The process that claimed ``marker`` at or after ``since``; if none did, this one.

    Returns the claimant's pid. Sibling processes that fail alike and at once (gunicorn
    workers that cannot start) use it to say so once. Where the marker cannot be used,
    every process claims it.
    """
    me = os.getpid()
    try:
        fd = _open_private(marker)
    except OSError:
        return me
    try:
        if os.fstat(fd).st_uid != os.getuid():
            return me
        fcntl.flock(fd, fcntl.LOCK_EX)  # held for a read and a write
        try:
            moment, pid = os.pread(fd, 64, 0).decode("ascii").split()
            if float(moment) >= since:
                return int(pid)
        except ValueError:
            pass  # no claim yet, or not one of ours
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{time.time()!r} {me}".encode("ascii"), 0)
        return me
    except OSError:
        return me
    finally:
        os.close(fd)


def wait_until_gone(pid: int, timeout: float) -> bool:
    """Wait until process ``pid`` is gone (exited and reaped); whether it went in time."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # alive, another user's
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
