"""The whole history: with a small item_limit, every entry is reachable from / by links,
every feed's archive chain (RFC 5005) yields each of its entries once, and archives that
are full never change as entries arrive.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree

from conftest import BASE_URL

WriteEntry = Callable[..., Path]
MakeApp = Callable[..., Flask]
FH = "http://purl.org/syndication/history/1.0"
ATOM = "http://www.w3.org/2005/Atom"
SCOPES = ["/", "/categories/visits/", "/categories/conferences/"]


def local(url: str) -> str:
    assert url.startswith(BASE_URL), url
    return "/" + url.removeprefix(BASE_URL)


def many(write_entry: WriteEntry, count: int, start_month: int = 1) -> list[str]:
    """``count`` entries, two a month from January 2014, alternately visits and conferences."""
    slugs = []
    for n in range(count):
        month = start_month + n // 2
        year, month = 2014 + (month - 1) // 12, (month - 1) % 12 + 1
        slug = f"entry-{n:03d}"
        category = ["visits"] if n % 2 else ["conferences", "visits"]
        write_entry(
            slug,
            title=f"Entry {n}",
            published=f"{year:04d}-{month:02d}-{10 + n % 2:02d}T09:00:00+00:00",
            categories=category,
        )
        slugs.append(slug)
    return slugs


@pytest.fixture
def small_limit(entries_dir: Path) -> None:
    site = entries_dir / "site.toml"
    site.write_text("item_limit = 3\n" + site.read_text(encoding="utf-8"), encoding="utf-8")


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href" and v]


def crawl(client: FlaskClient) -> set[str]:
    """Every page reachable from / by following the site's own links."""
    seen, queue = set(), ["/"]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path)
        assert response.status_code == 200, path
        parser = Links()
        parser.feed(response.get_data(as_text=True))
        for href in parser.hrefs:
            if href.startswith(BASE_URL):
                target = local(href.split("#")[0])
                if target.endswith("/") and target not in seen:
                    queue.append(target)
    return seen


@pytest.mark.usefixtures("small_limit")
def test_a_crawler_from_the_home_page_reaches_every_entry(
    write_entry: WriteEntry, make_app: MakeApp
) -> None:
    slugs = many(write_entry, 20)
    seen = crawl(make_app().test_client())
    assert {f"/entries/{slug}/" for slug in slugs} <= seen


def atom_chain(client: FlaskClient, url: str) -> list[list[str]]:
    """The ids of each document from a current Atom feed back through prev-archive."""
    pages, seen_urls = [], set()
    while url:
        assert url not in seen_urls, "the chain loops"
        seen_urls.add(url)
        body = client.get(local(url)).data
        root = etree.fromstring(body)
        pages.append([e.findtext(f"{{{ATOM}}}id") for e in root.findall(f"{{{ATOM}}}entry")])
        links = {a.get("rel"): a.get("href") for a in root.findall(f"{{{ATOM}}}link")}
        archive = root.find(f"{{{FH}}}archive") is not None
        if len(pages) > 1:
            assert archive, url
            assert links.get("current"), url
        else:
            assert not archive and "current" not in links
        url = links.get("prev-archive") or ""
    return pages


def rss_chain(client: FlaskClient, url: str) -> list[list[str]]:
    pages = []
    while url:
        parsed = feedparser.parse(client.get(local(url)).data)
        assert parsed.bozo == 0
        pages.append([e.id for e in parsed.entries])
        rels = {a.get("rel"): a.get("href") for a in parsed.feed.get("links", [])}
        url = rels.get("prev-archive") or ""
    return pages


def json_chain(client: FlaskClient, url: str) -> list[list[str]]:
    pages, seen = [], set()
    while url:
        assert url not in seen
        seen.add(url)
        document = json.loads(client.get(local(url)).data)
        assert document.get("next_url") != document["feed_url"]
        pages.append([item["id"] for item in document["items"]])
        url = document.get("next_url") or ""
    return pages


def all_ids(client: FlaskClient, scope: str) -> list[str]:
    """Every visible entry of a scope, newest first, from its pages (not its feeds)."""
    return [e.id for e in feedparser.parse(client.get(scope + "feed.atom").data).entries]


@pytest.mark.usefixtures("small_limit")
@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("chain", [atom_chain, rss_chain, json_chain], ids=["atom", "rss", "json"])
def test_following_the_archives_yields_every_entry_once_newest_first(
    write_entry: WriteEntry,
    make_app: MakeApp,
    scope: str,
    chain: Callable[[FlaskClient, str], list[list[str]]],
) -> None:
    many(write_entry, 20)
    client = make_app().test_client()
    ext = {atom_chain: "atom", rss_chain: "rss", json_chain: "json"}[chain]
    pages = chain(client, f"{BASE_URL}{scope.lstrip('/')}feed.{ext}")
    ids = [i for page in pages for i in page]
    expected = 20 if scope != "/categories/conferences/" else 10
    assert len(ids) == len(set(ids)) == expected
    numbers = [int(re.sub(r"\D", "", i.rsplit(":", 1)[1])) for i in ids]
    assert numbers == sorted(numbers, reverse=True), "newest to oldest"
    assert len(pages[0]) == 3, "the current feed keeps item_limit entries"


@pytest.mark.usefixtures("small_limit")
def test_full_archives_keep_their_bytes_and_validators_as_entries_arrive(
    entries_dir: Path, write_entry: WriteEntry, make_app: MakeApp
) -> None:
    many(write_entry, 20)
    app = make_app()
    publisher, client = app.extensions["medfeed"], app.test_client()

    def archives() -> dict[str, tuple[bytes, str, str]]:
        found = {}
        for url in urls:
            reply = client.get(local(url))
            found[url] = (reply.data, reply.headers["ETag"], reply.headers["Last-Modified"])
        return found

    # Every archive document but the newest of each chain: those are full.
    urls = [
        url
        for scope in SCOPES
        for fmt in ("atom", "rss", "json")
        for url in chain_urls(client, f"{BASE_URL}{scope.lstrip('/')}feed.{fmt}", fmt)[1:]
    ]
    assert len(urls) >= 30
    before = archives()
    for url in urls:
        assert "max-age=604800" in client.get(local(url)).headers["Cache-Control"], url
    # Six newer entries: the current feeds and the newest archives change, full ones not.
    for n in range(20, 26):
        published = f"2016-{n - 8:02d}-01T00:00:00Z"
        write_entry(f"entry-{n:03d}", title=f"Entry {n}", published=published)
    publisher.refresh(None)
    assert archives() == before


def chain_urls(client: FlaskClient, url: str, fmt: str) -> list[str]:
    """The archive documents (not the current feed) of a chain."""
    urls = []
    while True:
        body = client.get(local(url)).data
        if fmt == "json":
            url = json.loads(body).get("next_url") or ""
        else:
            found = re.search(rb'href="([^"]+)" rel="prev-archive"', body) or re.search(
                rb'rel="prev-archive"[^>]*href="([^"]+)"', body
            )
            url = found[1].decode() if found else ""
        if not url:
            return urls
        urls.append(url)


@pytest.mark.usefixtures("small_limit")
def test_archive_pages_list_every_entry_of_their_period(
    write_entry: WriteEntry, make_app: MakeApp
) -> None:
    many(write_entry, 8)
    client = make_app().test_client()
    page = client.get("/archive/2014/02/").get_data(as_text=True)
    assert "Entry 2" in page and "Entry 3" in page and "Entry 4" not in page
    year = client.get("/archive/2014/").get_data(as_text=True)
    assert all(f"Entry {n}<" in year for n in range(8))
    index = client.get("/archive/").get_data(as_text=True)
    assert "February</a>&nbsp;(2)" in index
    assert client.get("/archive/2013/").status_code == 404
    assert client.get("/archive/2014/12/").status_code == 404
    assert client.get("/archive").status_code == 308
    category = client.get("/categories/conferences/archive/2014/").get_data(as_text=True)
    assert "Entry 0<" in category and "Entry 1<" not in category
    # Each archive page advertises the feeds of its scope.
    assert f'href="{BASE_URL}categories/conferences/feed.atom"' in category


@pytest.mark.usefixtures("small_limit")
def test_entry_pages_link_their_neighbours_and_their_months(
    write_entry: WriteEntry, make_app: MakeApp
) -> None:
    many(write_entry, 4)
    page = make_app().test_client().get("/entries/entry-001/").get_data(as_text=True)
    assert f'href="{BASE_URL}entries/entry-002/" rel="next"' in page
    assert f'href="{BASE_URL}entries/entry-000/" rel="prev"' in page
    assert f'href="{BASE_URL}categories/visits/archive/2014/01/"' in page
    assert f'href="{BASE_URL}archive/2014/01/"' in page
