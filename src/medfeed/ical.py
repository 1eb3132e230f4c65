"""Render the items that have an event as an iCalendar feed (RFC 5545, RFC 7986).

The lines are written here, not by the icalendar package: icalendar 7.3 escapes TEXT by
first turning a literal backslash-N into a line break (``C:\\Network`` comes back as two
lines) and writes NAME unescaped, and the rest of a calendar is a few fixed formats.

Rules that calendar publishers often get wrong, and how they are kept:
- all-day events are ``VALUE=DATE`` with an exclusive DTEND (the day after the last);
- a date known only to the month covers that whole month, and the DESCRIPTION says so;
- no METHOD: this is a subscribed calendar, not an invitation;
- no clock: DTSTAMP, LAST-MODIFIED and SEQUENCE come from the item (see ``revised_at``);
- TEXT values escape backslash, semicolon, comma and line breaks, UID included (a tag
  URI holds a comma); lines end in CRLF and fold at 75 octets between characters.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from medfeed.budget import SUMMARY_CHARS, shorten
from medfeed.fields import PartialDate
from medfeed.icalsize import Fitted, fit_calendar
from medfeed.itemtexts import ItemTexts
from medfeed.models import Event
from medfeed.store import Item, calendar_key, event_days
from medfeed.urls import absolute, entry_path
from medfeed.wording import date_label as wording_label
from medfeed.wording import event_place

MEDIA_TYPE = "text/calendar; charset=utf-8"
PRODID = "-//medfeed//medfeed calendar//EN"
LINE_OCTETS = 75
"""RFC 5545 3.1: no line longer than this, not counting its CRLF."""
MAX_SEQUENCE = 2**31 - 1
"""SEQUENCE is an RFC 5545 INTEGER: a signed 32-bit number."""
SEQUENCE_SECONDS = 60
"""SEQUENCE counts minutes: seconds would overflow 32 bits 68 years after publication."""
ONE_DAY = timedelta(days=1)
ONE_SECOND = timedelta(seconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CalendarMeta:
    """What a calendar says about itself; every URL already absolute."""

    name: str
    description: str
    base_url: str
    self_url: str
    page_url: str
    language: str
    refresh_seconds: int
    """How often clients should fetch it again: the site's cache max-age; 0 gives no hint."""
    category_titles: Mapping[str, str] = field(default_factory=dict)


def escape_text(value: str) -> str:
    """A TEXT value escaped as RFC 5545 3.3.11 asks; any line break becomes ``\\n``."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """One content line folded into CRLF-ended lines of at most 75 octets each.

    A fold never splits a character's UTF-8 bytes, nor a backslash from the character it
    escapes: some parsers misread an escape that a fold cuts in two.
    """
    if line.isascii():
        return line + "\r\n" if len(line) <= LINE_OCTETS else _fold_ascii(line)
    if len(line.encode()) <= LINE_OCTETS:
        return line + "\r\n"
    return fold_characters(line)


def _fold_ascii(line: str) -> str:
    # One octet a character: the lines are slices, 75 characters, then 74 after the space.
    # No line ends in a backslash that escapes what follows (one of an odd run: a line
    # never starts in the middle of an escape, so the run's parity within it is enough).
    pieces = []
    start, width, size = 0, LINE_OCTETS, len(line)
    while size - start > width:
        end = start + width
        if line[end - 1] == "\\":
            piece = line[start:end]
            if (len(piece) - len(piece.rstrip("\\"))) % 2:
                end -= 1
        pieces.append(line[start:end])
        start, width = end, LINE_OCTETS - 1
    pieces.append(line[start:])
    return "\r\n ".join(pieces) + "\r\n"


def fold_characters(line: str) -> str:
    """``fold`` for any line, a character at a time (lines with non-ASCII characters)."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    escaped = False
    for char in line:
        octets = 1 if char < "\x80" else len(char.encode())
        # Continuation lines start with a space, which counts towards their length.
        if size + octets > LINE_OCTETS:
            keep = [current.pop()] if escaped else []
            pieces.append("".join(current))
            current, size = [" ", *keep], 1 + len(keep)
        current.append(char)
        size += octets
        escaped = char == "\\" and not escaped
    pieces.append("".join(current))
    return "\r\n".join(pieces) + "\r\n"


def _line(name: str, text: str, /, **params: str) -> str:
    head = "".join(f";{key.upper()}={value}" for key, value in params.items())
    return fold(f"{name}{head}:{text}")


def _day(value: date) -> str:
    # Not strftime: its %Y leaves years before 1000 unpadded, and DATE is 8 digits.
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def _utc(seconds: int) -> str:
    at = datetime.fromtimestamp(seconds, UTC)
    return f"{_day(at)}T{at.hour:02d}{at.minute:02d}{at.second:02d}Z"


def _posix_seconds(moment: datetime) -> int:
    # Whole seconds, floored, before 1970 too.
    return (moment - EPOCH) // ONE_SECOND


def revised_at(item: Item) -> int:
    """When the item last changed, in whole POSIX seconds: its DTSTAMP and LAST-MODIFIED.

    The later of the entry's ``updated`` (else ``published``) and the file's mtime: an
    edit rewrites the file, so the time moves even where the editor left ``updated``
    alone, and it never falls behind what the entry itself says. No clock is read, so
    the same item always gives the same time. (A checkout that gives the file a newer
    mtime moves it too, which only makes clients fetch the event again.)
    """
    return max(_posix_seconds(item.head.last_changed), item.modified_ns // 1_000_000_000)


def sequence(item: Item, revised: int | None = None) -> int:
    """The SEQUENCE: whole minutes from publication to ``revised_at`` (``revised``, where
    worked out already).

    It grows with every revision that lands in a later minute, without stored state;
    within a minute clients order revisions by DTSTAMP, as RFC 5546 allows.
    """
    since = revised_at(item) if revised is None else revised
    minutes = (since - _posix_seconds(item.head.published)) // SEQUENCE_SECONDS
    return min(max(minutes, 0), MAX_SEQUENCE)


def date_label(day: date, precise: bool = True) -> str:
    """A day in English words, ``12 October 2015``, or only its month: ``October 2015``."""
    return wording_label(PartialDate(day.year, day.month, day.day if precise else None))


def date_note(event: Event) -> str:
    """What a calendar should say about dates known only to the month, else ''."""
    end = event.end if event.end is not None else event.start
    ends = (event.start,) if end == event.start else (event.start, end)
    rough = [part.day is None for part in ends]
    if not any(rough):
        return ""
    if len(ends) == 1:
        when = date_label(event.start.first_day, precise=False)
        return f"Date known to the month only: {when}; shown as the whole month."
    first, last = event.days
    given = " to ".join(date_label(p.first_day, p.day is not None) for p in ends)
    known = "to the month only" if all(rough) else "only in part"
    shown = f"{date_label(first)} to {date_label(last)}"
    return f"Dates known {known}: {given}; shown from {shown}."


def _float(value: float) -> str:
    # RFC 5545 FLOAT has no exponent: repr() would write 1e-05.
    return f"{value:.6f}"


def _event_text(item: Item, event: Event, meta: CalendarMeta, short: bool) -> str:
    # One event's lines, the fixed ones written whole: their values are never near 75
    # octets (dates, times, counts), so they need no folding.
    entry = item.entry
    first, last = event.days
    seconds = revised_at(item)
    revised = _utc(seconds)
    if last < date.max:
        span = f"DTEND;VALUE=DATE:{_day(last + ONE_DAY)}"
    else:
        # The day after 31 December 9999 has no DATE: the same span as a duration.
        span = f"DURATION:P{(last - first).days + 1}D"
    language = f";LANGUAGE={meta.language}"
    note = date_note(event)
    summary = shorten(entry.summary) if short else entry.summary
    description = f"{note}\n\n{summary}" if note else summary
    lines = [
        "BEGIN:VEVENT\r\n",
        fold(f"UID:{escape_text(item.id)}"),
        # Without METHOD, DTSTAMP is when the event last changed (RFC 5545 3.8.7.2).
        f"DTSTAMP:{revised}\r\nDTSTART;VALUE=DATE:{_day(first)}\r\n{span}\r\n"
        f"SEQUENCE:{sequence(item, seconds)}\r\nLAST-MODIFIED:{revised}\r\n",
        fold(f"SUMMARY{language}:{escape_text(entry.title)}"),
        fold(f"DESCRIPTION{language}:{escape_text(description)}"),
    ]
    location = event.location
    if location is not None:
        lines.append(fold(f"LOCATION{language}:{escape_text(event_place(location))}"))
        if location.latitude is not None and location.longitude is not None:
            lines.append(fold(f"GEO:{_float(location.latitude)};{_float(location.longitude)}"))
    titles = (meta.category_titles.get(slug, slug) for slug in entry.categories)
    lines += [
        fold(f"URL:{absolute(meta.base_url, entry_path(item.slug))}"),
        fold(f"CATEGORIES:{','.join(escape_text(title) for title in titles)}"),
        # News of an event is not an appointment: subscribers are not shown as busy.
        "TRANSP:TRANSPARENT\r\nEND:VEVENT\r\n",
    ]
    return "".join(lines)


def _calendar_lines(meta: CalendarMeta) -> Iterator[str]:
    yield "BEGIN:VCALENDAR\r\n"
    yield _line("VERSION", "2.0")
    yield _line("PRODID", escape_text(PRODID))
    yield _line("CALSCALE", "GREGORIAN")
    # RFC 7986 names, and the X-WR- forms for the clients that predate it.
    name, description = escape_text(meta.name), escape_text(meta.description)
    yield _line("NAME", name, language=meta.language)
    yield _line("X-WR-CALNAME", name)
    yield _line("DESCRIPTION", description, language=meta.language)
    yield _line("X-WR-CALDESC", description)
    yield _line("URL", meta.page_url)
    yield _line("SOURCE", meta.self_url, value="URI")
    if meta.refresh_seconds > 0:
        # A zero interval would ask clients to poll without pause: no hint instead.
        every = f"PT{meta.refresh_seconds}S"
        yield _line("REFRESH-INTERVAL", every, value="DURATION")
        yield _line("X-PUBLISHED-TTL", every)


def render_calendar(
    items: Sequence[Item],
    meta: CalendarMeta,
    texts: ItemTexts | None = None,
    limit: int | None = None,
    events: Sequence[Item] | None = None,
) -> bytes:
    """Render every item with an event as a VEVENT of one calendar, as UTF-8 bytes.

    Events run by first day, last day, id (``calendar_key``; ``events``: those of
    ``items`` so sorted, where the caller holds them). No clock, no random UIDs; with no
    events, no components. Each VEVENT is written once per content version and cut
    (``texts``, which keeps each calendar as fitted for the next version's). Under
    ``limit`` (MAX_FEED_BYTES): the oldest events' descriptions are shortened, then the
    oldest past events left out (see icalsize); ongoing and future events always stay.
    """
    written = ItemTexts() if texts is None else texts
    context = (meta.base_url, meta.language, tuple(meta.category_titles.items()))
    # Ordered by their heads: an entry is read back only to write its VEVENT.
    if events is None:
        events = sorted((item for item in items if item.head.has_event), key=calendar_key)

    def lines(item: Item, short: bool) -> bytes:
        event = item.entry.event
        assert event is not None
        return _event_text(item, event, meta, short).encode()

    def text(index: int, short: bool) -> bytes:
        item = events[index]

        def whole() -> bytes:
            return written.text(context, item, "ics", True, False, lambda: lines(item, False))

        def shortened() -> bytes:
            # A summary that shortening leaves whole has one text: the full one.
            return whole() if len(item.entry.summary) <= SUMMARY_CHARS else lines(item, True)

        return written.text(context, item, "ics", True, True, shortened) if short else whole()

    def held(indexes: Sequence[int], short: bool) -> list[bytes | None]:
        return written.held(context, [events[index] for index in indexes], ("ics", True, short))

    head = "".join(_calendar_lines(meta)).encode()
    spans = [event_days(item) for item in events]
    newest = max((item.published_at for item in items), default=0.0)
    name = (context, meta.self_url)
    fitted = found if isinstance(found := written.fitted.get(name), Fitted) else None
    body, done = fit_calendar(head, spans, text, held, newest, limit, fitted, events)
    written.fitted[name] = done
    return body
