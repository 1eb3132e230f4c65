"""The indexes of a content version carried over from the previous one are the indexes
made anew from the whole catalog, whatever changed in between."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SITE_TOML
from medfeed.indexes import Indexes, make_indexes
from medfeed.models import Entry, SiteConfig
from medfeed.store import Catalog, Changes, Item

SITE = SiteConfig.model_validate(tomllib.loads(SITE_TOML))
T0 = datetime(2016, 9, 16, tzinfo=UTC)
SLUGS = [f"entry-{n}" for n in range(12)]


@st.composite
def versions(draw: st.DrawFn) -> dict[str, object]:
    """An entry file's data: few distinct times (ties, scheduled entries), drafts."""
    hours = draw(st.integers(-3, 3))
    offset = timezone(timedelta(hours=draw(st.sampled_from([0, 2, -5]))))
    published = (T0 + timedelta(hours=hours)).astimezone(offset)
    data: dict[str, object] = {
        "title": draw(st.sampled_from(["A", "B"])),
        "summary": "S.",
        "published": published.isoformat(),
        "categories": draw(st.lists(st.sampled_from(["visits", "conferences"]), min_size=1,
                                    max_size=2, unique=True)),
        "draft": draw(st.booleans()) and draw(st.booleans()),
    }  # fmt: skip
    if draw(st.booleans()):
        data["updated"] = (published + timedelta(hours=draw(st.integers(0, 2)))).isoformat()
    if draw(st.booleans()):  # few days: events that tie on both, told apart by id
        event = {"start": draw(st.sampled_from(["2015-10", "2015-10-20", "2015-10-31"]))}
        if draw(st.booleans()):
            event["end"] = "2015-11-02"
        data["event"] = event
    return data


Folder = dict[str, dict[str, object]]
FOLDERS = st.dictionaries(st.sampled_from(SLUGS), versions(), max_size=len(SLUGS))


def catalog_of(folder: Folder, kept: dict[str, tuple[dict[str, object], Item]]) -> Catalog:
    """A catalog of these files; an unchanged file keeps its item (as the live folder does)."""
    items = []
    for slug, data in folder.items():
        found = kept.get(slug)
        if found is None or found[0] != data:
            found = (data, Item(slug, f"{slug}.json", Entry.model_validate(data), slug))
            kept[slug] = found
        items.append(found[1])
    return Catalog(SITE, tuple(sorted(items, key=lambda i: i.order, reverse=True)), ())


def same(carried: Indexes, fresh: Indexes, *, newest: bool = True) -> None:
    assert carried.items == fresh.items
    assert all(a is b for a, b in zip(carried.items, fresh.items, strict=True))
    assert carried.hidden.keys() == fresh.hidden.keys()
    assert carried.by_slug == fresh.by_slug
    assert carried.by_category == fresh.by_category
    if newest:  # worked out when asked for: not asking leaves it to be carried unknown
        assert carried.newest_change is fresh.newest_change
        for category in (None, "visits", "conferences"):  # in calendar order, by identity
            events, expected = carried.calendar(category), fresh.calendar(category)
            assert [i.slug for i in events] == [i.slug for i in expected], category
            assert all(a is b for a, b in zip(events, expected, strict=True))


def told(catalog: Catalog, earlier: Catalog) -> Catalog:
    """``catalog`` saying how its items differ from ``earlier``'s, as the live folder's do."""
    before, after = set(map(id, earlier.items)), set(map(id, catalog.items))
    removed = tuple(i for i in earlier.items if id(i) not in after)
    added = tuple(i for i in catalog.items if id(i) not in before)
    return replace(catalog, changes=Changes(earlier.items, removed, added))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(FOLDERS, st.integers(-4, 4), st.booleans(), st.booleans()),
        min_size=1,
        max_size=5,
    )
)
def test_carried_indexes_are_the_indexes_made_anew(
    steps: list[tuple[Folder, int, bool, bool]],
) -> None:
    kept: dict[str, tuple[dict[str, object], Item]] = {}
    previous = None
    moment = T0.timestamp()
    for index, (folder, hours, ask, tell) in enumerate(steps):
        # Time goes on (scheduled entries are released), or back (a clock set back).
        moment += hours * 3600
        catalog = catalog_of(folder, kept)
        if tell and previous is not None:
            catalog = told(catalog, previous.catalog)
        carried = make_indexes(catalog, moment, previous)
        same(carried, make_indexes(catalog, moment), newest=ask or index == len(steps) - 1)
        if previous is not None and carried.new is not None:  # what a version came by
            before = set(map(id, previous.items))
            came = sorted(id(item) for item in carried.items if id(item) not in before)
            assert sorted(map(id, carried.new)) == came
        previous = carried


@settings(max_examples=200, deadline=None)
@given(FOLDERS, st.integers(-4, 4))
def test_the_next_release_is_the_first_scheduled_entry_that_is_not_a_draft(
    folder: Folder, hours: int
) -> None:
    catalog = catalog_of(folder, {})
    now = T0 + timedelta(hours=hours, minutes=30)
    waiting = [
        i.entry.published for i in catalog.items if i.entry.published > now and not i.entry.draft
    ]
    assert catalog.next_release(now) == min(waiting, default=None)
