"""``folderitems.choose_items`` kept up to date one changed file at a time.

The rules across files (ids, aliases, categories, renames) are a pass over every file;
at 100,000 entries that pass costs a second on each edit. Almost always no rule is
broken, and then what is published is simply the version in use of every file, newest
first, with each file's own problems. So what each file claims (its ids, its slug and
aliases, whether its categories are known) is counted as files change; while nothing is
claimed twice, no category is unknown and no vanished file may have been renamed, the
answer is read off those counts and a sorted list, at the cost of the changed files.
Otherwise the whole pass decides, as it always did.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable

from medfeed.cachecodec import gc_paused
from medfeed.errors import Problem
from medfeed.folderitems import FolderView, choose_items
from medfeed.identity import claim_of_file
from medfeed.models import SiteConfig
from medfeed.store import Changes, Item

BULK = 1000
"""Past this many changed files (and a quarter of all), every file is counted anew."""
Footprint = tuple[tuple[str, ...], tuple[str, ...]]
"""What one file claims: ids (its version in use, what readers have, what a broken
version says) and paths (its slug, once, and every alias any of them names)."""


def _order(item: Item) -> tuple[float, str]:
    return item.order


class ItemChoice:
    """The items a live folder publishes, worked out from the files that changed.

    Callers say which files changed (``touch``) before asking (``choose``): a file whose
    state, salvage or published version changed. Not thread-safe.
    """

    def __init__(self) -> None:
        self._site: SiteConfig | None = None
        self._known: frozenset[str] = frozenset()
        self._dirty: set[str] = set()
        self._current: dict[str, Item] = {}
        """The version in use of each file (valid, else its last valid one)."""
        self._ascending: list[Item] = []
        """Every version in use, oldest first."""
        self._prints: dict[str, Footprint] = {}
        """What each file claims, where that is more than its version's id and slug."""
        self._ids: dict[str, int] = {}
        """How many files claim each id."""
        self._paths: dict[str, int] = {}
        """How many claims each slug or alias has."""
        self._crowded: set[tuple[str, str]] = set()
        """Ids and paths claimed more than once: the whole pass must decide."""
        self._unknown: set[str] = set()
        """Files whose version in use names a category the site does not have."""
        self._problems: dict[str, tuple[Problem, ...]] = {}
        self._newest: int | None = None
        """The newest mtime of the versions in use, unless the one it was went."""
        self._last: tuple[Item, ...] | None = None
        """What the last answer published, if it was read off the counts."""

    def touch(self, names: Iterable[str]) -> None:
        """These files' state or salvage changed."""
        self._dirty.update(names)

    def republished(self, name: str, old_id: str | None, new_id: str | None) -> None:
        """What readers have of this file now has ``new_id`` (None: nothing), and had
        ``old_id``: an id readers have stays the file's (see ``store.assemble``)."""
        footprint = self._prints.get(name)
        current = self._current.get(name)
        claimed = footprint[0] if footprint else (current.id,) if current else ()
        if old_id == new_id or (old_id is None and new_id in claimed):
            return  # claimed already
        self._dirty.add(name)

    def choose(self, view: FolderView) -> tuple[tuple[Item, ...], list[Problem], Changes | None]:
        """What ``choose_items`` gives for ``view``, and what changed since the last answer
        where both were read off the counts."""
        removed, added = self._sync(view)
        if self._crowded or self._unknown or self._renamed(view):
            self._last = None
            published, problems = choose_items(view)
            return published, problems, None
        items = tuple(reversed(self._ascending))
        problems = [problem for found in self._problems.values() for problem in found]
        base, self._last = self._last, items
        changes = None if base is None else Changes(base, tuple(removed), tuple(added))
        return items, problems, changes

    def newest(self, since_ns: int) -> int:
        """``folderitems.newest_change`` of the state last chosen from."""
        if self._newest is None:
            self._newest = max((item.modified_ns for item in self._current.values()), default=0)
        return max(since_ns, self._newest)

    # --- bookkeeping ------------------------------------------------------------------

    def _sync(self, view: FolderView) -> tuple[list[Item], list[Item]]:
        if view.site is not self._site:
            self._site = view.site
            self._known = frozenset(c.slug for c in view.site.categories)
            self._dirty.update(self._current, self._prints, view.files)
        dirty, self._dirty = self._dirty, set()
        if len(dirty) > max(BULK, len(self._current) // 4):
            self._rebuild(view)
            return [], []
        removed, added = [], []
        for name in dirty:
            old = self._drop(name)
            new = self._add(name, view, True) if name in view.files else None
            if old is not new:
                if old is not None:
                    removed.append(old)
                if new is not None:
                    added.append(new)
        return removed, added

    def _rebuild(self, view: FolderView) -> None:
        # Start-up, or a new site.toml: every file counted anew, sorted once.
        with gc_paused():
            self._count_all(view)
        self._last = None

    def _count_all(self, view: FolderView) -> None:
        self._current, self._prints, self._ids, self._paths = {}, {}, {}, {}
        self._crowded, self._unknown, self._problems = set(), set(), {}
        self._newest = None
        current, ids, paths = self._current, self._ids, self._paths
        published, label, known = view.published, view.label, self._known
        others = []
        # Most files: valid, no aliases, their id the one readers have; counted here in a
        # tight loop (100,000 files: a tenth of a second), the others by _add.
        for name, state in view.files.items():
            item = state.item
            if (
                item is None
                or state.problems
                or item.entry.aliases
                or not known.issuperset(item.entry.categories)
            ):
                others.append(name)
                continue
            shown = published.get(label(name))
            if shown is not None and shown.id != item.id:
                others.append(name)
                continue
            current[name] = item
            ids[item.id] = ids.get(item.id, 0) + 1
            paths[item.slug] = paths.get(item.slug, 0) + 1
        self._crowded = {("id", key) for key, claims in ids.items() if claims > 1}
        self._crowded.update(("path", key) for key, claims in paths.items() if claims > 1)
        for name in others:
            self._add(name, view, False)
        self._ascending = sorted(current.values(), key=_order)

    def _drop(self, name: str) -> Item | None:
        old = self._current.pop(name, None)
        footprint = self._prints.pop(name, None)
        if footprint is None and old is not None:
            footprint = ((old.id,), (old.slug,))
        if footprint is not None:
            ids, paths = footprint
            for claimed in ids:
                self._count(self._ids, "id", claimed, -1)
            for path in paths:
                self._count(self._paths, "path", path, -1)
        self._unknown.discard(name)
        self._problems.pop(name, None)
        if old is not None:
            if old.modified_ns == self._newest:
                self._newest = None
            self._take_out(old)
        return old

    def _count(self, table: dict[str, int], kind: str, key: str, step: int) -> None:
        claims = table.get(key, 0) + step
        if claims > 1:
            self._crowded.add((kind, key))
        else:
            self._crowded.discard((kind, key))
        if claims:
            table[key] = claims
        else:
            del table[key]

    def _take_out(self, item: Item) -> None:
        ascending = self._ascending
        at = bisect_left(ascending, item.order, key=_order)
        if at < len(ascending) and ascending[at] is item:
            del ascending[at]
            return
        # Not where its order says (never expected): found by identity.
        for at, found in enumerate(ascending):
            if found is item:
                del ascending[at]
                return

    def _add(self, name: str, view: FolderView, insert: bool) -> Item | None:
        state = view.files[name]
        label = view.label(name)
        current = state.item or state.last_good
        if state.problems:
            self._problems[name] = state.problems
        ids: dict[str, None] = {}
        aliases: dict[str, None] = {}
        if current is not None:
            self._current[name] = current
            if self._newest is not None and current.modified_ns > self._newest:
                self._newest = current.modified_ns
            if insert:
                insort(self._ascending, current, key=_order)
            if not self._known.issuperset(current.entry.categories):
                self._unknown.add(name)
            ids[current.id] = None
            aliases.update(dict.fromkeys(current.entry.aliases))
        published = view.published.get(label)
        if published is not None:
            ids[published.id] = None
        claim = None
        salvaged = view.salvaged.get(name)
        if salvaged is not None:
            claim = claim_of_file(name, label, salvaged, view.site)
            if claim is not None:
                if claim.id is not None:
                    ids[claim.id] = None
                aliases.update(dict.fromkeys(alias for _, alias in claim.aliases))
        # A file's slug is claimed once; an alias equal to it is a second claim.
        if current is not None:
            paths: tuple[str, ...] = (current.slug, *aliases)
        elif claim is not None:
            paths = (claim.slug, *aliases)
        else:
            paths = tuple(aliases)
        footprint = (tuple(ids), paths)
        if current is None or footprint != ((current.id,), (current.slug,)):
            self._prints[name] = footprint  # most files claim only their id and slug
        for claimed in ids:
            self._count(self._ids, "id", claimed, 1)
        for path in paths:
            self._count(self._paths, "path", path, 1)
        return current

    def _renamed(self, view: FolderView) -> bool:
        """Whether a vanished file's version may live on under another name (an equal
        entry: renamed without an id); an equal id is a claim counted twice already."""
        for name in view.vanished:
            gone = self._current.get(name)
            if gone is None:
                continue
            moment = gone.published_at
            ascending = self._ascending
            at = bisect_left(ascending, (moment, ""), key=_order)
            while at < len(ascending) and ascending[at].published_at == moment:
                other = ascending[at]
                if other is not gone and other.entry == gone.entry:
                    return True
                at += 1
        return False
