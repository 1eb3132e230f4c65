"""Last-Modified never hides a change: a client that revalidates with If-Modified-Since
alone gets a 304 only for the bytes it has, whatever changed in the folder.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree

from conftest import BASE_URL, SITE_TOML, entry_data
from helpers import HOUR_AGO, age_folder
from medfeed.cli import main

WriteEntry = Callable[..., Path]
MakeApp = Callable[..., Flask]

LISTS = ["/", "/feed.atom", "/feed.rss", "/categories/visits/", "/categories/visits/feed.atom"]


class Reader:
    """An aggregator that keeps each document's Last-Modified and revalidates with it alone."""

    def __init__(self, client: FlaskClient, paths: list[str]) -> None:
        self.client = client
        self.seen: dict[str, tuple[str, bytes]] = {}
        for path in paths:
            self.fetch(path)

    def fetch(self, path: str) -> int:
        headers = {}
        if path in self.seen:
            headers["If-Modified-Since"] = self.seen[path][0]
        response = self.client.get(path, headers=headers)
        if response.status_code == 200:
            self.seen[path] = (response.headers["Last-Modified"], response.data)
        return response.status_code

    def stale(self) -> list[str]:
        """The paths where a 304 told the reader to keep bytes that are not current."""
        wrong = []
        for path, (_, body) in list(self.seen.items()):
            status = self.fetch(path)
            current = self.client.get(path).data
            if status == 304 and body != current:
                wrong.append(path)
        return wrong


def changes(folder: Path, write_entry: WriteEntry) -> list[tuple[str, Callable[[], object]]]:
    site = folder / "site.toml"
    return [
        ("edit without updated", lambda: write_entry("a-visit", summary="Corrected.")),
        (
            "back-dated addition",
            lambda: write_entry("old", title="Old", published="2001-01-01T00:00:00Z"),
        ),
        ("deletion", lambda: (folder / "old.json").unlink()),
        ("settings", lambda: site.write_text(SITE_TOML.replace("Test News", "New"), "utf-8")),
        ("draft", lambda: write_entry("b-visit", title="B", draft=True)),
        ("moved to another category", lambda: write_entry("a-visit", categories=["conferences"])),
        ("file moved in with an old date", lambda: move_in_old_file(folder)),
    ]


def move_in_old_file(folder: Path) -> None:
    elsewhere = folder.parent / "kept.json"
    elsewhere.write_text(json.dumps(entry_data(title="Kept", published="2003-01-01T00:00:00Z")))
    os.utime(elsewhere, (HOUR_AGO - 86400, HOUR_AGO - 86400))
    elsewhere.rename(folder / "kept.json")


def test_no_change_is_hidden_from_if_modified_since(
    entries_dir: Path, write_entry: WriteEntry, make_app: MakeApp
) -> None:
    write_entry("a-visit")
    write_entry("b-visit", title="B")
    age_folder(entries_dir)
    app = make_app()
    publisher = app.extensions["medfeed"]
    paths = [*LISTS, "/entries/a-visit/", "/categories/conferences/feed.rss"]
    reader = Reader(app.test_client(), paths)
    for name, change in changes(entries_dir, write_entry):
        change()
        publisher.refresh(None)
        assert reader.stale() == [], name


def test_no_change_is_hidden_by_a_worker_that_never_saw_the_old_version(
    entries_dir: Path, write_entry: WriteEntry, make_app: MakeApp
) -> None:
    # A respawned or restarted worker shares the state folder with the one that served the
    # old version: archive documents and entry pages, whose dates the folder cannot
    # always move (a deletion, a file copied in with its old date), must not be answered
    # 304 by it either.
    site = entries_dir / "site.toml"
    site.write_text(SITE_TOML.replace('language = "en"\n', 'language = "en"\nitem_limit = 1\n'))
    write_entry("a-visit", published="2015-10-14T09:00:00Z")
    write_entry("b-visit", title="B", published="2015-10-12T09:00:00Z")
    write_entry("c-visit", title="C", published="2015-10-10T09:00:00Z")
    age_folder(entries_dir)
    first = make_app()
    paths = [
        *LISTS, "/entries/a-visit/", "/entries/c-visit/", "/archive/2015/10/feed.atom",
        "/archive/2015/10/", "/archive/2015/", "/categories/visits/archive/2015/10/feed.rss",
    ]  # fmt: skip
    reader = Reader(first.test_client(), paths)
    for name, change in [
        *changes(entries_dir, write_entry),
        ("an archived entry deleted", lambda: (entries_dir / "b-visit.json").unlink()),
    ]:
        held = dict(reader.seen)  # what readers hold of the version before the change
        change()
        first.extensions["medfeed"].refresh(None)
        # Each worker asked by a reader holding the old version (two workers may serve
        # different versions for a moment, such as a deletion's grace in the one that
        # saw the file: a reader that has seen both is not what this checks).
        for app in (make_app(), first):
            reader.client, reader.seen = app.test_client(), dict(held)
            assert reader.stale() == [], name


def test_bytes_that_did_not_change_keep_their_date(
    entries_dir: Path, write_entry: WriteEntry, make_app: MakeApp
) -> None:
    # An edit in another category changes nothing these documents show: readers that
    # revalidate with If-Modified-Since keep their 304, in every worker.
    write_entry("a-visit")
    write_entry("a-conference", title="C", categories=["conferences"])
    age_folder(entries_dir)
    app = make_app()
    paths = ["/categories/visits/", "/categories/visits/feed.atom", "/categories/visits/feed.json"]
    before = {path: app.test_client().get(path).headers["Last-Modified"] for path in paths}
    write_entry("a-conference", title="C, renamed", categories=["conferences"])
    app.extensions["medfeed"].refresh(None)
    assert app.test_client().get("/feed.atom").headers["Last-Modified"] not in before.values()
    for worker in (app, make_app()):
        for path, stamp in before.items():
            response = worker.test_client().get(path, headers={"If-Modified-Since": stamp})
            assert (response.status_code, response.headers["Last-Modified"]) == (304, stamp), path


def test_two_changes_within_one_second_are_told_apart(
    entries_dir: Path, write_entry: WriteEntry, make_app: MakeApp
) -> None:
    path = write_entry("a-visit")
    age_folder(entries_dir)
    app = make_app()
    publisher = app.extensions["medfeed"]
    reader = Reader(app.test_client(), [*LISTS, "/entries/a-visit/"])
    second = int(time.time()) - 10
    for n in range(3):
        write_entry("a-visit", summary=f"Version {n}.")
        os.utime(path, (second + 0.1 * n, second + 0.1 * n))  # one second for all three
        publisher.refresh({"a-visit.json"})
        assert reader.stale() == [], n


def test_dates_are_the_same_after_a_restart_and_never_past_date(
    entries_dir: Path, write_entry: WriteEntry, make_app: MakeApp
) -> None:
    write_entry("a-visit", updated="2015-10-13T00:00:00Z")
    write_entry("soon", published="2015-11-01T00:00:00Z")
    age_folder(entries_dir)
    paths = [*LISTS, "/entries/a-visit/", "/entries/soon/"]
    first, second = make_app().test_client(), make_app().test_client()
    for path in paths:
        one, two = first.get(path), second.get(path)
        assert one.status_code == two.status_code == 200, path
        assert one.headers["Last-Modified"] == two.headers["Last-Modified"], path
        assert one.headers["ETag"] == two.headers["ETag"], path
        modified = parsedate_to_datetime(one.headers["Last-Modified"])
        # The newest change in the folder, not an entry's own dates.
        assert abs(modified.timestamp() - HOUR_AGO) < 1, path


def test_a_file_dated_in_the_future_never_moves_past_date(
    entries_dir: Path, write_entry: WriteEntry, make_app: MakeApp
) -> None:
    path = write_entry("a-visit")
    future = time.time() + 86400 * 365
    os.utime(path, (future, future))
    client = make_app().test_client()
    for doc in [*LISTS, "/entries/a-visit/"]:
        response = client.get(doc)
        modified = parsedate_to_datetime(response.headers["Last-Modified"])
        assert modified.timestamp() <= time.time(), doc


@pytest.mark.parametrize("path", [*LISTS, "/entries/a-visit/"])
def test_a_304_for_the_date_the_reader_has(
    entries_dir: Path, write_entry: WriteEntry, make_app: MakeApp, path: str
) -> None:
    write_entry("a-visit")
    age_folder(entries_dir)
    client = make_app().test_client()
    stamp = client.get(path).headers["Last-Modified"]
    assert client.get(path, headers={"If-Modified-Since": stamp}).status_code == 304
    earlier = format_datetime(parsedate_to_datetime(stamp).replace(year=2000), usegmt=True)
    assert client.get(path, headers={"If-Modified-Since": earlier}).status_code == 200


def _lastmods(body: bytes) -> dict[str, float]:
    ns = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    root = etree.fromstring(body)
    return {
        url.findtext(f"{ns}loc", ""): datetime.fromisoformat(
            url.findtext(f"{ns}lastmod", "")
        ).timestamp()
        for url in root.iter(f"{ns}url")
    }


def test_the_sitemap_dates_pages_as_they_are_served(
    entries_dir: Path, write_entry: WriteEntry, make_app: MakeApp, tmp_path: Path
) -> None:
    write_entry("a-visit")
    write_entry("a-conference", title="C", categories=["conferences"])
    age_folder(entries_dir)
    app = make_app()
    client = app.test_client()
    pages = ["/", "/categories/visits/", "/entries/a-visit/", "/archive/"]
    for path in pages:
        client.get(path)
    write_entry("a-conference", title="C, renamed", categories=["conferences"])
    app.extensions["medfeed"].refresh(None)
    for worker in (app, make_app()):
        # Pages made since they last changed are listed with the date they are served
        # with (a page not made yet, with the folder's date for it: never earlier).
        fetch = worker.test_client().get
        served = {
            path: parsedate_to_datetime(fetch(path).headers["Last-Modified"]).timestamp()
            for path in pages
        }
        listed = _lastmods(fetch("/sitemap.xml").data)
        for path, stamp in served.items():
            assert listed[BASE_URL.rstrip("/") + path] == stamp, path
    # A static build: each page's file is dated as the sitemap dates it, rebuild or not
    # (the first build of files an hour old, the second after an edit made now).
    age_folder(entries_dir)
    out = tmp_path / "site"
    for title in ("C, renamed again", "C, once more"):
        assert (
            CliRunner().invoke(main, ["build", str(out), "--entries", str(entries_dir)]).exit_code
            == 0
        )
        listed = _lastmods((out / "sitemap.xml").read_bytes())
        for url, stamp in listed.items():
            page = urlsplit(url).path
            assert (out / page.lstrip("/") / "index.html").stat().st_mtime == stamp, page
        write_entry("a-conference", title=title, categories=["conferences"])
