"""A restart of a large folder has a forked child look at every file the entry cache
knows while it makes their items: what it publishes is what looking at each file itself
gives, whatever changed while it was stopped, and a child that fails costs nothing.
(``test_entrycache`` runs each of its restarts both ways.)"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import WriteEntry
from helpers import started
from medfeed import survey
from medfeed.cachecodec import Record
from medfeed.cachewriter import FORKS
from medfeed.entrycache import EntryCache
from medfeed.folder import Folder
from medfeed.foldercache import FolderCache
from medfeed.parallel import cores

pytestmark = pytest.mark.skipif(
    not FORKS or cores() < 2, reason="a child looks only on Linux with a second core"
)


def _stopped_and_changed(entries_dir: Path, write_entry: WriteEntry, state: Path) -> None:
    """A folder whose cache was written, then each kind of change a restart must tell."""
    for slug in ("unchanged", "edited", "same-size", "renamed-over", "deleted", "broken"):
        write_entry(slug, title=slug.title(), published="2015-10-12T09:00:00Z")
    started(entries_dir, state).save_cache()
    write_entry("edited", title="Edited at last", published="2015-10-12T09:00:00Z")
    same = entries_dir / "same-size.json"
    before = same.stat()
    same.write_text(same.read_text(encoding="utf-8").replace("Same", "Emas"), encoding="utf-8")
    os.utime(same, ns=(before.st_atime_ns, before.st_mtime_ns))  # only its ctime tells
    moved = entries_dir / "renamed-over.json"
    copy = entries_dir / "copy.tmp"
    copy.write_bytes(moved.read_bytes().replace(b"Renamed-Over", b"Copied over"))
    os.replace(copy, moved)  # another inode
    (entries_dir / "deleted.json").unlink()
    (entries_dir / "broken.json").write_text('{"title": "half', encoding="utf-8")
    write_entry("new", title="New", published="2015-10-13T09:00:00Z")


def _looking_itself(entries_dir: Path, state: Path) -> Folder:
    """The same restart, on a copy of its state folder, with no child looking."""
    copy = state.with_name("copy")
    shutil.copytree(state, copy)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(survey, "SURVEYED_FROM", 10**9)
        return started(entries_dir, copy)


def _looked_at(monkeypatch: pytest.MonkeyPatch) -> list[set[str] | None]:
    """What each start-up's child said (None: no child looked)."""
    answers: list[set[str] | None] = []
    real = FolderCache.looked_at

    def spied(self: FolderCache, prefilled: set[str]) -> set[str] | None:
        answer = real(self, prefilled)
        answers.append(answer)
        return answer

    monkeypatch.setattr(FolderCache, "looked_at", spied)
    return answers


@pytest.fixture
def itself(
    entries_dir: Path, write_entry: WriteEntry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Folder:
    """A folder changed in every way while stopped, restarted with no child looking (on
    a copy of its state folder); the restarts after it have a child look."""
    _stopped_and_changed(entries_dir, write_entry, tmp_path / "state")
    folder = _looking_itself(entries_dir, tmp_path / "state")
    monkeypatch.setattr(survey, "SURVEYED_FROM", 1)
    return folder


def test_a_child_tells_a_restart_exactly_which_files_are_as_the_cache_has_them(
    entries_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, itself: Folder
) -> None:
    answers = _looked_at(monkeypatch)
    again = started(entries_dir, tmp_path / "state")
    assert answers == [{"unchanged.json"}]
    assert again.files_read == itself.files_read == 5  # every file but the unchanged one
    assert again.catalog().items == itself.catalog().items
    assert again.catalog().problems == itself.catalog().problems
    titles = {item.slug: item.entry.title for item in again.catalog().items}
    assert titles == {"unchanged": "Unchanged", "edited": "Edited at last",
                      "same-size": "Emas-Size", "renamed-over": "Copied over",
                      "broken": "Broken", "new": "New"}  # fmt: skip
    assert [p.path.rsplit("/", 1)[-1] for p in again.catalog().problems] == ["broken.json"]


def test_a_child_that_fails_leaves_the_restart_to_look_itself(
    entries_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, itself: Folder
) -> None:
    def fails(where: str, records: object) -> bytearray:
        raise OSError("in the child")

    monkeypatch.setattr(survey, "_unchanged", fails)
    answers = _looked_at(monkeypatch)

    again = started(entries_dir, tmp_path / "state")
    assert answers == [None]
    assert again.files_read == 5
    assert again.catalog().items == itself.catalog().items
    assert again.catalog().problems == itself.catalog().problems


def _records(entries_dir: Path, write_entry: WriteEntry, state: Path) -> dict[str, Record]:
    for n in range(3):
        write_entry(f"entry-{n}", published=f"2015-10-1{n}T09:00:00Z")
    started(entries_dir, state).save_cache()
    return EntryCache(state, entries_dir).load()


def test_the_child_keeps_no_file_of_this_process_and_is_reaped(
    entries_dir: Path,
    write_entry: WriteEntry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A lock (the WebSub leader's flock) or a listening socket must not outlive this
    # process in a copy; a child left unreaped would stay a zombie.
    records = _records(entries_dir, write_entry, tmp_path / "state")
    monkeypatch.setattr(survey, "SURVEYED_FROM", 1)
    held = os.open(tmp_path / "held", os.O_CREAT | os.O_RDWR)
    real: Callable[[str, dict[str, Record]], bytearray] = survey._unchanged

    def only_if_closed(where: str, records: dict[str, Record]) -> bytearray:
        try:
            os.fstat(held)
        except OSError:
            return real(where, records)
        raise AssertionError("the child has this process's file")

    monkeypatch.setattr(survey, "_unchanged", only_if_closed)
    try:
        assert survey.Survey(str(entries_dir), records).unchanged() == set(records)
    finally:
        os.close(held)
    assert _zombies() == []

    survey.Survey(str(entries_dir), records).close()  # the answer never asked for
    assert _zombies() == []

    dropped = survey.Survey(str(entries_dir), records)  # a start-up that failed first
    time.sleep(0.5)
    assert len(_zombies()) == 1  # the child has ended: unreaped, it is a zombie now
    del dropped
    assert _zombies() == []


def test_a_small_cache_is_looked_at_by_this_process(
    entries_dir: Path, write_entry: WriteEntry, tmp_path: Path
) -> None:
    records = _records(entries_dir, write_entry, tmp_path / "state")
    assert len(records) < survey.SURVEYED_FROM
    assert survey.Survey(str(entries_dir), records).unchanged() is None


def _zombies() -> list[int]:
    """This process's children that ended and were not reaped."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if fields[0] == "Z" and int(fields[1]) == os.getpid():
            found.append(int(stat.parent.name))
    return found
