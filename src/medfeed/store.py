"""The entries folder as a whole: every valid entry as an Item, the rules that span
files, and the Catalog of what is published. Nothing here raises for bad content except
a broken site.toml, which stops start-up.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from medfeed.errors import EntryError, Problem
from medfeed.identity import Claim, alias_rules, gather, identity_rules, twice
from medfeed.item import Item as Item
from medfeed.item import build_item as build_item
from medfeed.item import calendar_key as calendar_key
from medfeed.item import event_days as event_days
from medfeed.models import SiteConfig
from medfeed.reading import (
    category_problems,
    validate_entry,
)
from medfeed.storedentry import AnyEntry
from medfeed.storedentry import head as head_of_any


@dataclass(frozen=True)
class Changes:
    """How a catalog's items differ from an earlier catalog's of the same folder: what
    lets the indexes and texts of the next content version follow only what changed."""

    base: tuple[Item, ...]
    """The earlier catalog's items."""
    removed: tuple[Item, ...]
    added: tuple[Item, ...]


@dataclass(frozen=True)
class Catalog:
    """Every valid entry of a folder (newest first), drafts too, and every problem found."""

    site: SiteConfig
    items: tuple[Item, ...]
    problems: tuple[Problem, ...]
    site_modified_ns: int = 0
    """When site.toml last changed."""
    changed_ns: int = 0
    """The newest change anywhere in the folder: its own mtime (files added, removed,
    renamed), site.toml's and every entry file's, published or not."""
    changes: Changes | None = field(default=None, compare=False, repr=False)
    """How ``items`` differ from the catalog made just before, where that is known."""

    @cached_property
    def aliases(self) -> dict[str, str]:
        """Earlier slugs and the slug of the entry each now names (collisions left out)."""
        return resolve_aliases(self.items)[0]

    def visible(self, now: datetime) -> tuple[Item, ...]:
        """The items readers see: not drafts, and their publication time has come."""
        moment = now.timestamp()
        return tuple(i for i in self.items if i.published_at <= moment and not i.head.draft)

    def next_release(self, now: datetime) -> datetime | None:
        """When the next scheduled item becomes visible, if any is waiting."""
        moment = now.timestamp()
        # Items are newest first: the scheduled ones are at the front, found by halving
        # (thousands may be scheduled), and the first to come is the last of them.
        items, low, high = self.items, 0, len(self.items)
        while low < high:
            middle = (low + high) // 2
            if items[middle].published_at <= moment:
                high = middle
            else:
                low = middle + 1
        for index in range(low - 1, -1, -1):
            if not items[index].head.draft:
                return items[index].head.published
        return None


FUTURE_UPDATE_LIMIT = timedelta(days=1)
"""How far ``updated`` may lie ahead of the clock (time-zone slips) before it is an error."""


def latest_update(now: datetime) -> datetime:
    """The latest ``updated`` an entry read at ``now`` may give (see ``time_problems``)."""
    return now + FUTURE_UPDATE_LIMIT


def time_problems(entry: AnyEntry, label: str, now: datetime) -> list[Problem]:
    """The rules about times that depend on when the file is read.

    A future ``published`` schedules an entry; a future ``updated`` cannot mean anything
    (a change that has not happened), so beyond a day of slack it is an error.
    """
    updated = head_of_any(entry).updated
    if updated is not None and updated > latest_update(now):
        message = (
            f"is in the future ({updated.isoformat()}); write when the entry was "
            "changed, or use published to schedule it"
        )
        return [Problem(label, "updated", message)]
    return []


def claim_of(item: Item) -> Claim:
    """Who a valid entry's file says it is."""
    return Claim(item.source, item.slug, item.id, tuple(enumerate(item.head.aliases)))


def resolve_aliases(items: Iterable[Item]) -> tuple[dict[str, str], list[Problem]]:
    """Map each entry's earlier slugs to its slug; an alias naming an entry, or claimed
    twice, is a problem and redirects nowhere (the entries themselves stay published)."""
    items = list(items)
    if not any(item.head.aliases for item in items):
        return {}, []  # the common case, on every change over every entry: one cheap loop
    return alias_rules([claim_of(item) for item in items])


def _order(item: Item) -> tuple[float, str]:
    return item.order


def assemble(
    site: SiteConfig,
    items: Iterable[Item],
    *,
    last_good: Mapping[str, Item] | None = None,
    published: Collection[tuple[str, str]] = (),
    broken: Iterable[Claim] = (),
) -> tuple[tuple[Item, ...], list[Problem]]:
    """Apply the rules that span files: known categories, unique ids and aliases.

    ``last_good`` (by source) stands in for an item that breaks a rule, and an id that
    two files claim stays with the file that had it in ``published`` ((id, source)
    pairs): a careless edit never unpublishes what readers already have. ``broken`` is
    what the files with problems say of themselves: they publish nothing, but an id or
    alias they share with another file is reported now rather than once they are fixed.
    """
    # This runs on every change over every entry: the common case stays a cheap loop.
    items = list(items)
    broken = list(broken)
    problems: list[Problem] = []
    known = frozenset(c.slug for c in site.categories)
    usable = []
    for item in items:
        if known.issuperset(item.head.categories):
            usable.append(item)
            continue
        problems.extend(category_problems(item.head.categories, item.source, known))
        fallback = (last_good or {}).get(item.source)
        if fallback is not None and known.issuperset(fallback.head.categories):
            usable.append(fallback)
    fallbacks = last_good or {}
    # An id stays with the file that published it for as long as that file exists,
    # whatever that file's current version says: chains of careless edits (a takes b's
    # id while b takes c's) then leave every file with what readers already have.
    present = {item.source for item in usable}
    owners = {claimed: source for claimed, source in published if source in present}
    settled = []
    for item in usable:
        owner = owners.get(item.id, item.source)
        if owner == item.source:
            settled.append(item)
            continue
        problems += twice(item.id, [item.source, owner])
        fallback = fallbacks.get(item.source)
        if (
            fallback is not None
            and owners.get(fallback.id, item.source) == item.source
            and known.issuperset(fallback.head.categories)
        ):
            settled.append(fallback)
    # Ids nobody published yet: two files naming the same one are both held back.
    first: dict[str, Item] = {}
    claims: dict[str, list[Item]] = {}
    for item in settled:
        holder = first.setdefault(item.id, item)
        if holder is not item:
            claims.setdefault(item.id, [holder]).append(item)
    kept = [item for item in settled if item.id not in claims] if claims else settled
    for claimed, claimants in claims.items():
        problems += twice(claimed, [item.source for item in claimants])
    kept.sort(key=_order, reverse=True)
    held_back = bool(problems)
    problems.extend(resolve_aliases(kept)[1])
    if broken or held_back:
        # What the files on disk say, those held back or with problems included: the
        # rules above see only the versions that are published.
        problems += _on_disk(items, broken)
    return tuple(kept), list(dict.fromkeys(problems))


def _on_disk(items: list[Item], broken: list[Claim]) -> list[Problem]:
    # identity_problems over every file, without a Claim made for each valid one: this
    # runs on every change for as long as a file has problems.
    replaced = {claim.source for claim in broken}
    ids: dict[str, list[str]] = {}
    slugs = {}
    renamed = []
    for item in items:
        if item.source in replaced:
            continue
        slugs[item.slug] = item.source
        ids.setdefault(item.id, []).append(item.source)
        if item.head.aliases:
            renamed.append(claim_of(item))
    gather(broken, ids, slugs, renamed)
    return identity_rules(ids, slugs, renamed)


def check_new_entry(data: dict[str, object], label: str, site: SiteConfig) -> list[Problem]:
    """The problems an entry about to be written would have."""
    try:
        entry = validate_entry(data, label)
    except EntryError as e:
        return list(e.problems)
    item = build_item(label.rsplit("/", 1)[-1].removesuffix(".json"), label, entry, site)
    return assemble(site, [item])[1]
