"""Calendars stay under MAX_FEED_BYTES whatever the entries hold: descriptions shortened
oldest first, then the oldest past events left out, never an ongoing or future one; valid
for icalendar and vobject, byte-identical for the same entries, each text written once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, date, datetime, time, timedelta

import icalendar
import pytest
from flask import Flask
from hypothesis import example, given, settings
from hypothesis import strategies as st

from conftest import WriteEntry
from medfeed.budget import SUMMARY_CHARS, shorten
from medfeed.ical import render_calendar
from medfeed.icalsize import over_at, still_on
from medfeed.itemtexts import LARGEST, ItemTexts
from medfeed.meta import MAX_FEED_BYTES
from medfeed.store import Item
from test_ical import META, Parsed, check_lines, make_item

NEWEST = datetime(2020, 6, 15, 6, tzinfo=UTC)
"""The newest publication of the calendars below: the present is never before it."""
DAY = timedelta(days=1)


def summary_of(slug: str, size: int) -> str:
    """About ``size`` characters of text that escaping and folding touch, ending in a marker."""
    unit = "Talks, visits; a path C:\\News and\na new line. "
    return (unit * (size // len(unit) + 1))[: max(size - len(slug) - 5, 0)] + f" end {slug}"


def event_item(
    index: int, first: date, last: date | None = None, size: int = 100, **fields: object
) -> Item:
    slug = f"event-{index:05d}"
    event = {"start": first.isoformat(), **({"end": last.isoformat()} if last else {})}
    published = min(NEWEST, datetime.combine(first, time(9), UTC)) - DAY
    fields.setdefault("published", published.isoformat())
    return make_item(slug, title=f"Event {index}", summary=summary_of(slug, size),
                     event=event, **fields)  # fmt: skip


def newest_item() -> Item:
    """An entry without an event, published at NEWEST: what places the present."""
    return make_item("latest-news", event=None, published=NEWEST.isoformat())


def is_past(last: date, newest: datetime = NEWEST) -> bool:
    """Over everywhere by ``newest``: its last day has ended in UTC-12 too."""
    return datetime.combine(last + DAY, time(12), UTC) <= newest


def days_of(item: Item) -> tuple[date, date]:
    event = item.entry.event
    assert event is not None
    last = (event.end or event.start).last_day
    return event.start.first_day, last


class CountingTexts(ItemTexts):
    """ItemTexts that count how often each event's text is written, by slug and cut."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: Counter[tuple[str, bool]] = Counter()

    def text(
        self,
        context: Hashable,
        item: Item,
        fmt: str,
        with_content: bool,
        short: bool,
        write: Callable[[], bytes],
    ) -> bytes:
        def counted() -> bytes:
            self.writes[item.slug, short] += 1
            return write()

        return super().text(context, item, fmt, with_content, short, counted)


def descriptions(parsed: Parsed) -> dict[str, str]:
    """Each event's DESCRIPTION by its URL's slug, both parsers agreeing."""
    urls = [url.rstrip("/").rsplit("/", 1)[1] for url in parsed.event_text("URL")]
    return dict(zip(urls, parsed.event_text("DESCRIPTION"), strict=True))


def check_calendar(body: bytes, limit: int = MAX_FEED_BYTES) -> Parsed:
    """Valid as RFC 5545 asks and as both parsers read it, and within ``limit``."""
    assert len(body) <= limit, len(body)
    check_lines(body)
    assert body.startswith(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:")
    assert body.endswith(b"END:VCALENDAR\r\n")
    return Parsed(body)


# --- descriptions shortened, oldest first -------------------------------------------------


def test_fifty_huge_summaries_give_a_calendar_under_the_limit() -> None:
    # Entries of 1 MiB each: 50 MiB of descriptions in full.
    size = 1_000_000
    items = [event_item(i, date(2019, 1, 1) + 14 * i * DAY, size=size) for i in range(50)] + [
        newest_item()
    ]
    texts = CountingTexts()
    body = render_calendar(items, META, texts)
    parsed = check_calendar(body)
    found = descriptions(parsed)
    assert len(found) == 50, "shortening was enough: no event left out"
    # The newest events keep the whole summary; from some point back, all are shortened.
    events = sorted(items[:50], key=days_of, reverse=True)
    whole = [found[item.slug] == item.entry.summary for item in events]
    assert whole[0] and not whole[-1]
    assert whole == sorted(whole, reverse=True), "shortened from the oldest"
    for item, kept in zip(events, whole, strict=True):
        if not kept:
            assert found[item.slug] == shorten(item.entry.summary)
            assert found[item.slug].endswith("\u2026") and len(found[item.slug]) <= SUMMARY_CHARS
    # Each text written once in the rendering, though too large for ItemTexts to keep.
    assert size > LARGEST
    assert set(texts.writes.values()) == {1}
    assert render_calendar(list(reversed(items)), META) == body


def test_a_texts_cache_writes_each_event_once_per_cut() -> None:
    items = [event_item(i, date(2018, 1, 1) + i * DAY, size=20_000) for i in range(300)]
    texts = CountingTexts()
    first = render_calendar(items, META, texts)
    check_calendar(first)
    assert set(texts.writes.values()) == {1}
    shortened = {slug for slug, short in texts.writes if short}
    assert shortened and len(shortened) < 300
    written = dict(texts.writes)
    # Again, and a calendar of some of them (a category's): nothing written again.
    assert render_calendar(items, META, texts) == first
    render_calendar(items[::3], META, texts)
    assert dict(texts.writes) == written


# --- then the oldest past events, never an ongoing or future one -------------------------


def test_a_calendar_of_many_more_events_than_fit_writes_only_the_newest() -> None:
    # 8,000 events of 2,000-character summaries (over 16 MiB written whole, about 10 MiB
    # shortened): only the newest three thousand or so fit, shortened.
    items = [event_item(i, date(2000, 1, 1) + i * DAY, size=2_000) for i in range(8_000)]
    texts = CountingTexts()
    body = render_calendar(items, META, texts)
    parsed = check_calendar(body)
    kept = descriptions(parsed)
    by_days = sorted(items, key=days_of, reverse=True)
    newest = by_days[: len(kept)]
    assert set(kept) == {item.slug for item in newest}
    assert all(kept[item.slug] == shorten(item.entry.summary) for item in newest)
    assert len(body) > MAX_FEED_BYTES - 4_000, "as many as fit"
    # Each kept event written whole (to weigh it) and shortened, and the next one, which
    # did not fit; none of the others.
    weighed = {item.slug for item in by_days[: len(kept) + 1]}
    assert {slug for slug, _ in texts.writes} == weighed


@pytest.fixture(scope="module")
def crowded() -> tuple[list[Item], bytes]:
    """4,000 past events, 100 to come, and ongoing ones: too many even shortened."""
    items = [event_item(i, date(2005, 1, 1) + (i // 3) * DAY, size=1500) for i in range(4000)]
    items += [event_item(5000 + i, NEWEST.date() + i * DAY, size=1500) for i in range(100)]
    items += [
        event_item(6000, date(2000, 1, 1), date(2030, 12, 31), size=1500),  # ongoing for years
        event_item(6001, date(2000, 1, 1), NEWEST.date() - DAY, size=1500),  # ends in UTC-12
        event_item(6002, date(2000, 1, 1), NEWEST.date() - 2 * DAY, size=1500),  # over
        event_item(6003, date(2020, 6, 1), size=1500, published=NEWEST.isoformat()),
    ]
    return items, render_calendar(items, META)


def test_past_events_go_oldest_first_and_none_to_come(crowded: tuple[list[Item], bytes]) -> None:
    items, body = crowded
    parsed = check_calendar(body)
    kept = set(descriptions(parsed))
    dropped = [item for item in items if item.slug not in kept]
    assert dropped, "the calendar needed events left out"
    to_come = {item.slug for item in items if not is_past(days_of(item)[1])}
    assert to_come <= kept
    assert {"event-06000", "event-06001"} <= to_come and "event-06002" not in to_come
    assert all(is_past(days_of(item)[1]) for item in dropped)
    # The oldest go: no event left out ended after one kept that is past.
    kept_past = [days_of(i)[::-1] for i in items if i.slug in kept and i.slug not in to_come]
    assert max(days_of(i)[::-1] for i in dropped) <= min(kept_past)
    # Everything kept is shortened before anything is left out.
    found = descriptions(parsed)
    assert all(found[i.slug] == shorten(i.entry.summary) for i in items if i.slug in kept)
    # The same events give the same bytes, in any order.
    assert render_calendar(list(reversed(items)), META) == body


def test_no_event_to_come_is_left_out_even_over_the_limit() -> None:
    # Only if the events to come alone, shortened, are too big is the calendar bigger.
    items = [event_item(i, NEWEST.date() + i * DAY, size=1500) for i in range(20)]
    # Yesterday (in UTC) is not over everywhere at 06:00 UTC: UTC-12 is still in it.
    items.append(event_item(50, NEWEST.date() - 5 * DAY, NEWEST.date() - DAY, size=1500))
    items += [event_item(100 + i, date(2010, 1, 1) + i * DAY, size=1500) for i in range(20)]
    items.append(event_item(150, NEWEST.date() - 2 * DAY, size=1500))
    body = render_calendar([*items, newest_item()], META, limit=10_000)
    assert len(body) > 10_000
    check_lines(body)
    found = descriptions(Parsed(body))
    assert set(found) == {item.slug for item in items[:21]}
    assert all(found[i.slug] == shorten(i.entry.summary) for i in items[:21])


def test_an_event_is_over_when_its_last_day_ends_in_utc_minus_12() -> None:
    noon = datetime(2020, 6, 15, 12, tzinfo=UTC).timestamp()
    assert over_at(date(2020, 6, 14)) == noon
    assert is_past(date(2020, 6, 14), datetime(2020, 6, 15, 12, tzinfo=UTC))
    assert not is_past(date(2020, 6, 14), datetime(2020, 6, 15, 11, 59, tzinfo=UTC))


@settings(max_examples=500, deadline=None)
@given(
    last=st.dates(),
    newest=st.floats(-7e10, 2.6e11, allow_nan=False) | st.integers(-(10**9), 10**10).map(float),
    near=st.integers(-3, 3),
)
def test_the_first_day_still_on_tells_past_events_as_over_at_does(
    last: date, newest: float, near: int
) -> None:
    # Compared by days (one comparison an event), and at the days around the cut.
    on = still_on(newest)
    assert (last >= on) == (over_at(last) > newest)
    if date.min + timedelta(days=3) <= on <= date.max - timedelta(days=3):
        day = on + timedelta(days=near)
        assert (day >= on) == (over_at(day) > newest)


def test_an_event_ending_on_the_last_representable_day() -> None:
    # The day after 31 December 9999 has no DATE: a duration says the same span.
    items = [
        event_item(1, date(9999, 12, 1), date(9999, 12, 31)),
        make_item("month", event={"start": "9999-12"}),
    ]
    parsed = check_calendar(render_calendar(items, META, limit=1_000))
    for ical, vobj in parsed.events():
        assert ical.start == date(9999, 12, 1) and ical.duration == timedelta(days=31)
        assert vobj.duration.value == timedelta(days=31)
    assert over_at(date(9999, 12, 31)) == float("inf")


# --- any sizes ----------------------------------------------------------------------------


EVENTS = st.lists(
    st.tuples(
        st.integers(-400, 400),  # first day, from NEWEST's date
        st.integers(0, 40),  # days it lasts beyond the first
        st.integers(1, 3000),  # summary length
        st.integers(0, 900),  # published this many days before NEWEST
    ),
    min_size=1,
    max_size=30,
)


def calendar_items(events: Sequence[tuple[int, int, int, int]]) -> list[Item]:
    """The entry published at NEWEST, and one entry for each of the ``EVENTS`` drawn."""
    items = [newest_item()]
    for index, (start, length, size, before) in enumerate(events):
        first = NEWEST.date() + start * DAY
        published = (NEWEST - before * DAY).isoformat()
        items.append(event_item(index, first, first + length * DAY, size, published=published))
    return items


@settings(max_examples=60, deadline=None)
@given(EVENTS, st.integers(2_000, 60_000))
def test_any_calendar_keeps_to_the_policy(
    events: Sequence[tuple[int, int, int, int]], limit: int
) -> None:
    items = calendar_items(events)
    body = render_calendar(items, META, limit=limit)
    check_lines(body)
    parsed = Parsed(body)
    assert parsed.ical["VERSION"] == "2.0" and "PRODID" in parsed.ical
    found = descriptions(parsed)
    with_events = items[1:]
    to_come = {item.slug for item in with_events if not is_past(days_of(item)[1])}
    assert to_come <= set(found)
    dropped = [item for item in with_events if item.slug not in found]
    assert all(is_past(days_of(item)[1]) for item in dropped)
    kept_past = [days_of(i)[::-1] for i in with_events if i.slug in found and i.slug not in to_come]
    if dropped and kept_past:
        assert max(days_of(i)[::-1] for i in dropped) <= min(kept_past)
    for item in with_events:
        if item.slug in found:
            assert found[item.slug] in (item.entry.summary, shorten(item.entry.summary))
    if len(body) > limit:
        assert set(found) == to_come
        assert all(found[slug] == shorten(i.entry.summary) for i in with_events
                   if (slug := i.slug) in found)  # fmt: skip
    if not dropped and all(found[i.slug] == i.entry.summary for i in with_events):
        assert body == render_calendar(items, META, limit=10**9)
    assert render_calendar(items[::-1], META, limit=limit) == body


CHANGES = st.lists(
    st.tuples(
        st.sampled_from(["edit", "move", "add", "remove"]),
        st.integers(0, 29),  # which event
        st.integers(1, 3000),  # a new summary's length
    ),
    max_size=4,
)


@settings(max_examples=80, deadline=None)
@given(EVENTS, CHANGES, st.integers(2_000, 60_000))
# One event moved among as many others: the budget's order changes, not their number.
@example([(0, 0, 1, 0)] * 4 + [(-1, 2, 1, 0)], [("move", 0, 1)], 2000)
def test_a_calendar_fitted_from_the_last_one_is_the_calendar_fitted_anew(
    events: Sequence[tuple[int, int, int, int]],
    changes: Sequence[tuple[str, int, int]],
    limit: int,
) -> None:
    # The next version's calendar takes the texts of the events that stayed the same
    # objects from the last one fitted (icalsize.Fitted): its bytes are a new render's.
    items = calendar_items(events)
    texts = ItemTexts()
    render_calendar(items, META, texts, limit=limit)
    for number, (change, which, size) in enumerate(changes):
        at = 1 + which % (len(items) - 1) if len(items) > 1 else 1
        first = NEWEST.date() + (which - 15) * DAY
        new = event_item(100 + number, first, first + which % 3 * DAY, size)
        if change == "remove" and len(items) > 1:
            del items[at]
        elif change == "add" or len(items) == 1:
            items.insert(at, new)
        else:  # another object in its place: its text (edit), or its days too (move)
            old = items[at]
            days = {} if change == "move" else {"first": days_of(old)[0], "last": days_of(old)[1]}
            first, last = days.get("first", first), days.get("last", first + which % 3 * DAY)
            items[at] = event_item(100 + number, first, last, size)
        kept = texts.kept_for(items)
        assert render_calendar(items, META, kept, limit=limit) == render_calendar(
            items, META, limit=limit
        ), (number, change)
        texts = kept


# --- through the app ----------------------------------------------------------------------


def test_served_calendars_of_huge_entries_stay_under_the_limit(
    write_entry: WriteEntry, make_app: Callable[..., Flask]
) -> None:
    for index in range(16):
        day = date(2015, 1, 1) + 20 * index * DAY
        write_entry(
            f"big-{index:02d}",
            summary=summary_of(f"big-{index:02d}", 900_000),
            published=f"{day.isoformat()}T09:00:00+00:00",
            event={"start": day.isoformat()},
        )
    client = make_app().test_client()
    for path in ["/events.ics", "/categories/visits/events.ics"]:
        response = client.get(path)
        assert response.status_code == 200
        body = response.data
        assert len(body) <= MAX_FEED_BYTES
        calendar = icalendar.Calendar.from_ical(body)
        assert len(list(calendar.walk("VEVENT"))) == 16
        assert client.get(path).data == body


def test_after_an_edit_a_served_calendar_looks_up_only_the_edited_events_texts(
    write_entry: WriteEntry, make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The texts of the events that stayed the same come from the calendar as last
    # fitted; the entry written alone when the version was made (see refusals) must not
    # stand in for it.
    for index in range(600):
        day = date(2015, 1, 1) + index * DAY
        write_entry(f"event-{index:03d}", published=f"{day.isoformat()}T09:00:00+00:00",
                    event={"start": day.isoformat()})  # fmt: skip
    app = make_app()
    client = app.test_client()
    before = client.get("/events.ics").data
    looked: list[int] = []
    held = ItemTexts.held

    def counted(texts: ItemTexts, context: Hashable, items: Sequence[Item], cut: object) -> object:
        looked.append(len(items))
        return held(texts, context, items, cut)  # type: ignore[arg-type]

    monkeypatch.setattr(ItemTexts, "held", counted)
    write_entry("event-300", title="Edited", published="2015-10-28T09:00:00+00:00",
                event={"start": "2015-10-28"})  # fmt: skip
    app.extensions["medfeed"].refresh(None)
    after = client.get("/events.ics").data
    assert after != before and b"SUMMARY;LANGUAGE=en:Edited" in after
    # One stretch of the newest-first order (256 events) and the entry alone, not 600.
    assert sum(looked) <= 257
