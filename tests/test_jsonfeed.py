"""The JSON Feed as readers see it: JSON Feed 1.1's schema and rules, two parsers, and the
same items as the Atom feed."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import feedparser_rs
import jsonfeed as jsonfeed_util  # the jsonfeed-util package, not medfeed.jsonfeed
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from referencing import Registry, Resource

from conftest import BASE_URL, REMOVE, SEED_ENTRIES, SITE_TOML
from helpers import displayed, items_of, long_markdown, valid_entries, write_many
from medfeed import jsonfeed
from medfeed.budget import SHORT_AUTHORS, SUMMARY_CHARS
from medfeed.feeds import render_feed
from medfeed.jsonfeed import VERSION, render_json_feed
from medfeed.jsonitems import EXTENSION
from medfeed.loading import load_catalog
from medfeed.meta import MAX_FEED_BYTES, FeedMeta
from medfeed.models import SiteConfig
from medfeed.store import Item
from medfeed.urls import absolute, page_path

WriteEntry = Callable[..., Path]

DATA = Path(__file__).parent / "data"
SCHEMA = DATA / "jsonfeed-1.1.schema.json"
SCHEMA_REFERENCED = DATA / "jsonfeed-1.schema.json"  # feed-1, which the 1.1 schema $refs
FIXED_NOW = datetime(2024, 1, 1, tzinfo=UTC)
RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})", re.ASCII
)
EXTENSION_NAME = re.compile(r"_[a-zA-Z][^.]*")
SOURCE = "https://source.example.org/x"


# What every document must be


@cache
def validator() -> jsonschema.Draft4Validator:
    """The JSON Feed 1.1 schema, its reference resolved from the vendored copy only."""
    schemas = [json.loads(path.read_text(encoding="utf-8")) for path in (SCHEMA, SCHEMA_REFERENCED)]
    registry: Registry[Any] = Registry().with_resources(
        (schema["id"], Resource.from_contents(schema)) for schema in schemas
    )
    return jsonschema.Draft4Validator(schemas[0], registry=registry)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    assert len(set(keys)) == len(keys), f"duplicate keys in {keys}"
    return dict(pairs)


def _no_constant(name: str) -> None:
    raise AssertionError(f"{name} is not JSON")


def strict_load(body: bytes) -> dict[str, Any]:
    """Read a document as RFC 8259 says: UTF-8 without a BOM, unique keys, no NaN."""
    assert body.startswith(b"{"), "no BOM, no leading space"
    assert body.endswith(b"}\n")
    document = json.loads(
        body.decode("utf-8", errors="strict"),
        object_pairs_hook=_no_duplicate_keys,
        parse_constant=_no_constant,
    )
    assert isinstance(document, dict)
    return document


def is_absolute(url: object) -> bool:
    parts = urlsplit(str(url))
    return isinstance(url, str) and parts.scheme in ("http", "https") and bool(parts.netloc)


def parse_date(text: object) -> datetime:
    """An RFC 3339 date-time with an offset, as JSON Feed requires."""
    assert isinstance(text, str) and RFC3339.fullmatch(text), text
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None
    return moment


def extensions(value: object, path: str = "") -> Iterator[tuple[str, object]]:
    """Every ``_`` key anywhere in the document, with its value."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key.startswith("_"):
                yield f"{path}.{key}", inner
            yield from extensions(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from extensions(inner, f"{path}.{index}")


def check_spec_rules(document: dict[str, Any]) -> None:
    """The rules of JSON Feed 1.1 that its schema does not express."""
    assert next(iter(document)) == "version", "version comes first"
    assert document["version"] == VERSION
    for key in ("home_page_url", "feed_url", "favicon"):
        assert is_absolute(document[key]), key
    items = document["items"]
    ids = [item["id"] for item in items]
    assert all(isinstance(i, str) and i for i in ids)
    assert len(set(ids)) == len(ids), "ids are unique"
    published = [parse_date(item["date_published"]) for item in items]
    assert published == sorted(published, reverse=True), "newest first"
    people = list(document["authors"])
    for item, moment in zip(items, published, strict=True):
        assert is_absolute(item["url"])
        assert "external_url" not in item or is_absolute(item["external_url"])
        assert item.get("content_html") or item.get("content_text"), item["id"]
        if "date_modified" in item:
            assert parse_date(item["date_modified"]) >= moment
        assert len(set(item["tags"])) == len(item["tags"])
        people += item["authors"]
    for person in people:
        assert person["name"] and set(person) <= {"name", "url"}, person
        assert "url" not in person or is_absolute(person["url"])
    for where, value in extensions(document):
        assert EXTENSION_NAME.fullmatch(where.rsplit(".", 1)[1]), where
        assert isinstance(value, dict), f"{where} must be an object"


def check_readers(body: bytes, document: dict[str, Any]) -> None:
    """Two independent JSON Feed parsers read what the document says."""
    parsed = feedparser_rs.parse(body, sanitize_html=False)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "json11"
    assert parsed.feed.title == document["title"]
    assert parsed.feed.link == document["home_page_url"]
    items = document["items"]
    assert [e.id for e in parsed.entries] == [i["id"] for i in items]
    assert [e.title for e in parsed.entries] == [i["title"] for i in items]
    assert [e.link for e in parsed.entries] == [i["url"] for i in items]
    assert [e.content[0].value for e in parsed.entries] == [i["content_html"] for i in items]
    assert [e.json_extensions for e in parsed.entries] == [
        {k: v for k, v in i.items() if k.startswith("_")} for i in items
    ]
    other = jsonfeed_util.Feed.parse_string(body.decode("utf-8"))
    assert (other.title, other.feed_url, other.home_page_url, other.language) == (
        document["title"],
        document["feed_url"],
        document["home_page_url"],
        document["language"],
    )
    assert [(i.id, i.url, i.title, i.summary, i.tags) for i in other.items] == [
        (i["id"], i["url"], i["title"], i["summary"], i["tags"]) for i in items
    ]


def check(body: bytes, items: Sequence[Item]) -> dict[str, Any]:
    """Every check on one rendered document; returns it parsed."""
    assert len(body) <= MAX_FEED_BYTES
    document = strict_load(body)
    errors = sorted(validator().iter_errors(document), key=str)
    assert not errors, errors[0]
    check_spec_rules(document)
    check_readers(body, document)
    ids = [item["id"] for item in document["items"]]
    assert ids == [item.id for item in items[: len(ids)]], "the newest items, in order"
    return document


def test_the_schema_is_enforced() -> None:
    # The check above would pass anything if the $ref to feed-1 went unresolved.
    bad = {"version": VERSION, "title": "x", "items": [{"id": "1", "title": "no content"}]}
    assert not validator().is_valid(bad)
    assert not validator().is_valid({**bad, "items": [{"id": 1, "content_text": "x"}]})
    good = {**bad, "items": [{"id": "1", "content_text": "x", "tags": ["a"]}]}
    assert validator().is_valid(good)
    assert not validator().is_valid({**good, "authors": [{}]}), "feed-1's author is applied"


# Building feeds


def meta_of(site: SiteConfig, fmt: str = "json", category: str | None = None) -> FeedMeta:
    """What site.py tells a renderer about a feed."""
    return FeedMeta(
        id=f"tag:{site.authority},2000:feed",
        title=site.title,
        description=site.description,
        base_url=BASE_URL,
        self_url=absolute(BASE_URL, f"{page_path(category)}feed.{fmt}"),
        page_url=absolute(BASE_URL, page_path(category)),
        language=site.language,
        author=site.author,
        category_titles={c.slug: c.title for c in site.categories},
    )


def render(entries_dir: Path) -> tuple[bytes, tuple[Item, ...]]:
    """The JSON Feed of every visible entry of a folder, and those entries."""
    catalog = load_catalog(entries_dir)
    items = catalog.visible(FIXED_NOW)
    return render_json_feed(items, meta_of(catalog.site)), items


@pytest.fixture
def three_entries(write_entry: WriteEntry) -> None:
    """Entries in both categories, one with a later update, one with an outside link."""
    write_entry("a-visit", title="A visit", link=SOURCE)
    write_entry(
        "b-conference",
        title="A conference",
        published="2016-01-01T10:00:00Z",
        updated="2016-02-01T10:00:00-05:00",
        categories=["conferences", "visits"],
    )
    write_entry(
        "c-visit",
        title="Another visit",
        published="2015-12-01T00:00:00+00:00",
        categories=["visits"],
        content=REMOVE,
    )


# Every field


def test_empty_feed_is_valid(entries_dir: Path) -> None:
    body, items = render(entries_dir)
    document = check(body, items)
    assert document["items"] == []
    assert document["feed_url"] == f"{BASE_URL}feed.json"
    assert document["home_page_url"] == BASE_URL
    assert document["authors"] == [{"name": "Test Desk"}]
    assert (document["title"], document["description"], document["language"]) == (
        "Test News",
        "News for tests.",
        "en",
    )
    assert document["favicon"] == f"{BASE_URL}favicon.svg"


@pytest.mark.usefixtures("three_entries")
def test_items_say_what_the_entries_say(entries_dir: Path) -> None:
    body, items = render(entries_dir)
    conference, other, visit = check(body, items)["items"]
    assert conference["id"] == "tag:example.org,2016-01-01:b-conference"
    assert conference["url"] == f"{BASE_URL}entries/b-conference/"
    assert conference["title"] == "A conference"
    assert conference["summary"] == "Someone visited."
    assert conference["content_html"] == "<p>The <em>visit</em> happened.</p>"
    assert conference["date_published"] == "2016-01-01T10:00:00+00:00"
    assert conference["date_modified"] == "2016-02-01T10:00:00-05:00"
    assert conference["tags"] == ["Conferences", "Visits"], "titles, in the entry's order"
    assert conference["authors"] == [{"name": "Test Desk"}], "the site's author by default"
    assert "external_url" not in conference
    assert visit["external_url"] == SOURCE
    assert visit["content_html"] == (
        f'<p>The <em>visit</em> happened.</p>\n<p>Source: <a href="{SOURCE}">{SOURCE}</a></p>'
    )
    assert "date_modified" not in visit, "never updated: no modification claimed"
    assert visit["date_published"] == "2015-10-12T09:00:00+02:00", "the offset is kept"
    # No content: the summary is the body, so a reader's detail view is not empty.
    assert other["content_html"] == "<p>Someone visited.</p>"
    assert all(EXTENSION not in item for item in (conference, visit, other))


def test_authors_events_and_no_email(write_entry: WriteEntry, entries_dir: Path) -> None:
    write_entry(
        "a-visit",
        authors=[
            {"name": "Jo Reporter", "email": "jo@example.org", "uri": "https://jo.example.org"},
            {"name": "Sam"},
        ],
        event={
            "start": "2015-10-12",
            "end": "2015-10-13",
            "location": {
                "place": "Jerusalem",
                "country": "Israel",
                "latitude": 31.7683,
                "longitude": 35.2137,
            },
        },
    )
    write_entry("b-visit", published="2015-10-11T09:00:00+02:00", event={"start": "2014-12"})
    body, items = render(entries_dir)
    assert b"jo@example.org" not in body, "JSON Feed authors have no e-mail field"
    first, second = check(body, items)["items"]
    assert first["authors"] == [
        {"name": "Jo Reporter", "url": "https://jo.example.org/"},
        {"name": "Sam"},
    ]
    assert first[EXTENSION] == {
        "event": {
            "start": "2015-10-12",
            "end": "2015-10-13",
            "location": {
                "place": "Jerusalem",
                "country": "Israel",
                "latitude": 31.7683,
                "longitude": 35.2137,
            },
        }
    }
    assert second[EXTENSION] == {"event": {"start": "2014-12"}}, "a month stays a month"


def test_a_title_two_categories_share_is_one_tag(
    write_entry: WriteEntry, entries_dir: Path
) -> None:
    write_entry(categories=["visits", "conferences"])
    catalog = load_catalog(entries_dir)
    items = catalog.visible(FIXED_NOW)
    titles = {"visits": "Events", "conferences": "Events"}
    meta = replace(meta_of(catalog.site), category_titles=titles)
    assert check(render_json_feed(items, meta), items)["items"][0]["tags"] == ["Events"]


# The same items as the Atom feed


def assert_same_as_atom(items: Sequence[Item], site: SiteConfig, category: str | None) -> None:
    body = render_json_feed(items, meta_of(site, "json", category))
    document = check(body, items)
    atom = feedparser.parse(render_feed(items, meta_of(site, "atom", category), "atom"))
    assert atom.bozo == 0
    parsed = feedparser_rs.parse(body, sanitize_html=False)
    assert atom.feed.title == parsed.feed.title == document["title"]
    assert atom.feed.link == parsed.feed.link == document["home_page_url"]
    pairs = list(zip(atom.entries, parsed.entries, document["items"], items, strict=True))
    for atom_entry, entry, item, source in pairs:
        assert atom_entry.id == entry.id == item["id"] == source.id
        assert atom_entry.title == entry.title == item["title"]
        assert atom_entry.link == entry.link == item["url"]
        related = [link.href for link in atom_entry.links if link.rel == "related"]
        assert related == ([item["external_url"]] if "external_url" in item else [])
        atom_published = datetime.fromisoformat(atom_entry.published)
        assert atom_published == parse_date(item["date_published"])
        assert atom_entry.published == item["date_published"], "the same offset"
        if "date_modified" in item:
            assert atom_entry.updated == item["date_modified"]
        assert [t.label for t in atom_entry.tags] == item["tags"]
        assert [a.name for a in atom_entry.authors] == [a["name"] for a in item["authors"]]
        assert atom_entry.summary == item["summary"]
        if source.entry.content:
            assert atom_entry.content[0].value == item["content_html"]


@pytest.mark.usefixtures("three_entries")
@pytest.mark.parametrize("category", [None, "visits", "conferences"])
def test_the_same_items_as_the_atom_feed(entries_dir: Path, category: str | None) -> None:
    catalog = load_catalog(entries_dir)
    items = catalog.visible(FIXED_NOW)
    if category is not None:
        items = tuple(item for item in items if category in item.entry.categories)
    assert_same_as_atom(items, catalog.site, category)


def test_the_seed_entries() -> None:
    catalog = load_catalog(SEED_ENTRIES)
    items = catalog.visible(FIXED_NOW)
    assert len(items) > 5
    assert_same_as_atom(items, catalog.site, None)
    for category in catalog.site.categories:
        chosen = tuple(i for i in items if category.slug in i.entry.categories)
        assert_same_as_atom(chosen, catalog.site, category.slug)
    document = strict_load(render_json_feed(items, meta_of(catalog.site)))
    for item, source in zip(document["items"], items, strict=True):
        event = source.entry.event
        if event is None:
            assert EXTENSION not in item
        else:
            assert item[EXTENSION]["event"]["start"] == str(event.start)


# Deterministic


@pytest.mark.usefixtures("three_entries")
def test_same_input_same_bytes(entries_dir: Path) -> None:
    first, _ = render(entries_dir)
    second, _ = render(entries_dir)
    assert first == second
    assert first.decode("utf-8").count("\n") > 20, "indented for people reading it"


# Text that is hostile somewhere


HOSTILE = (
    'Tom & "Jerry" </script><script>alert(1)</script> ]]> \\n '
    "\u2028\u2029 \U0001f389 \u05e9\u05dc\u05d5\u05dd"
)


def test_hostile_text_survives_as_text(write_entry: WriteEntry, entries_dir: Path) -> None:
    summary = f"<b>not bold</b>\n{HOSTILE}\tend"
    write_entry(
        title=HOSTILE,
        summary=summary,
        content=f"Text with `</script>` and \u2028 in it: {HOSTILE}",
        authors=[{"name": HOSTILE}],
    )
    write_entry("b-visit", published="2015-10-11T09:00:00+02:00", summary=summary, content=REMOVE)
    body, items = render(entries_dir)
    # Raw UTF-8, not \u escapes: JSON allows both, and only HTML embedding minds them.
    assert "\u2028".encode() in body and b"</script>" in body
    first, second = check(body, items)["items"]
    assert first["title"] == HOSTILE
    assert first["summary"] == summary
    assert first["authors"] == [{"name": HOSTILE}]
    assert first["content_html"] == items[0].content_html
    shown = displayed(second["content_html"])
    assert shown.text == summary, "the summary as the body shows its markup characters"
    assert shown.tags == ["p"]


# Size: never over MAX_FEED_BYTES, cut by the same policy as RSS and Atom


def slug_of(item: dict[str, Any]) -> str:
    return str(item["url"]).rstrip("/").rsplit("/", 1)[1]


def counted_renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the documents put together from now on."""
    calls: list[int] = []
    original = jsonfeed._splice

    def counted(*args: Any) -> bytes:
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(jsonfeed, "_splice", counted)
    return calls


def test_huge_contents_leave_the_oldest_items_with_their_summary(
    write_entry: WriteEntry, entries_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slugs = write_many(write_entry, 10, content=lambda slug: long_markdown(slug, 900_000))
    calls = counted_renders(monkeypatch)
    body, items = render(entries_dir)
    assert len(calls) == 1, "the size estimate is exact: one render"
    shown = check(body, items)["items"]
    assert [slug_of(item) for item in shown] == slugs
    full = [displayed(i["content_html"]).text.endswith(f"The end of {slug_of(i)}.") for i in shown]
    # Content stays with the newest items: a run of full ones, then none at all.
    kept = full.index(False)
    assert kept >= 2
    assert not any(full[kept:])
    assert all(item["content_html"] == "<p>Someone visited.</p>" for item in shown[kept:])
    next_content = len(json.dumps(items[kept].content_html, ensure_ascii=False).encode())
    assert len(body) + next_content > MAX_FEED_BYTES, "as much content as fits"
    assert render(entries_dir)[0] == body, "the fitted feed is the same every time"


def test_content_too_big_even_alone_falls_back_to_the_summary(
    write_entry: WriteEntry, entries_dir: Path
) -> None:
    # "&<" becomes "&amp;&lt;" in HTML: 4.3 MB, so one item's content alone is too big.
    slugs = write_many(write_entry, 3, content="&<" * 480_000, link=SOURCE)
    body, items = render(entries_dir)
    shown = check(body, items)["items"]
    assert [slug_of(item) for item in shown] == slugs
    source = f'\n<p>Source: <a href="{SOURCE}">{SOURCE}</a></p>'
    assert all(item["content_html"] == f"<p>Someone visited.</p>{source}" for item in shown)
    assert all(item["summary"] == "Someone visited." for item in shown)


def test_huge_summaries_are_cut_at_a_word_boundary_oldest_first(
    write_entry: WriteEntry, entries_dir: Path
) -> None:
    words = ('Tom & Jerry <b>said</b> "so" ' * 28_000).strip()  # 840 KB; ~2.5 MB per item
    slugs = write_many(write_entry, 6, summary=words, content=REMOVE)
    body, items = render(entries_dir)
    shown = check(body, items)["items"]
    assert [slug_of(item) for item in shown] == slugs
    summaries = [item["summary"] for item in shown]
    kept = summaries.index(next(text for text in summaries if text != words))
    assert kept >= 1
    for item in shown[kept:]:
        summary = item["summary"]
        assert summary.endswith("\u2026")
        start = summary.removesuffix("\u2026")
        assert SUMMARY_CHARS - 40 < len(start) < SUMMARY_CHARS
        assert words.startswith(start)
        assert words[len(start)] == " ", "cut between words"
        assert displayed(item["content_html"]).text == summary, "the body is cut alike"


def test_the_oldest_items_are_left_out_when_nothing_else_is_left_to_cut(
    write_entry: WriteEntry, entries_dir: Path
) -> None:
    # As much as an item can carry once cut: ~17 KB, with quotes that JSON escapes.
    summary = ("&&&&&&&&& " * 99).strip()
    authors = [{"name": '"' * 500}] * SHORT_AUTHORS
    slugs = write_many(
        write_entry, 300, title='"' * 500, summary=summary, authors=authors, content=REMOVE
    )
    body, items = render(entries_dir)
    shown = check(body, items)["items"]
    assert 100 < len(shown) < len(slugs)
    assert [slug_of(item) for item in shown] == slugs[: len(shown)], "the newest, in order"
    for item in shown:
        assert item["summary"] == summary
        assert [a["name"] for a in item["authors"]] == ['"' * 500] * SHORT_AUTHORS


def test_a_feed_that_fits_is_rendered_once(
    write_entry: WriteEntry, entries_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_many(write_entry, 3, content=lambda slug: long_markdown(slug, 200_000))
    calls = counted_renders(monkeypatch)
    body, items = render(entries_dir)
    assert len(calls) == 1
    assert all(item["content_html"].endswith(".</p>") for item in check(body, items)["items"])


# Any valid entries


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(valid_entries(("visits", "conferences", "other")), max_size=5))
def test_any_valid_entries_make_a_valid_feed(data: list[dict[str, Any]]) -> None:
    site = SiteConfig.model_validate(tomllib.loads(SITE_TOML))
    items = items_of(data)
    body = render_json_feed(items, meta_of(site))
    assert render_json_feed(items, meta_of(site)) == body
    shown = check(body, items)["items"]
    assert len(shown) == len(items)
    for item, source in zip(shown, items, strict=True):
        assert item["title"] == source.entry.title
        assert item["summary"] == source.entry.summary
        assert parse_date(item["date_published"]) == source.entry.published
