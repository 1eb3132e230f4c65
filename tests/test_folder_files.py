"""What the live folder could not look at is looked at again every second: a folder or a
file that becomes readable again is served within the two seconds the README promises,
whatever the notifications say (none says a permission came back)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import medfeed.folderfiles
import medfeed.reading
import medfeed.sitefile
import medfeed.watch
from conftest import SITE_TOML, entry_data
from medfeed.filestate import Signature, StatError, read_signature
from medfeed.folder import Folder
from medfeed.folderfiles import RETRY_EVERY
from medfeed.safefile import Unreadable
from medfeed.watch import Watcher

WriteEntry = Callable[..., Path]
PROMISE = 2.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Refusals:
    """A stand-in for the system's permission checks: the names it refuses to stat, and
    whether the folder may be listed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.names: set[str] = set()
        self.listing = True
        listdir = os.listdir

        def stat(path: str | Path) -> Signature | None:
            if os.path.basename(path) in self.names:
                raise StatError("Permission denied")
            return read_signature(path)

        def listed(path: Any) -> Any:
            if not self.listing:
                raise PermissionError(13, "Permission denied")
            return listdir(path)

        monkeypatch.setattr(medfeed.folderfiles, "read_signature", stat)
        monkeypatch.setattr(medfeed.folderfiles.os, "listdir", listed)


def titles(folder: Folder) -> list[str]:
    return sorted(item.entry.title for item in folder.catalog().items)


def problems(folder: Folder) -> list[str]:
    return [str(p) for p in folder.catalog().problems]


def test_a_file_that_could_not_be_looked_at_is_read_once_it_can_be(
    entries_dir: Path, write_entry: WriteEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_entry("a-visit")
    clock = FakeClock()
    folder = Folder(entries_dir, clock=clock)
    refused = Refusals(monkeypatch)
    assert folder.seconds_to_next_check() is None

    refused.names.add("a-visit.json")
    write_entry("a-visit", title="Edited meanwhile")
    assert folder.update({"a-visit.json"}) is True
    assert titles(folder) == ["A visit"]  # what readers had stays
    assert problems(folder) == ["entries/a-visit.json: cannot be read (Permission denied)"]
    assert folder.seconds_to_next_check() == pytest.approx(RETRY_EVERY)

    # Still refused: looked at again, nothing changes, and again a second later.
    clock.now += RETRY_EVERY
    assert folder.update(set()) is False
    assert folder.seconds_to_next_check() == pytest.approx(RETRY_EVERY)

    # Allowed again, and no notification says so: the next look reads the edit.
    refused.names.clear()
    clock.now += RETRY_EVERY / 2
    assert folder.update(set()) is False  # not due yet
    clock.now += RETRY_EVERY / 2
    assert folder.update(set()) is True
    assert titles(folder) == ["Edited meanwhile"]
    assert problems(folder) == []
    assert folder.seconds_to_next_check() is None


def test_a_folder_that_could_not_be_listed_is_listed_once_it_can_be(
    entries_dir: Path, write_entry: WriteEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_entry("a-visit")
    clock = FakeClock()
    folder = Folder(entries_dir, clock=clock)
    refused = Refusals(monkeypatch)

    refused.listing = False
    assert folder.rescan() is True
    [problem] = problems(folder)
    assert "the entries folder cannot be listed" in problem
    write_entry("b-visit", title="Added meanwhile")  # its notification was lost

    refused.listing = True
    clock.now += RETRY_EVERY
    assert folder.update(set()) is True
    assert titles(folder) == ["A visit", "Added meanwhile"]
    assert problems(folder) == []
    assert folder.seconds_to_next_check() is None


def test_a_site_toml_that_could_not_be_looked_at_is_read_once_it_can_be(
    entries_dir: Path, write_entry: WriteEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_entry("a-visit")
    clock = FakeClock()
    folder = Folder(entries_dir, clock=clock)

    def refused_stat(path: str | Path) -> Signature | None:
        raise StatError("Permission denied")

    def refused_read(path: Path, root: Path, limit: int) -> tuple[bytes, int]:
        raise Unreadable("cannot be read (Permission denied)") from PermissionError(13, "")

    monkeypatch.setattr(medfeed.sitefile, "read_signature", refused_stat)
    monkeypatch.setattr(medfeed.reading, "read_regular_file", refused_read)
    (entries_dir / "site.toml").write_text(SITE_TOML.replace("Test News", "Renamed"), "utf-8")
    folder.update({"site.toml"})
    assert folder.site.title == "Test News"
    assert problems(folder) == ["entries/site.toml: cannot be read (Permission denied)"]
    assert folder.seconds_to_next_check() == pytest.approx(RETRY_EVERY)

    monkeypatch.undo()  # allowed again, and no notification says so
    clock.now += RETRY_EVERY
    assert folder.update(set()) is True
    assert folder.site.title == "Renamed"
    assert problems(folder) == []
    assert folder.seconds_to_next_check() is None


def test_the_watcher_looks_at_everything_when_the_folders_permissions_change(
    entries_dir: Path,
) -> None:
    calls: list[set[str] | None] = []
    watcher = Watcher(entries_dir, calls.append, identity_every=0.05, settle=0.01)
    watcher.start()
    try:
        time.sleep(0.2)
        calls.clear()
        os.chmod(entries_dir, 0o700)
        deadline = time.monotonic() + PROMISE
        while None not in calls and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        os.chmod(entries_dir, 0o755)
        watcher.stop()
    assert None in calls


def test_the_watcher_is_told_when_a_files_permissions_change(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    path = write_entry("a-visit")
    calls: list[set[str] | None] = []
    watcher = Watcher(entries_dir, calls.append, rescan_every=600, settle=0.01)
    watcher.start()
    try:
        time.sleep(0.2)
        calls.clear()
        os.chmod(path, 0o600)
        deadline = time.monotonic() + PROMISE
        while {"a-visit.json"} not in calls and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        watcher.stop()
    assert {"a-visit.json"} in calls or watcher.mode == "poll"


def _watched_calls(
    entries_dir: Path, act: Callable[[], None], **settling: float
) -> tuple[list[tuple[float, set[str] | None]], float]:
    """What a watcher over ``entries_dir`` calls back, with when, while ``act`` runs and
    the moment after; and when ``act`` ended. Skipped where the folder is polled, not
    notified: then the calls follow the poll, not the settling."""
    calls: list[tuple[float, set[str] | None]] = []
    watcher = Watcher(
        entries_dir, lambda names: calls.append((time.monotonic(), names)), rescan_every=600,
        **settling,
    )  # fmt: skip
    watcher.start()
    try:
        time.sleep(0.2)
        calls.clear()
        act()
        done = time.monotonic()
        time.sleep(1.5)
    finally:
        watcher.stop()
    if watcher.mode == "poll" or not calls:
        pytest.skip("no file notifications here")
    return calls, done


def test_one_save_is_taken_once_the_folder_is_quiet_not_after_the_longest_wait(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    def save() -> None:
        write_entry("a-visit")

    calls, done = _watched_calls(entries_dir, save, settle=1.0, quiet=0.05)
    [(at, names)] = calls
    assert names == {"a-visit.json"}
    assert at - done < 0.6, "taken when the folder was quiet, not a second after"


def test_a_burst_of_writes_is_taken_as_one_call(entries_dir: Path) -> None:
    path = entries_dir / "a-visit.json"
    text = json.dumps(entry_data())

    def slowly() -> None:
        # An editor writing in pieces for a second, each well within the quiet time of
        # the last: longer than the quiet time in all.
        with open(path, "w", encoding="utf-8") as f:
            size = len(text) // 50 + 1
            for start in range(0, len(text), size):
                f.write(text[start : start + size])
                f.flush()
                time.sleep(0.02)

    calls, _ = _watched_calls(entries_dir, slowly, settle=5.0, quiet=0.25)
    assert [names for _, names in calls] == [{"a-visit.json"}]


def test_notifications_that_never_stop_are_taken_after_the_longest_wait(
    entries_dir: Path,
) -> None:
    path = entries_dir / "a-visit.json"

    def without_pause() -> None:
        end = time.monotonic() + 0.6
        while time.monotonic() < end:
            path.write_text(json.dumps(entry_data()), encoding="utf-8")
            time.sleep(0.005)

    calls, done = _watched_calls(entries_dir, without_pause, settle=0.1, quiet=0.05)
    first = calls[0][0]
    assert first < done, "a call during the writes: none waits for them to stop"
    assert len(calls) >= 2


def test_a_look_for_changes_finds_what_a_rescan_would_and_changes_nothing(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    for slug in ("a-visit", "b-visit", "c-visit"):
        write_entry(slug)
    folder = Folder(entries_dir, deletion_grace=0)
    assert folder.maybe_changed() == {"site.toml"}
    # Changes no notification told of: an edit, a new file, a removal.
    path = entries_dir / "a-visit.json"
    path.write_text(path.read_text(encoding="utf-8") + " ", encoding="utf-8")
    write_entry("d-visit")
    (entries_dir / "b-visit.json").unlink()
    before = dict(folder.files)
    found = folder.maybe_changed()
    assert found == {"site.toml", "a-visit.json", "d-visit.json", "b-visit.json"}
    assert folder.files == before  # nothing read
    folder.update(found)
    assert folder.maybe_changed() == {"site.toml"}
    os.chmod(entries_dir, 0o000)
    try:
        unlisted = folder.maybe_changed()
    finally:
        os.chmod(entries_dir, 0o755)
    assert unlisted is None or os.geteuid() == 0  # root lists any folder


def test_the_watchers_look_for_changes_runs_beside_it_and_tells_what_it_found(
    entries_dir: Path,
) -> None:
    calls: list[set[str] | None] = []
    looking = threading.Event()

    def slow_scan() -> set[str] | None:
        looking.set()
        time.sleep(1.0)
        return {"found.json"}

    watcher = Watcher(entries_dir, calls.append, rescan_every=0.2, settle=0.01, scan=slow_scan)
    watcher.start()
    try:
        assert looking.wait(PROMISE)
        # Notified while the look is under way: told at once, not after it.
        (entries_dir / "told.json").write_text("{}", encoding="utf-8")
        deadline = time.monotonic() + 0.8
        while not any(c and "told.json" in c for c in calls) and time.monotonic() < deadline:
            time.sleep(0.02)
        told = [c for c in calls if c and "told.json" in c]
        deadline = time.monotonic() + PROMISE
        while not any(c and "found.json" in c for c in calls) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        watcher.stop()
    assert told or watcher.mode == "poll"
    assert any(c and "found.json" in c for c in calls) or watcher.mode == "poll"
    assert None not in calls or watcher.mode == "poll"  # no full check in its place


def test_a_polling_watcher_looks_for_changes_beside_it_too(
    entries_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without file notifications it looks every poll_every seconds: at 100,000 files a
    # full check each second would hold the publisher half of every second.
    def no_notifications() -> None:
        raise OSError("inotify instance limit reached")

    monkeypatch.setattr(medfeed.watch, "Observer", no_notifications)
    calls: list[set[str] | None] = []
    watcher = Watcher(entries_dir, calls.append, poll_every=0.05, scan=lambda: {"found.json"})
    watcher.start()
    try:
        deadline = time.monotonic() + PROMISE
        while not any(c and "found.json" in c for c in calls) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        watcher.stop()
    assert watcher.mode == "poll"
    assert any(c and "found.json" in c for c in calls)
    assert None not in calls


# --- for real: a process that may not look, and an editor who may ----------------------------

LIVE_SCRIPT = textwrap.dedent(
    """
    import json, os, shutil, sys, tempfile
    from pathlib import Path
    from medfeed.settings import Settings
    from medfeed.site import Publisher

    def publisher(root, state):
        settings = Settings(entries_dir=root, base_url="https://x.example/", state_dir=state)
        return Publisher(settings)

    root = Path(sys.argv[1])
    if os.geteuid() == 0:
        # Permissions mean nothing to root: serve as an ordinary user, once every module
        # is loaded (the interpreter's own files may be root's alone).
        warm_state = Path(tempfile.mkdtemp())
        warm = publisher(root, warm_state)
        warm.watch()
        warm.refresh(None)
        warm.stop()
        shutil.rmtree(warm_state, ignore_errors=True)
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    state = Path(tempfile.mkdtemp())
    pub = publisher(root, state)
    pub.watch()
    for line in sys.stdin:
        health = pub.health()
        report = {
            "titles": sorted(i.entry.title for i in pub.catalog.items),
            "problems": [str(p) for p in health.problems],
        }
        print(json.dumps(report), flush=True)
    pub.stop()
    shutil.rmtree(state, ignore_errors=True)
    """
)


class Served:
    """A publisher watching a folder from a process of its own (as nobody, under root)."""

    def __init__(self, root: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", LIVE_SCRIPT, str(root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "TMPDIR": "/tmp"},
        )

    def report(self) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("?\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, self.process.stderr.read() if self.process.stderr else ""
        return dict(json.loads(line))

    def within(self, seconds: float, done: Callable[[dict[str, Any]], bool]) -> float:
        """How long until a report passes ``done``; fails after ``seconds``."""
        started = time.monotonic()
        while not done(report := self.report()):
            assert time.monotonic() - started < seconds, report
            time.sleep(0.05)
        return time.monotonic() - started

    def stop(self) -> None:
        try:
            self.process.communicate(timeout=10)  # closes its input: it ends
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()


@pytest.fixture
def served() -> Iterator[tuple[Path, Served]]:
    # Not in tmp_path, which only its owner may enter.
    base = Path(tempfile.mkdtemp(prefix="medfeed-test-", dir="/tmp"))
    root = base / "entries"
    root.mkdir()
    (root / "site.toml").write_text(SITE_TOML, encoding="utf-8")
    (root / "a-visit.json").write_text(json.dumps(entry_data()), encoding="utf-8")
    for path in (base, root, *root.iterdir()):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    server = Served(root)
    try:
        yield root, server
    finally:
        os.chmod(root, 0o755)
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_a_folder_readable_again_is_served_again_within_two_seconds(
    served: tuple[Path, Served],
) -> None:
    root, server = served
    assert server.report() == {"titles": ["A visit"], "problems": []}

    os.chmod(root, 0o000)
    server.within(5, lambda r: any("cannot be listed" in p for p in r["problems"]))
    if os.geteuid() == 0:
        # An editor who may still write there (here root) saves an edit meanwhile; the
        # process serving may not look at it.
        edit = json.dumps(entry_data(title="Edited meanwhile"))
        (root / "a-visit.json").write_text(edit, encoding="utf-8")
        (root / "b-visit.json").write_text(edit.replace("meanwhile", "too"), encoding="utf-8")
        time.sleep(0.5)
        assert server.report()["titles"] == ["A visit"]  # what readers had stays
        wanted = ["Edited meanwhile", "Edited too"]
    else:
        wanted = ["A visit"]

    os.chmod(root, 0o755)
    took = server.within(PROMISE, lambda r: r == {"titles": wanted, "problems": []})
    print(f"served again {took:.2f} s after the folder became readable")
