"""The history of one content version: its items by month of publication, the ones that
have left each current feed (what archive documents hold), each entry's neighbours, and
the events. Computed when first asked for, per category.
"""

from __future__ import annotations

from collections.abc import Mapping

from medfeed.store import Item

Month = tuple[int, int]


class History:
    """The visible items of the site and of each category, by month."""

    def __init__(
        self, items: tuple[Item, ...], by_category: Mapping[str, tuple[Item, ...]], limit: int
    ) -> None:
        self.items, self.by_category, self.limit = items, by_category, limit
        self._by_month: dict[str | None, dict[Month, tuple[Item, ...]]] = {}
        self._archives: dict[str | None, dict[Month, tuple[Item, ...]]] = {}
        self._positions: dict[str, int] | None = None
        self._years: dict[tuple[str | None, int], tuple[Item, ...]] = {}
        self._events: dict[str | None, tuple[Item, ...]] = {}

    def items_of(self, category: str | None) -> tuple[Item, ...]:
        """The visible items of a category (None: all), newest first."""
        return self.items if category is None else self.by_category[category]

    def events(self, category: str | None) -> tuple[Item, ...]:
        """The visible items of a category (None: all) that report an event, newest
        first: what its calendar shows, asked for several times a round."""
        found = self._events.get(category)
        if found is None:
            found = self._events[category] = tuple(
                item for item in self.items_of(category) if item.head.has_event
            )
        return found

    def _months(self, category: str | None) -> dict[Month, tuple[Item, ...]]:
        """Every visible item of the scope by month of publication, newest first."""
        found = self._by_month.get(category)
        if found is None:
            months: dict[Month, list[Item]] = {}
            for item in self.items_of(category):
                published = item.head.published
                months.setdefault((published.year, published.month), []).append(item)
            found = {month: tuple(items) for month, items in months.items()}
            self._by_month[category] = found
        return found

    def _archive(self, category: str | None) -> dict[Month, tuple[Item, ...]]:
        found = self._archives.get(category)
        if found is None:
            # Items that left the current feed, by month: each in exactly one document.
            window = set(map(id, self.items_of(category)[: self.limit]))
            found = {}
            for month, items in self._months(category).items():
                older = tuple(i for i in items if id(i) not in window)
                if older:
                    found[month] = older
            self._archives[category] = found
        return found

    def newest_archive_month(self, category: str | None) -> tuple[Month, ...]:
        """``archive_months(category)[:1]`` without sorting every item of the scope into
        months: the month of the newest item that left the current feed (months come in
        the order their items do)."""
        items = self.items_of(category)
        if len(items) <= self.limit:
            return ()
        published = items[self.limit].head.published
        return ((published.year, published.month),)

    def archive_months(self, category: str | None) -> tuple[Month, ...]:
        """Months, newest first, holding items of the scope that left its current feed."""
        return tuple(self._archive(category))

    def archived(self, category: str | None, month: Month) -> tuple[Item, ...]:
        """Those items of one month, newest first."""
        return self._archive(category).get(month, ())

    def period(self, category: str | None, year: int, month: int | None) -> tuple[Item, ...]:
        """Every visible item of the scope published in that year or month, newest first."""
        months = self._months(category)
        if month is not None:
            return months.get((year, month), ())
        found = self._years.get((category, year))
        if found is None:
            found = tuple(i for (y, _), items in months.items() if y == year for i in items)
            self._years[(category, year)] = found
        return found

    def neighbours(self, slug: str) -> tuple[Item | None, Item | None]:
        """The entries published just before and just after this one (site-wide)."""
        if self._positions is None:
            self._positions = {item.slug: index for index, item in enumerate(self.items)}
        index = self._positions[slug]
        older = self.items[index + 1] if index + 1 < len(self.items) else None
        return older, (self.items[index - 1] if index > 0 else None)

    def periods(self, category: str | None) -> list[tuple[Month, int]]:
        """Every month with visible items of the scope, newest first, with its count."""
        return [(month, len(items)) for month, items in self._months(category).items()]
