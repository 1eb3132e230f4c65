"""The table of documents: a new feed format is one writer and one row, and everything
that offers feeds (the app, the static build, the OPML list, the pages' links, archives,
WebSub's Link headers) offers it with no other edit."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path

import listparser
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from conftest import BASE_URL, WriteEntry
from medfeed import documents
from medfeed.cli import main
from medfeed.documents import KINDS, OPML, SITE_KINDS, Kind, Table, feed_kind, make_table
from medfeed.itemtexts import ItemTexts
from medfeed.meta import FeedMeta
from medfeed.store import Item

TEMPLATES = Path(documents.__file__).parent / "templates"
LINES_TYPE = "text/x-feed-lines"
HUB = "https://hub.example.org/"


def write_lines(items: Sequence[Item], meta: FeedMeta, texts: ItemTexts) -> bytes:
    """A feed format as small as can be: its own URL, its next older archive, its ids."""
    older = meta.archive.prev_archive if meta.archive else None
    return "\n".join([meta.self_url, older or "-", *(item.id for item in items)]).encode()


LINES = feed_kind("feed.lines", LINES_TYPE + "; charset=utf-8", "Lines", write_lines)


@pytest.fixture
def lines_format(monkeypatch: pytest.MonkeyPatch) -> Table:
    """The table with one more feed row and nothing else: wherever a medfeed module holds
    a part of the table (``KINDS``, ``TOPICS``...), it holds that part of the new one."""
    old, new = documents.TABLE, make_table((*SITE_KINDS, LINES))
    swaps = {id(getattr(old, f.name)): getattr(new, f.name) for f in fields(Table)}
    swaps[id(old)] = new
    modules = [m for name, m in sys.modules.items() if name.split(".")[0] == "medfeed"]
    for module in modules:
        for name, value in list(vars(module).items()):
            if id(value) in swaps:
                monkeypatch.setattr(module, name, swaps[id(value)])
    return new


@pytest.fixture
def site(entries_dir: Path, write_entry: WriteEntry) -> None:
    """Three entries, one per feed: the rest of each scope's entries are in its archive."""
    site_file = entries_dir / "site.toml"
    site_file.write_text(f'item_limit = 1\nhubs = ["{HUB}"]\n' + site_file.read_text("utf-8"))
    write_entry("a-visit")
    write_entry("an-older-visit", title="An older visit", published="2015-09-01T09:00:00Z")
    write_entry("a-conference", categories=["conferences"], title="A conference",
                published="2015-10-14T09:00:00Z")  # fmt: skip


def ids_through_archives(client: FlaskClient, path: str) -> list[str]:
    """The ids of a feed and of every archive its prev-archive links reach."""
    found: list[str] = []
    while True:
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.content_type == LINES_TYPE + "; charset=utf-8", path
        self_url, older, *ids = answer.data.decode().split("\n")
        assert self_url == BASE_URL + path.removeprefix("/")
        hubs = f'<{HUB}>; rel="hub", <{self_url}>; rel="self"'
        assert answer.headers.getlist("Link") == [hubs], path  # a WebSub topic
        found += ids
        if older == "-":
            return found
        path = "/" + older.removeprefix(BASE_URL)


@pytest.mark.usefixtures("lines_format", "site")
def test_a_new_feed_row_is_served_for_every_scope_with_its_archives(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app()
    client = app.test_client()
    every = ids_through_archives(client, "/feed.lines")
    assert [i.rsplit(":", 1)[1] for i in every] == ["a-conference", "a-visit", "an-older-visit"]
    visits = ids_through_archives(client, "/categories/visits/feed.lines")
    assert [i.rsplit(":", 1)[1] for i in visits] == ["a-visit", "an-older-visit"]
    assert client.get("/archive/2015/09/feed.lines").status_code == 200
    assert client.get("/categories/nowhere/feed.lines").status_code == 404
    snapshot = app.extensions["medfeed"].snapshot()
    assert snapshot.feed("visits", "lines").body == client.get("/categories/visits/feed.lines").data


@pytest.mark.usefixtures("lines_format", "site")
def test_pages_and_the_opml_list_offer_a_new_feed_row(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    for folder, title in [("", "Test News"), ("categories/visits/", "Test News: Visits")]:
        page = client.get("/" + folder).data.decode()
        url = f"{BASE_URL}{folder}feed.lines"
        alternate = f'<link rel="alternate" type="{LINES_TYPE}" title="{title} (Lines)" '
        assert alternate + f'href="{url}">' in page, folder  # autodiscovery
        assert f'<a href="{url}" type="{LINES_TYPE}">Lines</a>' in page, folder
    assert "feed (RSS, Atom, JSON Feed or Lines) or a calendar" in client.get("/").data.decode()
    footer = client.get("/entries/a-visit/").data.decode().split('<footer class="site">')[1]
    assert f'<a href="{BASE_URL}feed.lines" type="{LINES_TYPE}">Lines</a>' in footer
    assert f'href="{BASE_URL}feeds.opml" type="text/x-opml">all feeds (OPML)</a>' in footer
    listed = [feed.url for feed in listparser.parse(client.get("/feeds.opml").data).feeds]
    for folder in ["", "categories/visits/", "categories/conferences/"]:
        assert f"{BASE_URL}{folder}feed.lines" in listed
        assert listed.index(f"{BASE_URL}{folder}feed.lines") > listed.index(
            f"{BASE_URL}{folder}feed.json"
        )
    # Feeds are not pages: the sitemap lists neither the old formats nor the new one.
    sitemap = client.get("/sitemap.xml").data
    assert b"feed.rss" not in sitemap and b"feed.lines" not in sitemap


@pytest.mark.usefixtures("lines_format", "site")
def test_the_static_build_writes_a_new_feed_row(
    runner: CliRunner, entries_dir: Path, tmp_path: Path, make_app: Callable[..., Flask]
) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        main, ["build", str(out), "--entries", str(entries_dir)], env={"MEDFEED_BASE_URL": BASE_URL}
    )
    assert result.exit_code == 0, result.output
    client = make_app().test_client()
    for path in ["/feed.lines", "/archive/2015/10/feed.lines", "/archive/2015/09/feed.lines",
                 "/categories/visits/feed.lines", "/categories/visits/archive/2015/09/feed.lines",
                 "/categories/conferences/feed.lines"]:  # fmt: skip
        assert (out / path.lstrip("/")).read_bytes() == client.get(path).data, path
    # nginx's Link headers for the static copy cover the new feeds too.
    assert r"/feed\\.lines)" in (out / ".links.map").read_text("utf-8")  # escaped for nginx


def test_the_fixture_changes_every_module_holding_the_table(lines_format: Table) -> None:
    from medfeed import buildplan, snapshot, version, websub

    assert buildplan.KINDS is version.KINDS is snapshot.KINDS is lines_format.kinds
    assert websub.TOPICS is lines_format.topics
    assert documents.FEEDS[-1] is LINES


def test_every_feed_row_has_a_category_feed_and_month_archives() -> None:
    feeds = [kind for kind in SITE_KINDS if kind.shows == "feed"]
    assert documents.FEEDS == tuple(feeds)
    for kind in feeds:
        variants = {(k.scope, k.shows) for k in KINDS if k.name == kind.name}
        assert variants == {("site", "feed"), ("category", "feed"), ("month", "archive"),
                            ("category-month", "archive")}, kind.name  # fmt: skip
    assert [k.opml_version for k in feeds] == ["RSS2", "", ""]


def offered(kind: Kind) -> bool:
    return bool(kind.label) or kind.shows == "feed" or kind is OPML


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_templates_name_no_format_and_no_feed_file(template: str) -> None:
    # What pages offer comes from the table: a name here would miss a new row.
    text = (TEMPLATES / template).read_text("utf-8")
    for kind in filter(offered, SITE_KINDS):
        assert kind.name not in text, (template, kind.name)
        if kind.shows == "feed":
            assert kind.label not in text, (template, kind.label)
