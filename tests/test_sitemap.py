"""Sitemaps and robots.txt, validated against the sitemaps.org schemas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from medfeed.errors import RenderError
from medfeed.sitemap import (
    MAX_BYTES,
    MAX_URLS,
    SITEMAP_PATH,
    Page,
    part_path,
    render_robots,
    render_sitemaps,
    sitemap_count,
)

DATA = Path(__file__).parent / "data"
NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
BASE = "https://news.example.org/"
T0 = datetime(2015, 1, 1, tzinfo=UTC)


@cache
def schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(DATA / name)))


def valid(body: bytes, name: str) -> etree._Element:
    document = etree.fromstring(body)
    assert schema(name).validate(document), schema(name).error_log
    return document


def pages(count: int) -> list[Page]:
    """``count`` pages under BASE, each modified a second after the one before."""
    return [(f"{BASE}entries/p{i}/", T0 + timedelta(seconds=i)) for i in range(count)]


def locs(document: etree._Element, tag: str = "url") -> list[str | None]:
    return [element.findtext(f"{NS}loc") for element in document.iter(f"{NS}{tag}")]


def test_small_site_is_one_valid_urlset() -> None:
    modified = datetime(2016, 9, 16, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    given = [(BASE, modified), (f"{BASE}entries/a-visit/", T0)]
    documents = render_sitemaps(given, BASE)
    assert [path for path, _ in documents] == [SITEMAP_PATH]
    document = valid(documents[0][1], "sitemap.xsd")
    assert document.tag == f"{NS}urlset"
    assert locs(document) == [BASE, f"{BASE}entries/a-visit/"]
    lastmods = [e.text for e in document.iter(f"{NS}lastmod")]
    # The W3C datetime of each page's own time, in UTC.
    assert lastmods == ["2016-09-16T08:00:00+00:00", "2015-01-01T00:00:00+00:00"]


def test_ampersand_and_angle_brackets_in_urls_are_escaped() -> None:
    url = f"{BASE}search/?q=a&b=<c>"
    ((_, body),) = render_sitemaps([(url, T0)], BASE)
    assert b"?q=a&amp;b=&lt;c&gt;" in body
    assert locs(valid(body, "sitemap.xsd")) == [url]


def test_order_is_kept_as_given() -> None:
    given = list(reversed(pages(5)))
    ((_, body),) = render_sitemaps(given, BASE)
    assert locs(etree.fromstring(body)) == [url for url, _ in given]


def test_same_pages_same_bytes() -> None:
    assert render_sitemaps(pages(100), BASE) == render_sitemaps(pages(100), BASE)


def test_exactly_50000_urls_fit_in_one_sitemap() -> None:
    documents = render_sitemaps(pages(MAX_URLS), BASE)
    assert [path for path, _ in documents] == [SITEMAP_PATH]
    document = valid(documents[0][1], "sitemap.xsd")
    assert len(document) == MAX_URLS


def test_50001_urls_become_an_index_of_two_parts() -> None:
    given = pages(MAX_URLS + 1)
    # The newest page of the first part is not its last one.
    given[10] = (given[10][0], datetime(2020, 5, 5, tzinfo=UTC))
    documents = render_sitemaps(given, BASE)
    assert [path for path, _ in documents] == [SITEMAP_PATH, part_path(1), part_path(2)]
    assert part_path(1) == "/sitemap-1.xml"
    index = valid(documents[0][1], "siteindex.xsd")
    assert index.tag == f"{NS}sitemapindex"
    assert locs(index, "sitemap") == [f"{BASE}sitemap-1.xml", f"{BASE}sitemap-2.xml"]
    assert [e.text for e in index.iter(f"{NS}lastmod")] == [
        "2020-05-05T00:00:00+00:00",
        (T0 + timedelta(seconds=MAX_URLS)).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
    ]
    first = valid(documents[1][1], "sitemap.xsd")
    second = valid(documents[2][1], "sitemap.xsd")
    assert len(first) == MAX_URLS
    assert locs(second) == [given[-1][0]]
    assert locs(first) + locs(second) == [url for url, _ in given]


def test_parts_stay_under_the_byte_limit() -> None:
    given = pages(40)
    ((_, one),) = render_sitemaps(given[:1], BASE)
    limit = 5 * len(one)  # room for a few URLs per part
    documents = render_sitemaps(given, BASE, max_bytes=limit)
    assert len(documents) > 3
    valid(documents[0][1], "siteindex.xsd")
    listed: list[str | None] = []
    for _, body in documents[1:]:
        assert len(body) <= limit
        listed += locs(valid(body, "sitemap.xsd"))
    assert listed == [url for url, _ in given]


def _size(url: str) -> tuple[int, int]:
    """What one page adds to a sitemap, and what a sitemap holds besides its pages."""
    one = len(render_sitemaps([(url, T0)], BASE)[0][1])
    return len(render_sitemaps([(url, T0), (url, T0)], BASE)[0][1]) - one, one


@settings(max_examples=300, deadline=None)
@given(
    paths=st.lists(st.text("ab&<>/%~09", min_size=0, max_size=40), min_size=1, max_size=40),
    seconds=st.lists(st.integers(0, 10**9), min_size=40, max_size=40),
    max_urls=st.integers(1, 12),
    fill=st.integers(1, 40),
    off=st.integers(-1, 1),
)
def test_the_count_is_that_of_the_documents_rendered(
    paths: list[str], seconds: list[int], max_urls: int, fill: int, off: int
) -> None:
    # A build lists the parts before the pages are dated; any dates give as many. The
    # byte limit falls on, or a byte either side of, the end of the ``fill``-th page.
    urls = [BASE + path for path in paths]
    dated = [(url, T0 + timedelta(seconds=s)) for url, s in zip(urls, seconds, strict=False)]
    sizes = [_size(url) for url in urls]
    around = sizes[0][1] - sizes[0][0]
    limits = {"max_urls": max_urls, "max_bytes": around + sum(s for s, _ in sizes[:fill]) + off}
    try:
        rendered = len(render_sitemaps(dated, BASE, **limits))
    except RenderError as e:
        with pytest.raises(RenderError, match=str(e)[:20]):
            sitemap_count(urls, **limits)
        return
    assert sitemap_count(urls, **limits) == rendered


def test_limits_are_those_of_the_protocol() -> None:
    assert MAX_URLS == 50_000
    assert MAX_BYTES == 52_428_800


def test_index_url_follows_a_base_url_with_a_path() -> None:
    base = "https://example.org/news/"
    given = [(f"{base}entries/p{i}/", T0) for i in range(3)]
    index = etree.fromstring(render_sitemaps(given, base, max_urls=2)[0][1])
    assert locs(index, "sitemap") == [f"{base}sitemap-1.xml", f"{base}sitemap-2.xml"]


@pytest.mark.parametrize(
    "url",
    [
        "/entries/a/",
        "entries/a/",
        "https://elsewhere.example.org/a/",
        f"{BASE}a b/",
        f"{BASE}caf\u00e9/",
        f"{BASE}{'x' * 2048}",
    ],
)
def test_urls_a_sitemap_cannot_list_are_refused(url: str) -> None:
    with pytest.raises(RenderError):
        render_sitemaps([(url, T0)], BASE)


def test_naive_times_and_no_pages_are_refused() -> None:
    with pytest.raises(RenderError, match="time zone"):
        render_sitemaps([(BASE, datetime(2016, 1, 1))], BASE)
    with pytest.raises(RenderError, match="at least one"):
        render_sitemaps([], BASE)


def test_robots_allows_all_and_names_the_sitemap() -> None:
    body = render_robots(f"{BASE}sitemap.xml")
    assert body == (b"User-agent: *\nAllow: /\n\nSitemap: https://news.example.org/sitemap.xml\n")


@pytest.mark.parametrize("url", ["/sitemap.xml", f"{BASE}sitemap.xml\nDisallow: /", "sitemap.xml"])
def test_robots_refuses_a_relative_or_multi_line_url(url: str) -> None:
    with pytest.raises(RenderError):
        render_robots(url)
