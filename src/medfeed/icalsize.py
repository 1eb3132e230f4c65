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
from typing import NamedTuple

from medfeed.budget import Cut, fit
from medfeed.meta import MAX_FEED_BYTES
from medfeed.stretch import alike_ends

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


class Fitted(NamedTuple):
    """A calendar as it was last fitted, kept for the next content version's: its events
    (compared by identity), their days, the order the budget counts them in, and the
    texts taken of each (whole, shortened; None where none was), by event."""

    events: Sequence[object]
    spans: Sequence[tuple[date, date]]
    order: list[int]
    texts: tuple[list[bytes | None], list[bytes | None]]


def _kept_texts(before: Fitted, events: Sequence[object]) -> tuple[list[bytes | None], ...]:
    """``before``'s texts of the events that are still where they were, the same objects,
    before and after the stretch that changed (see stretch); None for the rest."""
    start, tail = alike_ends(before.events, events)
    middle: list[bytes | None] = [None] * (len(events) - start - tail)
    end = len(before.events) - tail
    return tuple(texts[:start] + middle + texts[end:] for texts in before.texts)


class _Written:
    """Each event's text for each cut, taken once in one rendering (the largest are
    not kept by ItemTexts), or from the calendar fitted before for the events it had
    (``kept``), and their sizes as budget.Sizes wants them: by position in ``order``,
    newest first. Only the texts asked for are written."""

    def __init__(
        self,
        text: EventText,
        held: HeldTexts,
        order: Sequence[int],
        fixed: int,
        kept: tuple[list[bytes | None], ...] | None = None,
    ) -> None:
        self._text = text
        self._held = held
        count = len(order)
        whole, short = kept or ([None] * count, [None] * count)
        self.taken = (whole, short)
        """The texts taken, by event (not position)."""
        self._looked: tuple[set[int], set[int]] = (set(), set())
        self.order = order
        """Event indexes newest first, as the budget counts items."""
        self.feed = fixed

    def get(self, position: int, short: bool) -> bytes:
        taken, order = self.taken[short], self.order
        found = taken[order[position]]
        if found is None:
            start = position - position % CHUNK
            looked = self._looked[short]
            if start not in looked:
                looked.add(start)
                stop = min(start + CHUNK, len(order))
                indexes = order[start:stop]
                for index, held in zip(indexes, self._held(indexes, short), strict=True):
                    if held is not None and taken[index] is None:
                        taken[index] = held
                found = taken[order[position]]
            if found is None:
                found = taken[order[position]] = self._text(order[position], short)
        return found

    def item(self, index: int, short: bool) -> int:
        found = self.taken[short][self.order[index]]
        return len(found) if found is not None else len(self.get(index, short))

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
    fitted: Fitted | None = None,
    events: Sequence[object] = (),
) -> tuple[bytes, Fitted]:
    """The calendar of these events (first and last days, in calendar order), with as
    much of them as fits in ``limit`` bytes (MAX_FEED_BYTES); ``newest`` is the newest
    publication time of its entries. And the calendar as fitted, so that the next
    version's (``fitted``) takes the texts of the same ``events`` (compared by identity)
    from it, not by looking each up: an edit then costs a few events, not 20,000 lookups.

    Over the limit only if its ongoing and future events alone, shortened, are.
    """
    limit = MAX_FEED_BYTES if limit is None else limit
    count = len(spans)
    if fitted is not None and fitted.spans == spans:
        order = fitted.order  # the same days: the same order (an edit of other fields)
    else:
        order = sorted(range(count), key=lambda i: (spans[i][1], spans[i][0], i), reverse=True)
    kept = _kept_texts(fitted, events) if fitted is not None and events else None
    written = _Written(text, held, order, len(head) + len(END), kept)
    done = Fitted(events, spans, order, written.taken)
    size = written.feed
    for position in range(count):  # newest first: the events over the limit are never written
        size += written.item(position, False)
        if size > limit:
            break
    else:
        rank = sorted(range(count), key=order.__getitem__)
        return b"".join([head, *(written.get(position, False) for position in rank), END]), done
    # Newest first by last day: the events not yet over come before every past one.
    on = still_on(newest)
    keep = sum(1 for _, last in spans if last >= on)

    def render(cut: Cut) -> bytes:
        shown = sorted(range(cut.count), key=order.__getitem__)
        parts = [written.get(position, position >= cut.shortened_from) for position in shown]
        return b"".join([head, *parts, END])

    return fit(render, written, count, limit, keep), done
