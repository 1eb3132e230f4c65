"""``medfeed build --watch``: after each change of the entries, the output folder is what
a build by a new process would leave, and only what changed was written."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import icalendar
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import BASE_URL, SITE_TOML, WriteEntry, entry_data
from helpers import age_folder
from medfeed import feeditems, feedparts, ical, jsonfeed, rebuild
from medfeed.buildtexts import BuildTexts
from medfeed.buildwatch import BuildWatch
from medfeed.cli import main
from medfeed.delivery import Document
from medfeed.documents import Kind
from medfeed.manifest import ManifestText, Record, manifest_bytes
from medfeed.models import Event
from medfeed.outdir import MARKER, BuildError, read_manifest
from medfeed.pages import PageRenderer
from medfeed.settings import Settings
from medfeed.snapshot import Snapshot
from medfeed.store import Item

SLUGS = ("a-visit", "a-conference", "a-talk")
SMALL_SITE = "item_limit = 1\n" + SITE_TOML
"""Feeds of one item: every other entry is in the archive's feeds."""


def watching(entries: Path, out: Path, state: Path) -> BuildWatch:
    config = {"ENTRIES_DIR": str(entries), "BASE_URL": BASE_URL, "STATE_DIR": str(state)}
    earlier = read_manifest(out) if out.is_dir() else None
    watch = BuildWatch(Settings.from_mapping(config), out, earlier, deletion_grace=0)
    watch.build()
    return watch


@pytest.fixture
def one_watched(entries_dir: Path, write_entry: WriteEntry, tmp_path: Path) -> BuildWatch:
    """A watching build of one entry, "a-visit", into ``tmp_path / "out"``."""
    write_entry("a-visit")
    return watching(entries_dir, tmp_path / "out", tmp_path / "state")


def files(out: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(out)): path.read_bytes()
        for path in sorted(out.rglob("*"))
        if path.is_file() and path.name != MARKER
    }


def cold_build(entries: Path, out: Path, state: Path) -> str:
    """What a build by a new process says of ``out``."""
    result = CliRunner().invoke(
        main,
        ["build", str(out), "--entries", str(entries), "--allow-problems"],
        env={"MEDFEED_BASE_URL": BASE_URL, "MEDFEED_STATE_DIR": str(state)},
    )
    assert result.exit_code == 0, result.output
    return result.output


def write(entries: Path, slug: str, **fields: object) -> None:
    path = entries / f"{slug}.json"
    path.write_text(json.dumps(entry_data(**fields)), encoding="utf-8")


def act(entries: Path, action: str, slug: str, step: int) -> None:
    """One thing an editor does to an entry (or to site.toml)."""
    path = entries / f"{slug}.json"
    if action == "edit":
        write(entries, slug, title=f"{slug} take {step}", categories=["visits"])
    elif action == "new-month":
        write(entries, slug, title=slug, published=f"2016-0{1 + step % 9}-01T09:00:00Z")
    elif action == "category":
        write(entries, slug, title=slug, categories=["conferences"])
    elif action == "event":
        write(entries, slug, title=slug, event={"start": "2015-10-20"})
    elif action == "draft":
        write(entries, slug, title=slug, draft=True)
    elif action == "break":
        path.write_text('{"title": ', encoding="utf-8")
    elif action == "delete":
        path.unlink(missing_ok=True)
    elif action == "touch" and path.exists():
        # Back two seconds: another second than its last change, whenever that was.
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - 2_000_000_000))
    elif action == "reformat" and path.exists():
        text = path.read_text(encoding="utf-8")
        if text.endswith("}"):  # not a broken one: the same entry, written otherwise
            path.write_text(json.dumps(json.loads(text), indent=4), encoding="utf-8")
    elif action == "rename" and path.exists():
        path.rename(entries / f"{slug}-moved.json")
    elif action == "site":
        toml = SMALL_SITE.replace("Test News", f"Test News {step}")
        (entries / "site.toml").write_text(toml, encoding="utf-8")


ACTIONS = (
    *("edit", "new-month", "category", "event", "draft", "break", "delete", "rename", "site"),
    *("touch", "reformat"),
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(st.tuples(st.sampled_from(ACTIONS), st.sampled_from(SLUGS)), max_size=5))
# Files that change only their signature: what they say keeps its date in every process.
@example([("event", "a-visit"), ("touch", "a-visit"), ("draft", "a-talk"), ("touch", "a-talk")])
@example([("event", "a-visit"), ("reformat", "a-visit"), ("draft", "a-visit")])
def test_after_each_change_the_folder_is_what_a_new_build_leaves(
    steps: list[tuple[str, str]],
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        entries, out, state = root / "entries", root / "out", root / "state"
        entries.mkdir()
        (entries / "site.toml").write_text(SMALL_SITE, encoding="utf-8")
        write(entries, "a-visit", title="A visit")
        write(entries, "a-conference", title="A conference", categories=["conferences"])
        age_folder(entries)
        watch = watching(entries, out, state)
        try:
            for step, (action, slug) in enumerate(steps):
                page = out / "entries" / slug / "index.html"
                was_published = page.exists()
                act(entries, action, slug, step)
                watch.publisher.refresh()
                watch.catch_up()
                if watch.catalog.problems:
                    # Unlike a new build, which stops (or leaves the file out), a watching
                    # build keeps the last valid version of a file that broke, as the app.
                    assert page.exists() or not was_published or action != "break"
                    continue
                # A new process finds nothing to do (its entry cache a copy of this one's,
                # as its writer leaves it within seconds)...
                watch.publisher.folder.save_cache()
                copied_state = root / f"state{step}"
                shutil.copytree(state, copied_state)
                said = cold_build(entries, out, copied_state)
                nothing = "0 documents written, 0 re-dated" in said and "0 deleted" in said
                assert nothing, (step, said)
                # ...and a whole build into an empty folder writes the same documents.
                fresh = root / f"fresh{step}"
                cold_build(entries, fresh, copied_state)
                watched, built = files(out), files(fresh)
                assert watched.keys() == built.keys()
                for name, data in built.items():
                    if not name.startswith("sitemap"):  # dated by when each page was built
                        assert watched[name] == data, name
        finally:
            # Its cache writer writes from a forked child once the folder is quiet:
            # saving now waits for a write under way and leaves none pending, before
            # the folder goes.
            watch.publisher.folder.save_cache()


@pytest.mark.usefixtures("entries_dir")
def test_one_edit_writes_only_the_documents_that_show_it(
    entries_dir: Path, write_entry: WriteEntry, tmp_path: Path
) -> None:
    write_entry("a-visit")
    write_entry("a-conference", categories=["conferences"], title="A conference")
    age_folder(entries_dir)
    out = tmp_path / "out"
    watch = watching(entries_dir, out, tmp_path / "state")
    before = {name: (out / name).stat().st_ino for name in files(out)}
    assert watch.catch_up() is None  # nothing changed, nothing made

    write_entry("a-conference", categories=["conferences"], title="A conference, renamed")
    watch.publisher.refresh()
    report = watch.catch_up()
    assert report is not None
    replaced = {name for name in files(out) if (out / name).stat().st_ino != before[name]}
    assert {"entries/a-conference/index.html", "feed.atom", "entries/a-visit/index.html"} <= (
        replaced
    )
    assert not {"categories/visits/feed.atom", "categories/visits/index.html"} & replaced
    assert {name for name in replaced if not name.endswith(".gz")} == set(report.written_files)
    assert "A conference, renamed" in (out / "feed.atom").read_text()
    manifest = read_manifest(out)
    assert manifest is not None and "entries/a-conference/index.html" in manifest.keys


@pytest.mark.parametrize("built_before", [True, False], ids=["restarted", "first start"])
def test_an_edit_writes_only_its_own_texts_whatever_the_watch_started_over(
    entries_dir: Path,
    write_entry: WriteEntry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    built_before: bool,
) -> None:
    # Started again over a folder built before, its start makes nothing and writes no
    # text: the calendars and the year's page of an edit take the others' from the
    # state folder, read once. Started over an empty folder, it wrote every text itself
    # and reads none of them.
    for day, slug in enumerate(SLUGS, start=12):
        write_entry(slug, title=slug, event={"start": f"2015-10-{day}"})
    age_folder(entries_dir)
    out, state = tmp_path / "out", tmp_path / "state"
    if built_before:
        cold_build(entries_dir, out, state)
    watch = watching(entries_dir, out, state)
    loads: list[Path] = []
    load = BuildTexts.load
    monkeypatch.setattr(BuildTexts, "load", lambda self: loads.append(state) or load(self))
    events: list[str] = []
    listed: list[str] = []
    event_text, list_entry = ical._event_text, PageRenderer._list_entry
    monkeypatch.setattr(
        ical, "_event_text", lambda item, *a: events.append(item.slug) or event_text(item, *a)
    )
    monkeypatch.setattr(
        PageRenderer, "_list_entry", lambda s, item: listed.append(item.slug) or list_entry(s, item)
    )
    read = []
    for step, slug in enumerate(["a-talk", "a-visit", "a-talk"]):
        events.clear()
        listed.clear()
        loads.clear()
        write_entry(slug, title=f"{slug}, take {step}", event={"start": "2015-10-20"})
        watch.publisher.refresh()
        assert watch.catch_up() is not None
        read.append(len(loads))
        assert set(events) == set(listed) == {slug}, "the others' were kept"
        # Texts are found by what the items hold, however many versions came and went.
        fresh = tmp_path / f"fresh{step}"
        cold_build(entries_dir, fresh, tmp_path / f"state{step}")
        built = files(fresh)
        assert {n: d for n, d in files(out).items() if not n.startswith("sitemap")} == {
            n: d for n, d in built.items() if not n.startswith("sitemap")
        }
    assert read == ([1, 0, 0] if built_before else [0, 0, 0])


def test_an_edit_in_the_archive_writes_only_its_own_items_in_the_feeds(
    entries_dir: Path, write_entry: WriteEntry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The archive's feeds were written by another process (a build before a restart, or
    # a build's forked ones): their items' texts are taken back from the files.
    (entries_dir / "site.toml").write_text(SMALL_SITE, encoding="utf-8")
    slugs = ("e-1", "e-2", "e-3", "e-4")
    for day, slug in enumerate(slugs, start=12):
        write_entry(slug, title=slug, published=f"2015-10-{day}T09:00:00Z", content=f"*{slug}*")
    age_folder(entries_dir)
    out, state = tmp_path / "out", tmp_path / "state"
    cold_build(entries_dir, out, state)
    watch = watching(entries_dir, out, state)
    written: list[tuple[str, str]] = []
    for fmt, write_item in list(feeditems.WRITERS.items()):
        monkeypatch.setitem(
            feeditems.WRITERS,
            fmt,
            lambda item, *a, f=fmt, w=write_item: written.append((f, item.slug)) or w(item, *a),
        )
    for module in (jsonfeed, feedparts):
        monkeypatch.setattr(
            module,
            "item_text",
            lambda item, *a, w=module.item_text: written.append(("json", item.slug)) or w(item, *a),
        )
    write_entry("e-2", title="e-2, edited", published="2015-10-13T09:00:00Z", content="*e-2*")
    watch.publisher.refresh()
    assert watch.catch_up() is not None
    assert "e-2, edited" in (out / "archive/2015/10/feed.atom").read_text()
    # e-2's text, and the oldest's, written again to tell the files show whole items.
    assert {slug for _, slug in written} == {"e-2", "e-1"}
    assert {fmt for fmt, _ in written} == {"rss", "atom", "json"}
    fresh = tmp_path / "fresh"
    cold_build(entries_dir, fresh, tmp_path / "fresh-state")
    built = {n: d for n, d in files(fresh).items() if not n.startswith("sitemap")}
    assert {n: d for n, d in files(out).items() if not n.startswith("sitemap")} == built


def test_a_file_in_the_way_is_reported_and_nothing_is_changed(
    one_watched: BuildWatch, write_entry: WriteEntry, tmp_path: Path
) -> None:
    watch, out = one_watched, tmp_path / "out"
    (out / "entries" / "a-talk").mkdir()
    (out / "entries" / "a-talk" / "index.html").write_text("mine")
    write_entry("a-talk", title="A talk")
    watch.publisher.refresh()
    before = files(out)
    with pytest.raises(BuildError, match="entries/a-talk/index.html"):
        watch.catch_up()
    assert files(out) == before


@pytest.mark.parametrize("fails", ["making", "writing"])
def test_a_round_that_fails_midway_writes_nothing_after_and_the_next_catches_up(
    entries_dir: Path,
    write_entry: WriteEntry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fails: str,
) -> None:
    # A round makes each document while the last is written (rebuild._made_and_put):
    # a failure in either stops it there, and the next round puts the rest in place.
    write_entry("a-visit")
    write_entry("a-conference", categories=["conferences"], title="A conference")
    age_folder(entries_dir)
    out, state = tmp_path / "out", tmp_path / "state"
    watch = watching(entries_dir, out, state)
    put, document_of = rebuild.put, Snapshot.document_of
    tried: list[str] = []
    made: list[str | None] = []

    def failing_put(root: str, rel: str, doc: Document, kept: Record | None) -> object:
        tried.append(rel)
        if fails == "writing" and len(tried) == 3:
            raise OSError(28, "No space left on device", rel)
        return put(root, rel, doc, kept)

    def failing_make(snapshot: Snapshot, kind: Kind, subject: str | None) -> Document:
        made.append(subject)
        if fails == "making" and len(made) == 3:
            raise OSError(5, "Input/output error")
        return document_of(snapshot, kind, subject)

    before = files(out)
    write_entry("a-conference", categories=["conferences"], title="A conference, renamed")
    watch.publisher.refresh()  # the new version (which makes the entry's page: see refusals)
    monkeypatch.setattr(rebuild, "put", failing_put)
    monkeypatch.setattr(Snapshot, "document_of", failing_make)
    with pytest.raises(OSError, match="No space left" if fails == "writing" else "Input/output"):
        watch.catch_up()
    assert len(tried) == (3 if fails == "writing" else 2)  # nothing put after the failure
    changed = {name for name, data in files(out).items() if before.get(name) != data}
    assert {name.removesuffix(".gz") for name in changed} == set(tried[:2])

    monkeypatch.undo()
    write_entry("a-visit", title="A visit, again")
    watch.publisher.refresh()
    assert watch.catch_up() is not None
    watch.publisher.folder.save_cache()
    fresh = tmp_path / "fresh"
    cold_build(entries_dir, fresh, state)
    watched, built = files(out), files(fresh)
    assert watched.keys() == built.keys()
    assert {name for name, data in built.items() if watched[name] != data} <= {
        "sitemap.xml",
        "sitemap.xml.gz",
    }  # dated by when each page was built
    said = cold_build(entries_dir, out, state)
    assert "0 documents written, 0 re-dated" in said and "0 deleted" in said


def test_an_edit_no_calendar_takes_keeps_its_last_good_version_in_the_folder(
    one_watched: BuildWatch,
    write_entry: WriteEntry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A watching build makes no document with the new version (as the app makes its
    # feeds): the version's new entries are written alone first (see refusals).
    watch, out = one_watched, tmp_path / "out"
    event = {"start": "2015-10-20"}
    write_entry("a-visit", title="Published", event=event)
    watch.publisher.refresh()
    watch.catch_up()
    real = ical._event_text

    def refuse(item: Item, event: Event, meta: ical.CalendarMeta, short: bool) -> str:
        if item.entry.title == "Unrenderable":
            raise ValueError("All strings must be XML compatible")
        return real(item, event, meta, short)

    monkeypatch.setattr(ical, "_event_text", refuse)
    write_entry("a-visit", title="Unrenderable", event=event)
    write_entry("a-talk", title="A talk", event={"start": "2015-11-02"})
    watch.publisher.refresh()
    watch.catch_up()
    for name in ("events.ics", "categories/visits/events.ics"):
        calendar = icalendar.Calendar.from_ical((out / name).read_bytes())
        shown = [str(event["SUMMARY"]) for event in calendar.walk("VEVENT")]
        assert shown == ["Published", "A talk"], name
    feed = feedparser.parse((out / "feed.atom").read_bytes())
    assert {entry.title for entry in feed.entries} == {"Published", "A talk"}
    assert [p.path for p in watch.catalog.problems] == ["entries/a-visit.json"]


def test_the_command_builds_watches_and_stops_on_sigterm(
    entries_dir: Path, write_entry: WriteEntry, tmp_path: Path
) -> None:
    write_entry("a-visit")
    out = tmp_path / "out"
    env = {**os.environ, "MEDFEED_BASE_URL": BASE_URL, "MEDFEED_STATE_DIR": str(tmp_path / "st")}
    command = [sys.executable, "-m", "medfeed", "build", str(out), "--entries", str(entries_dir)]
    process = subprocess.Popen(
        [*command, "--watch"], env=env, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        wait_for(lambda: (out / "feed.atom").exists(), "the first build")
        write_entry("a-talk", title="A talk", published="2015-10-13T09:00:00+02:00")
        wait_for(lambda: "A talk" in (out / "feed.atom").read_text(), "the new entry")
        # Its page went in place before the feed that links to it.
        assert (out / "entries" / "a-talk" / "index.html").exists()
        (entries_dir / "a-talk.json").write_text("{", encoding="utf-8")
        time.sleep(1.5)
        # A broken file keeps its last valid version.
        assert (out / "entries" / "a-talk" / "index.html").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=20)
    assert process.returncode == 0, errors
    assert "Traceback" not in errors
    assert re.search(r"a-talk\.json: .*JSON", errors), errors
    assert "documents written" in errors


def wait_for(done: Callable[[], bool], what: str, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while not done():
        assert time.monotonic() < deadline, f"{what} did not come within {within} s"
        time.sleep(0.05)


RECORDS = st.tuples(
    st.text("0123456789abcdef", min_size=1, max_size=8),
    *(st.integers(0, 2**63) for _ in range(5)),
)
RELS = st.text("abc/é.-_", min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    documents=st.dictionaries(RELS, st.none() | RECORDS, max_size=8),
    keys=st.dictionaries(RELS, st.text("0123456789abcdef", max_size=8), max_size=8),
    changes=st.lists(
        st.tuples(st.booleans(), RELS, st.none() | RECORDS, st.none() | st.text("ab")),
        max_size=10,
    ),
    folders=st.lists(st.sets(RELS, max_size=4), min_size=1, max_size=3),
    block=st.sampled_from([1, 2, 3, 256]),
)
def test_the_manifest_kept_by_document_is_the_manifest(
    documents: dict[str, Record | None],
    keys: dict[str, str],
    changes: list[tuple[bool, str, Record | None, str | None]],
    folders: list[set[str]],
    block: int,
) -> None:
    # Small blocks: files put and dropped across their edges, the text written between.
    text = ManifestText(documents, keys, block=block)
    documents, keys = dict(documents), dict(keys)
    for number, (drop, rel, record, key) in enumerate(changes):
        if drop:
            text.drop(rel)
            documents.pop(rel, None)
            keys.pop(rel, None)
        else:
            text.put(rel, record, key)
            documents[rel] = record
            if key is None:
                keys.pop(rel, None)
            else:
                keys[rel] = key
        listed = folders[number % len(folders)]
        assert text.text(listed) == manifest_bytes(documents, listed, keys)
    assert text.text(folders[-1]) == manifest_bytes(documents, folders[-1], keys)


def test_problems_at_the_start_stop_a_watching_build_as_they_stop_a_build(
    entries_dir: Path, write_entry: WriteEntry, tmp_path: Path
) -> None:
    write_entry("a-visit")
    (entries_dir / "broken.json").write_text("{", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["build", str(out), "--entries", str(entries_dir), "--watch"],
        env={"MEDFEED_BASE_URL": BASE_URL, "MEDFEED_STATE_DIR": str(tmp_path / "state")},
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "1 problem(s) in 1 file(s): nothing built" in result.output
    assert not out.exists()


def test_a_state_folder_it_cannot_use_is_refused_in_one_line(
    entries_dir: Path, write_entry: WriteEntry, tmp_path: Path
) -> None:
    write_entry("a-visit")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    result = CliRunner().invoke(
        main,
        ["build", str(tmp_path / "out"), "--entries", str(entries_dir), "--watch"],
        env={"MEDFEED_BASE_URL": BASE_URL, "MEDFEED_STATE_DIR": str(blocker)},
    )
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: MEDFEED_STATE_DIR: "), lines


def test_a_scheduled_entry_is_put_in_place_when_its_time_comes(
    one_watched: BuildWatch, write_entry: WriteEntry, tmp_path: Path
) -> None:
    watch, out = one_watched, tmp_path / "out"
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    write_entry("a-talk", title="A talk", published=due.isoformat())
    watch.publisher.refresh()
    watch.catch_up()
    page = out / "entries" / "a-talk" / "index.html"
    assert not page.exists()
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.2)
    watch.publisher.snapshot()  # what the watcher's timer asks for when the time comes
    report = watch.catch_up()
    assert report is not None and page.exists()
    assert "A talk" in (out / "feed.atom").read_text(encoding="utf-8")
