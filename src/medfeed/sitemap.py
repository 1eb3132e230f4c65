"""The sitemaps.org sitemap of a site's pages, and the robots.txt that points at it.

A sitemap holds at most 50,000 URLs and 50 MB. A site within both gets one document at
/sitemap.xml. A bigger one gets numbered parts, /sitemap-1.xml, /sitemap-2.xml, ...,
each filled in the order given, and /sitemap.xml becomes the index of those parts, so
the address given to crawlers never changes. Every ``lastmod`` comes from the content
(each page's own last modification, each part's newest), never from the build time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from medfeed.errors import RenderError
from medfeed.urls import absolute

SITEMAP_PATH = "/sitemap.xml"
ROBOTS_PATH = "/robots.txt"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
MAX_URLS = 50_000
"""The most URLs one sitemap may list, and the most parts one index may name."""
MAX_BYTES = 50 * 1024 * 1024
"""The most bytes one sitemap may have, uncompressed: 52,428,800."""
MAX_URL_CHARS = 2048
"""The schema's limit on a ``loc``."""

_HEAD = f'<?xml version="1.0" encoding="UTF-8"?>\n<{{root}} xmlns="{SITEMAP_NS}">\n'
_URLSET_HEAD = _HEAD.format(root="urlset").encode()
_URLSET_TAIL = b"</urlset>\n"
_INDEX_HEAD = _HEAD.format(root="sitemapindex").encode()
_INDEX_TAIL = b"</sitemapindex>\n"
# Printable ASCII only: a URL that needs anything else must arrive percent-encoded, and
# no space or line break can end a robots.txt line early.
_URL = re.compile(r"https?://[!-~]+", re.ASCII)

Page = tuple[str, datetime]
"""A page's absolute URL and its last modification."""


def part_path(number: int) -> str:
    """The site path of the numbered part of a sitemap too big for one document."""
    return f"/sitemap-{number}.xml"


def _url(url: str) -> str:
    if not _URL.fullmatch(url) or len(url) > MAX_URL_CHARS:
        raise RenderError(
            f"a sitemap URL must be an absolute http(s) URL in printable ASCII of at most "
            f"{MAX_URL_CHARS} characters, not {url[:100]!r}"
        )
    return url


def _w3c(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise RenderError(f"a sitemap lastmod needs a time zone, not {moment.isoformat()}")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _entry(tag: str, url: str, modified: datetime) -> bytes:
    loc = escape(_url(url), quote=False)
    return f"  <{tag}><loc>{loc}</loc><lastmod>{_w3c(modified)}</lastmod></{tag}>\n".encode()


def _room(max_bytes: int) -> int:
    """What a sitemap of at most ``max_bytes`` has for its entries."""
    return max_bytes - len(_URLSET_HEAD) - len(_URLSET_TAIL)


def _parts(lengths: list[int], max_urls: int, max_bytes: int) -> list[tuple[int, int]]:
    """Split entries of these lengths, in order, into (start, end) runs that each fit
    one document."""
    room = _room(max_bytes)
    parts: list[tuple[int, int]] = []
    start, size = 0, 0
    for index, length in enumerate(lengths):
        if length > room:
            raise RenderError(f"one sitemap entry alone is over {max_bytes} bytes")
        if index - start == max_urls or size + length > room:
            parts.append((start, index))
            start, size = index, 0
        size += length
    parts.append((start, len(lengths)))
    return parts


def sitemap_count(
    urls: Sequence[str], *, max_urls: int = MAX_URLS, max_bytes: int = MAX_BYTES
) -> int:
    """How many documents ``render_sitemaps`` makes of pages at these URLs, worked out
    without writing them: every ``lastmod`` is written at one length."""
    if not urls:
        return 1
    around = len(_entry("url", "http://x/", datetime(2000, 1, 1, tzinfo=UTC))) - len("http://x/")
    room = _room(max_bytes)
    fits = len(urls) <= max_urls and len(urls) * around + 5 * sum(map(len, urls)) <= room
    if fits and all(map(_URL.fullmatch, urls)) and max(map(len, urls)) <= MAX_URL_CHARS:
        return 1  # however each URL escapes (a character at most five: "&amp;")
    sizes = [around + len(escape(_url(url), quote=False)) for url in urls]
    runs = _runs(sizes, max_urls, max_bytes)
    return 1 if len(runs) == 1 else len(runs) + 1


def _runs(lengths: list[int], max_urls: int, max_bytes: int) -> list[tuple[int, int]]:
    room = _room(max_bytes)
    if len(lengths) <= max_urls and sum(lengths) <= room:
        return [(0, len(lengths))]  # one document: every entry fits, each within the room
    runs = _parts(lengths, max_urls, max_bytes)
    if len(runs) > max_urls:
        raise RenderError(f"{len(lengths)} pages need more than {max_urls} sitemaps")
    return runs


def render_sitemaps(
    pages: Sequence[Page],
    base_url: str,
    *,
    max_urls: int = MAX_URLS,
    max_bytes: int = MAX_BYTES,
    lines: dict[str, tuple[datetime, bytes]] | None = None,
) -> list[tuple[str, bytes]]:
    """Every sitemap document of these pages, as (site path, bytes); the first is
    /sitemap.xml. Pages keep the order given, and the same pages give the same bytes.
    ``lines``: each page's line by URL, with its date, written by an earlier call and
    kept for the next (a site of 100,000 pages changes a few at a time).

    Raises:
        RenderError: no pages, a URL that is not absolute or not under ``base_url``, or
            a naive time.
    """
    if not pages:
        raise RenderError("a sitemap lists at least one page")
    # The protocol lets a sitemap list only URLs under the directory it is served from.
    home = absolute(base_url, "/")
    for url, _ in pages:
        if not url.startswith(home):
            raise RenderError(f"{url!r} is not under {home!r}, so a sitemap cannot list it")
    if lines is None:
        entries = [_entry("url", url, modified) for url, modified in pages]
    else:
        entries = []
        for url, modified in pages:
            known = lines.get(url)
            if known is None or known[0] != modified:
                known = lines[url] = (modified, _entry("url", url, modified))
            entries.append(known[1])
    runs = _runs(list(map(len, entries)), max_urls, max_bytes)
    if len(runs) == 1:
        return [(SITEMAP_PATH, _URLSET_HEAD + b"".join(entries) + _URLSET_TAIL)]
    documents: list[tuple[str, bytes]] = []
    index: list[bytes] = []
    for number, (start, end) in enumerate(runs, start=1):
        path = part_path(number)
        documents.append((path, _URLSET_HEAD + b"".join(entries[start:end]) + _URLSET_TAIL))
        newest = max(modified for _, modified in pages[start:end])
        index.append(_entry("sitemap", absolute(base_url, path), newest))
    return [(SITEMAP_PATH, _INDEX_HEAD + b"".join(index) + _INDEX_TAIL), *documents]


def render_robots(sitemap_url: str) -> bytes:
    """A robots.txt that allows every crawler everything and names the sitemap.

    Raises:
        RenderError: the sitemap URL is not absolute.
    """
    return f"User-agent: *\nAllow: /\n\nSitemap: {_url(sitemap_url)}\n".encode()
