"""Entries left in the entry cache's file: a restart keeps their heads in memory and
reads the rest back when a document shows it, from the file it loaded; the next cache
copies them; they read back as the entries they were, or not at all."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import BASE_URL, WriteEntry
from helpers import settled, started, valid_entries
from medfeed import itemtexts, readahead, storedentry
from medfeed.cachecodec import Record, Version
from medfeed.cachefile import read_records, write_records
from medfeed.cachewriter import FORKS
from medfeed.entrycache import CACHE_FILE, EntryCache
from medfeed.errors import CacheDamaged
from medfeed.folder import Folder
from medfeed.item import Item
from medfeed.loading import load_catalog
from medfeed.models import Entry
from medfeed.settings import Settings
from medfeed.site import Publisher
from medfeed.storedentry import StoredEntry, head_of
from medfeed.web import create_app

# --- a restart ----------------------------------------------------------------------------------


def _entries(folder: Folder) -> dict[str, Entry]:
    return {item.slug: item.entry for item in folder.catalog().items}


def _three(write_entry: WriteEntry) -> None:
    write_entry("a-visit", title="A", published="2015-10-12T09:00:00+02:00", aliases=["old-a"])
    write_entry("b-visit", title="B", published="2015-10-13T09:00:00Z", draft=True)
    write_entry(
        "c-visit",
        title="C",
        published="2015-10-14T09:00:00+02:00",
        updated="2015-10-15T09:00:00+02:00",
        categories=["visits", "conferences"],
        event={"start": "2015-10-14", "end": "2015-10-15"},
    )


def test_a_restart_holds_its_entries_in_the_cache_file(
    entries_dir: Path, write_entry: WriteEntry, tmp_path: Path
) -> None:
    _three(write_entry)
    fresh = _entries(Folder(entries_dir))
    started(entries_dir, tmp_path / "state").save_cache()

    again = started(entries_dir, tmp_path / "state")
    assert again.files_read == 0
    items = again.catalog().items
    assert all(isinstance(item.stored, StoredEntry) for item in items)
    # What every pass asks, without reading an entry back; then the entries themselves.
    assert {item.slug: item.head for item in items} == {
        slug: head_of(entry) for slug, entry in fresh.items()
    }
    assert _entries(again) == fresh


@pytest.mark.parametrize(
    "apart",
    [False, pytest.param(True, marks=pytest.mark.skipif(not FORKS, reason="Linux only"))],
)
def test_the_next_cache_copies_the_entries_a_restart_left_in_the_last(
    entries_dir: Path, write_entry: WriteEntry, tmp_path: Path, apart: bool
) -> None:
    # Written here, or (apart) as the writer thread does: from a forked child, which
    # closes every file it inherited but those the entries lie in.
    _three(write_entry)
    state = tmp_path / "state"
    started(entries_dir, state).save_cache()
    again = started(entries_dir, state)
    assert again.cache is not None
    assert again.cache.cache.open_files()  # the cache file the entries lie in
    write_entry("b-visit", title="B, edited", published="2015-10-13T09:00:00Z")
    again.update({"b-visit.json"})
    assert again.cache.writer.flush(apart=apart)

    third = started(entries_dir, state)
    assert third.files_read == 0
    assert _entries(third) == _entries(Folder(entries_dir))
    assert _entries(third)["b-visit"].title == "B, edited"


def test_a_whole_folder_read_from_the_cache_reads_each_entry_back_once(
    entries_dir: Path, write_entry: WriteEntry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storedentry, "DECODED_KEPT", 0)  # a serving process keeps none
    # A build shows each entry in several documents: read back once, not once for each,
    # and only when a document that shows it is made (a rebuild makes few).
    _three(write_entry)
    first = load_catalog(entries_dir, settled(), state=tmp_path / "state")
    again = load_catalog(entries_dir, settled(), state=tmp_path / "state")
    assert EntryCache(tmp_path / "state", entries_dir).load().keys() == {
        "a-visit.json",
        "b-visit.json",
        "c-visit.json",
    }
    assert all(type(item.stored) is StoredEntry for item in again.items)
    assert all(item.entry is item.entry for item in again.items)
    assert again.items == first.items


def test_an_entry_whose_bytes_changed_in_the_open_file_is_not_read_back(
    entries_dir: Path, write_entry: WriteEntry, tmp_path: Path
) -> None:
    _three(write_entry)
    state = tmp_path / "state"
    started(entries_dir, state).save_cache()
    again = started(entries_dir, state)
    item = again.catalog().items[0]
    _damage(state, item)
    with pytest.raises(CacheDamaged):
        item.entry  # noqa: B018 - the read back is what is checked


def _damage(state: Path, item: Item) -> None:
    """Change one entry's bytes in the open cache file: nothing medfeed does (a new
    cache is renamed over the old one), so someone else did."""
    assert isinstance(item.stored, StoredEntry)
    _, offset = item.stored.place
    with (state / CACHE_FILE).open("r+b") as f:
        f.seek(offset + 20)
        byte = f.read(1)[0]
        f.seek(offset + 20)
        f.write(bytes([byte ^ 0xFF]))


@pytest.mark.parametrize("kept_in", ["the cache file", "a first start's unnamed file"])
def test_a_file_entries_lie_in_changed_under_the_process_has_the_files_read_again(
    entries_dir: Path,
    write_entry: WriteEntry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    kept_in: str,
) -> None:
    monkeypatch.setattr(storedentry, "DECODED_KEPT", 0)  # every use reads it back
    # No text is held (itemtexts.LARGEST): every feed that shows c writes its text again,
    # reading c back, as it would were c's text not written before.
    monkeypatch.setattr(itemtexts, "LARGEST", 0)
    _three(write_entry)
    state = tmp_path / "state"
    settings = Settings(entries_dir=entries_dir, base_url=BASE_URL, watch=False, state_dir=state)
    if kept_in == "the cache file":
        Publisher(settings, now=settled).folder.save_cache()
    else:
        monkeypatch.setattr(readahead, "FILES_FROM", 2)  # a first start reads ahead
    publisher = Publisher(settings, now=settled)
    served = {item.slug: item for item in publisher.catalog.items}
    if kept_in == "the cache file":
        _damage(state, served["c-visit"])
    else:
        stored = served["c-visit"].stored
        assert isinstance(stored, StoredEntry)
        blobs, offset = stored.place
        os.pwrite(blobs.fileno(), b"\xff" * 8, offset + 20)  # no one but a stray process

    # Another file changes: the new snapshot's feeds show c, which cannot be read back.
    write_entry("a-visit", title="A, edited", published="2015-10-12T09:00:00+02:00")
    assert publisher.refresh({"a-visit.json"})
    items = {item.slug: item for item in publisher.catalog.items}
    assert items.keys() == served.keys()  # nothing lost
    assert items["c-visit"].entry.title == "C" and type(items["c-visit"].stored) is Entry
    titles = {
        e.title for e in feedparser.parse(publisher.snapshot().document("/feed.atom").body).entries
    }  # type: ignore[union-attr]
    assert {"A, edited", "C"} <= titles
    assert "reading the entries from their files again" in caplog.text


def test_a_page_whose_entry_cannot_be_read_back_is_served_from_its_file(
    entries_dir: Path,
    write_entry: WriteEntry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(storedentry, "DECODED_KEPT", 0)
    _three(write_entry)
    time.sleep(2.1)  # settled: the cache records only files unchanged for 2 s
    config = {"ENTRIES_DIR": str(entries_dir), "BASE_URL": BASE_URL, "WATCH": False,
              "STATE_DIR": str(tmp_path / "state")}  # fmt: skip
    create_app(config).extensions["medfeed"].folder.save_cache()
    app = create_app(config)
    publisher = app.extensions["medfeed"]
    c_visit = next(i for i in publisher.catalog.items if i.slug == "c-visit")
    _damage(tmp_path / "state", c_visit)

    page = app.test_client().get("/entries/c-visit/")
    assert page.status_code == 200
    assert "<h1>C</h1>" in page.get_data(as_text=True)
    assert type(next(i for i in publisher.catalog.items if i.slug == "c-visit").stored) is Entry


# --- the file's layout --------------------------------------------------------------------------

_versions = st.lists(
    st.tuples(valid_entries(), st.integers(0, 2), st.booleans()), min_size=0, max_size=6
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(versions=_versions, html=st.sampled_from([None, "<p>ok</p>"]))
def test_records_read_back_as_written_through_two_generations(
    versions: list[tuple[dict[str, Any], int, bool]], html: str | None
) -> None:
    records: dict[str, Record] = {}
    for index, (data, shape, _) in enumerate(versions):
        version = Version(Entry.model_validate(data), 1_000 + index, html)
        other = Version(version.entry.model_copy(update={"title": "Before"}), index)
        published = {0: version, 1: other, 2: None}[shape]  # the same, another, none
        records[f"entry-{index}.json"] = Record((1, 2, 3, index), version, published)

    first = _through_a_file(records)
    # The next generation holds entries read back from the first file, and copies them.
    second = _through_a_file(first)
    for found in (first, second):
        assert found.keys() == records.keys()
        for name, (signature, current, published) in records.items():
            back = found[name]
            assert back.signature == signature
            assert back.current is not None and current is not None
            assert isinstance(back.current.entry, StoredEntry)
            assert back.current.entry.load() == current.entry
            assert back.current.entry.head == head_of(current.entry)  # type: ignore[arg-type]
            assert (back.current.modified_ns, back.current.html) == (
                current.modified_ns,
                current.html,
            )
            if published is None:
                assert back.published is None
            elif published is current:
                assert back.published is back.current  # one version, written once
            else:
                assert back.published is not None and back.published.entry == published.entry


def _through_a_file(records: dict[str, Record]) -> dict[str, Record]:
    f = tempfile.TemporaryFile()  # noqa: SIM115 - open for as long as its entries are used
    f.write(b"header\n")
    write_records(f, records)
    f.seek(len(b"header\n"))
    return read_records(f)
