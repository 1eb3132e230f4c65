"""The history of a content version: months, archives, neighbours, and the shortcuts the
live publisher takes on every change agreeing with the whole computation."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import items_of, valid_entries
from medfeed.history import History


@settings(max_examples=150, deadline=None)
@given(st.lists(valid_entries(), max_size=12), st.integers(1, 6))
def test_the_newest_archive_month_is_the_first_of_the_archive_months(
    data: list[dict[str, Any]], limit: int
) -> None:
    # Times with any offset: an entry's month is the one of its own date, which need not
    # follow the order of publication instants at a month's edge.
    items = tuple(items_of(data))
    by_category = {
        slug: tuple(i for i in items if slug in i.entry.categories)
        for slug in ("visits", "conferences")
    }
    history = History(items, by_category, limit)
    for scope in (None, "visits", "conferences"):
        assert history.newest_archive_month(scope) == history.archive_months(scope)[:1]
