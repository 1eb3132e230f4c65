"""Encodings, validators and conditional answers, through the app and the pure functions."""

from __future__ import annotations

import gzip
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import brotli
import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from conftest import WriteEntry
from medfeed.delivery import LARGE_BODY, answer, gzip_bytes, http_date, make_document, with_vary
from medfeed.negotiation import choose_encoding, not_modified_since, parse_http_date

FEEDS = ["/feed.atom", "/feed.rss", "/categories/visits/feed.atom", "/"]
DOCUMENTS = [*FEEDS, "/categories/visits/", "/entries/a-visit/"]
SECOND = timedelta(seconds=1)


@pytest.fixture
def loaded(
    write_entry: WriteEntry, make_app: Callable[..., Flask], entries_dir: Path
) -> FlaskClient:
    write_entry("a-visit")
    write_entry("a-conference", categories=["conferences"], title="A conference")
    # Written an hour ago: a date a little after a document's change is still a past one.
    hour_ago = time.time() - 3600
    for path in [*entries_dir.iterdir(), entries_dir]:
        os.utime(path, (hour_ago, hour_ago))
    return make_app().test_client()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", "identity"),
        ("gzip", "gzip"),
        ("gzip, deflate, br", "br"),
        ("br;q=0, gzip", "gzip"),
        ("gzip;q=0", "identity"),
        ("*", "br"),
        ("identity", "identity"),
        ("GZIP", "gzip"),
        ("br;q=0.5, gzip;q=1", "br"),
        ("gzip;q=bogus", "identity"),
    ],
)
def test_choose_encoding(header: str, expected: str) -> None:
    assert choose_encoding(header, ("identity", "gzip", "br")) == expected


@pytest.mark.parametrize("path", FEEDS)
def test_each_encoding_decodes_to_the_same_bytes(loaded: FlaskClient, path: str) -> None:
    plain = loaded.get(path)
    zipped = loaded.get(path, headers={"Accept-Encoding": "gzip"})
    brotlied = loaded.get(path, headers={"Accept-Encoding": "br"})
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert brotlied.headers["Content-Encoding"] == "br"
    assert gzip.decompress(zipped.data) == plain.data
    assert brotli.decompress(brotlied.data) == plain.data
    for response in (plain, zipped, brotlied):
        assert response.headers["Vary"] == "Accept-Encoding"
        assert int(response.headers["Content-Length"]) == len(response.data)
    etags = {r.headers["ETag"] for r in (plain, zipped, brotlied)}
    assert len(etags) == 3, "each encoding has its own validator"


@pytest.mark.parametrize("encoding", ["identity", "gzip", "br"])
def test_304_for_each_encoding(loaded: FlaskClient, encoding: str) -> None:
    headers = {"Accept-Encoding": encoding}
    first = loaded.get("/feed.atom", headers=headers)
    again = loaded.get("/feed.atom", headers={**headers, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Vary"] == "Accept-Encoding"
    assert "max-age=" in again.headers["Cache-Control"]


def test_another_encodings_etag_is_not_a_match(loaded: FlaskClient) -> None:
    gzip_etag = loaded.get("/feed.atom", headers={"Accept-Encoding": "gzip"}).headers["ETag"]
    plain = loaded.get("/feed.atom", headers={"If-None-Match": gzip_etag})
    assert plain.status_code == 200
    assert plain.data


def test_head_has_the_headers_of_get_and_no_body(loaded: FlaskClient) -> None:
    get = loaded.get("/feed.rss", headers={"Accept-Encoding": "gzip"})
    head = loaded.head("/feed.rss", headers={"Accept-Encoding": "gzip"})
    assert head.status_code == 200
    assert head.data == b""
    for name in ("ETag", "Content-Length", "Content-Type", "Content-Encoding", "Last-Modified"):
        assert head.headers[name] == get.headers[name]


def test_weak_and_listed_etags_match(loaded: FlaskClient) -> None:
    etag = loaded.get("/feed.atom").headers["ETag"]
    listed = loaded.get("/feed.atom", headers={"If-None-Match": f'"other", W/{etag}'})
    star = loaded.get("/feed.atom", headers={"If-None-Match": "*"})
    assert listed.status_code == 304
    assert star.status_code == 304


def test_etag_wins_over_a_date(loaded: FlaskClient) -> None:
    first = loaded.get("/feed.atom")
    stale_etag_fresh_date = loaded.get(
        "/feed.atom",
        headers={"If-None-Match": '"stale"', "If-Modified-Since": first.headers["Last-Modified"]},
    )
    assert stale_etag_fresh_date.status_code == 200


@pytest.mark.parametrize("since", ["garbage", "", "Tue, 99 Foo 2016 00:00:00 GMT"])
def test_a_bad_date_is_ignored(loaded: FlaskClient, since: str) -> None:
    assert loaded.get("/feed.atom", headers={"If-Modified-Since": since}).status_code == 200


def test_a_document_is_compressed_once() -> None:
    doc = make_document(b"x" * 1000, "text/plain", datetime(2016, 9, 16, tzinfo=UTC), 60)
    doc.prepare()
    environ = {"REQUEST_METHOD": "GET", "HTTP_ACCEPT_ENCODING": "gzip"}
    first, second = answer(doc, environ), answer(doc, environ)
    assert first.body is second.body
    assert ("Last-Modified", "Fri, 16 Sep 2016 00:00:00 GMT") in first.headers


def test_last_modified_is_in_gmt_whatever_the_offset() -> None:
    moment = datetime.fromisoformat("2016-09-16T02:00:00+02:00")
    doc = make_document(b"x", "text/plain", moment, 60)
    reply = answer(doc, {"REQUEST_METHOD": "GET"})
    assert ("Last-Modified", "Fri, 16 Sep 2016 00:00:00 GMT") in reply.headers


# HTTP dates (RFC 9110 5.6.7)

MOMENT = datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def date_forms(moment: datetime) -> dict[str, str]:
    """One moment in each of the three HTTP-date formats (locale-independent)."""
    day, month = DAYS[moment.weekday()], MONTHS[moment.month - 1]
    clock = f"{moment:%H:%M:%S}"
    return {
        "imf-fixdate": f"{day[:3]}, {moment.day:02d} {month} {moment.year:04d} {clock} GMT",
        "rfc850": f"{day}, {moment.day:02d}-{month}-{moment.year % 100:02d} {clock} GMT",
        "asctime": f"{day[:3]} {month} {moment.day:2d} {clock} {moment.year:04d}",
    }


def test_the_rfcs_examples_are_one_moment() -> None:
    assert date_forms(MOMENT) == {
        "imf-fixdate": "Sun, 06 Nov 1994 08:49:37 GMT",
        "rfc850": "Sunday, 06-Nov-94 08:49:37 GMT",
        "asctime": "Sun Nov  6 08:49:37 1994",
    }
    for value in date_forms(MOMENT).values():
        assert parse_http_date(value) == MOMENT, value


@pytest.mark.parametrize(
    "value",
    [
        "sun, 06 nov 1994 08:49:37 gmt",
        "  Sun,  06 Nov 1994   08:49:37 GMT  ",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 10:49:37 +0200",
        "Sun, 05 Nov 1994 23:19:37 -0930",
        "SUNDAY, 06-NOV-94 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sun Nov 06 08:49:37 1994",
        "Sun\tNov 6 08:49:37 1994",
    ],
)
def test_lenient_spellings_of_one_moment(value: str) -> None:
    assert parse_http_date(value) == MOMENT


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        "Tue, 99 Foo 2016 00:00:00 GMT",
        "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 1994 08:49:37 +2400",
        "Sun, 06 Nov 1994 08:49:37 +0160",
        "Sun, 06 Nov 1994 08:49:37 EST",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 06 Nov 01994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994 GMT",
        "Sun Nov  6 08:49:37 94",
        "1994-11-06T08:49:37Z",
        "784111777",
        "Sun, \u0660\u0666 Nov 1994 08:49:37 GMT",
        "Mon, 01 Jan 0001 00:00:00 +0100",
        "Fri, 31 Dec 9999 23:59:59 -0100",
        "Sun, 06 Nov 1994 08:49:37 GMT\x00",
    ],
)
def test_what_is_not_an_http_date(value: str) -> None:
    assert parse_http_date(value) is None


def test_a_leap_second_is_the_last_second_of_its_minute() -> None:
    assert parse_http_date("Sat, 31 Dec 2016 23:59:60 GMT") == datetime(
        2016, 12, 31, 23, 59, 59, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("value", "now", "year"),
    [
        ("Sunday, 06-Nov-94 08:49:37 GMT", datetime(2026, 1, 1, tzinfo=UTC), 1994),
        ("Monday, 01-Jan-26 00:00:00 GMT", datetime(2026, 1, 1, tzinfo=UTC), 2026),
        ("Tuesday, 01-Jan-75 00:00:00 GMT", datetime(2026, 1, 1, tzinfo=UTC), 2075),
        ("Friday, 01-Jan-77 00:00:00 GMT", datetime(2026, 1, 1, tzinfo=UTC), 1977),
        # Exactly 50 years ahead is not "more than 50 years in the future"; a second is.
        ("Monday, 15-Jun-76 12:00:00 GMT", datetime(2026, 6, 15, 12, tzinfo=UTC), 2076),
        ("Monday, 15-Jun-76 12:00:01 GMT", datetime(2026, 6, 15, 12, tzinfo=UTC), 1976),
        # Near the end of a century the window slides into the next one.
        ("Thursday, 01-Jan-10 00:00:00 GMT", datetime(2095, 1, 1, tzinfo=UTC), 2110),
        ("Saturday, 01-Jan-00 00:00:00 GMT", datetime(1999, 12, 31, tzinfo=UTC), 2000),
    ],
)
def test_a_two_digit_year_is_at_most_50_years_ahead(value: str, now: datetime, year: int) -> None:
    parsed = parse_http_date(value, now)
    assert parsed is not None
    assert parsed.year == year


def test_the_century_decides_whether_february_29_exists() -> None:
    assert parse_http_date("Tuesday, 29-Feb-00 00:00:00 GMT", datetime(2026, 1, 1, tzinfo=UTC))
    assert (
        parse_http_date("Thursday, 29-Feb-00 00:00:00 GMT", datetime(1950, 1, 1, tzinfo=UTC))
        is None
    )


moments = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=0))


@given(moments)
def test_every_format_reads_back_what_it_says(moment: datetime) -> None:
    forms = date_forms(moment)
    assert parse_http_date(http_date(moment)) == moment
    assert parse_http_date(forms["imf-fixdate"]) == moment
    assert parse_http_date(forms["asctime"]) == moment
    assert parse_http_date(forms["rfc850"], now=moment) == moment


@given(st.text())
def test_parsing_any_text_never_raises(value: str) -> None:
    parsed = parse_http_date(value)
    assert parsed is None or parsed.tzinfo is UTC


def last_modified(response: TestResponse) -> datetime:
    parsed = parse_http_date(response.headers["Last-Modified"])
    assert parsed is not None
    return parsed


@pytest.mark.parametrize("form", ["imf-fixdate", "rfc850", "asctime"])
@pytest.mark.parametrize("path", DOCUMENTS)
def test_if_modified_since_in_each_format(loaded: FlaskClient, path: str, form: str) -> None:
    first = loaded.get(path)
    changed = last_modified(first)
    same = loaded.get(path, headers={"If-Modified-Since": date_forms(changed)[form]})
    assert same.status_code == 304
    assert same.data == b""
    assert same.headers["ETag"] == first.headers["ETag"]
    later = loaded.get(path, headers={"If-Modified-Since": date_forms(changed + SECOND)[form]})
    assert later.status_code == 304
    before = loaded.get(path, headers={"If-Modified-Since": date_forms(changed - SECOND)[form]})
    assert before.status_code == 200
    assert before.data == first.data
    head = loaded.head(path, headers={"If-Modified-Since": date_forms(changed)[form]})
    assert head.status_code == 304


@pytest.mark.parametrize(
    "since",
    [
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 31 Feb 2100 00:00:00 GMT",
        "Fri, 31 Dec 9999 23:59:59 -0100",
        "Sun Nov  6 08:49:37 99999",
        "\x00\xff" * 1000,
        "Sun, 06 Nov 2100 08:49:37 GMT" * 100,
    ],
)
def test_an_unreadable_date_is_ignored_not_an_error(loaded: FlaskClient, since: str) -> None:
    response = loaded.get("/feed.rss", headers={"If-Modified-Since": since})
    assert response.status_code == 200
    assert response.data


FAR_AHEAD = datetime(2126, 3, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("form", ["imf-fixdate", "rfc850", "asctime"])
@pytest.mark.parametrize("path", DOCUMENTS)
def test_a_date_later_than_the_answer_is_ignored(loaded: FlaskClient, path: str, form: str) -> None:
    # RFC 9110 13.1.3: a date later than the server's time is not valid. Honoured, it
    # would answer 304 to a client with a fast clock after every change until that date.
    first = loaded.get(path)
    ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    dates = [ahead] if form == "rfc850" else [ahead, FAR_AHEAD]  # two digits: 50 years
    for moment in dates:
        since = date_forms(moment)[form]
        assert parse_http_date(since) == moment
        for method in (loaded.get, loaded.head):
            response = method(path, headers={"If-Modified-Since": since})
            assert response.status_code == 200, (since, method)
            assert response.headers["ETag"] == first.headers["ETag"]
        assert loaded.get(path, headers={"If-Modified-Since": since}).data == first.data
    # The date the client was given is still honoured.
    stamp = first.headers["Last-Modified"]
    assert loaded.get(path, headers={"If-Modified-Since": stamp}).status_code == 304


def test_if_modified_since_is_judged_against_the_time_of_the_answer() -> None:
    changed = datetime(2016, 9, 16, 10, tzinfo=UTC)
    doc = make_document(b"x" * 100, "text/plain", changed, 60)
    now = datetime(2020, 1, 1, 12, 0, 0, 500_000, tzinfo=UTC)
    for since, status in [
        (changed, "304 Not Modified"),
        (now.replace(microsecond=0), "304 Not Modified"),  # Date's own second
        (now.replace(microsecond=0) + SECOND, "200 OK"),
        (now + timedelta(days=365 * 100), "200 OK"),
        (changed - SECOND, "200 OK"),
    ]:
        environ = {"REQUEST_METHOD": "GET", "HTTP_IF_MODIFIED_SINCE": http_date(since)}
        assert answer(doc, environ, now=now).status == status, since
        assert not_modified_since(http_date(since), changed, now) == (status != "200 OK")
    # Without a time, the clock's: a date in 2126 is later than it.
    assert not not_modified_since(http_date(FAR_AHEAD), changed)
    assert not_modified_since(http_date(datetime.now(UTC)), changed)
    # An ETag still answers 304 whatever the date says.
    environ = {
        "REQUEST_METHOD": "GET",
        "HTTP_IF_NONE_MATCH": doc.variant("identity").etag,
        "HTTP_IF_MODIFIED_SINCE": http_date(FAR_AHEAD),
    }
    assert answer(doc, environ, now=now).status == "304 Not Modified"


@given(
    changed=st.datetimes(datetime(1970, 1, 1), datetime(2200, 1, 1), timezones=st.just(UTC)),
    since=st.datetimes(datetime(1970, 1, 1), datetime(9999, 1, 1), timezones=st.just(UTC)),
    now=st.datetimes(datetime(1970, 1, 1), datetime(2200, 1, 1), timezones=st.just(UTC)),
)
def test_no_304_for_a_date_past_the_answer_or_before_the_change(
    changed: datetime, since: datetime, now: datetime
) -> None:
    fresh = not_modified_since(http_date(since), changed, now)
    since = since.replace(microsecond=0)
    assert fresh == (changed.replace(microsecond=0) <= since <= now)


# Accept-Encoding (RFC 9110 12.5.3)

ALL = ("identity", "gzip", "br")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        # A zero weight refuses, wherever it stands and however it is written.
        ("gzip;foo=bar;q=0", "identity"),
        ("gzip;q=0;foo=bar", "identity"),
        ("gzip; Q=0", "identity"),
        ("gzip;q=0.000", "identity"),
        ("gzip;q=0.", "identity"),
        ("br ; q = 0, gzip", "gzip"),
        ("br;level=5;Q=0.0, gzip;q=0.001", "gzip"),
        ('gzip;foo="a,b;q=1";q=0', "identity"),
        ('br;foo="x\\",y";q=0, gzip', "gzip"),
        ("GZIP;Q=0", "identity"),
        # A refusal is not undone by the same coding, or its alias, named again.
        ("gzip;q=0, gzip", "identity"),
        ("gzip, gzip;q=0", "identity"),
        ("x-gzip;q=0, gzip", "identity"),
        ("gzip;q=1;q=0", "identity"),
        # An unreadable weight refuses.
        ("gzip;q=", "identity"),
        ("gzip;q", "identity"),
        ("gzip;q=nan", "identity"),
        ("gzip;q=inf", "identity"),
        ("gzip;q=1e0", "identity"),
        ("gzip;q=-1", "identity"),
        ("gzip;q=1.5", "identity"),
        ("gzip;q=2", "identity"),
        ("gzip;q=0.0001", "identity"),
        ('gzip;q="1"', "identity"),
        ("gzip;q=\u0661", "identity"),
        # Other parameters and weights above zero accept.
        ("gzip;q=0.001", "gzip"),
        ("gzip;q=1.000", "gzip"),
        ("gzip;level=9", "gzip"),
        ("gzip;q=0.5, br;q=0.1", "br"),
        # x-gzip is gzip; names are case-insensitive.
        ("x-gzip", "gzip"),
        ("X-GZip", "gzip"),
        ("Br", "br"),
        # "*" stands for every coding not named.
        ("*", "br"),
        ("*;q=0, gzip", "gzip"),
        ("*;q=0, x-gzip", "gzip"),
        ("*, br;q=0", "gzip"),
        ("*;q=0.5, br;q=0", "gzip"),
        ("*;q=0", "identity"),
        # Codings we do not have, and junk, leave identity.
        ("compress, deflate, zstd", "identity"),
        ("gzip-ish, brotli, x-br", "identity"),
        (",,,;;;", "identity"),
        (" , gzip , ", "gzip"),
        ("gzip\tbr", "identity"),
        # Identity refused with nothing else acceptable: identity anyway (RFC 9110 12.5.3
        # allows disregarding the field rather than answering 406).
        ("identity;q=0", "identity"),
        ("identity;q=0, *;q=0", "identity"),
        ("identity;q=0, gzip", "gzip"),
    ],
)
def test_choose_encoding_reads_weights_as_rfc_9110_does(header: str, expected: str) -> None:
    assert choose_encoding(header, ALL) == expected


def test_only_available_codings_are_chosen() -> None:
    assert choose_encoding("br, gzip", ("identity", "gzip")) == "gzip"
    assert choose_encoding("br", ("identity", "gzip")) == "identity"
    assert choose_encoding("*", ("identity",)) == "identity"


ZERO_WEIGHTS = ("0", "0.", "0.0", "0.00", "0.000")
POSITIVE_WEIGHTS = ("1", "1.", "1.0", "1.000", "0.001", "0.5", "0.999")
NAMES = {"gzip": ("gzip", "x-gzip"), "br": ("br",), "identity": ("identity",), "*": ("*",)}


@st.composite
def weighted_member(draw: st.DrawFn, coding: str, refused: bool) -> str:
    """One Accept-Encoding member for ``coding``, in any spelling, its weight anywhere."""
    name = "".join(
        c.upper() if draw(st.booleans()) else c for c in draw(st.sampled_from(NAMES[coding]))
    )
    space = st.sampled_from(["", " ", "\t", "  "])
    weight = draw(st.sampled_from(ZERO_WEIGHTS if refused else POSITIVE_WEIGHTS))
    params = draw(st.lists(st.sampled_from(["level=5", "foo=bar", 'x="a,b;q=1"', "v"]), max_size=2))
    if refused or draw(st.booleans()):
        key = draw(st.sampled_from(["q", "Q"]))
        params.insert(
            draw(st.integers(0, len(params))), f"{key}{draw(space)}={draw(space)}{weight}"
        )
    return name + "".join(f"{draw(space)};{draw(space)}{param}" for param in params)


@st.composite
def accept_encoding(draw: st.DrawFn) -> tuple[str, set[str]]:
    """A header naming each coding at most once, and the codings it makes unacceptable."""
    named = draw(st.lists(st.sampled_from(list(NAMES)), unique=True))
    refusals = {coding: draw(st.booleans()) for coding in named}
    members = [draw(weighted_member(coding, refusals[coding])) for coding in named]
    junk = draw(st.lists(st.sampled_from(["", "compress", "zstd;q=1", "deflate"]), max_size=2))
    parts = draw(st.permutations(members + junk))
    header = draw(st.sampled_from([",", ", ", " ,"])).join(parts)
    # RFC 9110 12.5.3: a coding not named takes the weight of "*"; without "*", only
    # identity is acceptable unnamed.
    star = refusals.get("*")
    unacceptable = {
        coding
        for coding, unnamed in (("gzip", True), ("br", True), ("identity", False))
        if refusals.get(coding, unnamed if star is None else star)
    }
    return header, unacceptable


@given(accept_encoding(), st.sampled_from([ALL, ("identity", "gzip"), ("identity",)]))
def test_a_refused_coding_is_never_chosen(
    case: tuple[str, set[str]], available: tuple[str, ...]
) -> None:
    header, unacceptable = case
    chosen = choose_encoding(header, available)
    assert chosen in available
    if chosen == "identity":
        # Identity is the fallback only when every compressed coding we have is refused.
        assert all(coding in unacceptable for coding in available if coding != "identity")
    else:
        assert chosen not in unacceptable


@given(st.text(), st.sampled_from(["br;q=0, gzip;q=0", "x-gzip;Q=0.000 ,BR ; q = 0"]))
def test_any_header_with_refusals_is_answered_plainly(junk: str, refusals: str) -> None:
    assert choose_encoding(f"{junk},{refusals}", ALL) == "identity"
    assert choose_encoding(f"{refusals},{junk}", ALL) == "identity"


@given(st.text())
def test_choose_encoding_never_raises(header: str) -> None:
    assert choose_encoding(header, ALL) in ALL


# Hostile requests for a document


DOC = make_document(b"<feed/>" * 50, "application/atom+xml", datetime(2016, 9, 16, tzinfo=UTC), 60)
header_values = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255)),
    st.sampled_from(['"', "W/", "*", ",", ";q=0", "\x00", "\r\n", "Sun, 06 Nov 1994 08:49:37 GMT"]),
    st.binary().map(lambda data: data.decode("latin-1")),
)


@given(
    method=st.sampled_from(["GET", "HEAD"]),
    headers=st.dictionaries(
        st.sampled_from(["HTTP_ACCEPT_ENCODING", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE"]),
        header_values,
    ),
)
def test_any_header_values_get_a_whole_answer(method: str, headers: dict[str, str]) -> None:
    reply = answer(DOC, {"REQUEST_METHOD": method, **headers})
    sent = dict(reply.headers)
    assert reply.status in ("200 OK", "304 Not Modified")
    assert sent["Vary"] == "Accept-Encoding"
    assert sent["ETag"].startswith(f'"{DOC.etag}')
    if reply.status == "200 OK":
        encoding = sent.get("Content-Encoding", "identity")
        assert int(sent["Content-Length"]) == len(DOC.variant(encoding).body)
        assert reply.body == (b"" if method == "HEAD" else DOC.variant(encoding).body)
    else:
        assert reply.body == b""
        assert "Content-Length" not in sent


# Vary on headers Flask made


@pytest.mark.parametrize(
    ("headers", "vary"),
    [
        ([], ["Accept-Encoding"]),
        ([("Vary", "Cookie")], ["Cookie, Accept-Encoding"]),
        ([("vary", "accept-encoding")], ["accept-encoding"]),
        ([("Vary", "Cookie"), ("Vary", "Accept-Encoding")], ["Cookie", "Accept-Encoding"]),
        ([("Vary", "*")], ["*"]),
        ([("Vary", "")], ["", "Accept-Encoding"]),
    ],
)
def test_with_vary_names_accept_encoding_once(
    headers: list[tuple[str, str]], vary: list[str]
) -> None:
    merged = with_vary([("Content-Type", "text/html"), *headers])
    assert [v for k, v in merged if k.lower() == "vary"] == vary
    assert merged[0] == ("Content-Type", "text/html")


@pytest.mark.parametrize("size", [0, 1, 1000, LARGE_BODY, LARGE_BODY + 1, 3 * 1024 * 1024])
def test_gzip_forms_are_whole_deterministic_and_smaller(size: int) -> None:
    # Small bodies take zlib's best-ratio level, large ones (archives) the fast deflate.
    words = b"visit talks security cooperation dialogue minister summit delegation "
    body = (words * (size // len(words) + 1))[:size]
    first, again = gzip_bytes(body), gzip_bytes(body)
    assert first == again
    assert gzip.decompress(first) == body
    assert first[:3] == b"\x1f\x8b\x08" and first[4:8] == b"\0\0\0\0"  # gzip, no time
    if size > 1000:
        assert len(first) < size / 4


@pytest.mark.parametrize("size", [0, 1000, 100_000])
def test_documents_fetched_rarely_are_compressed_for_speed_at_any_size(size: int) -> None:
    words = b"<li>visit talks security cooperation dialogue minister summit</li>\n"
    body = (words * (size // len(words) + 1))[:size]
    moment = datetime(2016, 9, 16, tzinfo=UTC)
    fast = make_document(body, "text/html", moment, 60, fast=True)
    usual = make_document(body, "text/html", moment, 60)
    assert fast.gzip == gzip_bytes(body, fast=True)
    assert usual.gzip == gzip_bytes(body, fast=False) == gzip_bytes(body)
    assert gzip.decompress(fast.gzip) == gzip.decompress(usual.gzip) == body
    assert fast.redated(moment.replace(year=2017)).fast
    if size >= 100_000:
        assert fast.gzip != usual.gzip, "a different (faster) compressor"
