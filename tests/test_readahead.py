"""A first start reads many files on every core: what it publishes is what reading them
one at a time gives, and a file read ahead that changed since is read again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import WriteEntry
from medfeed import folder as folder_module
from medfeed import readahead
from medfeed.folder import Folder
from medfeed.models import Entry


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
