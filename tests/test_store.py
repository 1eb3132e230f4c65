"""The loader: a folder of entry files becomes a Catalog of items and located problems."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import REMOVE, SITE_TOML, WriteEntry, entry_data
from medfeed.errors import ConfigError, EntryError, Problem
from medfeed.loading import load_catalog
from medfeed.models import Entry
from medfeed.reading import (
    MAX_FILE_BYTES,
    is_entry_name,
    load_site,
    parse_entry,
    read_entry_file,
    suggest_slug,
)
from medfeed.store import Catalog

SEED_ENTRIES = Path(__file__).resolve().parents[1] / "entries"


def slugs(catalog: Catalog) -> list[str]:
    return [item.slug for item in catalog.items]


def only_problem(catalog: Catalog) -> Problem:
    assert len(catalog.problems) == 1, [str(p) for p in catalog.problems]
    return catalog.problems[0]


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)


def parse_html(html: str) -> _Hrefs:
    parser = _Hrefs()
    parser.feed(html)
    parser.close()
    return parser


# --- a valid folder -------------------------------------------------------------------------


def test_items_are_newest_first(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry("oldest", published="2014-01-01T00:00:00Z")
    # 07:00 UTC: earlier than "later" although its local clock time is greater.
    write_entry("earlier", published="2015-10-12T09:00:00+02:00")
    write_entry("later", published="2015-10-12T08:00:00+00:00")
    write_entry("newest", published="2016-09-16T10:00:00+02:00")
    catalog = load_catalog(entries_dir)
    assert catalog.problems == ()
    assert slugs(catalog) == ["newest", "later", "earlier", "oldest"]


def test_item_fields(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry("a-visit")
    [item] = load_catalog(entries_dir).items
    assert item.slug == "a-visit"
    assert item.source == "entries/a-visit.json"
    assert item.id == "tag:example.org,2015-10-12:a-visit"
    assert item.entry.title == "A visit"
    assert item.content_html == "<p>The <em>visit</em> happened.</p>"


def test_id_override_is_used(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry("a-visit", id="urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427")
    [item] = load_catalog(entries_dir).items
    assert item.id == "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427"


def test_id_survives_edits_of_title_and_content(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry("a-visit")
    [before] = load_catalog(entries_dir).items
    write_entry("a-visit", title="A visit, corrected", summary="Changed.", content="New text.")
    [after] = load_catalog(entries_dir).items
    assert after.entry.title == "A visit, corrected"
    assert after.id == before.id


def test_no_content_gives_empty_html(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry("a-visit", content=REMOVE)
    [item] = load_catalog(entries_dir).items
    assert item.content_html == ""


def test_content_html_is_sanitised(entries_dir: Path, write_entry: WriteEntry) -> None:
    content = (
        "# Heading\n\nSome **bold** and a [good link](https://example.org/).\n\n"
        "<script>alert('script')</script>\n\n"
        '<img src="x" onerror="alert(\'img\')">\n\n'
        "<p onclick=\"alert('click')\">para</p>\n\n"
        "<a href=\"javascript:alert('raw')\">raw</a> [md](javascript:alert('md'))\n\n"
        '<iframe src="https://evil.example/"></iframe><style>body{}</style>'
    )
    write_entry("a-visit", content=content)
    [item] = load_catalog(entries_dir).items
    html = item.content_html
    parsed = parse_html(html)
    assert "<strong>bold</strong>" in html
    assert set(parsed.tags) <= {"p", "strong", "a"}  # h1, img, script, iframe, style gone
    assert "alert('script')" not in html
    for name, value in parsed.attributes:
        assert not name.startswith("on")
        assert not (value or "").lower().startswith("javascript:")
    hrefs = [value for name, value in parsed.attributes if name == "href"]
    assert hrefs == ["https://example.org/"]


# --- one bad file among good ones -----------------------------------------------------------


def bad_file(entries_dir: Path, write_entry: WriteEntry, name: str, raw: bytes) -> Problem:
    """Write a good entry and one bad file; the good one loads, the bad one is one problem."""
    write_entry("a-visit")
    (entries_dir / name).write_bytes(raw)
    catalog = load_catalog(entries_dir)
    assert slugs(catalog) == ["a-visit"]
    problem = only_problem(catalog)
    assert problem.path == f"entries/{name}"
    return problem


def good_bytes(**overrides: Any) -> bytes:
    return json.dumps(entry_data(**overrides)).encode()


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b'{"title": "x",, }', ["is not valid JSON", "line 1", "column 15"]),
        (b'{\n  "title": "x"\n  "summary": "y"\n}', ["is not valid JSON", "line 3", "column 3"]),
        (b"", ["is empty"]),
        (b" \n\t\n", ["is empty"]),
        (b'{"title": "caf\xe9"}', ["is not UTF-8", "at 14"]),
        (b"[]", ["JSON object", "not a JSON array"]),
        (b'"a visit"', ["JSON object", "not a JSON string"]),
        (b"42", ["JSON object", "not a JSON number"]),
        (b"null", ["JSON object", "not a JSON null"]),
        (b'{"title": "a", "title": "b"}', ["'title' appears twice"]),
        (b'{"latitude": NaN}', ["NaN is not a JSON number"]),
        (b'{"latitude": -Infinity}', ["-Infinity is not a JSON number"]),
        (b"[" * 10000 + b"]" * 10000, ["nests too deeply"]),
        (b'{"title": ' + b"[" * 100000 + b"]" * 100000 + b"}", ["nests too deeply"]),
    ],
)
def test_unreadable_file_is_one_problem(
    entries_dir: Path, write_entry: WriteEntry, raw: bytes, words: list[str]
) -> None:
    problem = bad_file(entries_dir, write_entry, "bad.json", raw)
    assert problem.field == ""
    assert str(problem) == f"entries/bad.json: {problem.message}"
    for word in words:
        assert word in problem.message


def test_utf8_bom_is_accepted(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry("a-visit")
    (entries_dir / "with-bom.json").write_bytes(b"\xef\xbb\xbf" + good_bytes(title="BOM"))
    catalog = load_catalog(entries_dir)
    assert catalog.problems == ()
    assert {item.entry.title for item in catalog.items} == {"A visit", "BOM"}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"title": None}, "entries/bad.json: title: Input should be a valid string"),
        ({"colour": "blue"}, "entries/bad.json: colour: unknown field"),
        ({"summary": REMOVE}, "entries/bad.json: summary: is required"),
        (
            {"event": {"start": "2015-10-12", "end": "2015-10-11"}},
            "entries/bad.json: event.end: should not be before the start (2015-10-12)",
        ),
        (
            {"published": "2015-10-12T09:00:00"},
            "entries/bad.json: published: has no time-zone offset: write it as e.g. "
            "2016-09-16T10:00:00+02:00 or with Z for UTC",
        ),
        ({"categories": ["visits", "Bad"]}, "entries/bad.json: categories.1: 'Bad' is not a slug"),
    ],
)
def test_invalid_entry_problem_names_the_field(
    entries_dir: Path, write_entry: WriteEntry, overrides: dict[str, Any], expected: str
) -> None:
    write_entry("a-visit")
    (entries_dir / "bad.json").write_bytes(good_bytes(**overrides))
    catalog = load_catalog(entries_dir)
    assert slugs(catalog) == ["a-visit"]
    assert any(str(p).startswith(expected) for p in catalog.problems), catalog.problems
    assert all(p.path == "entries/bad.json" for p in catalog.problems)
    assert not any("Value error" in p.message for p in catalog.problems)


def test_every_problem_of_a_file_is_reported(entries_dir: Path, write_entry: WriteEntry) -> None:
    (entries_dir / "bad.json").write_bytes(good_bytes(title="", draft="yes", colour="blue"))
    catalog = load_catalog(entries_dir)
    assert [p.field for p in catalog.problems] == ["colour", "draft", "title"]
    assert catalog.items == ()


def test_file_over_the_size_limit(entries_dir: Path, write_entry: WriteEntry) -> None:
    raw = good_bytes(summary="x" * MAX_FILE_BYTES)
    problem = bad_file(entries_dir, write_entry, "huge.json", raw)
    assert problem.message == "is larger than the 1024 KiB limit for an entry"


def test_file_at_the_size_limit_loads(entries_dir: Path) -> None:
    raw = good_bytes()
    (entries_dir / "big.json").write_bytes(raw + b" " * (MAX_FILE_BYTES - len(raw)))
    assert (entries_dir / "big.json").stat().st_size == MAX_FILE_BYTES
    catalog = load_catalog(entries_dir)
    assert catalog.problems == ()
    assert slugs(catalog) == ["big"]


def test_unknown_category(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry("a-visit")
    write_entry("odd", categories=["visits", "sports"])
    catalog = load_catalog(entries_dir)
    assert slugs(catalog) == ["a-visit"]
    problem = only_problem(catalog)
    assert problem.field == "categories.1"
    assert str(problem) == (
        "entries/odd.json: categories.1: unknown category 'sports'; known: conferences, visits"
    )


def test_same_id_in_two_files(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry("a-visit")
    write_entry("first", id="tag:example.org,2015:same")
    write_entry("second", id="tag:example.org,2015:same")
    catalog = load_catalog(entries_dir)
    assert slugs(catalog) == ["a-visit"]
    assert [(p.path, p.field) for p in catalog.problems] == [
        ("entries/first.json", "id"),
        ("entries/second.json", "id"),
    ]
    assert "entries/second.json" in catalog.problems[0].message
    assert "entries/first.json" in catalog.problems[1].message


def test_id_override_clashing_with_a_computed_id(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit")
    write_entry("copy", id="tag:example.org,2015-10-12:a-visit")
    catalog = load_catalog(entries_dir)
    assert catalog.items == ()
    assert sorted(p.path for p in catalog.problems) == ["entries/a-visit.json", "entries/copy.json"]


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("My Entry.json", "my-entry"),
        ("A_Visit.json", "a-visit"),
        ("café--visit.json", "cafe-visit"),
        ("Visit 2015!.json", "visit-2015"),
    ],
)
def test_bad_file_name_suggests_a_slug(
    entries_dir: Path, write_entry: WriteEntry, name: str, suggestion: str
) -> None:
    problem = bad_file(entries_dir, write_entry, name, good_bytes())
    assert problem.message == (
        f"file name should be lower-case words joined by hyphens; rename it to {suggestion}.json"
    )


def test_bad_file_name_without_a_suggestion(entries_dir: Path, write_entry: WriteEntry) -> None:
    problem = bad_file(entries_dir, write_entry, "!!!.json", good_bytes())
    assert problem.message == "file name should be lower-case words joined by hyphens"


def test_file_name_ending_in_newline(entries_dir: Path, write_entry: WriteEntry) -> None:
    bad_file(entries_dir, write_entry, "odd\n.json", good_bytes())


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("My Entry", "my-entry"),
        ("  spaced  out  ", "spaced-out"),
        ("Ünïcödé Ñame", "unicode-name"),
        ("a--b__c", "a-b-c"),
        ("北约", "beiyue"),  # transliterated: every script gives a name
        ("?!…", ""),
    ],
)
def test_suggest_slug(name: str, slug: str) -> None:
    assert suggest_slug(name) == slug


def test_link_to_outside_is_not_followed(
    tmp_path: Path, entries_dir: Path, write_entry: WriteEntry
) -> None:
    outside = tmp_path / "outside.json"
    outside.write_bytes(good_bytes(title="Outside"))
    (entries_dir / "linked.json").symlink_to(outside)
    write_entry("a-visit")
    catalog = load_catalog(entries_dir)
    assert slugs(catalog) == ["a-visit"]
    assert str(only_problem(catalog)) == (
        "entries/linked.json: is a link to outside the folder; not followed"
    )


def test_link_inside_the_folder_is_followed(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry("a-visit")
    (entries_dir / "alias.json").symlink_to(entries_dir / "a-visit.json")
    catalog = load_catalog(entries_dir)
    assert catalog.problems == ()
    assert sorted(slugs(catalog)) == ["a-visit", "alias"]


def test_folder_named_like_an_entry(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry("a-visit")
    (entries_dir / "x.json").mkdir()
    catalog = load_catalog(entries_dir)
    assert slugs(catalog) == ["a-visit"]
    assert str(only_problem(catalog)) == "entries/x.json: is a folder, not a file"


@pytest.mark.parametrize(
    "name",
    [".#a-visit.json", "a-visit.json~", "a-visit.json.swp", ".hidden.json", "#a-visit.json#"],
)
def test_editor_leftovers_are_ignored(
    entries_dir: Path, write_entry: WriteEntry, name: str
) -> None:
    write_entry("a-visit")
    (entries_dir / name).write_bytes(b"{ not json")
    (entries_dir / "notes.txt").write_bytes(b"{ not json")
    catalog = load_catalog(entries_dir)
    assert catalog.problems == ()
    assert slugs(catalog) == ["a-visit"]
    assert not is_entry_name(name)


@pytest.mark.parametrize("name", ["a-visit.json", "My Entry.json", "x.json"])
def test_entry_names(name: str) -> None:
    assert is_entry_name(name)


def test_read_entry_file_directly(entries_dir: Path, write_entry: WriteEntry) -> None:
    entry = read_entry_file(write_entry("a-visit"), entries_dir)
    assert entry.title == "A visit"
    (entries_dir / "bad.json").write_bytes(b"[]")
    with pytest.raises(EntryError) as info:
        read_entry_file(entries_dir / "bad.json", entries_dir)
    assert [p.path for p in info.value.problems] == ["entries/bad.json"]
    assert str(info.value).startswith("entries/bad.json: ")


def test_missing_file_is_a_problem_not_a_crash(entries_dir: Path) -> None:
    with pytest.raises(EntryError) as info:
        read_entry_file(entries_dir / "gone.json", entries_dir)
    assert "cannot be read" in info.value.problems[0].message


def test_huge_integer_is_a_problem(entries_dir: Path, write_entry: WriteEntry) -> None:
    problem = bad_file(entries_dir, write_entry, "bad.json", b'{"title": ' + b"9" * 5000 + b"}")
    assert "JSON" in problem.message


# --- drafts and scheduled entries -----------------------------------------------------------

OCT_20 = datetime(2015, 10, 20, tzinfo=UTC)


def test_draft_is_loaded_but_not_visible(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry("a-visit")
    write_entry("draft", draft=True, published="2015-10-01T00:00:00Z")
    catalog = load_catalog(entries_dir)
    assert catalog.problems == ()
    assert slugs(catalog) == ["a-visit", "draft"]
    assert [i.slug for i in catalog.visible(OCT_20)] == ["a-visit"]
    assert catalog.next_release(OCT_20) is None


def test_scheduled_entry(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry("a-visit")
    write_entry("soon", published="2015-11-01T12:00:00+01:00")
    write_entry("later", published="2016-01-01T00:00:00Z")
    write_entry("draft", published="2015-10-25T00:00:00Z", draft=True)
    catalog = load_catalog(entries_dir)
    assert [i.slug for i in catalog.visible(OCT_20)] == ["a-visit"]
    release = datetime(2015, 11, 1, 11, tzinfo=UTC)
    assert catalog.next_release(OCT_20) == release
    just_before = datetime(2015, 11, 1, 10, 59, 59, tzinfo=UTC)
    assert [i.slug for i in catalog.visible(just_before)] == ["a-visit"]
    assert [i.slug for i in catalog.visible(release)] == ["soon", "a-visit"]
    assert catalog.next_release(release) == datetime(2016, 1, 1, tzinfo=UTC)
    assert catalog.next_release(datetime(2016, 1, 1, tzinfo=UTC)) is None
    assert [i.slug for i in catalog.visible(datetime(2020, 1, 1, tzinfo=UTC))] == [
        "later",
        "soon",
        "a-visit",
    ]


# --- site.toml --------------------------------------------------------------------------------


def config_error(entries_dir: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_site(entries_dir)
    with pytest.raises(ConfigError) as again:
        load_catalog(entries_dir)
    assert again.value.problems == info.value.problems
    assert info.value.problems
    assert all(p.path == "entries/site.toml" for p in info.value.problems)
    assert str(info.value).startswith("entries/site.toml: ")
    return info.value


def test_site_is_read(entries_dir: Path) -> None:
    site = load_site(entries_dir)
    assert site.title == "Test News"
    assert [c.slug for c in site.categories] == ["visits", "conferences"]


def test_site_missing(entries_dir: Path) -> None:
    (entries_dir / "site.toml").unlink()
    error = config_error(entries_dir)
    assert "not found" in error.problems[0].message


def test_site_not_toml(entries_dir: Path) -> None:
    (entries_dir / "site.toml").write_text('title = "unterminated\n', encoding="utf-8")
    assert "is not valid TOML" in config_error(entries_dir).problems[0].message


def test_site_not_utf8(entries_dir: Path) -> None:
    (entries_dir / "site.toml").write_bytes(b'title = "caf\xe9"\n')
    assert "is not UTF-8" in config_error(entries_dir).problems[0].message


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ('authority = "example.org"', 'authority = "not a domain"', "domain name"),
        ('language = "en"', 'language = "en"\nitem_limit = 0', "greater than or equal to 1"),
        ('language = "en"', 'language = "en"\ntheme = "dark"', "unknown field"),
        ('slug = "visits"', 'slug = "all"', "'all' is reserved"),
        ('slug = "conferences"', 'slug = "visits"', "defines 'visits' twice"),
    ],
)
def test_site_invalid_values(entries_dir: Path, change: str, field: str, words: str) -> None:
    assert change in SITE_TOML
    (entries_dir / "site.toml").write_text(SITE_TOML.replace(change, field), encoding="utf-8")
    messages = [p.message for p in config_error(entries_dir).problems]
    assert any(words in m for m in messages), messages


def test_site_problem_names_the_field(entries_dir: Path) -> None:
    text = SITE_TOML.replace('slug = "visits"', 'slug = "all"')
    (entries_dir / "site.toml").write_text(text, encoding="utf-8")
    [problem] = config_error(entries_dir).problems
    assert str(problem) == (
        "entries/site.toml: categories.0.slug: 'all' is reserved for the feed of every entry"
    )


# --- the bundled entries ------------------------------------------------------------------------


def test_seed_folder_loads_cleanly() -> None:
    catalog = load_catalog(SEED_ENTRIES)
    assert catalog.problems == ()
    assert len(catalog.items) >= 9
    known = {c.slug for c in catalog.site.categories}
    for item in catalog.items:
        assert item.entry.categories, item.slug
        assert set(item.entry.categories) <= known, item.slug
        if item.entry.event is not None:
            assert item.entry.event.location is not None, item.slug
        assert item.id.startswith(f"tag:{catalog.site.authority},")
        assert item.content_html.startswith("<p>"), item.slug
    assert len({item.id for item in catalog.items}) == len(catalog.items)
    published = [item.entry.published for item in catalog.items]
    assert published == sorted(published, reverse=True)


# --- anything in, EntryError or Entry out ---------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
ENTRY_KEYS = st.sampled_from(
    ["title", "summary", "content", "published", "updated", "categories", "event", "link",
     "authors", "id", "draft", "$schema"]
)  # fmt: skip
ENTRY_LIKE = st.builds(
    lambda base, extra: {**base, **extra},
    st.just(entry_data()),
    st.dictionaries(ENTRY_KEYS, JSON_VALUES, max_size=3),
)


def parses_or_entry_error(raw: bytes) -> None:
    try:
        entry = parse_entry(raw, "entries/x.json")
    except EntryError as e:
        assert e.problems
        assert all(p.path == "entries/x.json" for p in e.problems)
    else:
        assert isinstance(entry, Entry)


@settings(deadline=None)
@given(st.binary())
def test_parse_entry_on_any_bytes(raw: bytes) -> None:
    parses_or_entry_error(raw)


@settings(deadline=None)
@given(JSON_VALUES | ENTRY_LIKE)
def test_parse_entry_on_any_json(value: object) -> None:
    parses_or_entry_error(json.dumps(value).encode())


def test_fifo_is_reported_without_blocking(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry("good")
    os.mkfifo(entries_dir / "pipe.json")
    catalog = load_catalog(entries_dir)
    assert [i.slug for i in catalog.items] == ["good"]
    assert [str(p) for p in catalog.problems] == [
        "entries/pipe.json: is not a regular file (a FIFO, socket or device); not read"
    ]
