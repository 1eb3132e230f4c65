"""Hostile and broken input: `medfeed validate` reports it, a running app keeps serving.

Each case lays one bad thing next to a valid entry, good.json, and is checked twice: the
command names the file without a traceback, and an app over the same folder builds and
still publishes good.json.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from click.testing import CliRunner, Result
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SITE_TOML, entry_data
from medfeed.cli import main
from medfeed.loading import load_catalog
from medfeed.reading import MAX_FILE_BYTES

MakeApp = Callable[..., Flask]
Serve = Callable[[Flask], str]
Writer = Callable[[Path], None]

GOOD_TITLE = "Good entry"
CASE_TITLE = "Case entry"
OUTSIDE_TITLE = "Outside the folder"
HOSTILE_CONTENT = (
    "Hello <script>alert(1)</script> there.\n\n"
    '<img src="x.png" onerror="alert(2)"> and <a href="javascript:alert(3)">a link</a>\n\n'
    '<p onclick="alert(4)">Paragraph</p>\n\n'
    '<a href="JavaScript:alert(5)" onmouseover="alert(6)">another</a>'
)
FORBIDDEN = ("<script", "onerror", "javascript:")


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def entry_json(**overrides: Any) -> str:
    return json.dumps(entry_data(**{"title": CASE_TITLE, **overrides}), indent=2)


def write_good(folder: Path) -> None:
    (folder / "good.json").write_text(
        json.dumps(entry_data(title=GOOD_TITLE), indent=2), encoding="utf-8"
    )


# --- the writers of each case -------------------------------------------------------------


def raw(name: str, data: bytes) -> Writer:
    def write(folder: Path) -> None:
        (folder / name).write_bytes(data)

    return write


def entry(name: str, **overrides: Any) -> Writer:
    def write(folder: Path) -> None:
        (folder / name).write_text(entry_json(**overrides), encoding="utf-8")

    return write


def two_files_one_id(folder: Path) -> None:
    same = "tag:example.org,2015-10-12:same"
    (folder / "dup-a.json").write_text(entry_json(title="Dup A", id=same), encoding="utf-8")
    (folder / "dup-b.json").write_text(entry_json(title="Dup B", id=same), encoding="utf-8")


def link_outside(folder: Path) -> None:
    target = folder.parent / "outside.json"
    target.write_text(entry_json(title=OUTSIDE_TITLE), encoding="utf-8")
    (folder / "linked.json").symlink_to(target)


def directory(folder: Path) -> None:
    (folder / "x.json").mkdir()
    (folder / "x.json" / "inner.json").write_text(entry_json(), encoding="utf-8")


def author(**fields: str) -> dict[str, str]:
    return {"name": "A", **fields}


def link_loop(folder: Path) -> None:
    (folder / "loop.json").symlink_to("loop.json")
    (folder / "ping.json").symlink_to("pong.json")
    (folder / "pong.json").symlink_to("ping.json")


def dangling_link(folder: Path) -> None:
    (folder / "dangling.json").symlink_to("nowhere.json")


def fifo(folder: Path) -> None:
    os.mkfifo(folder / "fifo.json")


def device(folder: Path) -> None:
    (folder / "zero.json").symlink_to("/dev/zero")


def editor_leftovers(folder: Path) -> None:
    for name in (".#a.json", "a.json~", "a.json.swp", ".hidden.json", "#a.json#"):
        (folder / name).write_bytes(b"\x00garbage{{{ not json \xff")


def deep(depth: int) -> bytes:
    return b'{"title": ' + b"[" * depth + b"]" * depth + b"}"


@dataclass(frozen=True)
class Case:
    """One bad input: how to write it and what validate must say."""

    id: str
    write: Writer
    named: tuple[str, ...] = ()
    """Files validate must report; empty: the folder is accepted."""
    says: tuple[str, ...] = ()
    """Text every reported line of those files contains: a field prefix or a message."""
    published: tuple[str, ...] = ()
    """Titles published besides the good entry."""
    slug: str | None = None
    """The slug of a published case entry, whose page is checked too."""


OVER_LIMIT = MAX_FILE_BYTES + 1

CASES = [
    Case("empty", raw("empty.json", b""), ("empty.json",), ("empty",)),
    Case("whitespace-only", raw("blank.json", b" \n\t\n"), ("blank.json",), ("empty",)),
    Case(
        "not-utf8",
        raw("latin.json", b"\xff\xfe{\x00}\x00" + "Caf\xe9".encode("latin-1")),
        ("latin.json",),
        ("UTF-8",),
    ),
    Case(
        "utf8-bom",
        raw("bom.json", b"\xef\xbb\xbf" + entry_json(title="With a BOM").encode("utf-8")),
        published=("With a BOM",),
        slug="bom",
    ),
    Case("json-array", raw("array.json", b"[1, 2, 3]"), ("array.json",), ("JSON array",)),
    Case("json-string", raw("string.json", b'"hello"'), ("string.json",), ("JSON string",)),
    Case("json-null", raw("null.json", b"null"), ("null.json",), ("JSON null",)),
    Case(
        "duplicate-keys",
        raw(
            "twice.json",
            entry_json().replace('"summary"', '"title": "Again",\n  "summary"', 1).encode(),
        ),  # fmt: skip
        ("twice.json",),
        ("'title'", "twice"),
    ),
    Case(
        "nan",
        raw("nan.json", entry_json().replace('"Someone visited."', "NaN").encode()),
        ("nan.json",),
        ("NaN",),
    ),
    Case(
        "infinity",
        raw("inf.json", entry_json().replace('"Someone visited."', "-Infinity").encode()),
        ("inf.json",),
        ("Infinity",),
    ),
    Case("nesting-10000-deep", raw("deep.json", deep(10_000)), ("deep.json",), ("deep",)),
    Case(
        "over-1-mib",
        entry("big.json", content="x" * OVER_LIMIT),
        ("big.json",),
        ("1024 KiB",),
    ),
    Case("unknown-field", entry("extra.json", colour="red"), ("extra.json",), ("colour: ",)),
    Case("title-not-string", entry("title-int.json", title=5), ("title-int.json",), ("title: ",)),
    Case(
        "categories-not-list",
        entry("cat-str.json", categories="visits"),
        ("cat-str.json",),
        ("categories: ",),
    ),
    Case(
        "time-without-offset",
        entry("naive.json", published="2015-10-12T09:00:00"),
        ("naive.json",),
        ("published: ", "offset"),
    ),
    Case(
        "updated-before-published",
        entry("backwards.json", updated="2015-10-11T09:00:00+02:00"),
        ("backwards.json",),
        ("updated: ",),
    ),
    Case(
        "unknown-category",
        entry("sport.json", categories=["sport"]),
        ("sport.json",),
        ("categories.0: ", "'sport'"),
    ),
    Case(
        "control-character",
        entry("bell.json", title="Ring\u0007the bell"),
        ("bell.json",),
        ("title: ", "U+0007"),
    ),
    Case(
        "escape-character",
        entry("esc.json", summary="Colour \u001b[31mred"),
        ("esc.json",),
        ("summary: ", "U+001B"),
    ),
    Case(
        "script-in-content",
        entry("hostile.json", title="Hostile content", content=HOSTILE_CONTENT),
        published=("Hostile content",),
        slug="hostile",
    ),
    Case(
        "javascript-link",
        entry("js-link.json", link="javascript:alert(1)"),
        ("js-link.json",),
        ("link: ",),
    ),
    Case(
        "slug-with-capitals-and-spaces",
        entry("My Entry.json"),
        ("My Entry.json",),
        ("my-entry",),
    ),
    Case("slug-with-capitals", entry("Visit.json"), ("Visit.json",), ("visit.json",)),
    Case("same-id-twice", two_files_one_id, ("dup-a.json", "dup-b.json"), ("id: ",)),
    Case("symlink-outside", link_outside, ("linked.json",), ("outside the folder",)),
    Case("directory", directory, ("x.json",), ("folder",)),
    Case("editor-leftovers", editor_leftovers),
    Case("symlink-loop", link_loop, ("loop.json", "ping.json", "pong.json"), ("cannot be read",)),
    Case("dangling-link", dangling_link, ("dangling.json",), ("does not exist",)),
    Case("fifo", fifo, ("fifo.json",), ("not a regular file",)),
    Case("device-behind-a-link", device, ("zero.json",), ("outside the folder",)),
    *(
        Case(
            f"unsafe-{where.replace('.', '-')}-{ord(char):04x}",
            entry(f"unsafe-{n}.json", **fields),
            (f"unsafe-{n}.json",),
            # A misspelt field is also reported as unknown, on a line of its own.
            (f"{where}: ",) if where == "tittle" else (f"{where}: ", f"U+{ord(char):04X}"),
        )
        for n, (where, char, fields) in enumerate(
            [
                ("authors.0.email", "\x01", {"authors": [author(email="a\x01@b.org")]}),
                ("authors.0.email", "\ud800", {"authors": [author(email="a\ud800@b.org")]}),
                ("authors.0.email", "\ufffe", {"authors": [author(email="a@b\ufffe.org")]}),
                ("authors.0.name", "\uffff", {"authors": [author(name="A\uffff")]}),
                ("id", "\x1f", {"id": "tag:example.org,2015:\x1fx"}),
                (
                    "event.location.place",
                    "\x0c",
                    {
                        "event": {
                            "start": "2015-10-12",
                            "location": {"place": "X\x0c", "country": "Y"},
                        }
                    },
                ),
                ("$schema", "\x02", {"$schema": "../schema\x02.json"}),
                ("tittle", "\x03", {"tittle": "misspelt\x03"}),
            ]
        )
    ),
]


@pytest.fixture(params=CASES, ids=[case.id for case in CASES])
def case(request: pytest.FixtureRequest, entries_dir: Path) -> Case:
    bad: Case = request.param
    write_good(entries_dir)
    bad.write(entries_dir)
    return bad


def test_validate_reports_the_case(case: Case, runner: CliRunner, entries_dir: Path) -> None:
    result = runner.invoke(main, ["validate", str(entries_dir)])
    no_traceback(result)
    reported = lines(result.stdout)
    assert not any("good.json" in line for line in reported), reported
    if not case.named:
        assert result.exit_code == 0, result.output
        count = 1 + len(case.published)
        assert reported == [f"{count} entries valid in {entries_dir}"]
        return
    assert result.exit_code == 1, result.output
    for name in case.named:
        mine = [line for line in reported if line.startswith(f"entries/{name}: ")]
        assert mine, (name, reported)
        for line in mine:
            for text in case.says:
                assert text in line, (text, line)
    # Nothing but the named files.
    for line in reported:
        assert line.split(": ", 1)[0] in {f"entries/{n}" for n in case.named}, line
    # And no full paths of the machine.
    assert str(entries_dir) not in result.stdout
    assert "1 valid entries" in result.stderr


def fetch(base: str, path: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(f"{base}{path}", timeout=10) as response:
        return response.status, response.read()


def test_app_keeps_serving_the_good_entry(case: Case, make_app: MakeApp, serve: Serve) -> None:
    base = serve(make_app())
    status, body = fetch(base, "/feed.atom")
    assert status == 200
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    titles = sorted(e.title for e in parsed.entries)
    assert titles == sorted([GOOD_TITLE, *case.published])
    status, page = fetch(base, "/")
    assert status == 200
    assert GOOD_TITLE.encode() in page
    status, _ = fetch(base, "/entries/good/")
    assert status == 200
    if case.slug is not None:
        status, _ = fetch(base, f"/entries/{case.slug}/")
        assert status == 200


# --- specifics of some cases --------------------------------------------------------------


def test_hostile_content_is_accepted_but_sanitised(
    entries_dir: Path, runner: CliRunner, make_app: MakeApp, serve: Serve
) -> None:
    write_good(entries_dir)
    entry("hostile.json", title="Hostile content", content=HOSTILE_CONTENT)(entries_dir)
    result = runner.invoke(main, ["validate", str(entries_dir)])
    assert result.exit_code == 0, result.output
    base = serve(make_app())
    for path in ("/feed.atom", "/feed.rss", "/entries/hostile/", "/"):
        status, body = fetch(base, path)
        assert status == 200
        text = body.decode("utf-8")
        # Escaped inside XML or not, none of it may reach a reader.
        for shown in (text.lower(), html.unescape(html.unescape(text)).lower()):
            for bad in FORBIDDEN:
                assert bad not in shown, (path, bad)
    _, atom = fetch(base, "/feed.atom")
    parsed = feedparser.parse(atom, sanitize_html=False)
    (item,) = [e for e in parsed.entries if e.title == "Hostile content"]
    content = item.content[0].value
    for kept in ("Hello", "there.", "a link", "Paragraph", "another"):
        assert kept in content
    assert "alert" not in content


def test_a_symlink_out_of_the_folder_is_never_served(
    entries_dir: Path, make_app: MakeApp, serve: Serve
) -> None:
    write_good(entries_dir)
    link_outside(entries_dir)
    base = serve(make_app())
    for path in ("/feed.atom", "/feed.rss", "/"):
        _, body = fetch(base, path)
        assert OUTSIDE_TITLE.encode() not in body
    with pytest.raises(urllib.error.HTTPError) as info:
        fetch(base, "/entries/linked/")
    try:
        assert info.value.code == 404
    finally:
        info.value.close()


def test_an_entry_of_exactly_the_limit_is_accepted(entries_dir: Path, runner: CliRunner) -> None:
    text = entry_json(content="")
    filler = MAX_FILE_BYTES - len(text.encode())
    (entries_dir / "limit.json").write_text(entry_json(content="x" * filler), encoding="utf-8")
    assert (entries_dir / "limit.json").stat().st_size == MAX_FILE_BYTES
    result = runner.invoke(main, ["validate", str(entries_dir)])
    assert result.exit_code == 0, result.output


# --- thousands of files -------------------------------------------------------------------

MANY = 3_000


def write_many(folder: Path, count: int) -> None:
    start = datetime(2016, 1, 1, tzinfo=UTC)  # all newer than good.json
    for n in range(count):
        data = {
            "title": f"Entry {n}",
            "summary": "Small.",
            "published": (start + timedelta(minutes=n)).isoformat(),
            "categories": ["visits" if n % 2 else "conferences"],
        }
        (folder / f"entry-{n:05d}.json").write_text(json.dumps(data), encoding="utf-8")


def test_thousands_of_files_at_once(
    entries_dir: Path, runner: CliRunner, make_app: MakeApp, serve: Serve
) -> None:
    started = time.monotonic()
    write_good(entries_dir)
    write_many(entries_dir, MANY)
    result = runner.invoke(main, ["validate", str(entries_dir)])
    assert result.exit_code == 0, result.output
    assert lines(result.stdout) == [f"{MANY + 1} entries valid in {entries_dir}"]
    base = serve(make_app())
    _, atom = fetch(base, "/feed.atom")
    parsed = feedparser.parse(atom)
    assert parsed.bozo == 0
    assert len(parsed.entries) == 50
    # Newest first: the last written are the newest.
    assert parsed.entries[0].title == f"Entry {MANY - 1}"
    _, category_feed = fetch(base, "/categories/visits/feed.atom")
    assert len(feedparser.parse(category_feed).entries) == 50
    assert fetch(base, "/")[0] == 200
    assert fetch(base, "/entries/good/")[0] == 200
    # Generous: it takes a few seconds; minutes would mean something went quadratic.
    assert time.monotonic() - started < 60


# --- arbitrary bytes ----------------------------------------------------------------------

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=10,
)
entry_like = st.builds(
    lambda extra: json.dumps({**entry_data(), **extra}, allow_nan=True).encode(),
    st.dictionaries(
        st.sampled_from(
            [
                "title",
                "summary",
                "content",
                "published",
                "updated",
                "categories",
                "event",
                "link",
                "authors",
                "id",
                "draft",
                "$schema",
                "tags",
            ]
        ),  # fmt: skip
        json_like,
        max_size=3,
    ),
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2_000) | entry_like)
def test_arbitrary_bytes_never_break_the_catalog(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "entries"
        folder.mkdir()
        (folder / "site.toml").write_text(SITE_TOML, encoding="utf-8")
        write_good(folder)
        (folder / "fuzz.json").write_bytes(data)
        catalog = load_catalog(folder)
        assert "good" in [item.slug for item in catalog.visible(datetime.now(UTC))]
        published = "fuzz" in [item.slug for item in catalog.items]
        named = {problem.path for problem in catalog.problems}
        if published:
            assert named == set()
        else:
            assert named == {"entries/fuzz.json"}
