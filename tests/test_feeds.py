"""The feeds as a feed reader sees them: parsed with feedparser, Atom checked against RFC 4287."""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree

from conftest import BASE_URL, REMOVE, SEED_ENTRIES
from helpers import displayed, long_markdown, write_many
from medfeed import feeds
from medfeed.budget import SUMMARY_CHARS
from medfeed.errors import UnknownEntry
from medfeed.loading import load_catalog
from medfeed.meta import MAX_FEED_BYTES
from medfeed.settings import Settings
from medfeed.site import Publisher
from medfeed.snapshot import Snapshot

WriteEntry = Callable[..., Path]

ATOM_NS = "http://www.w3.org/2005/Atom"
A = f"{{{ATOM_NS}}}"
ATOM_SCHEMA = Path(__file__).parent / "data" / "atom.rng"
MEDIA_TYPES = {"rss": "application/rss+xml", "atom": "application/atom+xml"}
CATEGORIES = ("visits", "conferences")
FIXED_NOW = datetime(2024, 1, 1, tzinfo=UTC)


def feed_paths(categories: tuple[str, ...] = CATEGORIES) -> list[str]:
    """Every feed path of a site with these categories."""
    pages = ["/", *(f"/categories/{slug}/" for slug in categories)]
    return [f"{page}feed.{fmt}" for page in pages for fmt in ("rss", "atom")]


def page_of(path: str) -> str:
    """The HTML page a feed path belongs to."""
    return path.rsplit("/", 1)[0] + "/"


def fmt_of(path: str) -> str:
    return path.rsplit(".", 1)[1]


def fetch(client: FlaskClient, path: str) -> bytes:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.data


def parse(body: bytes, **options: Any) -> feedparser.FeedParserDict:
    """Parse a feed as a reader would; it must be well-formed."""
    parsed = feedparser.parse(body, **options)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def atom_schema() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(ATOM_SCHEMA)))


def entry_links(parsed: feedparser.FeedParserDict) -> list[str]:
    return [entry.link for entry in parsed.entries]


def site_toml(entries_dir: Path, **settings: int) -> None:
    """Add top-level settings to the test site.toml."""
    path = entries_dir / "site.toml"
    lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace('authority = "example.org"\n', f'authority = "example.org"\n{lines}'),
        encoding="utf-8",
    )


def snapshot(entries_dir: Path, base_url: str = BASE_URL) -> Snapshot:
    return Snapshot(load_catalog(entries_dir), base_url, FIXED_NOW)


def rss_and_atom(shot: Snapshot) -> dict[str, bytes]:
    """The RSS and Atom feeds of a snapshot (JSON Feed has tests of its own)."""
    return {p: doc.body for p, doc in shot.feeds() if p.endswith((".rss", ".atom"))}


@pytest.fixture
def three_entries(write_entry: WriteEntry) -> None:
    """Entries in both categories, one with a later update."""
    write_entry("a-visit", title="A visit")
    write_entry(
        "b-conference",
        title="A conference",
        published="2016-01-01T10:00:00Z",
        updated="2016-02-01T10:00:00-05:00",
        categories=["conferences"],
    )
    write_entry(
        "c-visit",
        title="Another visit",
        published="2015-12-01T00:00:00+00:00",
        categories=["visits"],
    )


# Well-formed and valid


@pytest.mark.usefixtures("three_entries")
@pytest.mark.parametrize("path", feed_paths())
def test_every_feed_parses_without_errors(client: FlaskClient, path: str) -> None:
    parsed = parse(fetch(client, path))
    assert parsed.version == ("atom10" if path.endswith(".atom") else "rss20")
    assert parsed.feed.title.startswith("Test News")


@pytest.mark.usefixtures("three_entries")
@pytest.mark.parametrize("path", [p for p in feed_paths() if p.endswith(".atom")])
def test_atom_feeds_validate_against_rfc_4287(client: FlaskClient, path: str) -> None:
    schema = atom_schema()
    document = etree.fromstring(fetch(client, path))
    assert schema.validate(document), schema.error_log


@pytest.fixture
def client_of(write_entry: WriteEntry, make_app: Callable[..., Flask]) -> Callable[[], FlaskClient]:
    """A client on one entry that uses every optional field."""

    def make() -> FlaskClient:
        write_entry(
            "a-visit",
            updated="2015-10-13T10:00:00+02:00",
            link="https://source.example.org/x",
            categories=["visits", "conferences"],
            authors=[{"name": "Jo Reporter", "email": "jo@example.org"}, {"name": "Sam"}],
            event={
                "start": "2015-06",
                "end": "2015-07",
                "location": {"place": "Brussels", "country": "Belgium"},
            },
        )
        return make_app().test_client()

    return make


def test_full_featured_atom_entry_validates(client_of: Callable[[], FlaskClient]) -> None:
    client = client_of()
    schema = atom_schema()
    document = etree.fromstring(fetch(client, "/feed.atom"))
    assert len(document.findall(f"{A}entry")) == 1
    assert schema.validate(document), schema.error_log


# Entry ids


def test_entry_id_is_the_tag_uri_in_both_formats(
    write_entry: WriteEntry, make_app: Callable[..., Flask]
) -> None:
    write_entry()
    client = make_app().test_client()
    expected = "tag:example.org,2015-10-12:a-visit"
    atom = parse(fetch(client, "/feed.atom"))
    rss = parse(fetch(client, "/feed.rss"))
    assert [e.id for e in atom.entries] == [expected]
    assert [e.id for e in rss.entries] == [expected]
    assert rss.entries[0].guidislink is False
    guid = etree.fromstring(fetch(client, "/feed.rss")).find("channel/item/guid")
    assert guid is not None
    assert guid.get("isPermaLink") == "false"
    assert guid.text == expected


def test_entry_id_survives_edits_and_a_new_base_url(
    write_entry: WriteEntry, make_app: Callable[..., Flask]
) -> None:
    write_entry()
    before = {
        fmt: parse(fetch(make_app().test_client(), f"/feed.{fmt}")).entries[0].id
        for fmt in ("rss", "atom")
    }
    write_entry(
        title="A visit, corrected",
        content="Entirely new *text*.",
        updated="2016-03-01T12:00:00+01:00",
    )
    moved = make_app(BASE_URL="https://elsewhere.example.net/news/").test_client()
    for fmt in ("rss", "atom"):
        parsed = parse(fetch(moved, f"/feed.{fmt}"))
        assert parsed.entries[0].title == "A visit, corrected"
        assert parsed.entries[0].link == "https://elsewhere.example.net/news/entries/a-visit/"
        assert parsed.entries[0].id == before[fmt] == "tag:example.org,2015-10-12:a-visit"


# Order and limit


@pytest.fixture
def offset_entries(write_entry: WriteEntry) -> None:
    # 09:00+02:00 is 07:00Z, earlier than 08:00Z although it reads later.
    write_entry("x-early", published="2015-10-12T09:00:00+02:00")
    write_entry("y-late", published="2015-10-12T08:00:00Z")
    write_entry("z-oldest", published="2014-01-01T00:00:00Z", categories=["visits"])


@pytest.mark.usefixtures("offset_entries")
@pytest.mark.parametrize("path", ["/feed.rss", "/feed.atom", "/categories/visits/feed.atom"])
def test_entries_are_newest_first_by_published(client: FlaskClient, path: str) -> None:
    parsed = parse(fetch(client, path))
    assert entry_links(parsed) == [
        f"{BASE_URL}entries/y-late/",
        f"{BASE_URL}entries/x-early/",
        f"{BASE_URL}entries/z-oldest/",
    ]


@pytest.mark.usefixtures("offset_entries")
@pytest.mark.parametrize("path", ["/feed.rss", "/feed.atom", "/categories/visits/feed.rss"])
def test_item_limit_keeps_the_newest(
    entries_dir: Path, make_app: Callable[..., Flask], path: str
) -> None:
    site_toml(entries_dir, item_limit=2)
    parsed = parse(fetch(make_app().test_client(), path))
    assert entry_links(parsed) == [f"{BASE_URL}entries/y-late/", f"{BASE_URL}entries/x-early/"]


# Dates


def test_atom_published_keeps_its_offset_and_rss_has_pubdate(
    write_entry: WriteEntry, make_app: Callable[..., Flask]
) -> None:
    write_entry(published="2015-10-12T09:00:00+02:00")
    client = make_app().test_client()
    atom = etree.fromstring(fetch(client, "/feed.atom"))
    assert atom.findtext(f"{A}entry/{A}published") == "2015-10-12T09:00:00+02:00"
    assert parse(fetch(client, "/feed.atom")).entries[0].published == "2015-10-12T09:00:00+02:00"
    rss = parse(fetch(client, "/feed.rss"))
    assert parsedate_to_datetime(rss.entries[0].published) == datetime.fromisoformat(
        "2015-10-12T09:00:00+02:00"
    )
    assert rss.entries[0].published.endswith("+0200")


@pytest.mark.usefixtures("three_entries")
@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("/", "2016-02-01T10:00:00-05:00"),  # b-conference's updated
        ("/categories/visits/", "2015-12-01T00:00:00+00:00"),  # c-visit's published
        ("/categories/conferences/", "2016-02-01T10:00:00-05:00"),
    ],
)
def test_feed_updated_is_the_newest_change_of_its_entries(
    client: FlaskClient, page: str, expected: str
) -> None:
    atom = parse(fetch(client, f"{page}feed.atom"))
    assert atom.feed.updated == expected
    rss = etree.fromstring(fetch(client, f"{page}feed.rss"))
    last_build = rss.findtext("channel/lastBuildDate")
    assert last_build is not None
    assert parsedate_to_datetime(last_build) == datetime.fromisoformat(expected)


@pytest.mark.usefixtures("three_entries")
def test_rendering_later_gives_the_same_feed(entries_dir: Path) -> None:
    first = snapshot(entries_dir)
    time.sleep(1.1)  # RFC 822 dates have whole seconds
    second = snapshot(entries_dir)
    bodies = rss_and_atom(first)
    assert sorted(bodies) == sorted(feed_paths())
    assert bodies == rss_and_atom(second)


# Self and alternate links


@pytest.mark.usefixtures("three_entries")
@pytest.mark.parametrize("path", feed_paths())
def test_feed_links_to_itself_and_to_its_page(client: FlaskClient, path: str) -> None:
    parsed = parse(fetch(client, path))
    fmt = fmt_of(path)
    selves = [link for link in parsed.feed.links if link.rel == "self"]
    assert [(s.href, s.type) for s in selves] == [(BASE_URL + path[1:], MEDIA_TYPES[fmt])]
    page = BASE_URL + page_of(path)[1:]
    alternates = [link for link in parsed.feed.links if link.rel == "alternate"]
    assert [(a.href, a.type) for a in alternates] == [(page, "text/html")]
    assert parsed.feed.link == page
    if fmt == "rss":
        channel_link = etree.fromstring(fetch(client, path)).findtext("channel/link")
        assert channel_link == page


# Items


def test_item_links_to_its_page_and_atom_keeps_the_related_link(
    write_entry: WriteEntry, make_app: Callable[..., Flask]
) -> None:
    write_entry(link="https://source.example.org/x")
    client = make_app().test_client()
    page = f"{BASE_URL}entries/a-visit/"
    rss = parse(fetch(client, "/feed.rss"))
    assert rss.entries[0].link == page
    atom = parse(fetch(client, "/feed.atom"))
    links = atom.entries[0].links
    assert [link.href for link in links if link.rel == "alternate"] == [page]
    assert [link.href for link in links if link.rel == "related"] == [
        "https://source.example.org/x"
    ]
    raw = etree.fromstring(fetch(client, "/feed.atom")).findall(f"{A}entry/{A}link")
    assert sorted((link.get("rel"), link.get("href")) for link in raw) == [
        ("alternate", page),
        ("related", "https://source.example.org/x"),
    ]
    alternate = next(link for link in raw if link.get("rel") == "alternate")
    assert alternate.get("type") == "text/html"


def test_entry_without_outside_link_has_one_link(
    write_entry: WriteEntry, make_app: Callable[..., Flask]
) -> None:
    write_entry()
    client = make_app().test_client()
    atom = parse(fetch(client, "/feed.atom"))
    assert [(link.rel, link.href) for link in atom.entries[0].links] == [
        ("alternate", f"{BASE_URL}entries/a-visit/")
    ]


def test_summary_is_text_and_content_is_html(
    write_entry: WriteEntry, make_app: Callable[..., Flask]
) -> None:
    write_entry(summary="Someone visited.", content="The *visit* happened.")
    client = make_app().test_client()
    for fmt in ("rss", "atom"):
        entry = parse(fetch(client, f"/feed.{fmt}")).entries[0]
        assert displayed(entry.summary).text == "Someone visited."
        assert [c.type for c in entry.content] == ["text/html"]
        assert "<em>visit</em>" in entry.content[0].value
    atom = parse(fetch(client, "/feed.atom")).entries[0]
    assert atom.summary_detail.type == "text/plain"
    rss = etree.fromstring(fetch(client, "/feed.rss"))
    encoded = rss.findtext("channel/item/{http://purl.org/rss/1.0/modules/content/}encoded")
    assert encoded is not None
    assert "<em>visit</em>" in encoded


HOSTILE = (
    'Hi <script>alert("x")</script><img src="x" onerror="alert(1)">'
    '<a href="javascript:alert(2)">click</a> <b onmouseover="alert(3)">bold</b>\n\n'
    '[md](javascript:alert(4)) and <iframe src="https://evil.example/"></iframe> end'
)


def test_content_is_sanitised(write_entry: WriteEntry, make_app: Callable[..., Flask]) -> None:
    write_entry(content=HOSTILE)
    client = make_app().test_client()
    for fmt in ("rss", "atom"):
        # Read without feedparser's own sanitiser, which would hide what was sent.
        parsed = parse(fetch(client, f"/feed.{fmt}"), sanitize_html=False)
        html = parsed.entries[0].content[0].value
        shown = displayed(html)
        assert "script" not in shown.tags
        assert "iframe" not in shown.tags
        assert "img" not in shown.tags
        lowered = html.lower()
        for bad in ("<script", "onerror", "onmouseover", 'href="javascript:', "<iframe"):
            assert bad not in lowered, (fmt, bad)
        assert "click" in shown.text
        assert "bold" in shown.text


def test_categories_carry_slug_title_and_scheme(
    write_entry: WriteEntry, make_app: Callable[..., Flask]
) -> None:
    write_entry(categories=["visits", "conferences"])
    client = make_app().test_client()
    scheme = f"{BASE_URL}categories/"
    atom = parse(fetch(client, "/feed.atom")).entries[0]
    assert sorted((t.term, t.label, t.scheme) for t in atom.tags) == [
        ("conferences", "Conferences", scheme),
        ("visits", "Visits", scheme),
    ]
    rss = etree.fromstring(fetch(client, "/feed.rss"))
    categories = rss.findall("channel/item/category")
    assert [c.get("domain") for c in categories] == [scheme, scheme]
    # domain + value names the category's page, so the value is the slug.
    assert [c.text for c in categories] == ["visits", "conferences"]


@pytest.mark.parametrize(
    ("authors", "expected"),
    [(None, "Test Desk"), ([{"name": "Jo Reporter"}], "Jo Reporter")],
)
def test_every_item_has_an_author(
    write_entry: WriteEntry,
    make_app: Callable[..., Flask],
    authors: list[dict[str, str]] | None,
    expected: str,
) -> None:
    if authors is None:
        write_entry()
    else:
        write_entry(authors=authors)
    client = make_app().test_client()
    for fmt in ("rss", "atom"):
        entry = parse(fetch(client, f"/feed.{fmt}")).entries[0]
        assert entry.author == expected, fmt
    atom = etree.fromstring(fetch(client, "/feed.atom"))
    assert atom.findtext(f"{A}entry/{A}author/{A}name") == expected


def test_rss_description_shows_markup_characters_literally(
    write_entry: WriteEntry, make_app: Callable[..., Flask]
) -> None:
    literal = "Tom & Jerry <b>bold</b> x < y"
    write_entry(summary=literal)
    client = make_app().test_client()
    rss = parse(fetch(client, "/feed.rss")).entries[0]
    # RSS readers treat <description> as HTML; what they display must be the text as written.
    shown = displayed(rss.summary)
    assert shown.tags == []
    assert shown.text == literal
    atom = parse(fetch(client, "/feed.atom")).entries[0]
    assert atom.summary == literal


def test_cdata_terminator_in_text_does_not_break_feeds(
    write_entry: WriteEntry, make_app: Callable[..., Flask]
) -> None:
    write_entry(summary="a ]]> b", content="c ]]> d <![CDATA[ e ]]>")
    client = make_app().test_client()
    for path in feed_paths():
        parse(fetch(client, path))
    for fmt in ("rss", "atom"):
        entry = parse(fetch(client, f"/feed.{fmt}")).entries[0]
        assert displayed(entry.summary).text == "a ]]> b"
        assert "c ]]> d" in displayed(entry.content[0].value).text
    schema = atom_schema()
    assert schema.validate(etree.fromstring(fetch(client, "/feed.atom"))), schema.error_log


# Determinism


@pytest.mark.usefixtures("three_entries")
def test_two_apps_on_one_folder_serve_identical_bytes(make_app: Callable[..., Flask]) -> None:
    first, second = make_app().test_client(), make_app().test_client()
    for path in feed_paths():
        assert fetch(first, path) == fetch(second, path), path
        assert fetch(first, path) == fetch(first, path), path


# Categories on the bundled entries


def seed_expectation() -> Iterator[tuple[str, set[str]]]:
    site = tomllib.loads((SEED_ENTRIES / "site.toml").read_text(encoding="utf-8"))
    files = {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in SEED_ENTRIES.glob("*.json")
    }
    assert files
    yield "/", {slug for slug, data in files.items() if not data.get("draft")}
    for category in site["categories"]:
        members = {
            slug
            for slug, data in files.items()
            if category["slug"] in data["categories"] and not data.get("draft")
        }
        yield f"/categories/{category['slug']}/", members


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_each_category_feed_holds_exactly_its_entries(seed_client: FlaskClient, fmt: str) -> None:
    expectations = list(seed_expectation())
    for page, slugs in expectations:
        parsed = parse(fetch(seed_client, f"{page}feed.{fmt}"))
        assert sorted(entry_links(parsed)) == sorted(f"{BASE_URL}entries/{s}/" for s in slugs)
        assert len(parsed.entries) == len(slugs)


# Drafts and scheduled entries


def test_drafts_never_appear(write_entry: WriteEntry, make_app: Callable[..., Flask]) -> None:
    write_entry()
    write_entry("secret-plan", title="Secret plan", draft=True, categories=["visits"])
    client = make_app().test_client()
    for path in feed_paths():
        body = fetch(client, path)
        assert b"secret-plan" not in body
        assert b"Secret plan" not in body
        assert len(parse(body).entries) == (0 if "conferences" in path else 1)
    for page in ("/", "/categories/visits/", "/entries/a-visit/"):
        assert b"Secret plan" not in fetch(client, page)
    assert client.get("/entries/secret-plan/").status_code == 404


def test_scheduled_entry_appears_when_its_time_comes(
    write_entry: WriteEntry, entries_dir: Path
) -> None:
    write_entry()
    write_entry("next-visit", title="Next visit", published="2030-01-01T00:00:00Z")
    write_entry("hidden", title="Hidden", published="2020-01-01T00:00:00Z", draft=True)
    clock = [datetime(2025, 1, 1, tzinfo=UTC)]
    publisher = Publisher(
        Settings(entries_dir=entries_dir, base_url=BASE_URL), now=lambda: clock[0]
    )

    def links() -> list[str]:
        parsed = parse(publisher.snapshot().feed(None, "atom").body)
        return entry_links(parsed)

    assert links() == [f"{BASE_URL}entries/a-visit/"]
    with pytest.raises(UnknownEntry):
        publisher.snapshot().page("/entries/next-visit/")

    clock[0] = datetime(2029, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert links() == [f"{BASE_URL}entries/a-visit/"]

    clock[0] = datetime(2030, 1, 1, tzinfo=UTC)
    assert links() == [f"{BASE_URL}entries/next-visit/", f"{BASE_URL}entries/a-visit/"]
    assert b"Next visit" in publisher.snapshot().page("/entries/next-visit/").body
    assert b"Next visit" in publisher.snapshot().page("/").body
    with pytest.raises(UnknownEntry):
        publisher.snapshot().page("/entries/hidden/")


# Size: every document stays under MAX_FEED_BYTES, whatever the entries hold


def feeds_of(entries_dir: Path) -> dict[str, bytes]:
    """Every feed of the folder as served, without the compressed forms."""
    shot = Snapshot(load_catalog(entries_dir), BASE_URL, FIXED_NOW, prepare=False)
    return rss_and_atom(shot)


def slug_of(entry: feedparser.FeedParserDict) -> str:
    return str(entry.link).rstrip("/").rsplit("/", 1)[1]


def summary_text(entry: feedparser.FeedParserDict) -> str:
    """A summary as a reader shows it: Atom's plain text as is, RSS's HTML as its text."""
    if entry.summary_detail.type == "text/plain":
        return str(entry.summary)
    shown = displayed(entry.summary)
    assert shown.tags == [], "a summary stays plain text"
    return shown.text


def content_text(entry: feedparser.FeedParserDict) -> str:
    return "".join(displayed(c.value).text for c in entry.get("content", []))


def check_sizes(
    feeds: dict[str, bytes], newest: str, read: tuple[str, ...] = ("/feed.rss", "/feed.atom")
) -> dict[str, feedparser.FeedParserDict]:
    """Every feed fits; those in ``read`` parse and start with the newest entry."""
    for path, body in feeds.items():
        assert len(body) <= MAX_FEED_BYTES, (path, len(body))
        etree.fromstring(body)
    parsed = {path: parse(feeds[path], sanitize_html=False) for path in read}
    for path, feed in parsed.items():
        assert slug_of(feed.entries[0]) == newest, path
    return parsed


@pytest.fixture
def huge_content(write_entry: WriteEntry) -> list[str]:
    """Ten entries of ~900 KB Markdown: together ten times what a feed may hold."""
    return write_many(write_entry, 10, content=lambda slug: long_markdown(slug, 900_000))


def test_huge_contents_leave_the_oldest_items_with_their_summary(
    entries_dir: Path, huge_content: list[str]
) -> None:
    paths = ("/feed.rss", "/feed.atom", "/categories/visits/feed.atom")
    parsed = check_sizes(feeds_of(entries_dir), huge_content[0], read=paths)
    for path in paths:
        entries = parsed[path].entries
        assert [slug_of(e) for e in entries] == huge_content, path
        full = [content_text(e).endswith(f"The end of {slug_of(e)}.") for e in entries]
        # Content stays with the newest items: a run of full ones, then none at all.
        kept = full.index(False)
        assert kept >= 2, path
        assert not any(full[kept:]), path
        for entry in entries[kept:]:
            assert content_text(entry) == ""
            assert summary_text(entry) == "Someone visited."


def test_the_fitted_feed_is_the_same_every_time(entries_dir: Path, huge_content: list[str]) -> None:
    assert feeds_of(entries_dir) == feeds_of(entries_dir)


@pytest.mark.parametrize("text", ["&<" * 480_000, "<" * 960_000], ids=["amp-lt", "lt"])
def test_content_that_escapes_beyond_the_limit_falls_back_to_its_summary(
    write_entry: WriteEntry, entries_dir: Path, text: str
) -> None:
    # A few characters of Markdown each become 9 or more bytes of escaped HTML in XML.
    source = "https://source.example.org/x"
    slugs = write_many(write_entry, 3, content=text, link=source)
    parsed = check_sizes(feeds_of(entries_dir), slugs[0])
    for path in ("/feed.rss", "/feed.atom"):
        entries = parsed[path].entries
        assert [slug_of(e) for e in entries] == slugs
        # The outside source stays: RSS has no other place for it.
        assert all(content_text(e).strip() == f"Source: {source}" for e in entries)
        assert all(summary_text(e) == "Someone visited." for e in entries)


def test_huge_summaries_are_cut_at_a_word_boundary_oldest_first(
    write_entry: WriteEntry, entries_dir: Path
) -> None:
    words = ('Tom & Jerry <b>said</b> "so" ' * 28_000).strip()  # 900 KB; escapes 1.5-3x
    slugs = write_many(write_entry, 6, summary=words, content=REMOVE)
    parsed = check_sizes(feeds_of(entries_dir), slugs[0])
    for path, feed in parsed.items():
        assert [slug_of(e) for e in feed.entries] == slugs
        shown = [summary_text(e) for e in feed.entries]
        kept = shown.index(next(text for text in shown if text != words))
        assert kept >= 1, path
        for summary in shown[kept:]:
            assert summary.endswith("\u2026")
            start = summary.removesuffix("\u2026")
            assert SUMMARY_CHARS - 40 < len(start) < SUMMARY_CHARS
            assert words.startswith(start)
            assert words[len(start)] == " ", "cut between words"


def test_the_oldest_items_are_left_out_when_nothing_else_is_left_to_cut(
    write_entry: WriteEntry, entries_dir: Path
) -> None:
    site_toml(entries_dir, item_limit=1000)
    # As much as an item can carry once cut: ~30 KB of escaped text in either format.
    summary = ("&&&&&&&&& " * 99).strip()
    authors = [{"name": "&" * 500}] * 10
    slugs = write_many(
        write_entry, 200, title="&" * 500, summary=summary, authors=authors, content=REMOVE
    )
    parsed = check_sizes(feeds_of(entries_dir), slugs[0])
    for path, feed in parsed.items():
        shown = [slug_of(e) for e in feed.entries]
        assert 60 < len(shown) < len(slugs), path
        assert shown == slugs[: len(shown)], "the newest are kept, in order"
        for entry in feed.entries:
            assert summary_text(entry) == summary
            assert [a.name for a in entry.authors] == ["&" * 500] * 10


def test_a_feed_that_fits_is_rendered_once(
    entries_dir: Path, write_entry: WriteEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_many(write_entry, 3, content=lambda slug: long_markdown(slug, 200_000))
    calls: list[int] = []
    original = feeds._shell  # feedgen's rendering of the document

    def counted(*args: Any) -> bytes:
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(feeds, "_shell", counted)
    documents = feeds_of(entries_dir)
    assert len(calls) == len(documents) == len(feed_paths())
