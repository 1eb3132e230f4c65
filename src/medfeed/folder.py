"""The live state of an entries folder, kept up to date one changed file at a time.

A file that breaks keeps its last valid version published; a file that is removed is
unpublished; a broken site.toml keeps the last valid site settings in force.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from medfeed.errors import ConfigError, EntryError, Problem
from medfeed.models import Entry, SiteConfig
from medfeed.store import (
    SITE_FILE,
    Catalog,
    assemble,
    build_item,
    file_label,
    is_entry_name,
    load_site,
)
from medfeed.store import read_entry_file as read_entry

Signature = tuple[int, int, int, int]
"""What stat says of a file: (mtime_ns, ctime_ns, size, inode)."""


@dataclass(frozen=True)
class FileState:
    """What was last read from one entry file."""

    signature: Signature | None
    entry: Entry | None
    last_good: Entry | None
    problems: tuple[Problem, ...]


def _signature(path: Path) -> Signature | None:
    try:
        st = path.lstat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


def _exists_as_entry(path: Path) -> bool:
    try:
        mode = path.lstat().st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) or stat.S_ISLNK(mode) or stat.S_ISDIR(mode)


class Folder:
    """Tracks an entries folder; re-reads only the files that changed.

    Not thread-safe: one thread (the watcher) calls ``update`` and ``rescan``.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.site: SiteConfig = load_site(root)
        self.site_problems: tuple[Problem, ...] = ()
        self._site_signature = _signature(root / SITE_FILE)
        self.files: dict[str, FileState] = {}
        self.rescan()

    def _label(self, name: str) -> str:
        return file_label(self.root, name)

    def _read_site(self) -> bool:
        signature = _signature(self.root / SITE_FILE)
        if signature == self._site_signature and signature is not None:
            return False
        self._site_signature = signature
        try:
            site = load_site(self.root)
        except ConfigError as e:
            changed = e.problems != self.site_problems
            self.site_problems = e.problems
            return changed
        changed = site != self.site or bool(self.site_problems)
        self.site, self.site_problems = site, ()
        return changed

    def _read_file(self, name: str) -> bool:
        path = self.root / name
        old = self.files.get(name)
        if not _exists_as_entry(path):
            return self.files.pop(name, None) is not None
        signature = _signature(path)
        if old is not None and old.signature == signature:
            return False
        last_good = old.last_good if old else None
        try:
            entry = read_entry(path, self.root)
        except EntryError as e:
            state = FileState(signature, None, last_good, e.problems)
        else:
            state = FileState(signature, entry, entry, ())
        self.files[name] = state
        return old is None or (state.entry, state.last_good, state.problems) != (
            old.entry,
            old.last_good,
            old.problems,
        )

    def update(self, names: Iterable[str]) -> bool:
        """Re-check the named files only (names inside the folder); whether anything changed."""
        changed = False
        for name in set(names):
            if name == SITE_FILE:
                changed |= self._read_site()
            elif is_entry_name(name) and "/" not in name:
                changed |= self._read_file(name)
        return changed

    def rescan(self) -> bool:
        """Check every file of the folder; whether anything changed."""
        try:
            with os.scandir(self.root) as it:
                present = {e.name for e in it if is_entry_name(e.name)}
        except OSError:
            # The folder is gone for a moment (a deploy swapping it): keep what we have.
            return False
        gone = set(self.files) - present
        for name in gone:
            del self.files[name]
        return self.update(present | {SITE_FILE}) or bool(gone)

    def problems(self) -> tuple[Problem, ...]:
        """Every current problem, site.toml's included."""
        found = list(self.site_problems)
        for state in self.files.values():
            found.extend(state.problems)
        return tuple(sorted(found))

    def catalog(self) -> Catalog:
        """The entries as they should be published now, with every problem."""
        items = []
        for name in sorted(self.files):
            entry = self.files[name].entry or self.files[name].last_good
            if entry is not None:
                slug = name.removesuffix(".json")
                items.append(build_item(slug, self._label(name), entry, self.site))
        published, cross = assemble(self.site, items)
        return Catalog(self.site, published, tuple(sorted([*self.problems(), *cross])))


def digest(entry: Entry) -> str:
    """A short fingerprint of an entry's content."""
    return hashlib.sha256(entry.model_dump_json().encode()).hexdigest()[:16]
