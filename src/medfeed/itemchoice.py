"""``folderitems.choose_items`` kept up to date one changed file at a time.

The rules across files (ids, aliases, categories, renames) are a pass over every file;
at 100,000 entries that pass costs a second on each edit. But a rule can only bite
where a file claims what another claims (``claimcounts``), names a category the site
does not have, or has vanished and may live on under another name. Every other file
publishes its version in use, with its own problems. So what each file claims is
counted as files change, and the whole rules run over the few files involved; the
others are read off a sorted list, at the cost of the changed files.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable

from medfeed.cachecodec import gc_paused
from medfeed.claimcounts import ClaimCounts, Footprint
from medfeed.errors import Problem
from medfeed.folderitems import FolderView, choose_items
from medfeed.identity import claim_of_file
from medfeed.models import SiteConfig
from medfeed.store import Changes, Item
from medfeed.storedentry import same_entry

BULK = 1000
"""Past this many changed files (and a quarter of all), every file is counted anew."""


def _order(item: Item) -> tuple[float, str]:
    return item.order


def _name(item: Item) -> str:
    return item.source.rsplit("/", 1)[-1]


class ItemChoice:
    """The items a live folder publishes, worked out from the files that changed.

    Callers say which files changed (``touch``, ``republished``) before asking
    (``choose``). Not thread-safe.
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
        self._claims = ClaimCounts()
        self._unknown: set[str] = set()
        """Files whose version in use names a category the site does not have."""
        self._problems: dict[str, tuple[Problem, ...]] = {}
        self._newest: int | None = None
        """The newest mtime of the versions in use, unless the one it was went."""
        self._last: tuple[Item, ...] | None = None
        """The last answer's items, unless every file was counted anew since."""
        self._decided: dict[str, Item | None] = {}
        """What the last answer published of each file the whole rules decided."""

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
        """What ``choose_items`` gives for ``view``, and how it differs from the last
        answer where that is known."""
        before = self._sync(view)
        involved = self._claims.crowding() | self._unknown | self._renamed(view)
        problems = [
            p for name, found in self._problems.items() if name not in involved for p in found
        ]
        decided: dict[str, Item | None] = {}
        if involved:
            published, found = choose_items(self._part(view, involved))
            problems += found
            decided = dict.fromkeys(involved)
            decided.update((_name(item), item) for item in published)
            ascending = list(self._ascending)
            for name in involved:
                current = self._current.get(name)
                if current is not None:
                    _take_out(ascending, current)
            for item in published:
                insort(ascending, item, key=_order)
            items = tuple(reversed(ascending))
        else:
            items = tuple(reversed(self._ascending))
        changes = None
        if self._last is not None and before is not None:
            changes = self._changes(self._last, before, decided)
        self._last, self._decided = items, decided
        return items, problems, changes

    def newest(self, since_ns: int) -> int:
        """The newest of ``since_ns`` (the folder's and site.toml's times) and the mtimes
        of the versions in use (valid or not published: a broken file changes nothing
        readers see until it is fixed), as last chosen from."""
        if self._newest is None:
            self._newest = max((item.modified_ns for item in self._current.values()), default=0)
        return max(since_ns, self._newest)

    # --- the answer -------------------------------------------------------------------

    def _part(self, view: FolderView, names: set[str]) -> FolderView:
        """``view`` of these files only: the whole rules over the files they concern."""
        labels = {name: view.label(name) for name in names}
        return FolderView(
            view.site,
            {name: view.files[name] for name in names if name in view.files},
            [name for name in view.vanished if name in names],
            {s: view.published[s] for s in labels.values() if s in view.published},
            {name: view.salvaged[name] for name in names if name in view.salvaged},
            view.label,
        )

    def _changes(
        self,
        base: tuple[Item, ...],
        before: dict[str, Item | None],
        decided: dict[str, Item | None],
    ) -> Changes:
        """How this answer differs from ``base``: ``before`` holds the versions in use
        the changed files had, and ``decided`` this answer's choices by the whole rules."""
        removed, added = [], []
        for name in {*before, *self._decided, *decided}:
            old = self._decided[name] if name in self._decided else before.get(name)
            if name not in self._decided and name not in before:
                old = self._current.get(name)
            new = decided[name] if name in decided else self._current.get(name)
            if old is not new:
                if old is not None:
                    removed.append(old)
                if new is not None:
                    added.append(new)
        return Changes(base, tuple(removed), tuple(added))

    def _renamed(self, view: FolderView) -> set[str]:
        """The vanished files whose version may live on under another name (an equal
        entry: renamed without an id; an equal id is a crowded claim), and those names."""
        found: set[str] = set()
        ascending = self._ascending
        for name in view.vanished:
            gone = self._current.get(name)
            if gone is None:
                continue
            moment = gone.published_at
            at = bisect_left(ascending, (moment, ""), key=_order)
            while at < len(ascending) and ascending[at].published_at == moment:
                other = ascending[at]
                if other is not gone and _alike(other, gone):
                    found.update((name, _name(other)))
                at += 1
        return found

    # --- bookkeeping ------------------------------------------------------------------

    def _sync(self, view: FolderView) -> dict[str, Item | None] | None:
        """Count the changed files again; the versions in use they had (None: every file
        was counted anew)."""
        if view.site is not self._site:
            self._site = view.site
            self._known = frozenset(c.slug for c in view.site.categories)
            self._dirty.update(self._current, self._prints, view.files)
        dirty, self._dirty = self._dirty, set()
        if len(dirty) > max(BULK, len(self._current) // 4):
            with gc_paused():  # start-up, or a new site.toml: 100,000 files, sorted once
                self._count_all(view)
            return None
        before = {}
        for name in dirty:
            before[name] = self._drop(name)
            if name in view.files:
                self._add(name, view, True)
        return before

    def _count_all(self, view: FolderView) -> None:
        self._current, self._prints, self._claims = {}, {}, ClaimCounts()
        self._unknown, self._problems, self._newest = set(), {}, None
        current, claims = self._current, self._claims
        published, label, known = view.published, view.label, self._known
        others = []
        # Most files: valid, no aliases, their id the one readers have, claiming what no
        # other file claims: counted in a tight loop, the others by _add.
        for name, state in view.files.items():
            item = state.item
            if (
                item is None
                or state.problems
                or (state.last_good is not None and state.last_good is not item)
                or item.head.aliases
                or not known.issuperset(item.head.categories)
            ):
                others.append(name)
                continue
            shown = published.get(label(name))
            if (shown is not None and shown.id != item.id) or not claims.claim_alone(
                name, item.id, item.slug
            ):
                others.append(name)
                continue
            current[name] = item
        for name in others:
            self._add(name, view, False)
        self._ascending = sorted(current.values(), key=_order)

    def _drop(self, name: str) -> Item | None:
        old = self._current.pop(name, None)
        footprint = self._prints.pop(name, None)
        if footprint is None and old is not None:
            footprint = ((old.id,), (old.slug,))
        if footprint is not None:
            self._claims.remove(name, footprint)
        self._unknown.discard(name)
        self._problems.pop(name, None)
        if old is not None:
            if old.modified_ns == self._newest:
                self._newest = None
            _take_out(self._ascending, old)
        return old

    def _add(self, name: str, view: FolderView, insert: bool) -> None:
        state = view.files[name]
        label = view.label(name)
        current = state.item or state.last_good
        if state.problems:
            self._problems[name] = state.problems
        ids: dict[str, None] = {}
        aliases: dict[str, None] = {}
        # What stands in for a version that breaks a rule claims too: the last valid one.
        for version in (current, state.last_good):
            if version is not None:
                ids[version.id] = None
                aliases.update(dict.fromkeys(version.head.aliases))
        if current is not None:
            self._current[name] = current
            if self._newest is not None and current.modified_ns > self._newest:
                self._newest = current.modified_ns
            if insert:
                insort(self._ascending, current, key=_order)
            if not self._known.issuperset(current.head.categories):
                self._unknown.add(name)
        published = view.published.get(label)
        if published is not None:
            # What readers have stands in for a version that breaks a rule: its aliases
            # are in play as much as its id.
            ids[published.id] = None
            aliases.update(dict.fromkeys(published.head.aliases))
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
        self._claims.add(name, footprint)


def _take_out(ascending: list[Item], item: Item) -> None:
    at = bisect_left(ascending, item.order, key=_order)
    if at < len(ascending) and ascending[at] is item:
        del ascending[at]
        return
    # Not where its order says (never expected): found by identity.
    for at, found in enumerate(ascending):
        if found is item:
            del ascending[at]
            return


def _alike(a: Item, b: Item) -> bool:
    """Whether two items hold the same entry (a file renamed without an id)."""
    return a.head == b.head and same_entry(a.stored, b.stored)
