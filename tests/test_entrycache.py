"""The entry cache in the state folder: restarts read no unchanged file, a file broken at
start-up keeps its last published version, and no cache file, however stale, damaged or
foreign, changes what is published."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import feedparser
import pytest
from click.testing import CliRunner

import medfeed.loading
import medfeed.site
from conftest import BASE_URL, SITE_TOML, WriteEntry
from medfeed import survey
from medfeed.cachecodec import MAGIC, Record, Ref, Version
from medfeed.cachefile import FRAME, TRAILER, TRAILER_MARK, checksum, encode, read_records
from medfeed.cachewriter import FORKS, CacheWriter, SavesApart
from medfeed.cli import main
from medfeed.coordination import Leader, locked
from medfeed.entrycache import CACHE_FILE, LOCK_FILE, EntryCache
from medfeed.errors import CacheDamaged
from medfeed.filestate import FileState, read_signature
from medfeed.folder import Folder
from medfeed.foldercache import FolderCache, records_of
from medfeed.loading import load_catalog
from medfeed.reading import read_entry
from medfeed.settings import Settings
from medfeed.site import Publisher
from medfeed.siterecord import RECORD_FILE
from medfeed.snapshot import Snapshot
from medfeed.store import Catalog, Item
from medfeed.storedentry import StoredEntry

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

A_ID = "tag:example.org,2015-10-12:a-visit"
MOMENT = datetime(2026, 1, 1, tzinfo=UTC)


def later() -> datetime:
    """A clock ahead of the files a test has just written: they count as settled (a file
    read within two seconds of its last change is not cached; see entrycache.RACY_NS)."""
    return datetime.now(UTC) + timedelta(seconds=10)


@pytest.fixture(autouse=True, params=["looked-at-here", "looked-at-by-a-child"])
def _restart_looks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every restart here twice: each file looked at by the restarting process, and by a
    child beside the making of the cache's items, as in a large folder (see survey)."""
    child = request.param == "looked-at-by-a-child"
    monkeypatch.setattr(survey, "SURVEYED_FROM", 1 if child else 10**9)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def start(entries_dir: Path, state: Path, now: Callable[[], datetime] = later) -> Folder:
    """A Folder as a (re)started process makes it, with its catalog published."""
    folder = Folder(entries_dir, state=state, now=now, deletion_grace=0)
    folder.catalog()
    return folder


def restart(entries_dir: Path, state: Path) -> Folder:
    """Write the cache of the process before, as its writer thread would, and start anew."""
    return start(entries_dir, state)


def three_entries(write_entry: WriteEntry) -> None:
    write_entry("a-visit", title="A", published="2015-10-12T09:00:00+02:00")
    write_entry(
        "b-visit",
        title="B",
        published="2015-10-13T09:00:00+02:00",
        categories=["visits", "conferences"],
    )
    write_entry("c-visit", title="C", published="2015-10-14T09:00:00+02:00", content="# C\n\n*c*")


def by_slug(catalog: Catalog) -> dict[str, Item]:
    return {item.slug: item for item in catalog.items}


def break_file(path: Path) -> None:
    path.write_text('{"title": "half-written', encoding="utf-8")


# --- a restart reads nothing unchanged ----------------------------------------------------------


def test_a_restart_with_unchanged_content_reads_no_entry_file(
    entries_dir: Path, write_entry: WriteEntry, state: Path
) -> None:
    three_entries(write_entry)
    first = start(entries_dir, state)
    assert first.files_read == 3
    # Written by now: here, or already by the writer thread the start woke at once.
    first.save_cache()
    assert (state / CACHE_FILE).is_file()

    again = start(entries_dir, state)
    assert again.files_read == 0
    assert again.cache is not None and again.cache.cache.trouble is None
    assert again.catalog().items == first.catalog().items
    assert again.save_cache() is False  # nothing new to write


def test_the_cache_holds_its_records_in_the_order_items_are_sorted_in(
    entries_dir: Path, write_entry: WriteEntry, state: Path
) -> None:
    # A restart makes its items in the records' order and sorts them: in one pass, on
    # memory laid out in that order, when the file holds them so.
    days = [14, 3, 27, 9, 21, 1, 30, 16]
    for day in days:
        write_entry(f"day-{day:02d}", published=f"2015-10-{day:02d}T09:00:00+02:00")
    write_entry("same-moment", published="2015-10-09T07:00:00Z")  # day-09's instant
    start(entries_dir, state).save_cache()

    names = list(EntryCache(state, entries_dir).load())
    assert names == ["day-01.json", "day-03.json", "day-09.json", "same-moment.json",
                     "day-14.json", "day-16.json", "day-21.json", "day-27.json",
                     "day-30.json"]  # fmt: skip
    items = start(entries_dir, state).catalog().items
    assert [item.source.rsplit("/", 1)[-1] for item in reversed(items)] == names


def test_the_cache_changes_no_byte_of_any_document(
    entries_dir: Path, write_entry: WriteEntry, state: Path
) -> None:
    three_entries(write_entry)
    write_entry("d-visit", link="https://Example.org", updated="2015-10-15T00:00:00Z",
                authors=[{"name": "N", "email": "n@example.org", "uri": "https://x.org/n"}],
                event={"start": "2015-10", "end": "2015-11-02",
                       "location": {"place": "P", "country": "C", "latitude": 1.5,
                                    "longitude": 2.0}},
                aliases=["old-d"], id="tag:elsewhere.org,2015:d")  # fmt: skip
    fresh = Folder(entries_dir).catalog()
    # As a Publisher does: the feeds are rendered (their items' HTML too) before publishing.
    first = Folder(entries_dir, state=state, now=later)
    catalog = first.catalog(publish=False)
    assert all(item.content_html for item in catalog.items)
    first.publish(catalog.items)
    first.save_cache()

    again = start(entries_dir, state)
    assert again.files_read == 0
    cached = again.catalog()
    assert [i.rendered_html() for i in cached.items] == [i.content_html for i in fresh.items]

    def documents(catalog: Catalog) -> dict[str, bytes]:
        snapshot = Snapshot(catalog, BASE_URL, MOMENT, prepare=False)
        return {path: doc.body for _, path, doc in snapshot.documents()}

    assert documents(cached) == documents(fresh)


def test_an_edited_file_is_read_again_even_at_the_same_size_and_mtime(
    entries_dir: Path, write_entry: WriteEntry, state: Path
) -> None:
    three_entries(write_entry)
    start(entries_dir, state).save_cache()
    path = entries_dir / "a-visit.json"
    before = path.stat()
    text = path.read_text(encoding="utf-8").replace('"A"', '"Z"')
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size

    again = start(entries_dir, state)
    assert again.files_read == 1
    assert by_slug(again.catalog())["a-visit"].entry.title == "Z"


def test_a_version_read_just_after_its_file_changed_is_not_cached(
    entries_dir: Path, write_entry: WriteEntry, state: Path
) -> None:
    # Two writes within one tick of the file system's clock keep the signature: a file
    # read within two seconds of its change may hold bytes its signature does not tell.
    three_entries(write_entry)
    start(entries_dir, state, now=lambda: datetime.now(UTC)).save_cache()
    assert start(entries_dir, state).files_read == 3


def test_site_settings_are_applied_to_cached_entries(
    entries_dir: Path, write_entry: WriteEntry, state: Path
) -> None:
    three_entries(write_entry)
    start(entries_dir, state).save_cache()
    site = SITE_TOML.replace('authority = "example.org"', 'authority = "news.example.org"')
    site = site.replace('slug = "conferences"', 'slug = "meetings"')
    (entries_dir / "site.toml").write_text(site, encoding="utf-8")
    # Without the record of the settings in force, which would hold back a site.toml
    # that drops a category in use (see test_site_record.py), as it was made before.
    (state / RECORD_FILE).unlink()

    again = start(entries_dir, state)
    assert again.files_read == 0
    catalog = again.catalog()
    assert by_slug(catalog)["a-visit"].id == "tag:news.example.org,2015-10-12:a-visit"
    assert "b-visit" not in by_slug(catalog)  # its category is gone
    assert [p.path for p in catalog.problems] == ["entries/b-visit.json"]


# --- nothing lost across restarts ---------------------------------------------------------------


def test_a_restart_publishes_what_a_process_that_ran_all_along_does(
    entries_dir: Path, write_entry: WriteEntry, state: Path
) -> None:
    # Each way a file can differ from what the cache recorded, at once: a restart takes
    # most files as the cache has them, in one pass, and must tell every other.
    base = later()  # every file settled, so that the cache records it
    clock = [base + timedelta(days=1)]
    for slug in ("unchanged", "edited", "touched", "deleted", "broken"):
        write_entry(slug, title=slug.title(), published="2015-10-12T09:00:00Z")
    ahead = (base + timedelta(hours=30)).isoformat()  # tomorrow, now: allowed
    write_entry("ahead", title="Ahead", published="2015-10-12T09:00:00Z", updated=ahead)
    start(entries_dir, state, now=lambda: clock[0]).save_cache()
    along = start(entries_dir, state.with_name("along"), now=lambda: clock[0])

    write_entry("edited", title="Edited", published="2015-10-12T09:00:00Z")
    touched = entries_dir / "touched.json"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    (entries_dir / "deleted.json").unlink()
    break_file(entries_dir / "broken.json")
    write_entry("new", title="New", published="2015-10-13T09:00:00Z")
    clock[0] = base  # the clock set back a day: "ahead" is now two days ahead
    for folder in (along, again := start(entries_dir, state, now=lambda: clock[0])):
        folder.update({"ahead.json"} if folder is along else ())
    along.rescan()

    titles = {i.slug: i.entry.title for i in again.catalog().items}
    assert titles == {i.slug: i.entry.title for i in along.catalog().items}
    assert titles == {"unchanged": "Unchanged", "edited": "Edited", "touched": "Touched",
                      "broken": "Broken", "ahead": "Ahead", "new": "New"}  # fmt: skip
    assert again.files_read == 4  # edited, touched, broken and new; not the others
    # A touched file is dated as what it says was: by the process that saw the touch,
    # by a restart and by a build (whose calendars' DTSTAMPs would move otherwise).
    dates = {i.slug: i.modified_ns for i in along.catalog().items}
    assert {i.slug: i.modified_ns for i in again.catalog().items} == dates
    built = {i.slug: i.modified_ns for i in load_catalog(entries_dir, clock[0], state=state).items}
    assert built == {slug: dates[slug] for slug in ("unchanged", "edited", "touched", "new")}
    problems = {(p.path.rsplit("/", 1)[-1], p.field) for p in again.catalog().problems}
    assert problems == {("broken.json", ""), ("ahead.json", "updated")}


@pytest.mark.parametrize("draft", [False, True])
@pytest.mark.parametrize("how", ["touched", "written again otherwise"])
@pytest.mark.parametrize("cached_by", ["app", "build"])
def test_a_file_that_says_the_same_after_a_stop_keeps_its_date(
    entries_dir: Path, write_entry: WriteEntry, state: Path, draft: bool, how: str, cached_by: str
) -> None:
    # A build's cache holds no published version: the one read before the stop dates it.
    path = write_entry("a-visit", draft=draft, event={"start": "2015-10-20"})
    if cached_by == "app":
        start(entries_dir, state).save_cache()
    else:
        load_catalog(entries_dir, later(), state=state)
    [before] = start(entries_dir, state.with_name("along")).catalog().items
    if how == "touched":
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    else:
        path.write_text(json.dumps(json.loads(path.read_text()), indent=8), encoding="utf-8")
    [restarted] = start(entries_dir, state).catalog().items
    [built] = load_catalog(entries_dir, later(), state=state).items
    assert restarted.modified_ns == built.modified_ns == before.modified_ns
    assert restarted.entry == built.entry == before.entry


def test_a_file_broken_at_start_up_keeps_its_last_published_version(
    entries_dir: Path, write_entry: WriteEntry, state: Path
) -> None:
    three_entries(write_entry)
    start(entries_dir, state).save_cache()
    break_file(entries_dir / "a-visit.json")

    catalog = restart(entries_dir, state).catalog()
    assert sorted(by_slug(catalog)) == ["a-visit", "b-visit", "c-visit"]
    assert by_slug(catalog)["a-visit"].entry.title == "A"
    assert by_slug(catalog)["a-visit"].id == A_ID
    [problem] = catalog.problems
    assert (problem.path, "not valid JSON" in problem.message) == ("entries/a-visit.json", True)


def test_a_restarted_publisher_serves_the_last_good_version_and_reports_the_problem(
    entries_dir: Path, write_entry: WriteEntry, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Until site.py hands the Publisher's state folder to its Folder, the test does.
    monkeypatch.setattr(medfeed.site, "Folder", partial(Folder, state=state))
    settings = Settings(entries_dir=entries_dir, base_url=BASE_URL, watch=False, state_dir=state)
    three_entries(write_entry)
    Publisher(settings, now=later, deletion_grace=0).folder.save_cache()
    break_file(entries_dir / "a-visit.json")

    publisher = Publisher(settings, now=later, deletion_grace=0)
    feed = feedparser.parse(publisher.snapshot().feed(None, "atom").body)
    assert A_ID in [entry.id for entry in feed.entries]
    health = publisher.health()
    assert (health.status, health.entries) == ("degraded", 3)
    assert [p.path for p in health.problems] == ["entries/a-visit.json"]


def test_a_file_deleted_while_stopped_stays_unpublished(
    entries_dir: Path, write_entry: WriteEntry, state: Path
) -> None:
    three_entries(write_entry)
    start(entries_dir, state).save_cache()
    (entries_dir / "a-visit.json").unlink()
    catalog = restart(entries_dir, state).catalog()
    assert sorted(by_slug(catalog)) == ["b-visit", "c-visit"]
    assert catalog.problems == ()


def test_a_broken_file_under_another_name_brings_nothing_back(
    entries_dir: Path, write_entry: WriteEntry, state: Path
) -> None:
    three_entries(write_entry)
    start(entries_dir, state).save_cache()
    (entries_dir / "a-visit.json").rename(entries_dir / "renamed-visit.json")
    break_file(entries_dir / "renamed-visit.json")

    catalog = restart(entries_dir, state).catalog()
    assert sorted(by_slug(catalog)) == ["b-visit", "c-visit"]
    assert [p.path for p in catalog.problems] == ["entries/renamed-visit.json"]


def test_a_state_folder_shared_by_another_entries_folder_brings_nothing_back(
    tmp_path: Path, entries_dir: Path, write_entry: WriteEntry, state: Path
) -> None:
    three_entries(write_entry)
    start(entries_dir, state).save_cache()
    other = tmp_path / "other"
    other.mkdir()
    (other / "site.toml").write_text(SITE_TOML, encoding="utf-8")
    break_file(other / "a-visit.json")

    folder = start(other, state)
    assert folder.catalog().items == ()
    assert folder.cache is not None and "another entries folder" in str(folder.cache.cache.trouble)


def test_a_fallback_the_site_no_longer_allows_is_not_published(
    entries_dir: Path, write_entry: WriteEntry, state: Path
) -> None:
    write_entry("a-visit", categories=["conferences"])
    write_entry("b-visit")
    start(entries_dir, state).save_cache()
    break_file(entries_dir / "a-visit.json")
    site = SITE_TOML.replace(
        'slug = "conferences"\ntitle = "Conferences"', 'slug = "talks"\ntitle = "Talks"'
    )
    (entries_dir / "site.toml").write_text(site, encoding="utf-8")
    (state / RECORD_FILE).unlink()  # which would hold this site.toml back

    catalog = restart(entries_dir, state).catalog()
    assert sorted(by_slug(catalog)) == ["b-visit"]
    assert {p.path for p in catalog.problems} == {"entries/a-visit.json"}


def test_an_id_stays_with_the_file_that_published_it_across_a_restart(
    entries_dir: Path, write_entry: WriteEntry, state: Path
) -> None:
    write_entry("a-visit")
    start(entries_dir, state).save_cache()
    write_entry("b-visit", title="Claims a's id", id=A_ID)

    catalog = restart(entries_dir, state).catalog()
    assert sorted(by_slug(catalog)) == ["a-visit"]
    assert by_slug(catalog)["a-visit"].id == A_ID
    assert {p.path for p in catalog.problems} == {"entries/a-visit.json", "entries/b-visit.json"}


def test_a_worker_starting_beside_another_finds_what_the_other_published(
    entries_dir: Path, write_entry: WriteEntry, state: Path
) -> None:
    write_entry("a-visit")
    late = FolderCache(state, entries_dir)
    site = Folder(entries_dir).site
    assert late.recall(lambda name: name, site, later()) == {}  # before the other wrote

    start(entries_dir, state).save_cache()
    item = late.published_again("a-visit.json", "entries/a-visit.json", site)
    assert item is not None and (item.entry.title, item.id) == ("A visit", A_ID)
    late.started()
    # After start-up, a file first read is a new file.
    assert late.published_again("a-visit.json", "entries/a-visit.json", site) is None


def test_a_process_that_never_published_a_file_keeps_what_another_did(
    entries_dir: Path, write_entry: WriteEntry, state: Path
) -> None:
    path = write_entry("a-visit")
    entry, modified = read_entry(path, entries_dir)
    version = Version(entry, modified)
    cache = EntryCache(state, entries_dir)
    assert cache.save({"a-visit.json": Record(read_signature(path), version, version)})

    EntryCache(state, entries_dir).save({}, adopt=["a-visit.json"])
    assert EntryCache(state, entries_dir).load()["a-visit.json"] == (None, None, version)
    # Not there at all: deleted, and its record goes.
    assert EntryCache(state, entries_dir).save({}) is True
    assert EntryCache(state, entries_dir).load() == {}


# --- no doubtful cache file is used -------------------------------------------------------------


def _header(path: Path) -> tuple[dict[str, object], bytes]:
    with path.open("rb") as f:
        assert f.readline() == MAGIC
        header = json.loads(f.readline())
        return header, f.read()


def _rewrite(path: Path, header: dict[str, object], body: bytes) -> None:
    path.write_bytes(MAGIC + json.dumps(header).encode() + b"\n" + body)


def _truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])


def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(path.stat().st_size))


def _flipped_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-50] ^= 0xFF
    path.write_bytes(bytes(data))


def _other_version(path: Path) -> None:
    header, body = _header(path)
    _rewrite(path, {**header, "fingerprint": "0" * 64}, body)


def _other_format(path: Path) -> None:
    path.write_bytes(path.read_bytes().replace(MAGIC, b"medfeed entry cache 0\n", 1))


def _writable_by_others(path: Path) -> None:
    path.chmod(0o666)


def _empty(path: Path) -> None:
    path.write_bytes(b"")


class _Trap:
    def __reduce__(self) -> tuple[object, ...]:
        return (os.mkdir, (str(Path(__file__).parent / "trap-was-sprung"),))


def _records_only(path: Path, records: object) -> None:
    """A cache file whose records are ``records`` (pickled), checksums and all."""
    header, _ = _header(path)
    chunk = pickle.dumps(records)
    start = len(MAGIC + json.dumps(header).encode() + b"\n")
    frames = FRAME.pack(len(chunk), checksum(chunk)) + chunk + FRAME.pack(0, 0)
    _rewrite(path, header, frames + TRAILER.pack(start, start, 0, TRAILER_MARK))


def _a_pickle_that_runs_code(path: Path) -> None:
    _records_only(path, {"a-visit.json": _Trap()})


def _records_of_another_kind(path: Path) -> None:
    _records_only(path, {"a-visit.json": ("not", "a", "record")})


def _an_entry_that_runs_code(path: Path) -> None:
    # Checksums and all: only the unpickler stands in the way.
    header, body = _header(path)
    start = len(MAGIC + json.dumps(header).encode() + b"\n")
    _, index, _, mark = TRAILER.unpack(body[-TRAILER.size :])
    with path.open("rb") as f:
        f.seek(start)
        record = read_records(f)["a-visit.json"]
    assert record.current is not None and isinstance(record.current.entry, StoredEntry)
    trap = pickle.dumps(_Trap())
    ref = Ref(record.current.entry.head, index, len(trap), checksum(trap))
    bad = Version(ref, record.current.modified_ns)  # type: ignore[arg-type]
    frames = b"".join(encode({"a-visit.json": Record(record.signature, bad, bad)}))
    blobs = body[: index - start] + trap
    trailer = TRAILER.pack(start, index + len(trap), zlib.crc32(blobs), mark)
    _rewrite(path, header, blobs + frames + trailer)


def _flipped_entry_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 4] ^= 0xFF  # among the entries' pickles
    path.write_bytes(bytes(data))


def _a_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path, 0o600)  # opened for reading, it would wait for a writer for ever


def _longer(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"\0")


@pytest.mark.parametrize(
    "spoil",
    [_truncated, _garbage, _flipped_byte, _other_version, _other_format, _writable_by_others,
     _empty, _longer, _a_fifo, _a_pickle_that_runs_code, _records_of_another_kind,
     _flipped_entry_byte],
)  # fmt: skip
def test_a_doubtful_cache_is_not_used(
    entries_dir: Path, write_entry: WriteEntry, state: Path, spoil: Callable[[Path], None]
) -> None:
    three_entries(write_entry)
    fresh = Folder(entries_dir).catalog()
    start(entries_dir, state).save_cache()
    spoil(state / CACHE_FILE)
    break_file(entries_dir / "c-visit.json")  # and no fallback from a doubtful cache

    folder = start(entries_dir, state)
    assert folder.files_read == 3
    assert folder.catalog().items == fresh.items[1:]  # b and a, without c
    assert folder.cache is not None and folder.cache.cache.trouble
    assert not (Path(__file__).parent / "trap-was-sprung").exists()
    # Its own write, here and now: its writer thread must not write it after the restart.
    folder.save_cache()
    # The next write replaces it with a good one.
    write_entry("c-visit")
    restart(entries_dir, state).save_cache()
    assert EntryCache(state, entries_dir).load().keys() == {
        "a-visit.json",
        "b-visit.json",
        "c-visit.json",
    }


def test_an_entry_read_back_is_never_anything_but_an_entry(
    entries_dir: Path, write_entry: WriteEntry, state: Path
) -> None:
    three_entries(write_entry)
    start(entries_dir, state).save_cache()
    _an_entry_that_runs_code(state / CACHE_FILE)

    records = EntryCache(state, entries_dir).load()  # heads and places: nothing run yet
    stored = records["a-visit.json"].current
    assert stored is not None and isinstance(stored.entry, StoredEntry)
    with pytest.raises(CacheDamaged, match="cannot be read"):
        stored.entry.load()
    assert not (Path(__file__).parent / "trap-was-sprung").exists()


def test_a_writer_killed_mid_write_leaves_nothing_that_is_read(
    entries_dir: Path, write_entry: WriteEntry, state: Path
) -> None:
    three_entries(write_entry)
    start(entries_dir, state).save_cache()
    leftover = state / f"{CACHE_FILE}.4242.deadbeef"
    leftover.write_bytes((state / CACHE_FILE).read_bytes()[:1000])

    assert start(entries_dir, state).files_read == 0
    write_entry("d-visit")
    restart(entries_dir, state).save_cache()
    assert not leftover.exists()


@pytest.fixture
def two_record_sets(entries_dir: Path, write_entry: WriteEntry) -> list[dict[str, Record]]:
    sets = []
    for count in (3, 30):
        records = {}
        for index in range(count):
            path = write_entry(f"entry-{count}-{index}")
            entry, modified = read_entry(path, entries_dir)
            version = Version(entry, modified, "<p>html</p>")
            records[path.name] = Record(read_signature(path), version, version)
        sets.append(records)
    return sets


def test_writers_at_once_leave_one_whole_cache(
    entries_dir: Path, state: Path, two_record_sets: list[dict[str, Record]]
) -> None:
    def write(records: dict[str, Record]) -> None:
        for _ in range(20):
            EntryCache(state, entries_dir).save(dict(records))

    threads = [threading.Thread(target=write, args=(r,)) for r in two_record_sets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    found = EntryCache(state, entries_dir).load()
    assert found in two_record_sets
    assert sorted(p.name for p in state.iterdir()) == [CACHE_FILE, f"{CACHE_FILE}.lock"]


def test_a_state_folder_that_cannot_be_written_costs_only_the_cache(
    tmp_path: Path, entries_dir: Path, write_entry: WriteEntry
) -> None:
    three_entries(write_entry)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    folder = start(entries_dir, blocked / "state")
    assert len(folder.catalog().items) == 3
    assert folder.save_cache() is False


# --- a whole folder at once (command line, builds) ----------------------------------------------


def test_load_catalog_takes_unchanged_files_from_the_cache(
    entries_dir: Path, write_entry: WriteEntry, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    three_entries(write_entry)
    fresh = load_catalog(entries_dir)
    assert load_catalog(entries_dir, later(), state=state) == fresh

    reads: list[Path] = []

    def counted(path: Path, *args: object) -> object:
        reads.append(path)
        return read_entry(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(medfeed.loading, "read_entry", counted)
    assert load_catalog(entries_dir, later(), state=state) == fresh
    assert reads == []
    write_entry("a-visit", title="A, edited")
    assert (
        by_slug(load_catalog(entries_dir, later(), state=state))["a-visit"].entry.title
        == "A, edited"
    )
    assert [p.name for p in reads] == ["a-visit.json"]


def test_a_build_writes_the_cache_from_a_child_and_waits_for_it(
    entries_dir: Path,
    write_entry: WriteEntry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    three_entries(write_entry)
    monkeypatch.setattr(medfeed.loading, "_utc_now", later)  # the files count as settled
    monkeypatch.setenv("MEDFEED_STATE_DIR", str(tmp_path / "state"))
    forked: list[int] = []
    fork = os.fork
    monkeypatch.setattr(os, "fork", lambda: forked.append(1) or fork())
    save = EntryCache.save

    def slow(*args: Any, **kwargs: Any) -> bool:
        time.sleep(0.5)  # done well after the build, unless it is waited for
        return save(*args, **kwargs)

    monkeypatch.setattr(EntryCache, "save", slow)
    build = ["build", "--entries", str(entries_dir), str(tmp_path / "site")]
    assert CliRunner().invoke(main, build).exit_code == 0
    # In place once the command has returned, and in use by the next build.
    assert (tmp_path / "state" / CACHE_FILE).is_file()
    assert forked and FORKS, "the cache is written apart"
    reads: list[Path] = []
    monkeypatch.setattr(
        medfeed.loading, "read_entry", lambda path, *a: reads.append(path) or read_entry(path, *a)
    )
    assert CliRunner().invoke(main, build).exit_code == 0
    assert reads == []


def test_a_cache_write_that_fails_apart_is_logged_and_loses_nothing(
    entries_dir: Path,
    write_entry: WriteEntry,
    state: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    three_entries(write_entry)

    def broken(*args: object) -> bool:
        raise RuntimeError("no")

    monkeypatch.setattr(EntryCache, "save", broken)  # in the child too: forked after
    apart = SavesApart()
    catalog = load_catalog(entries_dir, later(), state=state, apart=apart)
    apart.wait()
    assert catalog == load_catalog(entries_dir)
    assert "the entry cache could not be written" in caplog.text
    assert not (state / CACHE_FILE).exists()


def test_load_catalog_keeps_the_published_versions_the_app_recorded(
    entries_dir: Path, write_entry: WriteEntry, state: Path
) -> None:
    three_entries(write_entry)
    start(entries_dir, state).save_cache()
    break_file(entries_dir / "a-visit.json")
    catalog = load_catalog(entries_dir, later(), state=state)
    assert "a-visit" not in by_slug(catalog)  # a build publishes no fallback...

    restarted = restart(entries_dir, state).catalog()
    assert by_slug(restarted)["a-visit"].entry.title == "A"  # ...and takes none away


# --- under gunicorn: a restart with a broken file -----------------------------------------------


def _publisher_keeps_a_cache(tmp_path: Path) -> bool:
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "site.toml").write_text(SITE_TOML, encoding="utf-8")
    settings = Settings(entries_dir=probe, watch=False, state_dir=tmp_path / "probe-state")
    return Publisher(settings).folder.cache is not None


def test_every_gunicorn_worker_serves_the_last_good_version_after_a_restart(
    tmp_path: Path, entries_dir: Path, write_entry: WriteEntry, state: Path
) -> None:
    pytest.importorskip("gunicorn")
    if not _publisher_keeps_a_cache(tmp_path):
        pytest.skip("site.py does not hand the Publisher's state folder to its Folder yet")
    from servers import free_port, get, gunicorn_argv, medfeed_env, running

    three_entries(write_entry)

    def serve() -> AbstractContextManager[Any]:
        port = free_port()
        env = {**medfeed_env(entries_dir, port), "MEDFEED_STATE_DIR": str(state)}
        return running("gunicorn", gunicorn_argv("wsgi:app", port), port,
                       tmp_path / "gunicorn.log", env)  # fmt: skip

    with serve():
        deadline = time.monotonic() + 10
        while not (state / CACHE_FILE).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert (state / CACHE_FILE).exists()
    break_file(entries_dir / "a-visit.json")

    with serve() as server:
        ids = [
            {e.id for e in feedparser.parse(get(server.url("/feed.atom"))[2]).entries}
            for _ in range(40)
        ]
        health = json.loads(get(server.url("/healthz"))[2])
    assert all(A_ID in found and len(found) == 3 for found in ids)
    assert [p["path"] for p in health["problems"]] == ["a-visit.json"]


def test_a_process_forked_while_the_cache_is_being_written_can_write_it_too(
    entries_dir: Path, write_entry: WriteEntry, state: Path
) -> None:
    # A gunicorn master with --preload forks its workers while its writer thread may be
    # saving: no child may keep the lock, and each child writes with a thread of its own.
    three_entries(write_entry)
    folder = start(entries_dir, state)
    folder.save_cache()
    cache = EntryCache(state, entries_dir)
    with locked(cache.path.with_name(LOCK_FILE)):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            status = 1
            try:
                write_entry("d-visit")
                folder.update({"d-visit.json"})
                folder.catalog()
                status = 0 if folder.save_cache() else 2
            finally:
                os._exit(status)
    deadline = time.monotonic() + 20
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked process could not take the lock")
    assert os.waitstatus_to_exitcode(done[1]) == 0
    assert "d-visit.json" in EntryCache(state, entries_dir).load()


def _cached_state(
    entries_dir: Path, write_entry: WriteEntry, state: Path
) -> tuple[dict[str, FileState], dict[str, Item]]:
    """Three entries started and cached (the folder's own writer has nothing left to
    write): copies of its files and of what it published, to write again."""
    three_entries(write_entry)
    folder = start(entries_dir, state)
    folder.save_cache()
    return dict(folder.files), dict(folder._published)


def _quick_writer(entries_dir: Path, state: Path) -> CacheWriter:
    return CacheWriter(EntryCache(state, entries_dir), quiet=0.01, longest=0.05)


@pytest.mark.skipif(not FORKS, reason="the write stays in the thread where fork() is not used")
def test_the_writer_thread_writes_from_a_child_and_this_process_makes_nothing(
    entries_dir: Path, write_entry: WriteEntry, state: Path
) -> None:
    # At 100,000 entries a write holds the interpreter for seconds: the thread forks a
    # child for it, so the records are made there, never in the process that serves.
    files, published = _cached_state(entries_dir, write_entry, state)
    (state / CACHE_FILE).unlink()
    made_here: list[int] = []

    def make() -> Any:
        made_here.append(os.getpid())
        return records_of(files, published)

    _quick_writer(entries_dir, state).request(make)
    deadline = time.monotonic() + 20
    while not (state / CACHE_FILE).is_file() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert set(EntryCache(state, entries_dir).load()) == {
        "a-visit.json",
        "b-visit.json",
        "c-visit.json",
    }
    assert made_here == []


@pytest.mark.skipif(not FORKS, reason="the write stays in the thread where fork() is not used")
def test_the_child_writing_the_cache_keeps_no_lock_of_this_process(
    entries_dir: Path, write_entry: WriteEntry, state: Path
) -> None:
    # The WebSub leader's lock is an flock(): a child holding a copy of its file would
    # keep it for as long as it writes, and no other process could lead meanwhile.
    files, published = _cached_state(entries_dir, write_entry, state)
    holder = Leader(state / "websub.lock")
    assert holder.is_leader()

    def slow_make() -> Any:
        time.sleep(1.5)  # in the child, while this process gives the lead up
        return records_of(files, published)

    writer = _quick_writer(entries_dir, state)
    writer.request(slow_make)
    time.sleep(0.5)  # the child is forked and writing
    holder.resign()
    other = subprocess.run(
        [sys.executable, "-c", LEADS, str(state / "websub.lock")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    writer.flush()  # waits for the child
    assert other.stdout.strip() == "leads", other.stderr


LEADS = """
import sys
from pathlib import Path
from medfeed.coordination import Leader
print("leads" if Leader(Path(sys.argv[1])).is_leader() else "held")
"""
