"""The indexes of one content version's visible items: in order, by slug, by category, and
the one changed last. Made from the whole catalog once, then carried over from the
previous version with what changed: an edit costs the edited entries and the categories
they are in, not a pass over every entry (at 100,000 entries each pass over them all
costs milliseconds, most of them waiting on memory).
"""

from __future__ import annotations

import math
import operator
from bisect import bisect, bisect_left
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from medfeed.store import Catalog, Item, calendar_key
from medfeed.stretch import alike_ends

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

CARRY_AT_MOST = 256
"""Past this many entries added or removed, the indexes are made anew from the catalog."""


def _order(item: Item) -> tuple[float, str]:
    return item.order


_changed_at = operator.attrgetter("changed_at", "order")
"""The key of the newest change (in C: a pass over every item). Ties (equal instants
written with other offsets) go to the newer entry, so that the choice does not depend
on the order items were looked at."""


def _with(items: tuple[Item, ...], new: Iterable[Item]) -> tuple[Item, ...]:
    """``items`` (newest first) with ``new`` put in their places."""
    return _replaced(items, (), new)


def _replaced(
    items: tuple[Item, ...], gone: Collection[Item], new: Iterable[Item]
) -> tuple[Item, ...]:
    """``items`` (newest first) less ``gone``, with ``new`` put in their places."""
    return tuple(reversed(_rearranged(reversed(items), gone, new, _order)))


def _rearranged(
    ascending: Iterable[Item],
    gone: Collection[Item],
    new: Iterable[Item],
    key: Callable[[Item], SupportsRichComparison],
) -> list[Item]:
    """Items in ascending ``key`` order less ``gone``, with ``new`` put in their places:
    each found by halving, so that the cost is copying the references, not looking at
    items."""
    ordered = list(ascending)
    for item in gone:
        at = bisect_left(ordered, key(item), key=key)
        if at < len(ordered) and ordered[at] is item:
            del ordered[at]
        else:  # not where its order says (an item met twice): by identity
            ordered = [other for other in ordered if other is not item]
    for item in sorted(new, key=key):
        ordered.insert(bisect(ordered, key(item), key=key), item)
    return ordered


@dataclass(frozen=True)
class Indexes:
    """The visible items of a catalog at one moment, and their indexes."""

    catalog: Catalog
    items: tuple[Item, ...]
    """Visible (not drafts, released), newest first."""
    hidden: dict[int, Item]
    """The catalog's items that are not visible, by id: drafts and scheduled entries."""
    by_slug: dict[str, Item]
    by_category: dict[str, tuple[Item, ...]]
    known_newest: Item | None
    """The visible item changed last, where known without a pass over every item."""
    moment: float
    """The moment (POSIX seconds) the items are visible at."""
    newest_known: bool = True
    next_release: float = math.inf
    """When the first hidden entry that is not a draft is published (POSIX seconds)."""
    new: tuple[Item, ...] | None = None
    """The visible items the previous version did not have (edited, added or released),
    where these indexes were carried over from it; None where they were made anew."""
    calendars: dict[str | None, tuple[Item, ...]] = field(default_factory=dict)
    """The items with an event of each category (None: all) asked for, in calendar order."""

    def calendar(self, category: str | None) -> tuple[Item, ...]:
        """The visible items of a category (None: all) that report an event, in the
        order of a calendar (``calendar_key``): sorted when first asked for, then
        carried over from version to version with what changed."""
        found = self.calendars.get(category)
        if found is None:
            items = self.items if category is None else self.by_category[category]
            events = (item for item in items if item.head.has_event)
            found = self.calendars[category] = tuple(sorted(events, key=calendar_key))
        return found

    @cached_property
    def newest_change(self) -> Item | None:
        """The visible item changed last (its ``updated``, else ``published``): worked
        out when first asked for where an edit took the one that was."""
        if self.newest_known:
            return self.known_newest
        return max(self.items, key=_changed_at) if self.items else None

    def _newest_if_known(self) -> tuple[Item | None, bool]:
        if self.newest_known or "newest_change" in self.__dict__:
            return self.newest_change, True
        return None, False


def _visible(item: Item, moment: float) -> bool:
    return item.published_at <= moment and not item.head.draft


def _release(item: Item) -> float:
    """When a hidden item becomes visible: its publication, or never for a draft."""
    return math.inf if item.head.draft else item.published_at


def make_indexes(catalog: Catalog, moment: float, previous: Indexes | None = None) -> Indexes:
    """The indexes of ``catalog`` at ``moment`` (POSIX seconds), carried over from
    ``previous`` (of an earlier catalog of the same folder) where that is cheaper."""
    if (
        previous is not None
        and moment >= previous.moment  # released entries only ever become visible
        and previous.catalog.site == catalog.site
    ):
        carried = _carried(catalog, moment, previous)
        if carried is not None:
            return carried
    items = tuple(i for i in catalog.items if _visible(i, moment))
    hidden: dict[int, Item] = {}
    if len(items) < len(catalog.items):
        shown = set(map(id, items))
        hidden = {id(i): i for i in catalog.items if id(i) not in shown}
    members: dict[str, list[Item]] = {c.slug: [] for c in catalog.site.categories}
    for item in items:
        for slug in item.head.categories:
            members[slug].append(item)
    return Indexes(
        catalog,
        items,
        hidden,
        {item.slug: item for item in items},
        {slug: tuple(found) for slug, found in members.items()},
        max(items, key=_changed_at) if items else None,
        moment,
        next_release=min(map(_release, hidden.values()), default=math.inf),
    )


def _delta(old: tuple[Item, ...], new: tuple[Item, ...]) -> tuple[list[Item], list[Item]]:
    """The items of ``old`` not in ``new`` and those of ``new`` not in ``old``, by identity.

    Both are sorted alike and mostly the same objects: only the stretch between the first
    and the last position where they differ is looked at (see stretch)."""
    start, tail = alike_ends(old, new)
    old_part, new_part = old[start : len(old) - tail], new[start : len(new) - tail]
    old_ids, new_ids = set(map(id, old_part)), set(map(id, new_part))
    return (
        [item for item in old_part if id(item) not in new_ids],
        [item for item in new_part if id(item) not in old_ids],
    )


def _carried(catalog: Catalog, moment: float, previous: Indexes) -> Indexes | None:
    changes = catalog.changes
    if changes is not None and changes.base is previous.catalog.items:
        removed, added = list(changes.removed), list(changes.added)
    else:
        removed, added = _delta(previous.catalog.items, catalog.items)
    if len(removed) + len(added) > CARRY_AT_MOST:
        return None
    # Entries that were hidden may be released (or were deleted); added ones may be drafts.
    hidden = previous.hidden
    if removed or added:
        hidden = dict(hidden)
        for item in removed:
            hidden.pop(id(item), None)
        hidden.update((id(item), item) for item in added if not _visible(item, moment))
    # Only once the first scheduled entry's time has come are the hidden looked at (a
    # deleted one may have been the first: then they are looked at a little early).
    released = []
    coming = min([previous.next_release, *(_release(i) for i in added if id(i) in hidden)])
    if moment >= coming:
        hidden = dict(hidden)
        released = [item for item in hidden.values() if _visible(item, moment)]
        for item in released:
            del hidden[id(item)]
        coming = min(map(_release, hidden.values()), default=math.inf)
    gone = [item for item in removed if id(item) not in previous.hidden]
    new = [item for item in added if id(item) not in hidden] + released
    items = _replaced(previous.items, gone, new) if gone or new else previous.items
    by_slug = previous.by_slug
    if gone or new:
        by_slug = dict(by_slug)
        for item in gone:
            if by_slug.get(item.slug) is item:
                del by_slug[item.slug]
        by_slug.update((item.slug, item) for item in new)
    by_category = dict(previous.by_category)
    touched = {slug for item in (*gone, *new) for slug in item.head.categories}
    for slug in touched:
        if slug in by_category:
            by_category[slug] = _replaced(
                by_category[slug],
                [i for i in gone if slug in i.head.categories],
                [i for i in new if slug in i.head.categories],
            )
    calendars = {
        category: _calendar_carried(events, category, gone, new)
        if category is None or category in touched
        else events
        for category, events in previous.calendars.items()
        if category is None or category in by_category
    }
    newest, known = previous._newest_if_known()
    if known and newest is not None and any(item is newest for item in gone):
        known = False  # the entry changed last was edited or left: found when needed
    elif known and new:
        newest = max([newest, *new] if newest is not None else new, key=_changed_at)
    return Indexes(
        catalog, items, hidden, by_slug, by_category, newest, moment, known, coming, tuple(new),
        calendars,
    )  # fmt: skip


def _calendar_carried(
    events: tuple[Item, ...], category: str | None, gone: list[Item], new: list[Item]
) -> tuple[Item, ...]:
    def shown(item: Item) -> bool:
        return item.head.has_event and (category is None or category in item.head.categories)

    gone, new = [item for item in gone if shown(item)], [item for item in new if shown(item)]
    return tuple(_rearranged(events, gone, new, calendar_key)) if gone or new else events
