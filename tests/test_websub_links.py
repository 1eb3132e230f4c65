"""WebSub discovery: every feed document, current or archive, in every format, names the
hubs of site.toml and its own URL, in its body and in a Link header, and nginx serving
the static build sends the same header as the app.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree

from conftest import BASE_URL, SMALL_SITE_DOCUMENTS, WriteEntry
from medfeed.cli import main
from medfeed.documents import KINDS, TOPICS, feed_path_pattern
from medfeed.links import link_value
from test_nginx import DEPLOY, NGINX, StartNginx, fetch, nginx  # noqa: F401 - a fixture

MakeApp = Callable[..., Flask]
ATOM = "http://www.w3.org/2005/Atom"
HUBS = ["https://hub.example.net/", "https://pubsubhubbub.example.com/publish?x=$y"]
CURRENT = [p for p in SMALL_SITE_DOCUMENTS if re.search(r"/feed\.(rss|atom|json)$", p)]
ARCHIVES = [
    f"{scope}archive/{month}/feed.{fmt}"
    for scope, month in (("/", "2015/10"), ("/", "2015/09"), ("/categories/visits/", "2015/09"))
    for fmt in ("rss", "atom", "json")
]
"""With item_limit 2, the conference of October and the visit of September have left the
site's current feeds, and that visit the visits' too."""
NOT_FEEDS = [p for p in SMALL_SITE_DOCUMENTS if p not in CURRENT]


def with_hubs(entries_dir: Path, hubs: list[str], *lines: str) -> None:
    site = entries_dir / "site.toml"
    listed = ", ".join(json.dumps(hub) for hub in hubs)
    site.write_text("\n".join([*lines, f"hubs = [{listed}]", site.read_text("utf-8")]), "utf-8")


@pytest.fixture
def site(entries_dir: Path, write_entry: WriteEntry) -> Path:
    """SMALL_SITE's entries, an older visit in the archive, and two hubs."""
    with_hubs(entries_dir, HUBS, "item_limit = 2")
    write_entry("a-visit", title="A visit to Brussels")
    write_entry("a-conference", categories=["conferences"], title="A conference in Rome")
    write_entry("later-visit", title="Later", published="2015-10-20T09:00:00Z")
    write_entry("old-visit", title="Old", published="2015-09-01T09:00:00Z")
    return entries_dir


@pytest.fixture
def client(site: Path, make_app: MakeApp) -> FlaskClient:
    return make_app().test_client()


def expected_link(path: str) -> str:
    return ", ".join(
        [*(f'<{hub}>; rel="hub"' for hub in HUBS), f'<{BASE_URL[:-1]}{path}>; rel="self"']
    )


def test_link_value_names_each_hub_then_the_topic() -> None:
    assert link_value(["https://a.example/", "https://b.example/x"], "https://s.example/f") == (
        '<https://a.example/>; rel="hub", <https://b.example/x>; rel="hub", '
        '<https://s.example/f>; rel="self"'
    )


@pytest.mark.parametrize("path", CURRENT + ARCHIVES)
def test_every_feed_answer_carries_the_hubs_and_its_own_url(client: FlaskClient, path: str) -> None:
    first = client.get(path)
    assert first.status_code == 200
    assert first.headers.getlist("Link") == [expected_link(path)]
    # The same header on a compressed answer, a HEAD and a 304.
    packed = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert packed.headers.getlist("Link") == [expected_link(path)]
    assert client.head(path).headers.getlist("Link") == [expected_link(path)]
    again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.headers.getlist("Link") == [expected_link(path)]


@pytest.mark.parametrize("path", NOT_FEEDS)
def test_pages_and_calendars_carry_no_link(client: FlaskClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 200
    assert "Link" not in answer.headers


def test_without_hubs_nothing_is_advertised(write_entry: WriteEntry, make_app: MakeApp) -> None:
    # A Link with rel="self" alone would be harmless, but nothing is advertised until
    # the operator names a hub: answers stay as they were.
    write_entry("a-visit")
    client = make_app().test_client()
    for path in ("/feed.rss", "/feed.atom", "/feed.json", "/categories/visits/feed.atom"):
        answer = client.get(path)
        assert "Link" not in answer.headers
        assert b'rel="hub"' not in answer.data and b'"hubs"' not in answer.data


@pytest.mark.parametrize("path", CURRENT + ARCHIVES)
def test_feed_bodies_name_the_hubs_and_themselves(client: FlaskClient, path: str) -> None:
    body = client.get(path).data
    url = BASE_URL[:-1] + path
    if path.endswith(".json"):
        feed = json.loads(body)
        assert feed["hubs"] == [{"type": "WebSub", "url": hub} for hub in HUBS]
        assert feed["feed_url"] == url
        return
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    links = [(link["rel"], link["href"]) for link in parsed.feed.links]
    assert [href for rel, href in links if rel == "hub"] == HUBS
    assert [href for rel, href in links if rel == "self"] == [url]
    # Read as XML too: RSS carries them as atom:link; in both, one after the other, after
    # the self (and Atom's alternate) link.
    root = etree.fromstring(body)
    found = root.findall(f"channel/{{{ATOM}}}link" if path.endswith(".rss") else f"{{{ATOM}}}link")
    rels = [(link.get("rel"), link.get("href")) for link in found]
    first = rels.index(("hub", HUBS[0]))
    assert rels[first : first + len(HUBS)] == [("hub", hub) for hub in HUBS]
    assert {rel for rel, _ in rels[:first]} <= {"self", "alternate"} and ("self", url) in rels


def test_the_feed_path_pattern_matches_exactly_the_feed_documents(
    client: FlaskClient, site: Path
) -> None:
    pattern = re.compile(f"^(?:{feed_path_pattern()})$")
    snapshot = client.application.extensions["medfeed"].snapshot()
    documents = [(kind, kind.path(s)) for kind in KINDS for s in snapshot.subjects(kind)]
    assert {path for kind, path in documents if kind in TOPICS} == set(CURRENT + ARCHIVES)
    for kind, path in documents:
        assert bool(pattern.match(path)) == (kind in TOPICS), path


# --- the static build under nginx ---------------------------------------------------------


def build(entries_dir: Path, out: Path) -> None:
    result = CliRunner().invoke(
        main, ["build", str(out), "--entries", str(entries_dir)], env={"MEDFEED_BASE_URL": BASE_URL}
    )
    assert result.exit_code == 0, result.output


def serve_build(nginx: StartNginx, out: Path) -> str:  # noqa: F811 - the fixture's value
    conf = (DEPLOY / "nginx-static.conf").read_text(encoding="utf-8")
    return nginx(conf.replace("/srv/medfeed/site", str(out)))


@pytest.mark.skipif(NGINX is None, reason="nginx not found: install it to test deploy/")
def test_nginx_sends_the_apps_link_headers(
    site: Path,
    client: FlaskClient,
    tmp_path: Path,
    nginx: StartNginx,  # noqa: F811
) -> None:
    out = tmp_path / "site"
    build(site, out)
    base = serve_build(nginx, out)
    for path in CURRENT + ARCHIVES:
        app = client.get(path)
        plain = fetch(base, path)
        assert plain.status == 200
        assert plain.body == app.data
        assert plain.headers["link"] == app.headers["Link"], path
        packed = fetch(base, path, {"Accept-Encoding": "gzip"})
        assert packed.headers["link"] == app.headers["Link"]
        again = fetch(base, path, {"If-None-Match": plain.headers["etag"]})
        assert again.status == 304
        assert again.headers["link"] == app.headers["Link"]
    for path in NOT_FEEDS:
        assert "link" not in fetch(base, path).headers, path
    assert fetch(base, "/.links.map").status == 404


@pytest.mark.skipif(NGINX is None, reason="nginx not found: install it to test deploy/")
def test_nginx_sends_no_link_without_hubs(
    write_entry: WriteEntry,
    entries_dir: Path,
    tmp_path: Path,
    nginx: StartNginx,  # noqa: F811
) -> None:
    write_entry("a-visit")
    out = tmp_path / "site"
    build(entries_dir, out)
    assert b"~" not in (out / ".links.map").read_bytes()
    base = serve_build(nginx, out)
    assert fetch(base, "/feed.atom").status == 200
    assert "link" not in fetch(base, "/feed.atom").headers
