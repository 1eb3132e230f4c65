"""The live state of an entries folder, kept up to date one changed file at a time.

A file that breaks keeps its last valid version published; a file that is removed is
unpublished; a broken site.toml keeps the last valid site settings in force.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from medfeed.errors import ConfigError, EntryError, Problem
from medfeed.models import SiteConfig, entry_id
from medfeed.reading import SITE_FILE, file_label, is_entry_name, load_site, read_entry_file
from medfeed.store import Catalog, Item, assemble, build_item

Signature = tuple[int, int, int, int]
"""What stat says of a file: (mtime_ns, ctime_ns, size, inode)."""


@dataclass(frozen=True)
class FileState:
    """What was last read from one entry file."""

    signature: Signature | None
    item: Item | None
    last_good: Item | None
    problems: tuple[Problem, ...]


def _signature(path: Path) -> Signature | None:
    try:
        st = path.lstat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


class Folder:
    """Tracks an entries folder; re-reads only the files that changed.

    Not thread-safe: callers serialise ``update``, ``rescan`` and ``catalog``.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.site: SiteConfig = load_site(root)
        self.site_problems: tuple[Problem, ...] = ()
        self._site_signature = _signature(root / SITE_FILE)
        self.files: dict[str, FileState] = {}
        self._published: dict[str, Item] = {}
        """What the last catalog published, by source file."""
        self.rescan()

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
        if site.authority != self.site.authority:
            self._reidentify(site)
        self.site, self.site_problems = site, ()
        return changed

    def _reidentify(self, site: SiteConfig) -> None:
        # Computed ids embed the authority; every item needs its new id.
        def again(item: Item | None) -> Item | None:
            if item is None or item.entry.id:
                return item
            return replace(item, id=entry_id(site.authority, item.entry.published, item.slug))

        for name, state in self.files.items():
            self.files[name] = replace(
                state, item=again(state.item), last_good=again(state.last_good)
            )

    def _read_file(self, name: str) -> bool:
        path = self.root / name
        old = self.files.get(name)
        signature = _signature(path)
        if signature is None:
            return self.files.pop(name, None) is not None
        if old is not None and old.signature == signature:
            return False
        last_good = old.last_good if old else None
        label = file_label(self.root, name)
        try:
            entry = read_entry_file(path, self.root)
        except EntryError as e:
            state = FileState(signature, None, last_good, e.problems)
        else:
            if last_good is not None and last_good.entry == entry:
                item = last_good  # touched, not changed: keep the rendered HTML
            else:
                item = build_item(name.removesuffix(".json"), label, entry, self.site)
            # An entry naming an unknown category is not good enough to fall back on.
            known = {c.slug for c in self.site.categories}
            good = item if set(entry.categories) <= known else last_good
            state = FileState(signature, item, good, ())
        self.files[name] = state
        return old is None or (state.item, state.last_good, state.problems) != (
            old.item,
            old.last_good,
            old.problems,
        )

    def update(self, names: Iterable[str]) -> bool:
        """Re-check the named files only; whether anything changed."""
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

    def catalog(self) -> Catalog:
        """The entries as they should be published now, with every problem."""
        items = []
        last_good = {}
        problems = list(self.site_problems)
        # Any order: assemble sorts, and ties are broken by slug.
        for state in self.files.values():
            problems.extend(state.problems)
            if state.last_good is not None:
                last_good[state.last_good.source] = state.last_good
            current = state.item or state.last_good
            if current is not None:
                items.append(current)
        # What readers have now is the best fallback for a file that breaks a rule.
        last_good.update((s, i) for s, i in self._published.items() if s in last_good)
        published, cross = assemble(
            self.site,
            items,
            last_good=last_good,
            published={(item.id, source) for source, item in self._published.items()},
        )
        self._published = {item.source: item for item in published}
        return Catalog(self.site, published, tuple(sorted({*problems, *cross})))
