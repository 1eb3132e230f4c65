"""What was read from an entries folder and what was published from it, kept in the
state folder for restarts and for the other processes serving the same folder.

For each entry file the cache holds the validated ``Entry`` of its current version,
keyed by the file's stat signature, and the version last published: a restart with
unchanged content reads and validates no entry file, and a file that is broken when a
process first reads it falls back on what was published, as it would on a version
read earlier in the same process.

The cache never changes what is published. Entries are kept as validated, before
anything that depends on the site settings or the clock (ids, known categories, an
``updated`` in the future), which is applied again on every use. Anything that casts
doubt on the file (another medfeed, pydantic or Python, another entries folder, a
failed checksum, a class that is not one of the models', a file another user could
have written) makes it ignored whole, and the files are read as without it. It is
written whole to a temporary file renamed over the old one, under a lock, so that no
reader sees half a file and no two writers mix theirs.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import weakref
from collections.abc import Collection
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO

from medfeed.cachecodec import (
    MAGIC,
    Record,
    code_fingerprint,
    gc_paused,
    state_digest,
)
from medfeed.cachefile import Spill, read_records, write_records
from medfeed.coordination import FOLDER_MODE, create_private, locked, replacing

CACHE_FILE = "entries.cache"
LOCK_FILE = "entries.cache.lock"
HEADER_LIMIT = 64 * 1024
RACY_NS = 2_000_000_000
"""A version read less than this after its file last changed is not cached: a second
write within the same tick of the file system's clock (up to 2 s on some) would keep
the file's signature while changing its bytes."""


class EntryCache:
    """The cache file of one entries folder in a state folder.

    Never raises: a cache that cannot be read is empty (``trouble`` says why), and one
    that cannot be written stays as it was.
    """

    def __init__(self, state_folder: Path, root: Path) -> None:
        self.path = state_folder / CACHE_FILE
        self.root = os.path.abspath(root)
        self.trouble: str | None = None
        """Why the last load found nothing usable; None if it was used, or absent."""
        self._fingerprint: str | None = None
        self._digest: str | None = None
        """The digest of what is on disk, as far as this process knows."""
        self._loaded: tuple[int, int, int] | None = None
        self._opened: weakref.WeakSet[BinaryIO] = weakref.WeakSet()

    def fingerprint(self) -> str:
        """The code fingerprint, worked out once."""
        if self._fingerprint is None:
            self._fingerprint = code_fingerprint()
        return self._fingerprint

    # --- reading ------------------------------------------------------------------------

    def load(self, *, keep_all: bool = False) -> dict[str, Record]:
        """Every record of the cache; empty if there is none or it is in any doubt.

        ``keep_all``: each entry read back from the file stays decoded (a read that shows
        every entry in several documents, as a build does), not only the latest."""
        self.trouble = None
        try:
            f, info = self._open()
        except FileNotFoundError:
            return {}
        except OSError as e:
            self.trouble = f"cannot be opened ({e.strerror or e})"
            return {}
        try:
            with gc_paused():
                digest, records = self._read(f, keep_all)
        # A damaged or foreign file can fail in any way pickle or the checks can: each
        # one means only that the cache is not used.
        except Exception as e:  # noqa: BLE001
            f.close()
            self.trouble = f"not used ({type(e).__name__}: {e})"[:300]
            return {}
        # The file stays open for as long as an entry it holds is in use.
        self._opened.add(f)
        self._digest = digest
        self._loaded = (info.st_ino, info.st_mtime_ns, info.st_size)
        return records

    def _open(self) -> tuple[BinaryIO, os.stat_result]:
        # Non-blocking: a FIFO put in its place is refused, not waited on.
        flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
        f = os.fdopen(os.open(self.path, flags), "rb")
        info = os.fstat(f.fileno())
        # Unpickling calls what the file names: only this user may have written it (and
        # the unpickler names nothing but the models' classes anyway).
        if not stat.S_ISREG(info.st_mode):
            f.close()
            raise OSError("not a regular file")
        if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            f.close()
            raise OSError("the file is not this user's alone")
        return f, info

    def changed_since_load(self) -> bool:
        """Whether the cache on disk is not the one last loaded (another process wrote)."""
        try:
            info = os.stat(self.path)
        except OSError:
            return False
        return (info.st_ino, info.st_mtime_ns, info.st_size) != self._loaded

    def _read(self, f: BinaryIO, keep_all: bool) -> tuple[str, dict[str, Record]]:
        header = self._header(f)
        return str(header["digest"]), read_records(f, keep_all=keep_all)

    def spill(self) -> Spill | None:
        """An unnamed file in the state folder to keep entries in (see ``Spill``), or
        None where none can be made."""
        try:
            self.path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
            # No name (O_TMPFILE where the system has it): nothing to clean up after a crash.
            f = tempfile.TemporaryFile(dir=self.path.parent)
        except OSError:
            return None
        # A forked child writing the next cache copies entries from it.
        self._opened.add(f)
        return Spill(f)

    def open_files(self) -> list[int]:
        """The cache files this process loaded and still reads entries from."""
        return sorted(f.fileno() for f in self._opened if not f.closed)

    def _header(self, f: BinaryIO) -> dict[str, object]:
        """The header of a cache this process can use.

        Raises:
            ValueError: the file is not one, with the reason.
        """
        if f.readline(len(MAGIC)) != MAGIC:
            raise ValueError("not a cache of this format")
        header = json.loads(f.readline(HEADER_LIMIT))
        if not isinstance(header, dict):
            raise ValueError("no header")
        if header.get("fingerprint") != self.fingerprint():
            raise ValueError("made by another version of medfeed or of its libraries")
        if header.get("root") != self.root:
            raise ValueError(f"made for another entries folder ({header.get('root')})")
        return header

    # --- writing ------------------------------------------------------------------------

    def save(self, records: dict[str, Record], adopt: Collection[str] = ()) -> bool:
        """Write ``records`` as the cache; whether anything was written.

        For the names in ``adopt`` that ``records`` gives no published version, the one
        on disk is kept: a process that could not read a file, or never published it,
        does not take away what another process published.
        """
        digest = None if adopt else state_digest(records)
        if digest is not None and digest == self._digest:
            return False
        try:
            with locked(self.path.with_name(LOCK_FILE)):
                on_disk = self._disk_digest()
                if digest is None:
                    self._adopt(records, adopt)
                    digest = state_digest(records)
                if digest == on_disk:
                    self._digest = digest
                    return False
                self._remove_leftovers()
                # A file left damaged by a crash fails its checksums and is ignored,
                # which costs one slow start and nothing else.
                with replacing(self.path) as temp:
                    self._write(temp, records, digest)
                self._digest = digest
                return True
        except OSError:
            return False

    def _disk_digest(self) -> str | None:
        try:
            f, _ = self._open()
            with f:
                header = self._header(f)
        except (OSError, ValueError):
            return None
        return str(header.get("digest"))

    def _adopt(self, records: dict[str, Record], adopt: Collection[str]) -> None:
        wanted = [n for n in adopt if n not in records or records[n].published is None]
        if not wanted:
            return
        on_disk = EntryCache(self.path.parent, Path(self.root))
        on_disk._fingerprint = self._fingerprint
        found = on_disk.load()
        for name in wanted:
            theirs = found.get(name)
            if theirs is None or theirs.published is None:
                continue
            mine = records.get(name)
            if mine is None:
                records[name] = Record(None, None, theirs.published)
            else:
                records[name] = mine._replace(published=theirs.published)

    def _remove_leftovers(self) -> None:
        # Under the lock no one else is writing: any temporary file is a dead writer's.
        for leftover in self.path.parent.glob(f"{CACHE_FILE}.*"):
            if leftover.name != LOCK_FILE:
                with suppress(OSError):
                    leftover.unlink()

    def _write(self, temp: Path, records: dict[str, Record], digest: str) -> None:
        header = {"fingerprint": self.fingerprint(), "root": self.root, "digest": digest}
        with os.fdopen(create_private(temp), "wb") as f:
            f.write(MAGIC + json.dumps(header).encode() + b"\n")
            write_records(f, records)
