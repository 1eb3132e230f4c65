"""Entry pages, written in Python inside the frame every page shares (entrypage): what a
reader's browser finds on them, for entries with every optional field and with markup
characters in every text, parsed by lxml.html."""

from __future__ import annotations

import tomllib
from typing import Any

import lxml.html
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import SITE_TOML
from helpers import items_of, valid_entries
from medfeed.documents import Subscriptions
from medfeed.entrypage import Frame
from medfeed.models import SiteConfig
from medfeed.pageparts import shows_standfirst
from medfeed.pages import FeedLink, PageRenderer
from medfeed.store import Item
from medfeed.wording import MONTHS

BASE_URL = "https://news.example.org/a&b/"
TITLES = {"visits": 'Visits & "talks" <here>', "conferences": "Conférences <&> 'all'"}


def _site() -> SiteConfig:
    data = tomllib.loads(SITE_TOML)
    data["title"] = 'News & <views> "here"'
    for category in data["categories"]:
        category["title"] = TITLES[category["slug"]]
    return SiteConfig.model_validate(data)


def _links(category: str | None) -> Subscriptions:
    where = "" if category is None else f"categories/{category}/"
    every = FeedLink("all & more", f"{BASE_URL}feeds.opml", "text/x-opml", "OPML")
    return Subscriptions(
        [
            FeedLink(f"{fmt} & more", f"{BASE_URL}{where}feed.{fmt}", "application/x", fmt.upper())
            for fmt in ("rss", "atom")
        ],
        ["RSS", "Atom"],
        every,
    )


def _url(path: str) -> str:
    return BASE_URL.rstrip("/") + path


def _text(element: Any) -> str:
    return str(element.text_content())


def _read(text: str) -> str:
    """Text as an HTML parser reads it back: every line break a line feed."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _pages(items: list[Item]) -> list[Any]:
    renderer = PageRenderer(_site(), BASE_URL, _links)
    pages = []
    for index, item in enumerate(items):
        newer = items[index - 1] if index > 0 else None
        older = items[index + 1] if index + 1 < len(items) else None
        pages.append(lxml.html.document_fromstring(renderer.entry(item, older=older, newer=newer)))
    return pages


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(valid_entries(), min_size=1, max_size=3))
@example(
    [
        {
            "title": '<b>A</b> &amp; "B"',
            "summary": "<i>s</i> &lt;",
            "content": "<em>x</em> & y",
            "published": "2016-06-21T10:00:00+02:00",
            "categories": ["conferences", "visits"],
            "authors": [{"name": "<b>N</b> & M"}],
        }
    ]
    * 2
)
def test_an_entry_page_says_what_its_entry_says(data: list[dict[str, Any]]) -> None:
    site = _site()
    items = items_of(data)
    for index, (item, page) in enumerate(zip(items, _pages(items), strict=True)):
        entry = item.entry
        assert _text(page.find(".//title")) == _read(f"{entry.title} · {site.title}")
        description = page.find(".//meta[@name='description']")
        assert description.get("content") == _read(entry.summary)
        assert page.find(".//link[@rel='canonical']").get("href") == _url(f"/entries/{item.slug}/")
        feeds = page.findall(".//link[@rel='alternate']")
        assert [(f.get("title"), f.get("href")) for f in feeds] == [
            (link.title, link.url) for link in _links(None)
        ]
        article = page.find(".//article")
        heading = article.find("h1")
        assert _text(heading) == _read(entry.title)
        assert len(heading) == 0  # markup in a title is text
        standfirst = article.find("p[@class='standfirst']")
        if shows_standfirst(entry.summary, item.content_html):
            assert _text(standfirst) == _read(entry.summary)
        else:
            assert standfirst is None
        meta = article.find("p[@class='meta']")
        times = [time.get("datetime") for time in meta.findall("time")]
        if entry.updated and entry.updated != entry.published:
            assert times[-1] == entry.updated.isoformat()
            assert "· updated" in _text(meta)
        else:
            assert "updated" not in _text(meta)
        facts = article.find("dl[@class='facts']")
        pairs = zip(facts.findall("dt"), facts.findall("dd"), strict=True)
        terms = {_text(term): said for term, said in pairs}
        shown = [c for c in site.categories if c.slug in entry.categories]
        label = "Categories" if len(shown) > 1 else "Category"
        month = f"{MONTHS[entry.published.month - 1]} {entry.published.year}"
        assert [(_text(a), a.get("href")) for a in terms[label].findall("a")] == [
            pair
            for category in shown
            for pair in (
                (category.title, _url(f"/categories/{category.slug}/")),
                (f"{month} in it", _url(
                    f"/categories/{category.slug}/archive/"
                    f"{entry.published.year:04d}/{entry.published.month:02d}/"
                )),
            )
        ]  # fmt: skip
        if entry.authors:
            assert _text(terms["By"]) == _read(", ".join(a.name for a in entry.authors))
        else:
            assert "By" not in terms
        assert ("When" in terms) == (entry.event is not None)
        assert ("Where" in terms) == (entry.event is not None and entry.event.location is not None)
        source = article.find(".//code[@class='url']")
        if entry.link:
            assert _text(source) == str(entry.link)
            assert source.getparent().get("href") == str(entry.link)
        else:
            assert source is None
        neighbours = {a.get("rel"): a for a in page.findall(".//nav[@class='neighbours']//a")}
        for rel, other in (("next", index - 1), ("prev", index + 1)):
            if 0 <= other < len(items):
                assert _text(neighbours[rel]) == _read(items[other].entry.title)
                assert neighbours[rel].get("href") == _url(f"/entries/{items[other].slug}/")
            else:
                assert rel not in neighbours


def test_entry_pages_share_the_frame_of_every_other_page() -> None:
    (item,) = items_of([{"title": "A", "summary": "B", "published": "2016-06-21T10:00:00+02:00",
                         "categories": ["visits"]}])  # fmt: skip
    renderer = PageRenderer(_site(), BASE_URL, _links)
    entry_page = lxml.html.document_fromstring(renderer.entry(item))
    home = lxml.html.document_fromstring(renderer.index([item], 1))
    for part in ("header", "footer", "style"):
        (mine,) = entry_page.findall(f".//{part}")
        (theirs,) = home.findall(f".//{part}")
        assert lxml.html.tostring(mine) == lxml.html.tostring(theirs)
    assert entry_page.find(".//html") is None  # one document: the root is <html>
    assert entry_page.get("lang") == home.get("lang") == "en"


@pytest.mark.parametrize("marks", [3, 5])
def test_a_frame_without_a_place_for_each_part_is_refused(marks: int) -> None:
    with pytest.raises(ValueError, match="4 marks"):
        Frame.around_marks("\x00".join(["x"] * (marks + 1)))
