"""Nothing lost, nothing stuck: whatever happens to the files, the folder and the settings,
what is published stays published, publishing goes on, and every problem is reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import feedparser
import icalendar
import pytest
from click.testing import CliRunner
from flask import Flask

import medfeed.indexes
from conftest import BASE_URL, SITE_TOML, entry_data
from medfeed import ical
from medfeed.cli import main
from medfeed.errors import RenderError
from medfeed.folder import Folder
from medfeed.ical import CalendarMeta
from medfeed.models import Event
from medfeed.settings import Settings
from medfeed.site import Publisher
from medfeed.store import Item

WriteEntry = Callable[..., Path]
PROMISE = 2.0


def make_publisher(folder: Path, **options: float) -> Publisher:
    settings = Settings(entries_dir=folder, base_url=BASE_URL, watch=False)
    return Publisher(settings, **options)  # type: ignore[arg-type]


def titles(pub: Publisher, path: str = "/feed.atom") -> set[str]:
    doc = pub.snapshot().document(path)
    assert doc is not None, path
    parsed = feedparser.parse(doc.body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return {e.title for e in parsed.entries}


def problems(pub: Publisher) -> list[str]:
    return [str(p) for p in pub.health().problems]


def write_json(path: Path, **overrides: object) -> None:
    path.write_text(json.dumps(entry_data(**overrides)), encoding="utf-8")


def finishes(action: Callable[[], object], seconds: float = 5.0) -> bool:
    """Whether ``action`` returns within ``seconds`` (it runs on a daemon thread)."""
    done = threading.Event()

    def run() -> None:
        action()
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return done.wait(seconds)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- a version no renderer takes is that entry's problem ---------------------------------------


@pytest.fixture
def fussy_renderer(monkeypatch: pytest.MonkeyPatch) -> None:
    """A feed renderer that refuses one title, standing in for a bug validation missed."""
    import medfeed.documents

    real = medfeed.documents.render_feed  # the RSS and Atom rows' writer

    def render(items, meta, fmt, *rest):  # type: ignore[no-untyped-def]
        if any(item.entry.title == "Unrenderable" for item in items):
            raise RenderError("refused") from ValueError("All strings must be XML compatible")
        return real(items, meta, fmt, *rest)

    monkeypatch.setattr(medfeed.documents, "render_feed", render)


@pytest.mark.usefixtures("fussy_renderer")
def test_an_unrenderable_edit_keeps_the_published_version(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit", title="Published")
    pub = make_publisher(entries_dir)
    write_entry("a-visit", title="Unrenderable")
    write_entry("b-visit", title="Another")
    pub.refresh(None)
    assert titles(pub) == {"Published", "Another"}
    assert titles(pub, "/categories/visits/feed.rss") == {"Published", "Another"}
    [problem] = problems(pub)
    assert problem.startswith("entries/a-visit.json: cannot be rendered (All strings")
    # Publishing goes on: the next edit is published, and the fix clears the problem.
    write_entry("b-visit", title="Another, edited")
    write_entry("a-visit", title="Fixed")
    pub.refresh(None)
    assert titles(pub) == {"Fixed", "Another, edited"}
    assert problems(pub) == []


@pytest.fixture(params=[ValueError, TypeError])
def fussy_calendar(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """An event writer that refuses one title, standing in for a bug validation missed
    (raising what a writer's own checks raise, or what a bug in it would)."""
    real = ical._event_text
    error: type[Exception] = request.param

    def refuse(item: Item, event: Event, meta: CalendarMeta, short: bool) -> str:
        if item.entry.title == "Unrenderable":
            raise error("All strings must be XML compatible")
        return real(item, event, meta, short)

    monkeypatch.setattr(ical, "_event_text", refuse)


def summaries(pub: Publisher, path: str) -> list[str]:
    doc = pub.snapshot().document(path)
    assert doc is not None, path
    calendar = icalendar.Calendar.from_ical(doc.body)
    return [str(event["SUMMARY"]) for event in calendar.walk("VEVENT")]


EVENT = {"start": "2015-10-20", "end": "2015-10-21"}


@pytest.mark.usefixtures("fussy_calendar")
def test_an_event_no_calendar_takes_keeps_its_last_good_version_there(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    # Only the feeds are made with a new version: its new entries are each written
    # alone in the calendar too, so that one it refuses is set aside before any
    # calendar is made, its last good version kept.
    write_entry("a-visit", title="Published", event=EVENT)
    write_entry("c-visit", title="Third", event={"start": "2015-10-18"})
    pub = make_publisher(entries_dir)
    assert summaries(pub, "/events.ics") == ["Third", "Published"]
    write_entry("a-visit", title="Unrenderable", event=EVENT)
    write_entry("b-visit", title="Another", event={"start": "2015-11-02"})
    pub.refresh(None)
    for path in ("/events.ics", "/categories/visits/events.ics"):
        assert summaries(pub, path) == ["Third", "Published", "Another"], path  # by first day
    assert titles(pub) == {"Published", "Third", "Another"}
    [problem] = problems(pub)
    assert problem.startswith("entries/a-visit.json: cannot be rendered (All strings")


@pytest.mark.usefixtures("fussy_calendar")
def test_an_event_no_calendar_takes_at_start_up_is_left_out_of_the_calendars_alone(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    # No last good version: the calendars leave it out (found by writing each of their
    # events alone), the feeds keep it, and the health check names it.
    write_entry("a-visit", title="Unrenderable", event=EVENT)
    write_entry("b-visit", title="Another", event={"start": "2015-11-02"})
    write_entry("c-visit", title="Third", event={"start": "2015-10-18"})
    pub = make_publisher(entries_dir)
    for path in ("/events.ics", "/categories/visits/events.ics"):
        assert summaries(pub, path) == ["Third", "Another"], path
    assert titles(pub) == {"Unrenderable", "Another", "Third"}
    [problem] = problems(pub)
    assert problem.startswith("entries/a-visit.json: cannot be rendered (All strings")
    assert problem.endswith("; left out where it is refused")
    # A later version keeps it out while its file is the same, and says so.
    write_entry("b-visit", title="Another, edited", event={"start": "2015-11-02"})
    pub.refresh(None)
    assert summaries(pub, "/events.ics") == ["Third", "Another, edited"]
    assert [p.path for p in pub.health().problems] == ["entries/a-visit.json"]


@pytest.mark.usefixtures("fussy_calendar")
def test_past_the_entries_a_version_checks_an_event_no_calendar_takes_is_left_out(
    entries_dir: Path, write_entry: WriteEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bulk change: its entries are not each written alone before the version is
    # served, so the calendars find the one they refuse, as at a first start.
    monkeypatch.setattr(medfeed.indexes, "CARRY_AT_MOST", 0)
    write_entry("a-visit", title="Published", event=EVENT)
    pub = make_publisher(entries_dir)
    write_entry("a-visit", title="Unrenderable", event=EVENT)
    write_entry("b-visit", title="Another", event={"start": "2015-11-02"})
    pub.refresh(None)
    assert summaries(pub, "/events.ics") == ["Another"]
    assert titles(pub) == {"Unrenderable", "Another"}
    [problem] = problems(pub)
    assert problem.endswith("; left out where it is refused")


@pytest.fixture
def archive_site(entries_dir: Path, write_entry: WriteEntry) -> None:
    """Feeds of one entry: the two of January 2015 are in the archive's feeds only."""
    (entries_dir / "site.toml").write_text("item_limit = 1\n" + SITE_TOML, encoding="utf-8")
    write_entry("c-visit", title="New", published="2015-03-01T09:00:00Z")
    write_entry("b-visit", title="Old two", published="2015-01-06T09:00:00Z")


@pytest.mark.usefixtures("fussy_renderer", "archive_site")
def test_an_archived_entry_no_feed_takes_keeps_its_last_good_version_in_the_archive(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit", title="Old one", published="2015-01-05T09:00:00Z")
    pub = make_publisher(entries_dir)
    for path in ("/archive/2015/01/feed.atom", "/categories/visits/archive/2015/01/feed.rss"):
        assert titles(pub, path) == {"Old one", "Old two"}, path
    write_entry("a-visit", title="Unrenderable", published="2015-01-05T09:00:00Z")
    pub.refresh(None)
    for path in ("/archive/2015/01/feed.atom", "/categories/visits/archive/2015/01/feed.rss"):
        assert titles(pub, path) == {"Old one", "Old two"}, path
    [problem] = problems(pub)
    assert problem.startswith("entries/a-visit.json: cannot be rendered (All strings")


@pytest.mark.usefixtures("fussy_renderer", "archive_site")
def test_an_archived_entry_no_feed_takes_at_start_up_is_left_out_of_the_archive_alone(
    entries_dir: Path, write_entry: WriteEntry, make_app: Callable[..., Flask]
) -> None:
    # Only the current feeds are made at start-up, and they do not show it: the
    # archive's documents leave it out when made, and answer (not a 500).
    write_entry("a-visit", title="Unrenderable", published="2015-01-05T09:00:00Z")
    client = make_app().test_client()
    for path in ("/archive/2015/01/feed.atom", "/categories/visits/archive/2015/01/feed.rss"):
        reply = client.get(path)
        assert reply.status_code == 200, path
        assert {entry.title for entry in feedparser.parse(reply.data).entries} == {"Old two"}
    [problem] = client.get("/healthz").get_json()["problems"]
    assert problem["path"] == "a-visit.json"
    assert problem["message"].endswith("; left out where it is refused")


@pytest.mark.usefixtures("fussy_renderer")
def test_an_unrenderable_file_at_start_up_costs_only_itself(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit", title="Unrenderable")
    write_entry("b-visit", title="Fine")
    pub = make_publisher(entries_dir)
    assert titles(pub) == {"Fine"}
    assert [p.path for p in pub.health().problems] == ["entries/a-visit.json"]


# --- files that are not plain files --------------------------------------------------------------


def test_a_site_toml_fifo_blocks_nothing(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry("a-visit")
    folder = Folder(entries_dir)
    (entries_dir / "site.toml").unlink()
    os.mkfifo(entries_dir / "site.toml")
    assert finishes(lambda: folder.update({"site.toml"}))
    catalog = folder.catalog()
    assert [i.slug for i in catalog.items] == ["a-visit"]
    assert catalog.site.title == "Test News"
    assert any("not a regular file" in str(p) for p in catalog.problems)

    result: list[object] = []
    assert finishes(lambda: result.append(CliRunner().invoke(main, ["validate", str(entries_dir)])))
    [outcome] = result
    assert outcome.exit_code == 1  # type: ignore[attr-defined]
    assert "entries/site.toml: is not a regular file" in outcome.output  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: p.symlink_to("/dev/zero"), "outside the folder"),
        (lambda p: p.symlink_to("site.toml"), "cannot be read"),
        (lambda p: p.write_bytes(b"# padding\n" * 200_000), "larger than"),
        (lambda p: p.mkdir(), "is a folder"),
    ],
    ids=["dev-zero", "link-loop", "huge", "folder"],
)
def test_an_unusable_site_toml_keeps_the_settings(
    entries_dir: Path, write_entry: WriteEntry, make: Callable[[Path], object], says: str
) -> None:
    write_entry("a-visit")
    pub = make_publisher(entries_dir)
    site = entries_dir / "site.toml"
    site.unlink()
    make(site)
    assert finishes(lambda: pub.refresh(None))
    assert titles(pub) == {"A visit"}
    [problem] = problems(pub)
    assert problem.startswith("entries/site.toml: ") and says in problem

    result = CliRunner().invoke(main, ["validate", str(entries_dir)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert says in result.output


def test_a_link_loop_is_reported_and_every_other_file_published(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit")
    pub = make_publisher(entries_dir)
    (entries_dir / "loop.json").symlink_to("loop.json")
    assert pub.refresh(None) is True
    assert pub.refresh(None) is False  # reported once; a polling rescan does not fail
    write_entry("b-visit", title="After the loop")
    pub.refresh(None)
    assert titles(pub) == {"A visit", "After the loop"}
    assert [p.path for p in pub.health().problems] == ["entries/loop.json"]


# --- an unreadable folder keeps what is published ------------------------------------------------

UNREADABLE_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, tempfile
    from pathlib import Path
    from medfeed.folder import Folder

    if os.geteuid() == 0:
        # Permissions mean nothing to root: go on as an ordinary user, once every
        # module the checks use is loaded (the interpreter's own files may be root's).
        import encodings.utf_8_sig, pydantic, tomllib  # noqa: F401
        warm = Path(tempfile.mkdtemp())
        (warm / "site.toml").write_text(sys.argv[1], encoding="utf-8")
        (warm / "a-visit.json").write_text(sys.argv[2], encoding="utf-8")
        Folder(warm).catalog()
        os.chmod(warm, 0o000)
        Folder(warm, deletion_grace=0).rescan()
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    root = Path(tempfile.mkdtemp()) / "entries"
    root.mkdir()
    (root / "site.toml").write_text(sys.argv[1], encoding="utf-8")
    (root / "a-visit.json").write_text(sys.argv[2], encoding="utf-8")
    folder = Folder(root, deletion_grace=0)
    report = {}

    def state(name):
        folder.rescan()
        catalog = folder.catalog()
        report[name] = {
            "items": [i.slug for i in catalog.items],
            "title": catalog.site.title,
            "problems": [str(p) for p in catalog.problems],
        }

    state("readable")
    os.chmod(root, 0o644)  # names listed, files not reachable
    state("no-search")
    os.chmod(root, 0o000)
    state("no-listing")
    os.chmod(root, 0o755)
    os.chmod(root / "site.toml", 0o000)
    state("site-unreadable")
    os.chmod(root / "site.toml", 0o644)
    state("fixed")
    print(json.dumps(report))
    """
)


def test_an_unreadable_folder_keeps_what_is_published() -> None:
    command = [sys.executable, "-c", UNREADABLE_SCRIPT, SITE_TOML, json.dumps(entry_data())]
    env = {**os.environ, "TMPDIR": "/tmp"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for name in ("readable", "no-search", "no-listing", "site-unreadable", "fixed"):
        assert report[name]["items"] == ["a-visit"], (name, report[name])
        assert report[name]["title"] == "Test News", name
    assert report["readable"]["problems"] == report["fixed"]["problems"] == []
    assert any("cannot be read (Permission denied)" in p for p in report["no-search"]["problems"])
    assert any("cannot be listed" in p for p in report["no-listing"]["problems"])
    assert any(
        p.startswith("entries/site.toml: cannot be read")
        for p in report["site-unreadable"]["problems"]
    )


# --- a deployment swaps the folder ---------------------------------------------------------------


@pytest.fixture
def watching() -> Iterator[Callable[[Path], Publisher]]:
    started: list[Publisher] = []

    def start(folder: Path) -> Publisher:
        settings = Settings(entries_dir=folder, base_url=BASE_URL, watch=True)
        pub = Publisher(settings)
        pub.watch()
        started.append(pub)
        return pub

    yield start
    for pub in started:
        pub.stop()


def within_promise(check: Callable[[], bool]) -> float:
    started = time.monotonic()
    while time.monotonic() - started < PROMISE + 1:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError("not published within the promise")


def release(root: Path, name: str, title: str) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "site.toml").write_text(SITE_TOML, encoding="utf-8")
    write_json(folder / "a-visit.json", title=title)
    return folder


def test_a_folder_moved_into_place_is_followed(
    tmp_path: Path, watching: Callable[[Path], Publisher]
) -> None:
    live = release(tmp_path, "entries", "First release")
    pub = watching(live)
    assert titles(pub) == {"First release"}
    second = release(tmp_path, "incoming", "Second release")
    live.rename(tmp_path / "old")
    second.rename(live)
    assert within_promise(lambda: titles(pub) == {"Second release"}) < PROMISE
    # And the new folder is watched: an edit there is published too.
    write_json(live / "a-visit.json", title="Edited after the swap")
    assert within_promise(lambda: titles(pub) == {"Edited after the swap"}) < PROMISE


def test_a_repointed_symlink_is_followed(
    tmp_path: Path, watching: Callable[[Path], Publisher]
) -> None:
    current = tmp_path / "current"
    current.symlink_to(release(tmp_path, "release-1", "First release"))
    pub = watching(current)
    assert titles(pub) == {"First release"}
    release(tmp_path, "release-2", "Second release")
    (tmp_path / "next").symlink_to(tmp_path / "release-2")
    os.replace(tmp_path / "next", current)  # what `ln -sfn release-2 current` amounts to
    assert within_promise(lambda: titles(pub) == {"Second release"}) < PROMISE
    write_json(current / "a-visit.json", title="Edited after the swap")
    assert within_promise(lambda: titles(pub) == {"Edited after the swap"}) < PROMISE


# --- site.toml may not drop a category in use -------------------------------------------------


@pytest.mark.parametrize("edit", ["conferencs", None], ids=["misspelt", "removed"])
def test_a_category_in_use_cannot_vanish_from_site_toml(
    entries_dir: Path, write_entry: WriteEntry, edit: str | None
) -> None:
    write_entry("a-visit")
    write_entry("a-conference", title="A conference", categories=["conferences", "visits"])
    pub = make_publisher(entries_dir)
    paths = ("/feed.atom", "/categories/conferences/feed.atom")
    before = {path: pub.snapshot().document(path) for path in paths}
    site = entries_dir / "site.toml"
    text = SITE_TOML.replace('"Test News"', '"Renamed"')
    if edit is None:
        text = text[: text.index('[[categories]]\nslug = "conferences"')]
    else:
        text = text.replace('slug = "conferences"', f'slug = "{edit}"')
    site.write_text(text, encoding="utf-8")
    pub.refresh({"site.toml"})
    for path, doc in before.items():
        now = pub.snapshot().document(path)
        assert now is not None and doc is not None and now.body == doc.body, path
    assert titles(pub, "/feed.rss") == {"A visit", "A conference"}
    [problem] = problems(pub)
    assert problem.startswith("entries/site.toml: categories: the category 'conferences' is gone")
    assert "a-conference.json" in problem

    # The editor moves the entry off the category: the held-back settings now apply.
    write_entry("a-conference", title="A conference", categories=["visits"])
    pub.refresh({"a-conference.json"})
    assert problems(pub) == []
    assert titles(pub, "/feed.rss") == {"A visit", "A conference"}
    assert b"<title>Renamed</title>" in pub.snapshot().feed(None, "rss").body


# --- saving by delete-and-write is not a deletion ------------------------------------------------


def test_a_file_back_within_the_grace_was_never_deleted(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit")
    clock = FakeClock()
    folder = Folder(entries_dir, clock=clock)
    folder.catalog()
    path = entries_dir / "a-visit.json"

    path.unlink()
    assert folder.update({"a-visit.json"}) is False
    assert [i.slug for i in folder.catalog().items] == ["a-visit"]
    assert folder.seconds_to_settle() == pytest.approx(1.0)
    clock.now += 0.5
    write_entry("a-visit", title="Saved again")
    assert folder.update({"a-visit.json"}) is True
    assert [i.entry.title for i in folder.catalog().items] == ["Saved again"]
    clock.now += 5
    assert folder.settle() is False
    assert folder.seconds_to_settle() is None

    # A deletion that lasts is published once the grace is over.
    path.unlink()
    assert folder.rescan() is False
    clock.now += 0.99
    assert folder.settle() is False
    clock.now += 0.02
    assert folder.settle() is True
    assert folder.catalog().items == ()


def test_a_rename_shows_one_item_during_the_grace(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit", id="tag:example.org,2015:pinned")
    write_entry("b-visit", title="Other")
    folder = Folder(entries_dir, clock=FakeClock())
    folder.catalog()
    os.rename(entries_dir / "a-visit.json", entries_dir / "c-visit.json")
    os.rename(entries_dir / "b-visit.json", entries_dir / "d-visit.json")
    folder.rescan()
    catalog = folder.catalog()
    assert sorted(i.slug for i in catalog.items) == ["c-visit", "d-visit"]
    assert catalog.problems == ()


def test_delete_and_write_saves_never_drop_the_entry(
    entries_dir: Path, write_entry: WriteEntry, watching: Callable[[Path], Publisher]
) -> None:
    write_entry("a-visit", title="Saved 0")
    write_entry("b-visit", title="Other")
    pub = watching(entries_dir)
    path = entries_dir / "a-visit.json"
    missing = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            if len(titles(pub)) != 2:
                missing.append(time.monotonic())
            time.sleep(0.005)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        for n in range(1, 21):
            path.unlink()
            time.sleep((n % 5) * 0.05)  # 0 to 200 ms without the file
            write_entry("a-visit", title=f"Saved {n}")
            time.sleep(0.05)
    finally:
        stop.set()
        poller.join()
    assert missing == []
    within_promise(lambda: "Saved 20" in titles(pub))
    path.unlink()
    assert within_promise(lambda: titles(pub) == {"Other"}) < PROMISE


# --- times -------------------------------------------------------------------------------------


def test_an_update_in_the_future_is_an_error(
    entries_dir: Path, write_entry: WriteEntry, runner: CliRunner
) -> None:
    write_entry("a-visit", title="Published")
    pub = make_publisher(entries_dir)
    write_entry("a-visit", title="Far ahead", updated="2090-01-01T00:00:00Z")
    pub.refresh({"a-visit.json"})
    assert titles(pub) == {"Published"}
    [problem] = problems(pub)
    assert problem.startswith("entries/a-visit.json: updated: is in the future (2090-01-01")
    result = runner.invoke(main, ["validate", str(entries_dir)])
    assert result.exit_code == 1
    assert "entries/a-visit.json: updated: is in the future" in result.output


# --- every text that can reach a feed is XML-safe, whatever field holds it ----------------------

FULL_ENTRY = {
    "$schema": "../schema/entry.schema.json",
    "title": "A visit",
    "summary": "Someone visited.",
    "content": "The *visit* happened.",
    "published": "2015-10-12T09:00:00+02:00",
    "updated": "2015-10-14T12:30:00+02:00",
    "categories": ["visits"],
    "event": {
        "start": "2015-10-12",
        "end": "2015-10-13",
        "location": {"place": "Jerusalem", "country": "Israel"},
    },
    "link": "https://www.example.org/press-release",
    "authors": [{"name": "Press office", "email": "press@example.org", "uri": "https://x.org/"}],
    "id": "tag:example.org,2015-10-12:a-visit",
}
FULL_SITE = {
    "title": "Test News",
    "description": "News for tests.",
    "base_url": "https://site.example.org/",
    "language": "en",
    "authority": "example.org",
    "author": {"name": "Test Desk", "email": "desk@example.org", "uri": "https://x.org/"},
    "categories": [{"slug": "visits", "title": "Visits", "description": "Visits."}],
}


def text_paths(data: object, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    if isinstance(data, str):
        yield path
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from text_paths(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from text_paths(value, (*path, index))


def with_text(data: object, path: tuple[str | int, ...], char: str) -> object:
    copy = json.loads(json.dumps(data))
    holder = copy
    for part in path[:-1]:
        holder = holder[part]
    value = holder[path[-1]]
    holder[path[-1]] = value[:3] + char + value[3:]
    return copy


BAD_CHARS = ["\x01", "\x1b", "\ud800", "\ufffe", "\uffff"]


@pytest.mark.parametrize("char", BAD_CHARS, ids=[f"U+{ord(c):04X}" for c in BAD_CHARS])
@pytest.mark.parametrize("path", list(text_paths(FULL_ENTRY)), ids=str)
def test_no_entry_field_takes_text_xml_cannot_carry(
    entries_dir: Path, path: tuple[str | int, ...], char: str
) -> None:
    name = entries_dir / "a-visit.json"
    name.write_text(json.dumps(FULL_ENTRY), encoding="utf-8")
    pub = make_publisher(entries_dir)
    assert titles(pub) == {"A visit"}
    name.write_text(json.dumps(with_text(FULL_ENTRY, path, char)), encoding="utf-8")
    pub.refresh({"a-visit.json"})
    assert titles(pub) == {"A visit"}
    field = ".".join(str(p) for p in path)
    reported = problems(pub)
    assert reported and all(p.startswith(f"entries/a-visit.json: {field}: ") for p in reported)
    assert any(f"U+{ord(char):04X}" in p for p in reported), reported
    # Printed problems stay on one line and never carry the raw character.
    assert all(p.isprintable() for p in reported)


def toml_text(data: dict[str, object]) -> str:
    def value(v: object) -> str:
        # JSON string escapes are TOML's basic-string escapes for these characters.
        return json.dumps(v).replace("\\ud800", "\\uD800")

    lines = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict | list)]
    author = data["author"]
    assert isinstance(author, dict)
    lines += ["[author]", *(f"{k} = {value(v)}" for k, v in author.items())]
    for category in data["categories"]:  # type: ignore[attr-defined]
        lines += ["[[categories]]", *(f"{k} = {value(v)}" for k, v in category.items())]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("char", ["\x01", "\ufffe"], ids=["U+0001", "U+FFFE"])
@pytest.mark.parametrize("path", list(text_paths(FULL_SITE)), ids=str)
def test_no_site_setting_takes_text_xml_cannot_carry(
    entries_dir: Path, write_entry: WriteEntry, path: tuple[str | int, ...], char: str
) -> None:
    write_entry("a-visit")
    site = entries_dir / "site.toml"
    site.write_text(toml_text(FULL_SITE), encoding="utf-8")
    pub = make_publisher(entries_dir)
    before = pub.snapshot().feed(None, "atom").body
    bad = with_text(FULL_SITE, path, char)
    assert isinstance(bad, dict)
    site.write_text(toml_text(bad), encoding="utf-8")
    pub.refresh({"site.toml"})
    assert pub.snapshot().feed(None, "atom").body == before
    field = ".".join(str(p) for p in path)
    reported = problems(pub)
    assert reported and all(p.startswith(f"entries/site.toml: {field}: ") for p in reported)
    # Publishing goes on: an entry edit is still published under the last good settings.
    write_entry("a-visit", title="Edited")
    pub.refresh({"a-visit.json"})
    assert titles(pub) == {"Edited"}
    result = CliRunner().invoke(main, ["validate", str(entries_dir)])
    assert result.exit_code == 1 and f"entries/site.toml: {field}: " in result.output


def test_an_unrenderable_page_is_a_503_not_a_500(
    make_app: Callable[..., Flask], write_entry: WriteEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_entry("a-visit")
    write_entry("b-visit", title="Fine")
    app = make_app()
    pages = app.extensions["medfeed"].snapshot().pages

    def refuse(item: object, **neighbours: object) -> bytes:
        raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")

    monkeypatch.setattr(pages, "entry", refuse)
    client = app.test_client()
    reply = client.get("/entries/a-visit/")
    assert reply.status_code == 503
    assert reply.headers["Retry-After"] == "60"
    assert b"Traceback" not in reply.data
    assert client.get("/feed.atom").status_code == 200


def test_a_watcher_behind_the_saves_does_not_publish_a_deletion(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    # The watcher sees "gone" at each deletion but misses the copy written between them:
    # only a file that stays gone for the whole grace is deleted.
    write_entry("a-visit")
    clock = FakeClock()
    folder = Folder(entries_dir, clock=clock)
    folder.catalog()
    path = entries_dir / "a-visit.json"
    path.unlink()
    folder.update({"a-visit.json"})
    for _ in range(5):
        clock.now += 0.6  # a new copy was written and deleted again in between, unseen
        folder.update({"a-visit.json"})
        assert [i.slug for i in folder.catalog().items] == ["a-visit"]
    clock.now += 1.1
    assert folder.settle() is True
    assert folder.catalog().items == ()
