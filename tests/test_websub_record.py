"""What hubs are told of, without a hub: the record of what each hub was told follows the
content (exactly the changed feeds are pending, a first start and a restart ping
nothing, unchanged archives are not rendered to find out), survives damage, and one
ping's outcome is read right; one pinger among several on a folder sends.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import WriteEntry
from medfeed.cli import main
from medfeed.coordination import Leader
from medfeed.pinger import Pinger
from medfeed.pings import Outcome, send_ping
from medfeed.pingstate import LOCK_FILE, RECORD_FILE, read_record, read_status, write_record
from medfeed.settings import Settings
from medfeed.site import Publisher
from medfeed.snapshot import Snapshot
from medfeed.websub import PingRecord, topics, update_record
from websubhub import wait_for

HUB = "http://127.0.0.1:9/hub"
"""Never reached by these tests but the ones that say so (port 9 refuses)."""
BASE = "https://news.example.org/"


@pytest.fixture
def site(entries_dir: Path, write_entry: WriteEntry) -> Path:
    """Three visits and a conference, two a month, with item_limit 1: archives galore."""
    site = entries_dir / "site.toml"
    site.write_text(f'item_limit = 1\nhubs = ["{HUB}"]\n' + site.read_text("utf-8"), "utf-8")
    write_entry("oct-visit", published="2015-10-12T09:00:00Z")
    write_entry("oct-talks", categories=["conferences"], published="2015-10-20T09:00:00Z")
    write_entry("nov-visit", published="2015-11-12T09:00:00Z")
    write_entry("dec-visit", published="2015-12-12T09:00:00Z")
    return entries_dir


def publisher(entries: Path) -> Publisher:
    """A process's publisher: its own items, its own snapshots."""
    return Publisher(Settings(entries, base_url=BASE, watch=False))


class Counting:
    """A snapshot that counts the documents asked of it (what the record renders)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.asked: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.snapshot, name)

    def document_of(self, kind: Any, subject: str | None) -> Any:
        self.asked.append(kind.path(subject))
        return self.snapshot.document_of(kind, subject)


def bodies(snapshot: Snapshot) -> dict[str, bytes]:
    return {t.url: snapshot.document_of(t.kind, t.subject).body for t in topics(snapshot)}


def rewrite(write_entry: WriteEntry, slug: str, **fields: Any) -> None:
    """Write a new version of an entry, a second newer than the last, however fast."""
    path = write_entry(slug, **fields)
    stamp = path.stat().st_mtime_ns + 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


def test_a_first_start_pings_nothing_and_renders_no_archive(site: Path) -> None:
    snapshot = Counting(publisher(site).snapshot())
    record = update_record(None, snapshot)  # type: ignore[arg-type]
    assert record.pending(HUB) == {}
    assert all("/archive/" not in path for path in snapshot.asked), snapshot.asked
    assert len(record.topics) == len(list(topics(snapshot.snapshot))) > 9


def test_an_edit_makes_exactly_the_changed_feeds_pending(
    site: Path, write_entry: WriteEntry
) -> None:
    live = publisher(site)
    before = live.snapshot()
    record = update_record(None, before)
    old = bodies(before)
    rewrite(write_entry, "nov-visit", title="November, edited", published="2015-11-12T09:00:00Z")
    assert live.refresh()
    after = Counting(live.snapshot())
    record = update_record(record, after)  # type: ignore[arg-type]
    new = bodies(after.snapshot)
    changed = {url for url in new if old.get(url) != new[url]}
    # November's visit is in the archives only: its month's documents change, and the
    # archives beside it (their links name months, not entries) do not.
    assert changed == {
        f"{BASE}{scope}archive/2015/11/feed.{fmt}"
        for scope in ("", "categories/visits/")
        for fmt in ("rss", "atom", "json")
    }
    assert set(record.pending(HUB)) == changed
    assert {etag for etag in record.pending(HUB).values()} == {
        after.snapshot.document(url.removeprefix(BASE[:-1])).etag  # type: ignore[union-attr]
        for url in changed
    }
    # Only documents whose content changed were rendered to find out.
    rendered = {path for path in after.asked if "/archive/" in path}
    assert rendered == {url.removeprefix(BASE[:-1]) for url in changed}


def test_told_topics_leave_and_a_second_change_comes_back_once(
    site: Path, write_entry: WriteEntry
) -> None:
    live = publisher(site)
    record = update_record(None, live.snapshot())
    for title in ("One", "Two"):  # two changes before the hub hears of either: one ping
        rewrite(write_entry, "dec-visit", title=title, published="2015-12-12T09:00:00Z")
        live.refresh()
        record = update_record(record, live.snapshot())
    pending = record.pending(HUB)
    assert set(pending) == {
        f"{BASE}{s}feed.{f}" for s in ("", "categories/visits/") for f in ("rss", "atom", "json")
    }
    for url, etag in pending.items():
        record.mark_told(HUB, url, etag)
    assert record.pending(HUB) == {}
    rewrite(write_entry, "dec-visit", title="Three", published="2015-12-12T09:00:00Z")
    live.refresh()
    record = update_record(record, live.snapshot())
    assert len(record.pending(HUB)) == 6


def test_a_restart_with_unchanged_content_pings_and_renders_nothing(
    site: Path, write_entry: WriteEntry, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    live = publisher(site)
    record = update_record(None, live.snapshot())
    rewrite(write_entry, "nov-visit", title="Edited", published="2015-11-12T09:00:00Z")
    live.refresh()
    record = update_record(record, live.snapshot())
    for url, etag in record.pending(HUB).items():
        record.mark_told(HUB, url, etag)
    write_record(state, record)

    restarted = Counting(publisher(site).snapshot())  # new items, new snapshot
    again, trouble = read_record(state)
    assert trouble is None and again == record
    after = update_record(again, restarted)  # type: ignore[arg-type]
    assert after.pending(HUB) == {}
    assert all("/archive/" not in path for path in restarted.asked)

    # Content changed while no process ran: the record tells.
    rewrite(write_entry, "oct-visit", title="Edited while down", published="2015-10-12T09:00:00Z")
    later = update_record(after, publisher(site).snapshot())
    assert {url.split("/archive/")[-1] for url in later.pending(HUB)} == {
        "2015/10/feed.rss",
        "2015/10/feed.atom",
        "2015/10/feed.json",
    }


def test_hubs_new_to_the_record_start_from_now_and_gone_ones_are_forgotten(
    site: Path, entries_dir: Path, write_entry: WriteEntry
) -> None:
    live = publisher(site)
    record = update_record(None, live.snapshot())
    other = "http://127.0.0.1:9/other"
    toml = entries_dir / "site.toml"
    toml.write_text(toml.read_text("utf-8").replace(f'["{HUB}"]', f'["{other}"]'), "utf-8")
    rewrite(write_entry, "dec-visit", title="Edited", published="2015-12-12T09:00:00Z")
    live.refresh(None)
    record = update_record(record, live.snapshot())
    assert set(record.told) == {other}
    # site.toml changed every feed's bytes (its hub link), but nobody subscribed
    # through a hub before feeds named it.
    assert record.pending(other) == {}


@pytest.mark.parametrize(
    "content",
    [b"", b"{not json", b"[]", b'{"medfeed-websub": 2, "topics": {}, "told": {}}',
     b'{"medfeed-websub": 1, "topics": {"x": [1, 2]}, "told": {}}',
     b'{"medfeed-websub": 1, "topics": {}, "told": {"h": 3}}', b"\xff\xfe"],
)  # fmt: skip
def test_a_damaged_record_reads_as_none_with_a_reason(tmp_path: Path, content: bytes) -> None:
    (tmp_path / RECORD_FILE).write_bytes(content)
    record, trouble = read_record(tmp_path)
    assert record is None
    assert trouble is not None and RECORD_FILE in trouble and "\n" not in trouble


def test_the_record_is_replaced_whole(tmp_path: Path) -> None:
    assert read_record(tmp_path / "none") == (None, None)
    record = PingRecord({"u": ("k", "e"), "v": ("m", None)}, {"h": {"u": "e"}})
    write_record(tmp_path / "state", record)
    assert read_record(tmp_path / "state") == (record, None)
    assert [p.name for p in (tmp_path / "state").iterdir()] == [RECORD_FILE]
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700


# --- one ping -----------------------------------------------------------------------------


@pytest.fixture
def fake_hub() -> Iterator[tuple[str, list[dict[str, Any]], list[int]]]:
    """A hub that answers with the statuses queued (202 when none), keeping each form."""
    forms: list[dict[str, Any]] = []
    statuses: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            from urllib.parse import parse_qs

            forms.append({"type": self.headers["Content-Type"], **parse_qs(body.decode())})
            status = statuses.pop(0) if statuses else 202
            if status == 0:
                time.sleep(1.5)  # no answer within the ping's timeout
                status = 202
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hub?key=1", forms, statuses
    server.shutdown()
    server.server_close()


def test_a_ping_names_the_topic_both_ways(fake_hub: tuple[str, list[Any], list[int]]) -> None:
    url, forms, statuses = fake_hub
    assert send_ping(url, "https://news.example.org/feed.atom") == Outcome(
        True, False, "202 Accepted"
    )
    assert forms == [
        {
            "type": "application/x-www-form-urlencoded",
            "hub.mode": ["publish"],
            "hub.topic": ["https://news.example.org/feed.atom"],
            "hub.url": ["https://news.example.org/feed.atom"],
        }
    ]
    statuses.extend([500, 429, 400, 0])
    outcomes = [send_ping(url, "t", 0.5) for _ in range(4)]
    assert [(o.ok, o.retry) for o in outcomes] == [
        (False, True), (False, True), (False, False), (False, True)
    ]  # fmt: skip
    assert outcomes[0].status == "HTTP 500 Internal Server Error"
    assert outcomes[3].status == "no answer within 0.5 s"
    refused = send_ping("http://127.0.0.1:9/", "t", 2)
    assert (refused.ok, refused.retry, refused.status) == (False, True, "connection refused")


# --- several pingers on one folder ----------------------------------------------------------


class Recorder:
    """A hub that answers at once, keeping each (hub, topic) it is told of."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, hub: str, topic: str, timeout: float) -> Outcome:
        with self.lock:
            self.sent.append((hub, topic))
        return Outcome(True, False, "202 Accepted")


def test_one_pinger_of_several_sends_and_the_next_takes_over(
    site: Path, write_entry: WriteEntry, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    hub = Recorder()
    workers = [publisher(site) for _ in range(3)]
    pingers = [Pinger(state, send=hub, lead_retry=0.1, settle=0.05) for _ in workers]
    try:
        for worker, pinger in zip(workers, pingers, strict=True):
            pinger.notice(worker.snapshot())
        assert wait_for(lambda: (state / RECORD_FILE).exists(), 5)
        rewrite(write_entry, "dec-visit", title="Edited", published="2015-12-12T09:00:00Z")
        for worker, pinger in zip(workers, pingers, strict=True):
            worker.refresh()
            pinger.notice(worker.snapshot())
        assert wait_for(lambda: len(hub.sent) >= 6, 5)
        time.sleep(0.5)
        assert len(hub.sent) == len(set(hub.sent)) == 6, hub.sent
        assert read_status(state)[HUB].pending == 0

        # The leader stops; another takes over within lead_retry and pings the change it
        # had not told of yet, once.
        leading = next(p for p in pingers if p._record is not None)
        leading.stop()
        rewrite(write_entry, "dec-visit", title="Again", published="2015-12-12T09:00:00Z")
        for worker, pinger in zip(workers, pingers, strict=True):
            if pinger is not leading:
                worker.refresh()
                pinger.notice(worker.snapshot())
        assert wait_for(lambda: len(hub.sent) >= 12, 5)
        time.sleep(0.5)
        assert len(hub.sent) == 12, hub.sent
    finally:
        for pinger in pingers:
            pinger.stop()


# --- the command line ---------------------------------------------------------------------


def run_ping(site: Path, state: Path, *args: str) -> Any:
    env = {"MEDFEED_STATE_DIR": str(state), "MEDFEED_BASE_URL": BASE}
    return CliRunner().invoke(main, ["ping", "--entries", str(site), *args], env=env)


def test_ping_dry_run_lists_what_would_be_sent(
    site: Path, write_entry: WriteEntry, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    result = run_ping(site, state, "--dry-run")
    assert result.exit_code == 0, result.output
    # No record yet: every feed is listed, and nothing is written.
    listed = result.stdout.splitlines()
    assert len(listed) == len(list(topics(publisher(site).snapshot())))
    assert all(line.startswith(f"{HUB} {BASE}") for line in listed)
    assert "none sent (--dry-run)" in result.stderr
    assert not (state / RECORD_FILE).exists()

    live = publisher(site)
    write_record(state, update_record(None, live.snapshot()))
    assert run_ping(site, state, "--dry-run").stdout == ""
    rewrite(
        write_entry,
        "oct-talks",
        title="Edited",
        categories=["conferences"],
        published="2015-10-20T09:00:00Z",
    )
    lines = run_ping(site, state, "--dry-run").stdout.splitlines()
    assert sorted(lines) == sorted(
        f"{HUB} {BASE}{scope}feed.{fmt}"
        for scope in ("archive/2015/10/", "categories/conferences/")
        for fmt in ("rss", "atom", "json")
    )


def test_ping_failures_are_one_line_and_stay_pending(
    site: Path, write_entry: WriteEntry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The command's waits between tries (1, 2, 4 s), shortened.
    monkeypatch.setattr("medfeed.pingcli.backoff", lambda failures, base: 0.01 * failures)
    state = tmp_path / "state"
    served = publisher(site)
    write_record(state, update_record(None, served.snapshot()))
    # Its entry cache is written from a forked child, which holds a copy of every file
    # this process has open until its first step closes them: wait for it before the
    # lock is taken, or a slow child could hold the lock a moment past its release.
    served.folder.save_cache()
    rewrite(write_entry, "dec-visit", title="Edited", published="2015-12-12T09:00:00Z")
    holder = Leader(state / LOCK_FILE)
    assert holder.is_leader()
    held = run_ping(site, state)
    holder.resign()
    assert held.exit_code == 1
    assert held.stderr.startswith("Error: another medfeed process pings the hubs")
    assert len(held.stderr.strip().splitlines()) == 1

    started = time.monotonic()
    refused = run_ping(site, state)  # port 9 refuses: a few tries, then give up
    assert time.monotonic() - started < 5
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert refused.stderr.splitlines()[-1] == (
        f"Error: 6 ping(s) failed ({HUB}: connection refused); they stay pending: run "
        "medfeed ping again"
    )
    assert len(run_ping(site, state, "--dry-run").stdout.splitlines()) == 6
    assert read_status(state)[HUB].status == "connection refused"


def test_ping_without_hubs_says_so(
    write_entry: WriteEntry, entries_dir: Path, tmp_path: Path
) -> None:
    write_entry("a-visit")
    result = run_ping(entries_dir, tmp_path / "state")
    assert result.exit_code == 0
    assert result.stderr == "site.toml names no hubs: nothing to ping\n"


def test_ping_refuses_a_folder_with_problems(site: Path, tmp_path: Path) -> None:
    (site / "broken.json").write_text("{", encoding="utf-8")
    result = run_ping(site, tmp_path / "state", "--dry-run")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith("Error: 1 problem(s) in the entries")
