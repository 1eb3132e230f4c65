"""Live content over a real server: the watcher publishes folder changes within 2 seconds."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.error import HTTPError

import feedparser
import pytest
from flask import Flask

from conftest import BASE_URL, SITE_TOML
from medfeed.settings import Settings
from medfeed.site import Publisher

WriteEntry = Callable[..., Path]
MakeApp = Callable[..., Flask]

PROMISE = 2.0
"""Seconds within which a change to the folder is published."""

ALL_FEEDS = ["/feed.atom", "/feed.rss"]


def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def published_within_promise(predicate: Callable[[], bool]) -> None:
    started = time.monotonic()
    assert wait_until(predicate), "not published within 3 s"
    elapsed = time.monotonic() - started
    assert elapsed < PROMISE, f"published after {elapsed:.2f} s"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def fetch(url: str, headers: dict[str, str] | None = None) -> Reply:
    """GET a URL; 304 and error statuses are replies, not exceptions."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Reply(response.status, dict(response.headers.items()), response.read())
    except HTTPError as e:
        with e:
            return Reply(e.code, dict(e.headers.items()), e.read())


def entry_ids(body: bytes) -> list[str]:
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return [e.id for e in parsed.entries]


def entry_titles(body: bytes) -> dict[str, str]:
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return {e.id: e.title for e in parsed.entries}


def health(base: str) -> dict[str, Any]:
    reply = fetch(f"{base}/healthz")
    assert reply.status == 200
    data: dict[str, Any] = json.loads(reply.body)
    return data


def entry_json(**fields: Any) -> str:
    data = {
        "title": "A visit",
        "summary": "Someone visited.",
        "published": "2015-10-12T09:00:00+02:00",
        "categories": ["visits"],
        **fields,
    }
    return json.dumps(data, indent=2)


@dataclass
class Live:
    base: str
    publisher: Publisher
    folder: Path


@pytest.fixture
def live(
    make_app: MakeApp, serve: Callable[[Flask], str], entries_dir: Path
) -> Iterator[Callable[[], Live]]:
    """Start a watching app on a real server; its watcher is stopped afterwards."""
    publishers: list[Publisher] = []

    def start() -> Live:
        app = make_app(WATCH=True)
        publishers.append(app.extensions["medfeed"])
        return Live(serve(app), app.extensions["medfeed"], entries_dir)

    yield start
    for publisher in publishers:
        publisher.stop()


def started(live: Callable[[], Live]) -> Live:
    """A watching app whose watcher the first request has started."""
    site = live()
    assert fetch(f"{site.base}/feed.atom").status == 200
    assert site.publisher.health().watching == "notify"
    return site


# --- one entry's life ---------------------------------------------------------------------------


def test_entry_life_is_published_live(live: Callable[[], Live], write_entry: WriteEntry) -> None:
    write_entry("old-visit", title="Old", published="2014-01-01T00:00:00Z")
    site = started(live)
    base, folder = site.base, site.folder
    new_id = "tag:example.org,2015-10-12:new-visit"
    path = folder / "new-visit.json"

    def atom() -> bytes:
        return fetch(f"{base}/feed.atom").body

    # Added.
    path.write_text(entry_json(title="First title"), encoding="utf-8")
    published_within_promise(lambda: new_id in entry_ids(atom()))

    # Edited: the new title under the same id, once.
    path.write_text(entry_json(title="Second title"), encoding="utf-8")
    published_within_promise(lambda: entry_titles(atom()).get(new_id) == "Second title")
    ids = entry_ids(atom())
    assert ids.count(new_id) == 1
    assert sorted(ids) == sorted([new_id, "tag:example.org,2014-01-01:old-visit"])

    # Broken: still published as last good, and reported without server paths.
    path.write_text('{"title": "Third', encoding="utf-8")
    assert wait_until(lambda: health(base)["status"] == "degraded")
    time.sleep(1.0)
    for url in ("/feed.atom", "/feed.rss", "/categories/visits/feed.atom"):
        assert entry_titles(fetch(base + url).body).get(new_id) == "Second title", url
    reply = fetch(f"{base}/healthz")
    report = json.loads(reply.body)
    assert report["status"] == "degraded"
    assert report["problem_count"] == 1
    [problem] = report["problems"]
    assert problem["path"] == "new-visit.json"
    assert "not valid JSON" in problem["message"]
    resolved = str(folder.resolve())
    assert str(folder) not in reply.body.decode() and resolved not in reply.body.decode()
    assert str(folder.parent) not in reply.body.decode()

    # Fixed.
    path.write_text(entry_json(title="Fixed title"), encoding="utf-8")
    published_within_promise(lambda: health(base)["status"] == "ok")
    assert entry_titles(atom())[new_id] == "Fixed title"
    assert health(base)["problems"] == []

    # Deleted: gone from every feed it was in.
    path.unlink()
    feeds = [*ALL_FEEDS, "/categories/visits/feed.atom", "/categories/visits/feed.rss"]
    published_within_promise(
        lambda: all(new_id not in entry_ids(fetch(base + url).body) for url in feeds)
    )
    assert fetch(f"{base}/entries/new-visit/").status == 404
    assert health(base)["entries"] == 1


def test_site_title_edit_is_published_live(live: Callable[[], Live]) -> None:
    site = started(live)
    (site.folder / "site.toml").write_text(
        SITE_TOML.replace("Test News", "Renamed News"), encoding="utf-8"
    )

    def title() -> str:
        parsed = feedparser.parse(fetch(f"{site.base}/feed.rss").body)
        assert parsed.bozo == 0
        return str(parsed.feed.title)

    published_within_promise(lambda: title() == "Renamed News")


def test_renamed_file_is_published_live(live: Callable[[], Live], write_entry: WriteEntry) -> None:
    write_entry("a-visit")
    site = started(live)
    (site.folder / "a-visit.json").rename(site.folder / "b-visit.json")
    published_within_promise(
        lambda: (
            entry_ids(fetch(f"{site.base}/feed.atom").body)
            == ["tag:example.org,2015-10-12:b-visit"]
        )
    )


def test_change_before_the_first_request_is_published(
    live: Callable[[], Live], write_entry: WriteEntry
) -> None:
    site = live()
    write_entry("early-visit")
    assert fetch(f"{site.base}/healthz").status == 200  # starts the watcher
    published_within_promise(
        lambda: (
            "tag:example.org,2015-10-12:early-visit"
            in entry_ids(fetch(f"{site.base}/feed.atom").body)
        )
    )


# --- /healthz and caching -----------------------------------------------------------------------


def test_healthz_shape_in_both_states(live: Callable[[], Live], write_entry: WriteEntry) -> None:
    write_entry("a-visit")
    site = live()
    keys = {
        "status",
        "entries",
        "version",
        "last_check",
        "problems",
        "problem_count",
        "watching",
    }

    reply = fetch(f"{site.base}/healthz")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert "no-store" in reply.headers["Cache-Control"]
    ok = json.loads(reply.body)
    assert set(ok) == keys
    assert ok["status"] == "ok"
    assert ok["entries"] == 1
    assert ok["problems"] == [] and ok["problem_count"] == 0
    assert ok["watching"] == "notify"
    assert isinstance(ok["version"], str) and ok["version"]
    assert isinstance(ok["last_check"], str)

    (site.folder / "a-visit.json").write_text("{", encoding="utf-8")
    assert wait_until(lambda: health(site.base)["status"] == "degraded")
    reply = fetch(f"{site.base}/healthz")
    assert reply.status == 200
    assert "no-store" in reply.headers["Cache-Control"]
    degraded = json.loads(reply.body)
    assert set(degraded) == keys
    assert degraded["entries"] == 1
    assert degraded["problem_count"] == 1
    assert [(p["path"], p["field"]) for p in degraded["problems"]] == [("a-visit.json", "")]
    assert degraded["version"] == ok["version"]


def test_etag_is_stable_until_the_feed_changes(
    live: Callable[[], Live], write_entry: WriteEntry
) -> None:
    write_entry("a-visit")
    site = started(live)
    url = f"{site.base}/categories/visits/feed.atom"
    first = fetch(url)
    etag = first.headers["ETag"]
    time.sleep(0.3)
    assert fetch(url).headers["ETag"] == etag
    assert fetch(url, {"If-None-Match": etag}).status == 304

    # A change to another feed only leaves this one as it was.
    write_entry("a-conference", categories=["conferences"], published="2015-09-01T00:00:00Z")
    published_within_promise(lambda: len(entry_ids(fetch(f"{site.base}/feed.atom").body)) == 2)
    assert fetch(url, {"If-None-Match": etag}).status == 304

    write_entry("a-visit", title="A visit, corrected")
    published_within_promise(lambda: fetch(url, {"If-None-Match": etag}).status == 200)
    changed = fetch(url, {"If-None-Match": etag})
    assert changed.headers["ETag"] != etag
    assert entry_titles(changed.body) == {
        "tag:example.org,2015-10-12:a-visit": "A visit, corrected"
    }


# --- readers polling while editors work --------------------------------------------------------


@dataclass
class Poller:
    base: str
    urls: list[str]
    replies: list[tuple[str, Reply]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    degraded_seen: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        etags: dict[str, str] = {}
        while not self.stop.is_set():
            for url in self.urls:
                try:
                    headers = {"If-None-Match": etags[url]} if url in etags else {}
                    reply = fetch(self.base + url, headers)
                    if "ETag" in reply.headers:
                        etags[url] = reply.headers["ETag"]
                    self.replies.append((url, reply))
                    if health(self.base)["status"] == "degraded":
                        self.degraded_seen += 1
                except Exception as e:  # noqa: BLE001 - recorded and asserted on
                    self.errors.append(f"{url}: {e!r}")
            time.sleep(0.01)


def test_feeds_stay_whole_while_the_folder_changes(
    live: Callable[[], Live], write_entry: WriteEntry
) -> None:
    keeper = write_entry("keeper", title="Keeper 0", published="2014-06-01T00:00:00Z")
    keeper_id = "tag:example.org,2014-06-01:keeper"
    site = started(live)
    folder = site.folder
    poller = Poller(site.base, ALL_FEEDS)
    thread = threading.Thread(target=poller.run, name="test-poller", daemon=True)
    thread.start()
    try:
        operations: list[Callable[[], object]] = []
        for i in range(1, 4):
            new = folder / f"new-{i}.json"
            operations += [
                lambda new=new, i=i: new.write_text(entry_json(title=f"New {i}")),
                lambda: keeper.write_text('{"title": "half'),
                lambda new=new, i=i: new.write_text(entry_json(title=f"New {i}, edited")),
                lambda i=i: keeper.write_text(
                    entry_json(title=f"Keeper {i}", published="2014-06-01T00:00:00Z")
                ),
                lambda new=new: new.write_text("{"),
                lambda: keeper.write_text(""),
                lambda new=new: new.unlink(),
            ]
        operations.append(
            lambda: keeper.write_text(
                entry_json(title="Keeper final", published="2014-06-01T00:00:00Z")
            )
        )
        for operation in operations:
            operation()
            time.sleep(0.1)
        published_within_promise(
            lambda: (
                entry_titles(fetch(f"{site.base}/feed.atom").body) == {keeper_id: "Keeper final"}
            )
        )
    finally:
        poller.stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()

    assert poller.errors == []
    assert {reply.status for _, reply in poller.replies} <= {200, 304}
    bodies = [(url, reply.body) for url, reply in poller.replies if reply.status == 200]
    assert len(bodies) >= 10
    assert poller.degraded_seen > 0  # the polls did see the folder broken
    for url, body in bodies:
        ids = entry_ids(body)
        assert keeper_id in ids, url  # never missing, broken or not
        assert len(ids) == len(set(ids)), url
    titles = {entry_titles(body)[keeper_id] for _, body in bodies}
    assert titles <= {"Keeper 0", "Keeper 1", "Keeper 2", "Keeper 3", "Keeper final"}


# --- a stopped watcher ------------------------------------------------------------------------


def test_stopped_publisher_no_longer_changes(entries_dir: Path, write_entry: WriteEntry) -> None:
    publisher = Publisher(Settings(entries_dir=entries_dir, base_url=BASE_URL))
    publisher.watch()
    try:
        assert publisher.health().watching == "notify"
        write_entry("a-visit")
        published_within_promise(lambda: len(publisher.snapshot().items) == 1)
    finally:
        publisher.stop()
    assert publisher.health().watching == "off"
    write_entry("b-visit")
    time.sleep(0.5)
    assert [i.slug for i in publisher.snapshot().items] == ["a-visit"]
    assert publisher.refresh(None) is True
    assert len(publisher.snapshot().items) == 2
