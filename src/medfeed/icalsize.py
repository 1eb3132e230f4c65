"""How much of a calendar fits under MAX_FEED_BYTES: the feeds' size budget (budget.py)
applied to VEVENTs.

Where every event written in full would not fit, the DESCRIPTIONs of the oldest events
are shortened first (their summary cut as a feed's is), then the oldest past events are
left out; an event that is ongoing or still to come never is. A calendar reads no
clock (the same entries give the same bytes), so "past" is judged against the newest
publication among its entries, which the present is never before: an event is past
once its last day is over everywhere (in UTC-12, the last zone to end a day) by then.
The sizes are exact, each event's text being written (once per cut) to know it; of a
calendar of many more events than fit, only the newest are written (see budget.plan).
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Callable, Sequence
from datetime import date, timedelta

from medfeed.budget import Cut, fit
from medfeed.meta import MAX_FEED_BYTES

END = b"END:VCALENDAR\r\n"
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
DAY_OVER_EVERYWHERE = timedelta(days=1, hours=12)
"""From a day's start in UTC to its end in UTC-12, the last time zone to end it."""

EventText = Callable[[int, bool], bytes]
"""An event's VEVENT by its index in the calendar, with a shortened DESCRIPTION or not."""
HeldTexts = Callable[[Sequence[int], bool], "list[bytes | None]"]
"""The VEVENTs already written of events by their indexes, None for the others."""
CHUNK = 256
"""Events whose written texts are looked up at once: each costs a lookup, not a call,
and a calendar of 100,000 events looks only among its newest."""


def over_at(last: date) -> float:
    """When an event whose last day is ``last`` is over everywhere, as a POSIX time."""
    if date.max - last < DAY_OVER_EVERYWHERE:
        return float("inf")  # 31 December 9999 never ends here
    return calendar.timegm(last.timetuple()) + DAY_OVER_EVERYWHERE.total_seconds()


class _Written:
    """Each event's text for each cut, taken once in one rendering (the largest are
    not kept by ItemTexts), and their sizes as budget.Sizes wants them: by position in
    ``order``, newest first. Only the texts asked for are written."""

    def __init__(self, text: EventText, held: HeldTexts, order: Sequence[int], fixed: int) -> None:
        self._text = text
        self._held = held
        self._taken: tuple[list[bytes | None], list[bytes | None]] = (
            [None] * len(order),
            [None] * len(order),
        )
        self._looked: tuple[set[int], set[int]] = (set(), set())
        self._sizes: tuple[list[int], list[int]] = ([-1] * len(order), [-1] * len(order))
        """The texts' lengths, as the budget asks for them again and again."""
        self.order = order
        """Event indexes newest first, as the budget counts items."""
        self.feed = fixed

    def get(self, position: int, short: bool) -> bytes:
        taken = self._taken[short]
        found = taken[position]
        if found is None:
            start = position - position % CHUNK
            looked = self._looked[short]
            if start not in looked:
                looked.add(start)
                stop = min(start + CHUNK, len(taken))
                held = taken[start:stop] = self._held(self.order[start:stop], short)
                self._sizes[short][start:stop] = [-1 if t is None else len(t) for t in held]
                found = taken[position]
            if found is None:
                found = taken[position] = self._text(self.order[position], short)
                self._sizes[short][position] = len(found)
        return found

    def item(self, index: int, short: bool) -> int:
        size = self._sizes[short][index]
        return size if size >= 0 else len(self.get(index, short))

    def content(self, index: int) -> int:
        return 0  # a VEVENT has no content beside its DESCRIPTION


def still_on(newest: float) -> date:
    """The first last day of an event not over everywhere at ``newest`` (a POSIX time):
    ``over_at(last) > newest`` exactly where ``last`` is this day or later, so that the
    events of a calendar are told apart by comparing days."""
    # over_at(day) is the day's midnight in UTC plus DAY_OVER_EVERYWHERE: the first day
    # whose midnight is after newest - DAY_OVER_EVERYWHERE.
    cutoff = newest - DAY_OVER_EVERYWHERE.total_seconds()
    ordinal = _EPOCH_ORDINAL + math.floor(cutoff / 86_400)
    first = date.fromordinal(min(max(ordinal, 1), date.max.toordinal()))
    while first > date.min and over_at(first - timedelta(days=1)) > newest:
        first -= timedelta(days=1)
    while first < date.max and over_at(first) <= newest:
        first += timedelta(days=1)
    return first


def fit_calendar(
    head: bytes,
    spans: Sequence[tuple[date, date]],
    text: EventText,
    held: HeldTexts,
    newest: float,
    limit: int | None = None,
) -> bytes:
    """The calendar of these events (first and last days, in calendar order), with as
    much of them as fits in ``limit`` bytes (MAX_FEED_BYTES); ``newest`` is the newest
    publication time of its entries.

    Over the limit only if its ongoing and future events alone, shortened, are.
    """
    limit = MAX_FEED_BYTES if limit is None else limit
    count = len(spans)
    order = sorted(range(count), key=lambda i: (spans[i][1], spans[i][0], i), reverse=True)
    written = _Written(text, held, order, len(head) + len(END))
    size = written.feed
    for position in range(count):  # newest first: the events over the limit are never written
        size += written.item(position, False)
        if size > limit:
            break
    else:
        rank = sorted(range(count), key=order.__getitem__)
        return b"".join([head, *(written.get(position, False) for position in rank), END])
    # Newest first by last day: the events not yet over come before every past one.
    on = still_on(newest)
    keep = sum(1 for _, last in spans if last >= on)

    def render(cut: Cut) -> bytes:
        shown = sorted(range(cut.count), key=order.__getitem__)
        parts = [written.get(position, position >= cut.shortened_from) for position in shown]
        return b"".join([head, *parts, END])

    return fit(render, written, count, limit, keep)
