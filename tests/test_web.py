"""The site over HTTP: media types, caching, pages, errors and headers."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.error import HTTPError

import feedparser
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from conftest import BASE_URL
from medfeed import create_app
from medfeed.errors import ConfigError

WriteEntry = Callable[..., Path]
MakeApp = Callable[..., Flask]

FEEDS = {
    "/feed.rss": "application/rss+xml; charset=utf-8",
    "/feed.atom": "application/atom+xml; charset=utf-8",
    "/categories/visits/feed.rss": "application/rss+xml; charset=utf-8",
    "/categories/conferences/feed.atom": "application/atom+xml; charset=utf-8",
}
PAGES = ["/", "/categories/visits/", "/categories/conferences/", "/entries/a-visit/"]
OUTSIDE_LINK = "https://source.example.org/x"


class Tags(HTMLParser):
    """Every start tag of a page with its attributes, and the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.head: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "head":
            self._in_head = True
        self.tags.append((tag, dict(attrs)))
        if self._in_head:
            self.head.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self._in_head = False

    def handle_data(self, data: str) -> None:
        self.text += data


def read_page(response: TestResponse) -> Tags:
    assert response.status_code == 200
    page = Tags()
    page.feed(response.get_data(as_text=True))
    page.close()
    return page


def head_feeds(page: Tags) -> set[tuple[str | None, str | None]]:
    """The feeds a page advertises in its head: (type, href)."""
    return {
        (attrs.get("type"), attrs.get("href"))
        for tag, attrs in page.head
        if tag == "link" and attrs.get("rel") == "alternate"
    }


def hrefs(page: Tags) -> set[str]:
    return {attrs["href"] or "" for tag, attrs in page.tags if tag == "a" and "href" in attrs}


def feed_pair(page_path: str) -> set[tuple[str | None, str | None]]:
    url = BASE_URL + page_path.lstrip("/")
    return {
        ("application/rss+xml", f"{url}feed.rss"),
        ("application/atom+xml", f"{url}feed.atom"),
        ("application/feed+json", f"{url}feed.json"),
        ("text/calendar", f"{url}events.ics"),
    }


def set_site(entries_dir: Path, line: str) -> None:
    path = entries_dir / "site.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace('authority = "example.org"\n', f'authority = "example.org"\n{line}\n'),
        encoding="utf-8",
    )


@pytest.fixture
def site(write_entry: WriteEntry, make_app: MakeApp) -> FlaskClient:
    """Two entries, one with an event known to the month and an outside link."""
    write_entry(
        "a-visit",
        title="A visit to Brussels",
        summary="Someone visited.",
        content="The *visit* happened in **Brussels**.",
        link=OUTSIDE_LINK,
        categories=["visits", "conferences"],
        event={"start": "2015-06", "location": {"place": "Brussels", "country": "Belgium"}},
    )
    write_entry(
        "b-conference",
        title="A conference in Rome",
        published="2016-01-01T10:00:00Z",
        updated="2016-02-01T10:00:00-05:00",
        categories=["conferences"],
    )
    return make_app().test_client()


# Media types


@pytest.mark.parametrize(("path", "content_type"), FEEDS.items())
def test_feeds_have_their_media_type(site: FlaskClient, path: str, content_type: str) -> None:
    response = site.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert feedparser.parse(response.data).bozo == 0


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_utf8_html(site: FlaskClient, path: str) -> None:
    response = site.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.get_data(as_text=True).startswith("<!doctype html>")


# Caching


@pytest.mark.parametrize("path", [*FEEDS, *PAGES])
def test_strong_etag_and_conditional_get(site: FlaskClient, path: str) -> None:
    first = site.get(path)
    etag = first.headers["ETag"]
    assert re.fullmatch(r'"[^"]+"', etag)
    assert not etag.startswith("W/")
    again = site.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    since = site.get(path, headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304
    assert since.data == b""
    stale = site.get(path, headers={"If-None-Match": '"not-the-current-version"'})
    assert stale.status_code == 200
    assert stale.data == first.data


@pytest.mark.parametrize(
    ("path", "updated"),
    [
        ("/feed.atom", "2016-02-01T10:00:00-05:00"),
        ("/feed.rss", "2016-02-01T10:00:00-05:00"),
        ("/categories/visits/feed.atom", "2015-10-12T09:00:00+02:00"),
        ("/categories/visits/feed.rss", "2015-10-12T09:00:00+02:00"),
    ],
)
def test_feed_updated_is_the_entries_and_last_modified_the_folders(
    site: FlaskClient, entries_dir: Path, path: str, updated: str
) -> None:
    response = site.get(path)
    parsed = feedparser.parse(response.data)
    raw = parsed.feed.updated
    in_feed = datetime.fromisoformat(raw) if "T" in raw else parsedate_to_datetime(raw)
    assert in_feed == datetime.fromisoformat(updated)
    # The bytes changed when the folder last did (see test_validators.py), whatever
    # dates the entries carry.
    newest = max(p.stat().st_mtime for p in [entries_dir, *entries_dir.iterdir()])
    modified = parsedate_to_datetime(response.headers["Last-Modified"])
    assert modified.timestamp() == int(newest)


def test_an_older_if_modified_since_gets_the_feed(site: FlaskClient) -> None:
    response = site.get(
        "/feed.atom", headers={"If-Modified-Since": "Sun, 31 Jan 2016 00:00:00 GMT"}
    )
    assert response.status_code == 200
    assert response.data


@pytest.mark.parametrize("path", ["/feed.atom", "/"])
def test_head_sends_headers_without_body(site: FlaskClient, path: str) -> None:
    full = site.get(path)
    head = site.head(path)
    assert head.status_code == 200
    assert head.data == b""
    for name in ("Content-Type", "ETag", "Last-Modified", "Cache-Control"):
        assert head.headers[name] == full.headers[name]


def test_cache_control_defaults_to_five_minutes(site: FlaskClient) -> None:
    for path in [*FEEDS, *PAGES]:
        directives = {d.strip() for d in site.get(path).headers["Cache-Control"].split(",")}
        assert {"public", "max-age=300"} <= directives, path


def test_site_toml_max_age_sets_cache_control(
    entries_dir: Path, write_entry: WriteEntry, make_app: MakeApp
) -> None:
    write_entry()
    set_site(entries_dir, "max_age = 3600")
    client = make_app().test_client()
    for path in ("/feed.rss", "/"):
        directives = {d.strip() for d in client.get(path).headers["Cache-Control"].split(",")}
        assert "max-age=3600" in directives
        assert "max-age=300" not in directives


# Pages


def test_home_page_advertises_and_lists_every_feed(site: FlaskClient) -> None:
    page = read_page(site.get("/"))
    assert head_feeds(page) == feed_pair("/")
    links = hrefs(page)
    for slug in ("visits", "conferences"):
        assert f"{BASE_URL}categories/{slug}/" in links
        assert {href for _, href in feed_pair(f"/categories/{slug}/")} <= links
    assert {href for _, href in feed_pair("/")} <= links
    assert f"{BASE_URL}entries/a-visit/" in links
    assert f"{BASE_URL}entries/b-conference/" in links
    assert "A visit to Brussels" in page.text
    assert "A conference in Rome" in page.text
    # Newest first.
    assert page.text.index("A conference in Rome") < page.text.index("A visit to Brussels")


def test_category_page_advertises_its_own_feeds(site: FlaskClient) -> None:
    page = read_page(site.get("/categories/visits/"))
    assert head_feeds(page) == feed_pair("/categories/visits/")
    assert "A visit to Brussels" in page.text
    assert "A conference in Rome" not in page.text


def test_entry_page_shows_the_entry(site: FlaskClient) -> None:
    page = read_page(site.get("/entries/a-visit/"))
    text = " ".join(page.text.split())
    assert "A visit to Brussels" in text
    assert "12 October 2015" in text
    assert "June 2015" in text
    assert "Brussels, Belgium" in text
    assert "Someone visited." in text
    assert "The visit happened in Brussels." in text
    links = hrefs(page)
    assert f"{BASE_URL}categories/visits/" in links
    assert f"{BASE_URL}categories/conferences/" in links
    assert OUTSIDE_LINK in links
    published = [a for tag, a in page.tags if tag == "time"]
    assert {"datetime": "2015-10-12T09:00:00+02:00"} in published


# Errors


NOT_FOUND = [
    "/categories/nope/",
    "/categories/nope/feed.rss",
    "/entries/nope/",
    "/feed.xml",
    "/events.json",
    "/entries/a-visit/feed.rss",
    "/categories/visits/feed.xml",
    "/categories/UPPER/",
    "/entries/A-VISIT/",
]


@pytest.mark.parametrize("path", NOT_FOUND)
def test_unknown_paths_get_a_small_html_404(site: FlaskClient, path: str) -> None:
    response = site.get(path)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    body = response.get_data(as_text=True)
    assert "<h1>Not found</h1>" in body or "404" in body
    assert len(response.data) < 16_000
    assert "Traceback" not in body


ODD = [
    "/%00",
    "/..%2f..",
    "/../../etc/passwd",
    "/?q=%ff",
    "/?q=%00",
    "/entries/",
    "/entries/%ff/",
    "/entries/..%2f/",
    "/categories/%00/feed.rss",
    "/categories/visits/feed.rss?x=<script>",
    "/" + "a" * 10_000,
    "/entries/" + "a-" * 3_000 + "a/",
    "/categories/",
    "//",
    "/feed.atom/",
    "/%e2%80%ae/",
]


@pytest.mark.parametrize("path", ODD)
def test_odd_paths_never_give_a_server_error(site: FlaskClient, path: str) -> None:
    response = site.get(path)
    assert response.status_code < 500
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_other_methods_are_not_allowed(site: FlaskClient, method: str) -> None:
    response = getattr(site, method)("/")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"


# Security headers and outside hosts


@pytest.mark.parametrize("path", [*PAGES, "/entries/nope/"])
def test_pages_send_protective_headers(site: FlaskClient, path: str) -> None:
    response = site.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    policy = {
        part.split()[0]: part.split()[1:]
        for part in response.headers["Content-Security-Policy"].split(";")
        if part.strip()
    }
    assert policy["default-src"] == ["'none'"]
    assert policy.get("script-src", ["'none'"]) == ["'none'"]
    assert policy.get("script-src-elem", ["'none'"]) == ["'none'"]


@pytest.mark.parametrize("path", FEEDS)
def test_feeds_are_not_sniffed(site: FlaskClient, path: str) -> None:
    assert site.get(path).headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", [*PAGES, "/entries/nope/"])
def test_pages_load_nothing_from_other_hosts(site: FlaskClient, path: str) -> None:
    response = site.get(path)
    page = Tags()
    page.feed(response.get_data(as_text=True))
    urls = [
        value or ""
        for _, attrs in page.tags
        for name, value in attrs.items()
        if name in ("src", "href", "action", "srcset", "poster", "data")
    ]
    assert urls
    for url in urls:
        if re.match(r"(?i)^(https?:)?//", url):
            assert url.startswith(BASE_URL) or url == OUTSIDE_LINK, url
        else:
            # mailto: links, and webcal: for calendar programs (this site's own calendar).
            local = url.startswith(("mailto:", "webcal://" + BASE_URL.split("://")[1]))
            assert not re.match(r"(?i)^[a-z][a-z0-9+.-]*:", url) or local, url
    assert not any(tag in ("script", "iframe", "img", "object") for tag, _ in page.tags)


# Start-up


def test_a_broken_entry_does_not_break_the_app(
    entries_dir: Path, write_entry: WriteEntry, make_app: MakeApp
) -> None:
    write_entry("good-one", title="Good one")
    (entries_dir / "broken.json").write_text('{"title": "Broken", ', encoding="utf-8")
    write_entry("no-offset", title="No offset", published="2015-10-12T09:00:00")
    client = make_app().test_client()
    for path in ["/", "/entries/good-one/", *FEEDS]:
        assert client.get(path).status_code == 200, path
    parsed = feedparser.parse(client.get("/feed.atom").data)
    assert [e.title for e in parsed.entries] == ["Good one"]
    assert client.get("/entries/broken/").status_code == 404


def test_broken_site_toml_raises_config_error(entries_dir: Path, make_app: MakeApp) -> None:
    (entries_dir / "site.toml").write_text('title = "Unclosed\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        make_app()
    assert "site.toml" in str(info.value)


def test_invalid_site_toml_raises_config_error(entries_dir: Path, make_app: MakeApp) -> None:
    set_site(entries_dir, "item_limit = 0")
    with pytest.raises(ConfigError) as info:
        make_app()
    assert "item_limit" in str(info.value)


@pytest.mark.parametrize("base_url", ["not a url", "ftp://example.org/", "https://x.org/?a=1"])
def test_bad_base_url_raises_config_error(make_app: MakeApp, base_url: str) -> None:
    with pytest.raises(ConfigError):
        make_app(BASE_URL=base_url)


def test_environment_base_url_overrides_site_toml(
    entries_dir: Path, write_entry: WriteEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_entry()
    monkeypatch.setenv("MEDFEED_BASE_URL", "https://env.example.net/news/")
    client = create_app({"ENTRIES_DIR": str(entries_dir)}).test_client()
    parsed = feedparser.parse(client.get("/feed.atom").data)
    assert parsed.entries[0].link == "https://env.example.net/news/entries/a-visit/"
    selves = [link.href for link in parsed.feed.links if link.rel == "self"]
    assert selves == ["https://env.example.net/news/feed.atom"]
    assert b"site.example.org" not in client.get("/").data


def test_site_toml_base_url_applies_without_a_setting(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry()
    client = create_app({"ENTRIES_DIR": str(entries_dir)}).test_client()
    parsed = feedparser.parse(client.get("/feed.rss").data)
    assert parsed.entries[0].link == "https://site.example.org/entries/a-visit/"


# A real server


def test_real_server_serves_atom_and_honours_if_none_match(
    write_entry: WriteEntry, make_app: MakeApp, serve: Callable[[Flask], str]
) -> None:
    write_entry()
    base = serve(make_app())
    with urllib.request.urlopen(f"{base}/feed.atom", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
        etag = response.headers["ETag"]
        body = response.read()
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0
    assert [e.link for e in parsed.entries] == [f"{BASE_URL}entries/a-visit/"]
    request = urllib.request.Request(f"{base}/feed.atom", headers={"If-None-Match": etag})
    with pytest.raises(HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    try:
        assert info.value.code == 304
        assert info.value.read() == b""
    finally:
        info.value.close()
