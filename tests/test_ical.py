"""The calendar as clients see it: every output parsed by icalendar and by vobject."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import pytest
import vobject
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SEED_ENTRIES, entry_data
from medfeed.ical import (
    LINE_OCTETS,
    MAX_SEQUENCE,
    CalendarMeta,
    escape_text,
    fold,
    fold_characters,
    render_calendar,
    revised_at,
    sequence,
)
from medfeed.loading import load_catalog
from medfeed.models import Entry, Location, entry_id
from medfeed.store import Item
from medfeed.wording import event_place

BASE = "https://site.example.org/"
META = CalendarMeta(
    name="Test Events",
    description="Events for tests.",
    base_url=BASE,
    self_url=f"{BASE}calendar.ics",
    page_url=BASE,
    language="en",
    refresh_seconds=300,
    category_titles={"visits": "Visits", "conferences": "Conferences"},
)
MODIFIED_NS = 1_700_000_000_123_456_789
"""A file time: 2023-11-14T22:13:20Z, long after every test entry's publication."""
EVENT = {"start": "2015-10-12", "location": {"place": "Jerusalem", "country": "Israel"}}

# Hand-written from entries/*.json: the first and last day each bundled event covers.
BUNDLED_DAYS = {
    "vershbow-visits-israel": ("2014-01-01", "2014-01-31"),
    "nato-israel-cooperation-conference-la-hulpe": ("2014-11-01", "2014-11-30"),
    "mediterranean-dialogue-20th-anniversary-amman": ("2014-12-01", "2014-12-31"),
    "ducaru-attends-cyber-security-conference-tel-aviv": ("2015-06-01", "2015-06-30"),
    "stamatopoulos-visits-israel": ("2015-10-12", "2015-10-13"),
    "netanyahu-welcomes-nato-announcement": ("2016-05-04", "2016-05-04"),
    "netanyahu-on-opening-israel-office-at-nato": ("2016-06-01", "2016-06-30"),
    "rivlin-invites-stoltenberg-to-israel": ("2016-06-21", "2016-06-21"),
    "leshno-yaar-presents-credentials-to-nato": ("2016-09-16", "2016-09-16"),
}
BUNDLED_LOCATIONS = {
    "stamatopoulos-visits-israel": "Israel",
    "vershbow-visits-israel": "Israel",
    "netanyahu-welcomes-nato-announcement": "Jerusalem, Israel",
    "rivlin-invites-stoltenberg-to-israel": "NATO headquarters, Brussels, Belgium",
    "ducaru-attends-cyber-security-conference-tel-aviv": "Tel Aviv University, Tel Aviv, Israel",
}


def make_item(slug: str = "a-visit", modified_ns: int = MODIFIED_NS, **overrides: Any) -> Item:
    """An item as the store builds it, from conftest's entry with fields overridden."""
    overrides.setdefault("event", EVENT)
    entry = Entry.model_validate(entry_data(**overrides))
    identity = entry.id or entry_id("example.org", entry.published, slug)
    return Item(slug, f"entries/{slug}.json", entry, identity, modified_ns)


def render(*items: Item, meta: CalendarMeta = META) -> bytes:
    body = render_calendar(items, meta)
    check_lines(body)
    return body


def check_lines(body: bytes) -> None:
    """CRLF only, no line over 75 octets, and every folded line whole UTF-8."""
    assert body.endswith(b"\r\n")
    lines = body.split(b"\r\n")[:-1]
    assert b"\n" not in b"".join(lines) and b"\r" not in b"".join(lines)
    for line in lines:
        assert len(line) <= LINE_OCTETS, line
        line.decode("utf-8")  # a split UTF-8 sequence would not decode on its own
        assert line, "an empty line"


class Parsed:
    """One calendar as icalendar and vobject read it."""

    def __init__(self, body: bytes) -> None:
        self.ical = icalendar.Calendar.from_ical(body)
        self.vobj = vobject.readOne(body.decode("utf-8"))
        assert self.ical.errors == []
        self.ical_events = list(self.ical.walk("VEVENT"))
        self.vobj_events = list(self.vobj.contents.get("vevent", []))
        assert len(self.ical_events) == len(self.vobj_events)

    def events(self) -> Iterator[tuple[icalendar.Event, Any]]:
        yield from zip(self.ical_events, self.vobj_events, strict=True)

    def event_text(self, name: str) -> list[str]:
        """A TEXT property of every event, after checking that both parsers agree."""
        values = []
        for ical, vobj in self.events():
            value = str(ical[name])
            assert vobj.contents[name.lower()][0].value == value
            values.append(value)
        return values

    def calendar_text(self, name: str) -> str:
        """A TEXT property of the calendar, after checking that both parsers agree."""
        # icalendar 7 reads NAME and X- properties as unknown types, still escaped.
        raw = self.ical[name]
        value = (
            str(raw) if isinstance(raw, icalendar.vText) else icalendar.vText.from_ical(str(raw))
        )
        assert self.vobj.contents[name.lower()][0].value == value
        return value

    def days(self) -> list[tuple[date, date]]:
        """The first and last day of every event, after checking that both parsers agree."""
        covered = []
        for ical, vobj in self.events():
            start, end = ical.start, ical.end
            assert type(start) is date and type(end) is date  # all-day, not a time
            assert (vobj.dtstart.value, vobj.dtend.value) == (start, end)
            assert vobj.dtstart.params["VALUE"] == ["DATE"]
            covered.append((start, end - timedelta(days=1)))  # DTEND is exclusive
        return covered


def unfolded(body: bytes) -> list[str]:
    return body.decode().replace("\r\n ", "").split("\r\n")[:-1]


def property_of(body: bytes, name: str) -> list[str]:
    """The raw values of a property, unfolded, in document order."""
    return [
        line.split(":", 1)[1] for line in unfolded(body) if line.split(":")[0].split(";")[0] == name
    ]


@pytest.fixture(scope="module")
def bundled() -> tuple[tuple[Item, ...], bytes]:
    catalog = load_catalog(SEED_ENTRIES)
    titles = {category.slug: category.title for category in catalog.site.categories}
    meta = CalendarMeta(
        name=catalog.site.title,
        description=catalog.site.description,
        base_url=BASE,
        self_url=f"{BASE}calendar.ics",
        page_url=BASE,
        language=catalog.site.language,
        refresh_seconds=catalog.site.max_age,
        category_titles=titles,
    )
    return catalog.items, render_calendar(catalog.items, meta)


def test_bundled_events_cover_the_days_the_entries_give(
    bundled: tuple[tuple[Item, ...], bytes],
) -> None:
    items, body = bundled
    check_lines(body)
    parsed = Parsed(body)
    slugs = {item.id: item.slug for item in items}
    covered = {
        slugs[uid]: (first.isoformat(), last.isoformat())
        for uid, (first, last) in zip(parsed.event_text("UID"), parsed.days(), strict=True)
    }
    assert covered == BUNDLED_DAYS


def test_bundled_events_carry_their_entries(bundled: tuple[tuple[Item, ...], bytes]) -> None:
    items, body = bundled
    parsed = Parsed(body)
    slugs = {item.id: item.slug for item in items}
    assert set(parsed.event_text("UID")) == set(slugs)

    def by_slug(name: str) -> dict[str, str]:
        return {
            slugs[uid]: value
            for uid, value in zip(parsed.event_text("UID"), parsed.event_text(name), strict=True)
        }

    assert by_slug("SUMMARY") == {item.slug: item.entry.title for item in items}
    assert by_slug("URL") == {item.slug: f"{BASE}entries/{item.slug}/" for item in items}
    assert BUNDLED_LOCATIONS.items() <= by_slug("LOCATION").items()
    descriptions = by_slug("DESCRIPTION")
    summaries = {item.slug: item.entry.summary for item in items}
    amman = "mediterranean-dialogue-20th-anniversary-amman"
    assert descriptions[amman] == (
        "Date known to the month only: December 2014; shown as the whole month.\n\n"
        + summaries[amman]
    )
    visit = "stamatopoulos-visits-israel"
    assert descriptions[visit] == summaries[visit]
    for ical, vobj in parsed.events():
        assert ical.transparency == vobj.transp.value == "TRANSPARENT"
        assert ical.categories == vobj.categories.value
        assert "METHOD" not in ical


def test_calendar_says_what_it_is() -> None:
    body = render(make_item())
    parsed = Parsed(body)
    cal = parsed.ical
    assert "METHOD" not in cal
    assert cal.version == "2.0"
    assert cal.calscale == "GREGORIAN"
    assert cal.prodid.startswith("-//medfeed//")
    assert parsed.calendar_text("NAME") == parsed.calendar_text("X-WR-CALNAME") == "Test Events"
    description = parsed.calendar_text("DESCRIPTION")
    assert description == parsed.calendar_text("X-WR-CALDESC") == "Events for tests."
    assert cal.url == parsed.vobj.url.value == BASE
    assert cal.source == parsed.vobj.source.value == f"{BASE}calendar.ics"
    assert cal.refresh_interval == timedelta(seconds=300)
    assert parsed.vobj.contents["refresh-interval"][0].params["VALUE"] == ["DURATION"]
    assert str(cal["X-PUBLISHED-TTL"]) == "PT300S"
    assert body.startswith(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert body.endswith(b"END:VCALENDAR\r\n")


def test_a_zero_max_age_gives_no_refresh_hint() -> None:
    meta = CalendarMeta("N", "D", BASE, f"{BASE}calendar.ics", BASE, "en", refresh_seconds=0)
    cal = Parsed(render(make_item(), meta=meta)).ical
    assert "REFRESH-INTERVAL" not in cal and "X-PUBLISHED-TTL" not in cal


def test_an_empty_calendar_is_valid() -> None:
    body = render()
    parsed = Parsed(body)
    assert parsed.ical_events == [] and parsed.vobj_events == []
    assert parsed.calendar_text("NAME") == "Test Events"
    assert render_calendar([make_item(event=None)], META) == body


@pytest.mark.parametrize(
    ("event", "first", "last", "dtend"),
    [
        ({"start": "2015-10-12"}, "2015-10-12", "2015-10-12", "20151013"),
        ({"start": "2015-10-12", "end": "2015-10-13"}, "2015-10-12", "2015-10-13", "20151014"),
        ({"start": "2015-10-12", "end": "2015-10-12"}, "2015-10-12", "2015-10-12", "20151013"),
        ({"start": "2015-12-31"}, "2015-12-31", "2015-12-31", "20160101"),
        ({"start": "2016-02"}, "2016-02-01", "2016-02-29", "20160301"),
        ({"start": "2014-12"}, "2014-12-01", "2014-12-31", "20150101"),
        ({"start": "2014-11", "end": "2014-12-03"}, "2014-11-01", "2014-12-03", "20141204"),
        ({"start": "2014-11-28", "end": "2014-12"}, "2014-11-28", "2014-12-31", "20150101"),
        ({"start": "2016-06", "end": "2016-07"}, "2016-06-01", "2016-07-31", "20160801"),
    ],
)
def test_all_day_events_end_the_day_after(
    event: dict[str, str], first: str, last: str, dtend: str
) -> None:
    body = render(make_item(event=event))
    assert Parsed(body).days() == [(date.fromisoformat(first), date.fromisoformat(last))]
    assert property_of(body, "DTEND") == [dtend]
    assert f"DTSTART;VALUE=DATE:{first.replace('-', '')}" in unfolded(body)


@pytest.mark.parametrize(
    ("event", "note"),
    [
        (
            {"start": "2016-06"},
            "Date known to the month only: June 2016; shown as the whole month.",
        ),
        ({"start": "2016-06", "end": "2016-06"}, "Date known to the month only: June 2016;"),
        (
            {"start": "2016-06", "end": "2016-07"},
            "Dates known to the month only: June 2016 to July 2016; "
            "shown from 1 June 2016 to 31 July 2016.",
        ),
        (
            {"start": "2014-11", "end": "2014-12-03"},
            "Dates known only in part: November 2014 to 3 December 2014; "
            "shown from 1 November 2014 to 3 December 2014.",
        ),
        ({"start": "2016-06-21"}, ""),
        ({"start": "2016-06-21", "end": "2016-06-23"}, ""),
    ],
)
def test_dates_known_to_the_month_say_so(event: dict[str, str], note: str) -> None:
    item = make_item(event=event)
    [description] = Parsed(render(item)).event_text("DESCRIPTION")
    if note:
        assert description.startswith(note)
        assert description.endswith(f"\n\n{item.entry.summary}")
    else:
        assert description == item.entry.summary


@pytest.mark.parametrize(
    ("location", "text"),
    [
        ({"place": "Israel", "country": "Israel"}, "Israel"),
        ({"place": "Jerusalem", "country": "Israel"}, "Jerusalem, Israel"),
        ({"place": "Tel Aviv University, Tel Aviv", "country": "Israel"}, None),
        ({"place": "Haifa, israel", "country": "Israel"}, "Haifa, israel"),
    ],
)
def test_location_names_the_country_once(location: dict[str, str], text: str | None) -> None:
    body = render(make_item(event={"start": "2016-06", "location": location}))
    expected = text or f"{location['place']}, {location['country']}"
    assert Parsed(body).event_text("LOCATION") == [expected]
    assert "GEO" not in Parsed(body).ical_events[0]


def test_geo_from_coordinates() -> None:
    location = {"place": "Jerusalem", "country": "Israel", "latitude": 31.7683, "longitude": 1e-05}
    body = render(make_item(event={"start": "2016-06", "location": location}))
    # RFC 5545 FLOAT has no exponent.
    assert property_of(body, "GEO") == ["31.768300;0.000010"]
    [(ical, vobj)] = Parsed(body).events()
    geo: Any = ical["GEO"]
    assert (geo.latitude, geo.longitude) == (31.7683, 1e-05)
    assert vobj.geo.value == "31.768300;0.000010"


def test_no_event_no_location() -> None:
    [(ical, vobj)] = Parsed(render(make_item(event={"start": "2016-06"}))).events()
    assert "LOCATION" not in ical and "location" not in vobj.contents


def test_items_without_events_are_left_out() -> None:
    parsed = Parsed(render(make_item("a-visit"), make_item("news", event=None)))
    assert parsed.event_text("URL") == [f"{BASE}entries/a-visit/"]


def test_events_run_by_start_then_id() -> None:
    items = [
        make_item("c-later", event={"start": "2016-06-21"}),
        make_item("b-same-day", event={"start": "2015-10-12"}),
        make_item("a-same-day", event={"start": "2015-10-12"}),
        make_item("d-month", event={"start": "2015-10"}),
    ]
    parsed = Parsed(render(*items))
    slugs = [url.rstrip("/").rsplit("/", 1)[1] for url in parsed.event_text("URL")]
    assert slugs == ["d-month", "a-same-day", "b-same-day", "c-later"]
    assert render(*reversed(items)) == render(*items)


def test_the_same_items_give_the_same_bytes(bundled: tuple[tuple[Item, ...], bytes]) -> None:
    items, body = bundled
    assert render_calendar(items, META) == render_calendar(items, META)
    item = make_item()
    assert render(item) == render(make_item())


def test_no_value_comes_from_the_clock() -> None:
    item = make_item(published="2015-10-12T09:00:00+02:00")
    [(ical, vobj)] = Parsed(render(item)).events()
    file_time = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert ical.DTSTAMP == ical.LAST_MODIFIED == file_time
    assert vobj.dtstamp.value == vobj.contents["last-modified"][0].value == file_time
    # Whole minutes from publication (07:00Z) to the file's time.
    minutes = (file_time - datetime(2015, 10, 12, 7, tzinfo=UTC)) // timedelta(minutes=1)
    assert ical.sequence == int(vobj.sequence.value) == minutes
    assert ical.uid == item.id == "tag:example.org,2015-10-12:a-visit"
    assert abs(datetime.now(UTC) - file_time) > timedelta(days=365)


def revision(item: Item) -> tuple[int, datetime, datetime]:
    """SEQUENCE, LAST-MODIFIED and DTSTAMP of a one-event calendar, as both parsers see them."""
    [(ical, vobj)] = Parsed(render(item)).events()
    assert ical.LAST_MODIFIED is not None
    values = (ical.sequence, ical.LAST_MODIFIED, ical.DTSTAMP)
    assert values == (int(vobj.sequence.value), vobj.last_modified.value, vobj.dtstamp.value)
    return values


def test_an_edit_raises_sequence_and_last_modified() -> None:
    before = make_item(title="A visit", modified_ns=MODIFIED_NS)
    assert revision(before) == revision(make_item(title="A visit", modified_ns=MODIFIED_NS))
    # The file rewritten an hour later, the editor leaving ``updated`` alone.
    rewritten = make_item(title="A visit, corrected", modified_ns=MODIFIED_NS + 3600 * 10**9)
    # An ``updated`` later than the file time counts, whatever the file time.
    updated = make_item(modified_ns=MODIFIED_NS, updated="2024-03-01T12:00:00Z")
    # An entry built without a file time falls back to ``updated``, else ``published``.
    bare = make_item(modified_ns=0)
    bare_updated = make_item(modified_ns=0, updated="2016-01-01T00:00:00Z")
    for older, newer in [(before, rewritten), (before, updated), (bare, bare_updated)]:
        old, new = revision(older), revision(newer)
        assert new[0] > old[0] and new[1] > old[1] and new[2] > old[2]
        assert older.id == newer.id
    # A file time older than ``updated`` never drags the revision back.
    assert revision(make_item(modified_ns=1, updated="2016-01-01T00:00:00Z")) == revision(
        bare_updated
    )
    assert revision(bare)[0] == 0


def test_sequence_stays_a_32_bit_integer() -> None:
    old = make_item(published="1900-01-01T00:00:00Z", modified_ns=MODIFIED_NS)
    assert 0 < sequence(old) < MAX_SEQUENCE
    assert revised_at(old) == MODIFIED_NS // 10**9


def test_text_escaping_round_trips() -> None:
    title = "Commas, semicolons; a backslash \\ and C:\\Network \\n \\, \\;"
    summary = "Line one\nline two\r\nline three\rend; with, all \\ of them\\"
    place = "Tel Aviv; Jaffa, \\Old City\\"
    body = render(
        make_item(
            title=title,
            summary=summary,
            event={"start": "2016-06", "location": {"place": place, "country": "Israel"}},
        )
    )
    parsed = Parsed(body)
    assert parsed.event_text("SUMMARY") == [title]
    [description] = parsed.event_text("DESCRIPTION")
    assert description.endswith("Line one\nline two\nline three\nend; with, all \\ of them\\")
    assert parsed.event_text("LOCATION") == [f"{place}, Israel"]
    assert property_of(body, "SUMMARY") == [escape_text(title)]
    assert escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"


def test_ids_with_commas_and_semicolons_round_trip() -> None:
    item = make_item(id="urn:x-test:a,b;c\\d")
    assert item.id == "urn:x-test:a,b;c\\d"
    assert Parsed(render(item)).event_text("UID") == [item.id]


def test_category_titles_with_commas_stay_one_category() -> None:
    meta = CalendarMeta(
        "N", "D", BASE, f"{BASE}calendar.ics", BASE, "en", 300,
        category_titles={"visits": "Visits, talks; and more", "conferences": "Conferences"},
    )  # fmt: skip
    body = render(make_item(categories=["visits", "conferences"]), meta=meta)
    [(ical, vobj)] = Parsed(body).events()
    expected = ["Visits, talks; and more", "Conferences"]
    assert ical.categories == vobj.categories.value == expected


def test_folding_keeps_characters_and_escapes_whole() -> None:
    for text in ["\u05e9\u05dc\u05d5\u05dd " * 40, "\U0001f600" * 50, "x" * 74 + "\\," * 40]:
        folded = fold(f"SUMMARY:{text}")
        check_lines(folded.encode())
        pieces = folded.split("\r\n ")
        assert "".join(pieces) == f"SUMMARY:{text}\r\n"
        assert not any(p.endswith("\\") and not p.endswith("\\\\") for p in pieces[:-1])
    assert fold("A" * 75) == "A" * 75 + "\r\n"
    assert fold("A" * 76) == "A" * 75 + "\r\n A\r\n"


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from("ab\\,;: \t"), max_size=400) | st.text(max_size=300))
def test_lines_of_any_text_fold_as_a_character_at_a_time(line: str) -> None:
    # ASCII lines are folded by slicing: the same lines as the general way.
    assert fold(line) == fold_characters(line)


@settings(max_examples=200, deadline=None)
@given(first=st.dates(date(1, 1, 1), date(9999, 12, 31)), length=st.integers(0, 40))
def test_any_days_are_written_in_full_and_read_back_by_both_parsers(
    first: date, length: int
) -> None:
    # A DATE is eight digits whatever the year: strftime's %Y writes 999 for 0999.
    last = min(first + timedelta(days=length), date.max)
    event = {"start": first.isoformat(), "end": last.isoformat()}
    body = render(make_item(event=event))
    [start] = property_of(body, "DTSTART")
    assert start == f"{first.year:04d}{first.month:02d}{first.day:02d}"
    if last < date.max:
        [end] = property_of(body, "DTEND")
        assert len(end) == 8
        assert Parsed(body).days() == [(first, last)]
    else:
        assert property_of(body, "DURATION") == [f"P{(last - first).days + 1}D"]


_TEXT_CHARS = st.one_of(
    st.sampled_from(
        ",;\\:\"' \t\u05e9\u05dc\u05d5\u05dd\U0001f600\U0001f469\u200d\U0001f4bb\u00e9N"
    ),
    st.characters(
        blacklist_categories=("Cs", "Cc"),  # the entry schema refuses these
        blacklist_characters="\ufffe\uffff",
    ),
)
_LINES = st.text(_TEXT_CHARS, min_size=1, max_size=200)
_TEXTS = st.text(st.one_of(_TEXT_CHARS, st.sampled_from("\n\r")), min_size=1, max_size=400)


@settings(max_examples=150, deadline=None)
@given(title=_LINES, summary=_TEXTS, place=_LINES, country=_LINES)
def test_any_text_round_trips_through_both_parsers(
    title: str, summary: str, place: str, country: str
) -> None:
    event = {"start": "2016-06", "location": {"place": place, "country": country}}
    item = make_item(title=title, summary=summary, event=event)
    body = render(item)  # checks CRLF, line lengths and whole UTF-8 sequences
    parsed = Parsed(body)
    assert parsed.event_text("SUMMARY") == [title]
    [description] = parsed.event_text("DESCRIPTION")
    # Every line break is written as \n: CRLF and lone CR come back as LF.
    lines = summary.replace("\r\n", "\n").replace("\r", "\n")
    assert description.endswith(f"\n\n{lines}")
    assert parsed.event_text("LOCATION") == [event_place(Location(place=place, country=country))]


KHAL = shutil.which("khal")
KHAL_CONFIG = """\
[calendars]
[[medfeed]]
path = {store}
[sqlite]
path = {database}
[locale]
local_timezone = UTC
default_timezone = UTC
dateformat = %Y-%m-%d
longdateformat = %Y-%m-%d
datetimeformat = %Y-%m-%d %H:%M
longdatetimeformat = %Y-%m-%d %H:%M
timeformat = %H:%M
"""


@pytest.mark.skipif(KHAL is None, reason="khal is not installed")
def test_khal_sees_the_bundled_days(
    bundled: tuple[tuple[Item, ...], bytes], tmp_path: Path
) -> None:
    items, body = bundled
    (tmp_path / "calendar").mkdir()
    (tmp_path / "medfeed.ics").write_bytes(body)
    config = tmp_path / "khal.conf"
    store, database = tmp_path / "calendar", tmp_path / "khal.db"
    config.write_text(KHAL_CONFIG.format(store=store, database=database), encoding="utf-8")
    # Nothing from the developer's home or settings.
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path), "LANG": "C.UTF-8"}
    env["XDG_DATA_HOME"] = env["XDG_CACHE_HOME"] = str(tmp_path)
    env["PATH"] = "/usr/bin:/bin"

    def khal(*args: str) -> str:
        command = [str(KHAL), "-c", str(config), *args]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    khal("import", "--batch", "-a", "medfeed", str(tmp_path / "medfeed.ics"))
    listing = khal(
        "list", "--format", "{title}", "--day-format", "DAY {date}", "2013-12-01", "1200d"
    )
    slugs = {item.entry.title: item.slug for item in items}
    covered: dict[str, list[date]] = {}
    day = date.min
    for line in listing.splitlines():
        if line.startswith("DAY "):
            day = date.fromisoformat(line.removeprefix("DAY "))
        elif line.strip():
            covered.setdefault(slugs[line.strip()], []).append(day)
    spans = {slug: (days[0].isoformat(), days[-1].isoformat()) for slug, days in covered.items()}
    assert spans == BUNDLED_DAYS
    for days in covered.values():
        assert len(days) == (days[-1] - days[0]).days + 1  # every day between, once
