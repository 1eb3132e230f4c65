"""How medfeed words dates and places for people: the same on pages, in feed items and in
calendars. Pure functions of the entry's facts; English, whatever the process's locale.
"""

from __future__ import annotations

import html
from datetime import datetime, time

from medfeed.fields import PartialDate
from medfeed.models import Entry, Event, Location

MONTHS = tuple(
    "January February March April May June July August September October November December".split()
)
"""English month names, fixed: ``%B`` would follow the process's locale."""
DASH = "\u2013"
"""The en dash of every range a page shows."""

Piece = tuple[str, PartialDate | None]
"""Text a page shows, and the date it stands for (None for connecting words)."""


def date_label(when: PartialDate) -> str:
    """A date as a page shows it: ``12 October 2015``, or ``October 2015`` for a month."""
    month = f"{MONTHS[when.month - 1]} {when.year}"
    return month if when.day is None else f"{when.day} {month}"


def format_day(moment: datetime) -> str:
    """A time as a page shows its day, in the offset it was written with."""
    return date_label(PartialDate(moment.year, moment.month, moment.day))


def published_on(entry: Entry) -> PartialDate:
    """The date a page gives for an entry's publication: its day, or only its month.

    An entry known only to a month is published, for want of a day, at midnight starting
    the 1st of that month. So a publication at exactly 00:00:00 on the 1st (in the offset
    it was written with) of an entry whose event starts in that month, known only to the
    month, shows as that month. Any other publication shows its day.
    """
    moment, event = entry.published, entry.event
    month = PartialDate(moment.year, moment.month)
    if event is not None and event.start == month and moment.day == 1 and moment.time() == time():
        return month
    return PartialDate(moment.year, moment.month, moment.day)


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def date_pieces(start: PartialDate, end: PartialDate | None) -> tuple[Piece, ...]:
    if end is None or end == start:
        return ((date_label(start), start),)
    if (start.year, start.month) == (end.year, end.month):
        month = date_label(PartialDate(start.year, start.month))
        if start.day is not None and end.day is not None:
            return (str(start.day), start), (DASH, None), (f"{end.day} {month}", end)
        # One end known to the day, the other only to this month: the month, qualified.
        if start.day is not None:
            return (month, end), (" (from the ", None), (_ordinal(start.day), start), (")", None)
        assert end.day is not None  # equal months without days are equal dates
        return (month, start), (" (until the ", None), (_ordinal(end.day), end), (")", None)
    if start.year == end.year:
        # The year is said once, after the range: "30 September – 2 October 2015".
        left = date_label(start).removesuffix(f" {start.year}")
        right = date_label(end).removesuffix(f" {end.year}")
        shared = f" {end.year}"
    else:
        left, right, shared = date_label(start), date_label(end), ""
    # Closed between single words ("June–July"), spaced where a side has a space.
    dash = DASH if " " not in left + right else f" {DASH} "
    return (left, start), (dash, None), (right + shared, end)


def event_dates(event: Event) -> str:
    """An event's dates as compact text: ``12–13 October 2015``, ``June–July 2016``."""
    return "".join(text for text, _ in date_pieces(event.start, event.end))


def event_place(location: Location) -> str:
    """Where an event was, with its country unless the place already names it."""
    country = location.country.strip().casefold()
    # Most places do not name the country at all: one search rules that out.
    if country in location.place.casefold() and any(
        part.strip().casefold() == country for part in location.place.split(",")
    ):
        return location.place
    return f"{location.place}, {location.country}"


def event_line(event: Event) -> str:
    """An event in one line of text: ``12–13 October 2015, Jerusalem, Israel``."""
    where = f", {event_place(event.location)}" if event.location else ""
    return f"{event_dates(event)}{where}"


def item_notes(entry: Entry) -> tuple[str, str]:
    """The HTML every feed format puts around an item's content: the event before it (so
    readers that show only content show the event), the outside source after it."""
    before = after = ""
    if entry.event is not None:
        before = f"<p>Event: {html.escape(event_line(entry.event))}</p>\n"
    if entry.link:
        source = html.escape(str(entry.link))
        after = f'\n<p>Source: <a href="{source}">{source}</a></p>'
    return before, after
