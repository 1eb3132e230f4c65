"""What readers see on the pages: date lines, event dates and places, the standfirst."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import REMOVE
from medfeed import pageparts
from medfeed.fields import PartialDate
from medfeed.markup import render_markdown
from medfeed.models import Event, Location
from medfeed.pageparts import event_dates_html
from medfeed.wording import event_dates, event_place

WriteEntry = Callable[..., Path]
MakeApp = Callable[..., Flask]
Page = Any
"""An lxml.html element tree."""

MONTHS = (
    "January February March April May June July August September October November December"
).split()

SEED_DATE_LINES = {
    "leshno-yaar-presents-credentials-to-nato": "Published 16 September 2016 · "
    "Event: 16 September 2016, NATO headquarters, Brussels, Belgium",
    "rivlin-invites-stoltenberg-to-israel": "Published 21 June 2016 · "
    "Event: 21 June 2016, NATO headquarters, Brussels, Belgium",
    "netanyahu-on-opening-israel-office-at-nato": "Published June 2016 · "
    "Event: June 2016, Jerusalem, Israel",
    "netanyahu-welcomes-nato-announcement": "Published 4 May 2016 · "
    "Event: 4 May 2016, Jerusalem, Israel",
    "stamatopoulos-visits-israel": "Published 12 October 2015 · "
    "Event: 12\u201313 October 2015, Israel",
    "ducaru-attends-cyber-security-conference-tel-aviv": "Published June 2015 · "
    "Event: June 2015, Tel Aviv University, Tel Aviv, Israel",
    "mediterranean-dialogue-20th-anniversary-amman": "Published December 2014 · "
    "Event: December 2014, Amman, Jordan",
    "nato-israel-cooperation-conference-la-hulpe": "Published November 2014 · "
    "Event: November 2014, La Hulpe, Belgium",
    "vershbow-visits-israel": "Published January 2014 · Event: January 2014, Israel",
}
"""The date line under each bundled entry's title, written out from its JSON."""

SEED_FACTS = {
    "leshno-yaar-presents-credentials-to-nato": (
        "Published 16 September 2016",
        "16 September 2016",
        "NATO headquarters, Brussels, Belgium",
    ),
    "rivlin-invites-stoltenberg-to-israel": (
        "Published 21 June 2016",
        "21 June 2016",
        "NATO headquarters, Brussels, Belgium",
    ),
    "netanyahu-on-opening-israel-office-at-nato": (
        "Published June 2016",
        "June 2016",
        "Jerusalem, Israel",
    ),
    "netanyahu-welcomes-nato-announcement": (
        "Published 4 May 2016",
        "4 May 2016",
        "Jerusalem, Israel",
    ),
    "stamatopoulos-visits-israel": (
        "Published 12 October 2015",
        "12\u201313 October 2015",
        "Israel",
    ),
    "ducaru-attends-cyber-security-conference-tel-aviv": (
        "Published June 2015",
        "June 2015",
        "Tel Aviv University, Tel Aviv, Israel",
    ),
    "mediterranean-dialogue-20th-anniversary-amman": (
        "Published December 2014",
        "December 2014",
        "Amman, Jordan",
    ),
    "nato-israel-cooperation-conference-la-hulpe": (
        "Published November 2014",
        "November 2014",
        "La Hulpe, Belgium",
    ),
    "vershbow-visits-israel": ("Published January 2014", "January 2014", "Israel"),
}
"""Each bundled entry's page: its publication line, and its When and Where."""


def parse(client: FlaskClient, path: str) -> Page:
    response = client.get(path)
    assert response.status_code == 200, path
    return lxml.html.document_fromstring(response.get_data(as_text=True))


def text(element: Page) -> str:
    """An element's text as a reader sees it: white space collapsed."""
    return " ".join(element.text_content().split())


def date_lines(page: Page) -> dict[str, str]:
    """The date line under each listed entry, by the entry's slug."""
    lines = {}
    for li in page.xpath(".//ol[@class='entries']/li"):
        href = li.xpath(".//h3/a")[0].get("href")
        slug = href.rstrip("/").rsplit("/", 1)[-1]
        lines[slug] = text(li.xpath(".//p[@class='meta']")[0])
    return lines


def facts(page: Page) -> dict[str, str]:
    """An entry page's facts: When, Where, Category and By."""
    terms = page.xpath(".//dl[@class='facts']/dt")
    return {text(dt): text(dt.getnext()) for dt in terms}


def event(start: str, end: str | None = None) -> Event:
    return Event.model_validate({"start": start, "end": end})


# The bundled entries


def test_home_page_date_line_of_every_bundled_entry(seed_client: FlaskClient) -> None:
    assert date_lines(parse(seed_client, "/")) == SEED_DATE_LINES


def test_category_page_has_the_same_date_lines(seed_client: FlaskClient) -> None:
    lines = date_lines(parse(seed_client, "/categories/high-level-visits/"))
    assert lines == {
        "rivlin-invites-stoltenberg-to-israel": SEED_DATE_LINES[
            "rivlin-invites-stoltenberg-to-israel"
        ],
        "stamatopoulos-visits-israel": SEED_DATE_LINES["stamatopoulos-visits-israel"],
        "vershbow-visits-israel": SEED_DATE_LINES["vershbow-visits-israel"],
    }


@pytest.mark.parametrize("slug", SEED_FACTS)
def test_bundled_entry_page_dates_and_place(seed_client: FlaskClient, slug: str) -> None:
    page = parse(seed_client, f"/entries/{slug}/")
    published, when, where = SEED_FACTS[slug]
    assert text(page.xpath(".//article//p[@class='meta']")[0]) == published
    found = facts(page)
    assert (found["When"], found["Where"]) == (when, where)


def test_date_line_times_are_machine_readable(seed_client: FlaskClient) -> None:
    page = parse(seed_client, "/")
    times = {}
    for li in page.xpath(".//ol[@class='entries']/li"):
        slug = li.xpath(".//h3/a")[0].get("href").rstrip("/").rsplit("/", 1)[-1]
        times[slug] = [t.get("datetime") for t in li.xpath(".//p[@class='meta']//time")]
    # A day keeps the full publication time; a month-only publication says just the month.
    assert times["stamatopoulos-visits-israel"] == [
        "2015-10-12T00:00:00+00:00",
        "2015-10-12",
        "2015-10-13",
    ]
    assert times["mediterranean-dialogue-20th-anniversary-amman"] == ["2014-12", "2014-12"]
    assert times["leshno-yaar-presents-credentials-to-nato"] == [
        "2016-09-16T00:00:00+00:00",
        "2016-09-16",
    ]


class Balance(HTMLParser):
    """Records every end tag that does not close the element opened last."""

    VOID = frozenset({"meta", "link", "br", "hr", "img", "input"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.errors.append(tag)


@pytest.mark.parametrize(
    "path", ["/", "/categories/high-level-visits/", "/entries/stamatopoulos-visits-israel/"]
)
def test_pages_close_every_element_they_open(seed_client: FlaskClient, path: str) -> None:
    checker = Balance()
    checker.feed(seed_client.get(path).get_data(as_text=True))
    checker.close()
    assert (checker.errors, checker.open) == ([], [])


# Event dates

RANGES = [
    ("2015-10-12", None, "12 October 2015"),
    ("2016-06", None, "June 2016"),
    ("2015-10-12", "2015-10-12", "12 October 2015"),
    ("2016-06", "2016-06", "June 2016"),
    ("2015-10-12", "2015-10-13", "12\u201313 October 2015"),
    ("2015-09-30", "2015-10-02", "30 September \u2013 2 October 2015"),
    ("2015-12-30", "2016-01-02", "30 December 2015 \u2013 2 January 2016"),
    ("2016-06", "2016-07", "June\u2013July 2016"),
    ("2014-12", "2015-01", "December 2014 \u2013 January 2015"),
    ("2015-09-30", "2015-11", "30 September \u2013 November 2015"),
    ("2015-09", "2015-10-02", "September \u2013 2 October 2015"),
    ("2015-12-30", "2016-01", "30 December 2015 \u2013 January 2016"),
    ("2015-12", "2016-01-02", "December 2015 \u2013 2 January 2016"),
    ("2015-10-12", "2015-10", "October 2015 (from the 12th)"),
    ("2015-10", "2015-10-03", "October 2015 (until the 3rd)"),
    ("2015-10", "2015-10-21", "October 2015 (until the 21st)"),
    ("2015-10", "2015-10-11", "October 2015 (until the 11th)"),
]


@pytest.mark.parametrize(("start", "end", "expected"), RANGES)
def test_event_dates(start: str, end: str | None, expected: str) -> None:
    assert event_dates(event(start, end)) == expected


@st.composite
def date_pairs(draw: st.DrawFn) -> tuple[PartialDate, PartialDate]:
    """A start and an end not before it, each known to the day or only to the month."""
    # Four-digit years, as editors write them, so that a year never reads as a day.
    first = draw(st.dates(min_value=date(1000, 1, 1), max_value=date(9990, 12, 31)))
    # Mostly near each other: the same month, the same year, or across a new year.
    gap = draw(st.one_of(st.integers(0, 3), st.integers(0, 62), st.integers(0, 800)))
    last = first + timedelta(days=gap)
    start, end = (
        PartialDate(d.year, d.month, d.day if draw(st.booleans()) else None) for d in (first, last)
    )
    return start, end


@given(date_pairs())
def test_event_dates_name_both_ends_and_invent_no_day(
    pair: tuple[PartialDate, PartialDate],
) -> None:
    start, end = pair
    shown = event_dates(event(str(start), str(end)))
    ends = (start,) if start == end else (start, end)
    for when in ends:
        assert MONTHS[when.month - 1] in shown
        assert str(when.year) in shown
    # Every number of one or two digits is a day, and only days known are shown.
    days = sorted(int(n) for n in re.findall(r"(?<!\d)(\d{1,2})(?:st|nd|rd|th)?(?!\d)", shown))
    assert days == sorted(when.day for when in ends if when.day is not None)
    # A day written before a month name is that month's own day.
    for day, month in re.findall(r"(?<!\d)(\d{1,2}) ([A-Z][a-z]+)", shown):
        assert any((when.day, when.month) == (int(day), MONTHS.index(month) + 1) for when in ends)
    # One kind of dash, once per range; a range within one month names the month once.
    assert "-" not in shown
    qualified = "(from the" in shown or "(until the" in shown
    assert shown.count("\u2013") == (0 if len(ends) == 1 or qualified else 1)
    if qualified:
        assert (start.year, start.month) == (end.year, end.month)


@pytest.mark.parametrize(("start", "end", "expected"), RANGES)
def test_event_dates_html_says_the_same_with_machine_readable_times(
    start: str, end: str | None, expected: str
) -> None:
    fragment = lxml.html.fragment_fromstring(str(event_dates_html(event(start, end))), "span")
    assert fragment.text_content() == expected
    stamps = [t.get("datetime") for t in fragment.iter("time")]
    assert sorted(stamps) == sorted({start, end or start})


def test_list_and_entry_page_show_the_same_range(
    write_entry: WriteEntry, make_app: MakeApp
) -> None:
    write_entry(
        "a-visit",
        event={
            "start": "2015-09-30",
            "end": "2015-10-02",
            "location": {"place": "Brussels", "country": "Belgium"},
        },
    )
    client = make_app().test_client()
    line = date_lines(parse(client, "/"))["a-visit"]
    assert line == (
        "Published 12 October 2015 · Event: 30 September \u2013 2 October 2015, Brussels, Belgium"
    )
    found = facts(parse(client, "/entries/a-visit/"))
    assert found["When"] == "30 September \u2013 2 October 2015"
    assert found["Where"] == "Brussels, Belgium"


# Publication dates

PUBLISHED = [
    # The seed's convention: midnight UTC on the 1st, for an event known only to the month.
    ("2014-12-01T00:00:00Z", "2014-12", None, "December 2014", "2014-12"),
    ("2014-12-01T00:00:00+00:00", "2014-12", "2015-01", "December 2014", "2014-12"),
    # Midnight on the 1st in the offset the editor wrote.
    ("2014-12-01T00:00:00+02:00", "2014-12", None, "December 2014", "2014-12"),
    # A real time, a day-precision event, another month, or no event: the day is shown.
    ("2014-12-01T00:00:01Z", "2014-12", None, "1 December 2014", "2014-12-01T00:00:01+00:00"),
    ("2014-12-01T09:30:00Z", "2014-12", None, "1 December 2014", "2014-12-01T09:30:00+00:00"),
    ("2014-12-01T00:00:00Z", "2014-12-01", None, "1 December 2014", "2014-12-01T00:00:00+00:00"),
    ("2014-12-01T00:00:00Z", "2014-11", "2014-12", "1 December 2014", "2014-12-01T00:00:00+00:00"),
    ("2014-12-01T00:00:00Z", None, None, "1 December 2014", "2014-12-01T00:00:00+00:00"),
    ("2014-12-02T00:00:00Z", "2014-12", None, "2 December 2014", "2014-12-02T00:00:00+00:00"),
    # The day as written: 23:30 in New York is already the 1st in UTC.
    ("2014-11-30T23:30:00-05:00", "2014-12", None, "30 November 2014", "2014-11-30T23:30:00-05:00"),
]
"""published, event start and end, the date a page gives, its <time datetime>."""


@pytest.mark.parametrize(("published", "start", "end", "shown", "stamp"), PUBLISHED)
def test_publication_day_is_shown_only_where_known(
    write_entry: WriteEntry,
    make_app: MakeApp,
    published: str,
    start: str | None,
    end: str | None,
    shown: str,
    stamp: str,
) -> None:
    when = REMOVE if start is None else {"start": start, "end": end}
    write_entry("a-visit", published=published, event=when)
    client = make_app().test_client()
    home, entry = parse(client, "/"), parse(client, "/entries/a-visit/")
    for meta in (
        home.xpath(".//ol[@class='entries']//p[@class='meta']")[0],
        entry.xpath(".//article//p[@class='meta']")[0],
    ):
        assert text(meta).split(" · ")[0] == f"Published {shown}"
        assert meta.xpath(".//time")[0].get("datetime") == stamp


def test_entry_page_gives_the_day_of_an_update(write_entry: WriteEntry, make_app: MakeApp) -> None:
    write_entry(
        "a-visit",
        published="2014-12-01T00:00:00Z",
        updated="2015-01-14T12:30:00+02:00",
        event={"start": "2014-12"},
    )
    meta = parse(make_app().test_client(), "/entries/a-visit/").xpath(
        ".//article//p[@class='meta']"
    )[0]
    assert text(meta) == "Published December 2014 · updated 14 January 2015"
    stamps = [t.get("datetime") for t in meta.xpath(".//time")]
    assert stamps == ["2014-12", "2015-01-14T12:30:00+02:00"]


# Places

PLACES = [
    ("Israel", "Israel", "Israel"),
    ("Jerusalem", "Israel", "Jerusalem, Israel"),
    ("Tel Aviv, Israel", "Israel", "Tel Aviv, Israel"),
    ("tel aviv, ISRAEL ", "Israel", "tel aviv, ISRAEL "),
    ("Israeli embassy", "Israel", "Israeli embassy, Israel"),
    ("Niger Delta", "Nigeria", "Niger Delta, Nigeria"),
    ("Lagos, Nigeria", "Niger", "Lagos, Nigeria, Niger"),
]


@pytest.mark.parametrize(("place", "country", "expected"), PLACES)
def test_event_place(place: str, country: str, expected: str) -> None:
    assert event_place(Location(place=place, country=country)) == expected


def test_place_that_is_its_country_is_named_once(
    write_entry: WriteEntry, make_app: MakeApp
) -> None:
    israel = {"place": "Israel", "country": "Israel"}
    write_entry("a-visit", event={"start": "2015-10-12", "location": israel})
    client = make_app().test_client()
    assert date_lines(parse(client, "/"))["a-visit"].endswith("Event: 12 October 2015, Israel")
    assert facts(parse(client, "/entries/a-visit/"))["Where"] == "Israel"


def test_event_without_place_or_entry_without_event(
    write_entry: WriteEntry, make_app: MakeApp
) -> None:
    write_entry("a-visit", event={"start": "2015-10"})
    write_entry("a-conference", title="A conference", published="2015-11-03T10:00:00Z")
    client = make_app().test_client()
    assert date_lines(parse(client, "/")) == {
        "a-visit": "Published 12 October 2015 · Event: October 2015",
        "a-conference": "Published 3 November 2015",
    }
    assert "Where" not in facts(parse(client, "/entries/a-visit/"))
    assert "When" not in facts(parse(client, "/entries/a-conference/"))


# The standfirst


def article(client: FlaskClient, slug: str = "a-visit") -> Page:
    return parse(client, f"/entries/{slug}/").xpath(".//article")[0]


def test_summary_is_a_standfirst_where_the_content_says_something_else(
    write_entry: WriteEntry, make_app: MakeApp
) -> None:
    write_entry("a-visit", summary="Someone visited.", content="The *visit* happened in June.")
    page = article(make_app().test_client())
    standfirst = page.xpath(".//p[@class='standfirst']")
    assert [text(p) for p in standfirst] == ["Someone visited."]
    paragraphs = [text(p) for p in page.iter("p")]
    # The lead comes straight under the headline, the body after the facts.
    assert paragraphs.index("Someone visited.") < paragraphs.index("The visit happened in June.")
    assert page.xpath(".//h1")[0].getnext() is standfirst[0]


@pytest.mark.parametrize(
    "content",
    [
        "Someone visited.\n\nThe visit happened in June.",
        "*Someone*   VISITED.\n\nThe visit happened in June.",
        "Someone visited. The visit happened in June.",
        "someone\nvisited.",
    ],
)
def test_summary_is_left_out_where_the_content_starts_with_it(
    write_entry: WriteEntry, make_app: MakeApp, content: str
) -> None:
    write_entry("a-visit", summary="Someone  visited.", content=content)
    page = article(make_app().test_client())
    assert page.xpath(".//p[@class='standfirst']") == []
    assert " ".join(page.text_content().split()).lower().count("someone visited.") == 1


def _whole_text_starts_with(summary: str, content_html: str) -> bool:
    """shows_standfirst, reading the whole content at once: what the pieces must agree with."""
    lead = pageparts._normal(summary)
    reader = pageparts._Text()
    reader.feed(content_html)
    reader.close()
    text = pageparts._normal("".join(reader.parts))
    if not lead or not text.startswith(lead):
        return True
    rest = text[len(lead) :]
    return bool(rest) and rest[0].isalnum() and lead[-1].isalnum()


WORDS = st.sampled_from(["Someone", "visited", "VISITED", "ﬁne", "Straße", "strasse", "e\u0301",
                         "é", "&amp;", "&eacute;", "&", "<", "1", "x" * 300])  # fmt: skip
TAGS = st.sampled_from(["<p>", "</p>", "<em>", "</em>", "<br>", "<a href='x'>", "</a>", "\n", " "])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(WORDS, min_size=1, max_size=6).map(" ".join),
    st.lists(WORDS | TAGS, max_size=40).map("".join),
    st.integers(1, 12),
)
def test_the_standfirst_is_decided_from_the_contents_beginning_as_from_all_of_it(
    summary: str, rest: str, step: int
) -> None:
    # Contents that start with the summary (or nearly), read in pieces of any size.
    for content in (rest, summary + rest, "<p>" + summary.upper() + rest, summary[:-1] + rest):
        expected = _whole_text_starts_with(summary, content)
        assert pageparts.shows_standfirst(summary, content) == expected
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(pageparts, "STANDFIRST_STEP", step)
            patch.setattr(pageparts, "STANDFIRST_FACTOR", 0)
            assert pageparts.shows_standfirst(summary, content) == expected, (summary, content)


MARKDOWN = st.sampled_from(
    [
        "Someone",
        "visited",
        "&amp;",
        "&eacute;",
        "&",
        "<",
        ">",
        "*em*",
        "**strong**",
        "`a<b>`",
        '[link](https://x.example/?a=1&b=2 "t > \\"q\\" \'s")',
        "\n\n",
        "\n- item\n",
        "# Head\n",
        "> quoted\n",
        "<b>raw</b>",
        "<!-- c -->",
        "<script>x</script>",
        "| a | b |\n|---|---|\n| c | d |\n",
        "x" * 300,
        "\u00a0",
        "e\u0301",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(MARKDOWN, max_size=30).map(" ".join))
def test_the_text_of_sanitised_html_is_read_without_the_html_parser(markdown: str) -> None:
    # What entries' Markdown becomes is read by a regular expression, as _Text reads it.
    content = render_markdown(markdown)
    reader = pageparts._Text()
    reader.feed(content)
    reader.close()
    assert pageparts._markup_text(content) == "".join(reader.parts)
    summary = pageparts._normal("".join(reader.parts))[:40] or "x"
    assert pageparts.shows_standfirst(summary, content) == _whole_text_starts_with(summary, content)


@pytest.mark.parametrize(
    ("summary", "content"),
    [
        ("A visit", "A visitor came."),
        ("Someone visited.", "It rained.\n\nSomeone visited."),
        ("Someone visited.", None),
    ],
)
def test_summary_stays_where_the_content_does_not_start_with_it(
    write_entry: WriteEntry, make_app: MakeApp, summary: str, content: str | None
) -> None:
    write_entry("a-visit", summary=summary, content=REMOVE if content is None else content)
    page = article(make_app().test_client())
    assert [text(p) for p in page.xpath(".//p[@class='standfirst']")] == [summary]


@pytest.mark.parametrize(
    "path", ["/", "/categories/visits/", "/archive/2015/", "/archive/2015/10/"]
)
def test_lists_show_markup_in_entries_as_text(
    write_entry: WriteEntry, make_app: MakeApp, path: str
) -> None:
    title, summary, place = "<b>Tom & Jerry</b>", 'Say "hi" <script>x</script>', "A & B <i>"
    event = {"start": "2015-10-12", "location": {"place": place, "country": "Israel"}}
    write_entry("a-visit", title=title, summary=summary, event=event)
    client = make_app().test_client()
    body = client.get(path).get_data(as_text=True)
    assert "<script>" not in body and "<b>Tom" not in body and "<i>" not in body
    (item,) = parse(client, path).xpath(".//ol[@class='entries']/li")
    assert text(item.xpath(".//h3")[0]) == title
    assert text(item.xpath("./p")[-1]) == summary
    assert f"{place}, Israel" in text(item.xpath(".//p[@class='meta']")[0])
