"""A first start reads many files on every core: what it publishes is what reading them
one at a time gives, and a file read ahead that changed since is read again. With a
state folder, what it read lies in an unnamed file there, not in memory, as a
restart's entries lie in the cache file."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path

import pytest

from conftest import WriteEntry
from helpers import settled
from medfeed import cachefile, readahead
from medfeed import folder as folder_module
from medfeed.cachewriter import FORKS
from medfeed.folder import Folder
from medfeed.models import Entry
from medfeed.storedentry import StoredEntry


def _folder_of_many(write_entry: WriteEntry, entries_dir: Path) -> None:
    for n in range(12):
        write_entry(f"entry-{n}", title=f"Entry {n}", published=f"2015-10-{n + 1:02d}T09:00:00Z")
    write_entry("shares-an-id", id="tag:example.org,2015:same")
    write_entry("shares-it-too", id="tag:example.org,2015:same")
    (entries_dir / "broken.json").write_text('{"title": "half', encoding="utf-8")
    write_entry("unknown-category", categories=["nowhere"])


def test_a_first_start_reads_many_files_ahead_and_publishes_the_same(
    entries_dir: Path, write_entry: WriteEntry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _folder_of_many(write_entry, entries_dir)
    one_at_a_time = Folder(entries_dir, state=tmp_path / "one").catalog()

    read: list[int] = []
    real = readahead.read_ahead

    def counted(*args: object) -> dict[str, readahead.Ahead]:
        found = real(*args)  # type: ignore[arg-type]
        read.append(len(found))
        return found

    monkeypatch.setattr(readahead, "FILES_FROM", 2)
    monkeypatch.setattr(readahead, "FILE_SHARE", 3)  # several shares, several processes
    monkeypatch.setattr(folder_module, "read_ahead", counted)
    ahead = Folder(entries_dir, state=tmp_path / "ahead")
    assert read == [15]  # every file that validates alone: all but the broken one
    catalog = ahead.catalog()
    assert catalog.items == one_at_a_time.items
    assert catalog.problems == one_at_a_time.problems
    assert ahead.files_read == 16


def test_a_file_that_changed_after_it_was_read_ahead_is_read_again(
    entries_dir: Path, write_entry: WriteEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_entry("a-visit", title="Now")
    stale = Entry.model_validate({**json.loads(path.read_text()), "title": "Before"})
    # Read ahead under a signature the file no longer has (it was written since).
    monkeypatch.setattr(
        folder_module,
        "read_ahead",
        lambda *_: {"a-visit.json": ((1, 1, 1, 1, 1), stale, 1)},
    )
    folder = Folder(entries_dir)
    assert [item.entry.title for item in folder.catalog().items] == ["Now"]


# --- kept in the state folder's unnamed file ----------------------------------------------------


@pytest.fixture
def read_ahead_of_a_few(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readahead, "FILES_FROM", 2)
    monkeypatch.setattr(readahead, "FILE_SHARE", 3)  # several shares, several processes


@pytest.mark.usefixtures("read_ahead_of_a_few")
def test_a_first_start_keeps_what_it_read_in_an_unnamed_file(
    entries_dir: Path, write_entry: WriteEntry, tmp_path: Path
) -> None:
    _folder_of_many(write_entry, entries_dir)
    in_memory = Folder(entries_dir).catalog()
    state = tmp_path / "state"

    first = Folder(entries_dir, state=state, now=settled)
    items = first.catalog().items
    assert all(type(item.stored) is StoredEntry for item in items)
    assert items == in_memory.items
    assert [item.entry for item in items] == [item.entry for item in in_memory.items]
    assert first.catalog().problems == in_memory.problems
    # Unnamed: nothing is left behind in the state folder, even by a crash.
    assert first.cache is not None
    assert {p.name for p in state.iterdir()} <= {"entries.cache.lock", "site.record",
                                                 "site.record.lock"}  # fmt: skip

    # The caches written from it hold the same entries, copied from that file: here, and
    # after an edit from a forked child, as the writer thread writes.
    first.save_cache()
    write_entry("entry-3", title="Entry 3, edited", published="2015-10-04T09:00:00Z")
    first.update({"entry-3.json"})
    first.catalog()  # published: the write waits for a quiet second, or this flush
    assert first.cache.writer.flush(apart=FORKS)
    again = Folder(entries_dir, state=state, now=settled)
    assert again.files_read == 1  # broken.json: no version of it to cache
    in_memory = Folder(entries_dir).catalog()
    assert again.catalog().items == in_memory.items
    assert [i.entry for i in again.catalog().items] == [i.entry for i in in_memory.items]


def _refuse_to_write(*_: object) -> int:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _refuse_a_file(*_: object, **__: object) -> object:
    raise OSError(errno.EACCES, os.strerror(errno.EACCES))


@pytest.mark.usefixtures("read_ahead_of_a_few")
@pytest.mark.parametrize("refuse", ["a full disk", "no file"])
def test_a_first_start_that_cannot_keep_its_entries_in_a_file_keeps_them_in_memory(
    entries_dir: Path,
    write_entry: WriteEntry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    refuse: str,
) -> None:
    _folder_of_many(write_entry, entries_dir)
    in_memory = Folder(entries_dir).catalog()
    if refuse == "a full disk":
        monkeypatch.setattr(cachefile.os, "pwrite", _refuse_to_write)
    else:
        monkeypatch.setattr(tempfile, "TemporaryFile", _refuse_a_file)

    first = Folder(entries_dir, state=tmp_path / "state", now=settled)
    items = first.catalog().items
    assert all(type(item.stored) is Entry for item in items)
    assert items == in_memory.items
    assert first.catalog().problems == in_memory.problems
