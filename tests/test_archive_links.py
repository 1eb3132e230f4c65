"""RFC 5005 archive links (Feed Paging and Archiving, section 4) in RSS, Atom and JSON Feed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import feedparser
import pytest
from lxml import etree

from conftest import entry_data
from medfeed import feeds, feedsizes, jsonfeed
from medfeed.errors import RenderError
from medfeed.feeds import Format, render_feed
from medfeed.jsonfeed import render_json_feed
from medfeed.meta import MAX_FEED_BYTES, Archive, FeedMeta
from medfeed.models import Author, Entry
from medfeed.store import Item
from test_jsonfeed import check_spec_rules, is_absolute, strict_load, validator

ATOM_NS = "http://www.w3.org/2005/Atom"
A = f"{{{ATOM_NS}}}"
HISTORY_NS = "http://purl.org/syndication/history/1.0"
FH = f"{{{HISTORY_NS}}}"
ATOM_SCHEMA = Path(__file__).parent / "data" / "atom.rng"
MEDIA_TYPES = {"rss": "application/rss+xml", "atom": "application/atom+xml"}
XML_FORMATS: tuple[Format, ...] = ("rss", "atom")
ARCHIVE_RELS = ("prev-archive", "next-archive", "current")
BASE = "https://news.example.org/"
AMMAN = {"place": "Amman", "country": "Jordan", "latitude": 31.95522, "longitude": 35.94503}

Place = Literal["current", "newest", "middle", "oldest"]
PLACES: tuple[Place, ...] = ("current", "newest", "middle", "oldest")
MONTH: dict[Place, str] = {"newest": "2015-11", "middle": "2015-10", "oldest": "2015-09"}


def url(place: Place, fmt: str) -> str:
    """A document's absolute URL: the current feed, or one month's archive."""
    if place == "current":
        return f"{BASE}feed.{fmt}"
    return f"{BASE}archive/{MONTH[place]}/feed.{fmt}"


def expected_links(place: Place, fmt: str) -> dict[str, str]:
    """The archive links each document of a chain of three archives must carry, in order."""
    return {
        "current": {"prev-archive": url("newest", fmt)},
        "newest": {"prev-archive": url("middle", fmt), "current": url("current", fmt)},
        "middle": {
            "prev-archive": url("oldest", fmt),
            "next-archive": url("newest", fmt),
            "current": url("current", fmt),
        },
        "oldest": {"next-archive": url("middle", fmt), "current": url("current", fmt)},
    }[place]


def archive_of(place: Place, fmt: str) -> Archive:
    links = expected_links(place, fmt)
    return Archive(links.get("prev-archive"), links.get("next-archive"), links.get("current"))


def meta(fmt: str, archive: Archive | None = None, self_url: str | None = None) -> FeedMeta:
    return FeedMeta(
        id="tag:example.org,2015:all",
        title="Test News",
        description="News for tests.",
        base_url=BASE,
        self_url=self_url or url("current", fmt),
        page_url=BASE,
        language="en",
        author=Author(name="Test Desk"),
        archive=archive,
    )


def meta_at(place: Place, fmt: str) -> FeedMeta:
    return meta(fmt, archive_of(place, fmt), url(place, fmt))


def make_item(slug: str, **overrides: Any) -> Item:
    entry = Entry.model_validate(entry_data(**overrides))
    return Item(slug=slug, source=f"{slug}.json", entry=entry, id=f"tag:example.org,2015:{slug}")


@pytest.fixture
def items() -> list[Item]:
    """Newest first; the located one brings the GeoRSS namespace alongside fh."""
    return [
        make_item(
            "in-amman",
            published="2015-10-20T10:00:00Z",
            event={"start": "2015-10", "location": AMMAN},
        ),
        make_item("a-visit", link="https://source.example.org/x"),
    ]


def atom_schema() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(ATOM_SCHEMA)))


def feed_level(document: etree._Element, fmt: Format) -> etree._Element:
    """The element that holds feed-level metadata: Atom's feed, RSS's channel."""
    return document if fmt == "atom" else document.find("channel")


def archive_link_elements(document: etree._Element, fmt: Format) -> list[etree._Element]:
    # RSS atom:link is in the Atom namespace; Atom's own links are in it by default.
    links = feed_level(document, fmt).findall(f"{A}link")
    return [link for link in links if link.get("rel") in ARCHIVE_RELS]


# RSS and Atom


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_xml_documents_carry_their_archive_links(
    items: list[Item], fmt: Format, place: Place
) -> None:
    body = render_feed(items, meta_at(place, fmt), fmt)
    document = etree.fromstring(body)
    links = archive_link_elements(document, fmt)
    assert [(link.get("rel"), link.get("href")) for link in links] == list(
        expected_links(place, fmt).items()
    )
    assert all(link.get("type") == MEDIA_TYPES[fmt] for link in links)
    # Nothing below the feed level: no entry or item carries an archive link.
    everywhere = [e for e in document.iter(f"{A}link") if e.get("rel") in ARCHIVE_RELS]
    assert len(everywhere) == len(links)


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_fh_archive_marks_exactly_the_archive_documents(
    items: list[Item], fmt: Format, place: Place
) -> None:
    body = render_feed(items, meta_at(place, fmt), fmt)
    document = etree.fromstring(body)
    marks = list(document.iter(f"{FH}archive"))
    is_archive = place != "current"
    assert len(marks) == (1 if is_archive else 0)
    if is_archive:
        (mark,) = marks
        assert mark.getparent() is feed_level(document, fmt)
        assert len(mark) == 0 and not mark.text and not mark.attrib, "an empty element"
        assert document.nsmap["fh"] == HISTORY_NS
    # Declared once, on the root, and only where used; GeoRSS likewise stays on the root.
    assert body.count(f'xmlns:fh="{HISTORY_NS}"'.encode()) == (1 if is_archive else 0)
    assert body.count(b"xmlns:georss=") == 1
    assert body.count(HISTORY_NS.encode()) == body.count(b"xmlns:fh=")
    assert b"fh:complete" not in body


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_feed_validator_rules_of_rfc_5005(items: list[Item], fmt: Format, place: Place) -> None:
    document = etree.fromstring(render_feed(items, meta_at(place, fmt), fmt))
    rels = [link.get("rel") for link in archive_link_elements(document, fmt)]
    is_archive = document.find(f".//{FH}archive") is not None
    assert is_archive == ("current" in rels), "a current link on every archive, only there"
    assert is_archive or rels == ["prev-archive"], "the current feed links only its newest"
    hrefs = [link.get("href") for link in feed_level(document, fmt).findall(f"{A}link")]
    assert len(set(hrefs)) == len(hrefs), "no document links to itself"


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_feedparser_sees_the_archive_links(items: list[Item], fmt: Format, place: Place) -> None:
    parsed = feedparser.parse(render_feed(items, meta_at(place, fmt), fmt))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    seen = {link.rel: link.href for link in parsed.feed.links if link.rel in ARCHIVE_RELS}
    assert seen == expected_links(place, fmt)
    assert {link.rel: link.href for link in parsed.feed.links}["self"] == url(place, fmt)
    # The channel <link> is still the site, not an archive.
    assert parsed.feed.link == BASE
    assert [e.id for e in parsed.entries] == [item.id for item in items]


@pytest.mark.parametrize("place", PLACES)
def test_atom_archive_documents_validate_against_rfc_4287(items: list[Item], place: Place) -> None:
    schema = atom_schema()
    document = etree.fromstring(render_feed(items, meta_at(place, "atom"), "atom"))
    assert schema.validate(document), schema.error_log


# JSON Feed


def meta_keys() -> set[str]:
    """The feed-level keys of a JSON Feed without archive links."""
    return set(strict_load(render_json_feed([], meta("json"))))


@pytest.mark.parametrize("place", PLACES)
def test_json_next_url_pages_to_the_next_older_archive(items: list[Item], place: Place) -> None:
    body = render_json_feed(items, meta_at(place, "json"))
    assert len(body) <= MAX_FEED_BYTES
    document = strict_load(body)
    errors = sorted(validator().iter_errors(document), key=str)
    assert not errors, errors[0]
    check_spec_rules(document)
    older = expected_links(place, "json").get("prev-archive")
    if older is None:
        assert "next_url" not in document, "the oldest archive is the last page"
    else:
        assert document["next_url"] == older
        assert is_absolute(document["next_url"])
        assert document["next_url"] != document["feed_url"]
    # No archive markers beyond next_url: JSON Feed has no place for them.
    assert set(document) <= {*meta_keys(), "next_url", "items"}
    assert "_medfeed" not in document


def test_json_pages_walk_the_chain_newest_to_oldest_without_loops() -> None:
    seen: list[str] = []
    place: Place | None = "current"
    while place is not None:
        document = strict_load(render_json_feed([], meta_at(place, "json")))
        assert document["feed_url"] not in seen
        seen.append(document["feed_url"])
        after = document.get("next_url")
        place = next((p for p in PLACES if url(p, "json") == after), None)
        assert after is None or place is not None, after
    assert seen == [url(p, "json") for p in PLACES]


# What stays as it was


Renderer = Callable[[list[Item], FeedMeta], bytes]
RENDERERS: dict[str, Renderer] = {
    "rss": lambda items, m: render_feed(items, m, "rss"),
    "atom": lambda items, m: render_feed(items, m, "atom"),
    "json": render_json_feed,
}


@pytest.mark.parametrize("fmt", RENDERERS)
def test_no_archive_and_an_empty_archive_write_nothing_new(items: list[Item], fmt: str) -> None:
    render = RENDERERS[fmt]
    plain = render(items, meta(fmt))
    assert render(items, meta(fmt, Archive())) == plain
    for word in (b"archive", b"history/1.0", b"next_url", b'"current"'):
        assert word not in plain


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("fmt", RENDERERS)
def test_archive_documents_are_deterministic(items: list[Item], fmt: str, place: Place) -> None:
    render = RENDERERS[fmt]
    assert render(items, meta_at(place, fmt)) == render(items, meta_at(place, fmt))


# Refused: chains that a reader would follow forever


@pytest.mark.parametrize("field", ["prev_archive", "next_archive", "current"])
@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_a_link_to_the_document_itself_is_a_render_error(fmt: Format, field: str) -> None:
    middle = meta_at("middle", fmt)
    assert middle.archive is not None
    looped = replace(middle, archive=replace(middle.archive, **{field: middle.self_url}))
    with pytest.raises(RenderError, match="itself"):
        render_feed([], looped, fmt)


@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_next_archive_on_the_current_feed_is_a_render_error(fmt: Format) -> None:
    archive = Archive(prev_archive=url("middle", fmt), next_archive=url("newest", fmt))
    with pytest.raises(RenderError, match="next-archive"):
        render_feed([], meta(fmt, archive), fmt)


def test_json_next_url_is_never_the_feed_url() -> None:
    with pytest.raises(RenderError, match="next_url"):
        render_json_feed([], meta("json", Archive(prev_archive=url("current", "json"))))


# The size budget


LONG_URL = f"{BASE}archive/{'&x' * 2000}/feed"


@pytest.mark.parametrize(
    "archive",
    [
        Archive(LONG_URL, LONG_URL.replace("x", "y"), LONG_URL.replace("x", "z")),
        Archive(current=f"{BASE}feed"),  # one short link: the fh:archive mark must count
    ],
    ids=["three-long-links", "current-only"],
)
@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_xml_estimate_covers_the_archive_elements(fmt: Format, archive: Archive) -> None:
    plain, archived = meta(fmt), meta(fmt, archive, url("middle", fmt))
    grown = len(render_feed([], archived, fmt)) - len(render_feed([], plain, fmt))
    estimated = feedsizes.Sizes([], archived, fmt).feed - feedsizes.Sizes([], plain, fmt).feed
    assert grown > 0
    assert estimated >= grown
    assert feedsizes.Sizes([], archived, fmt).feed >= len(render_feed([], archived, fmt))


def test_json_estimate_covers_next_url() -> None:
    archived = meta("json", Archive(prev_archive=f"{BASE}archive/{'x' * 5000}/feed.json"))
    assert jsonfeed._Sizes([], archived).feed >= len(render_json_feed([], archived))
    assert jsonfeed._Sizes([], archived).feed > jsonfeed._Sizes([], meta("json")).feed + 5000


@pytest.mark.parametrize("fmt", RENDERERS)
def test_archive_documents_fit_the_budget_in_one_render(
    fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    paragraph = " ".join(["visit talks security cooperation dialogue"] * 30) + "."
    content = "\n\n".join([paragraph] * 1500)  # ~1.4 MB of Markdown each
    big = [
        make_item(f"entry-{index}", published=f"2015-10-{20 - index}T10:00:00Z", content=content)
        for index in range(4)
    ]
    module: Any = jsonfeed if fmt == "json" else feeds
    original = module._render
    calls: list[int] = []

    def counted(*args: Any) -> bytes:
        calls.append(1)
        return bytes(original(*args))

    monkeypatch.setattr(module, "_render", counted)
    body = RENDERERS[fmt](big, meta_at("middle", fmt))
    assert len(body) <= MAX_FEED_BYTES
    assert calls == [1], "the estimate held: no second render"
    if fmt != "json":
        assert etree.fromstring(body).find(f".//{FH}archive") is not None
