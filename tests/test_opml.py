"""The OPML 2.0 subscription list, read back with lxml and with listparser."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

import listparser
import pytest
from lxml import etree

from conftest import BASE_URL, SITE_TOML, WriteEntry
from helpers import age_folder
from medfeed.documents import OPML
from medfeed.errors import RenderError
from medfeed.opml import OPML_DOCS, Outline, render_opml
from medfeed.settings import Settings
from medfeed.site import Publisher

BASE = "https://news.example.org/"
MODIFIED = datetime(2016, 9, 16, 10, 0, tzinfo=timezone(timedelta(hours=2)))
FORMATS = [("RSS", "rss", "RSS2"), ("Atom", "atom", ""), ("JSON Feed", "json", "")]
"""Each format's name, extension and OPML version, as the table of documents gives them."""


def site_outlines() -> list[Outline]:
    """What the site passes: every entry and each category, in each format."""
    pages = [("Test News", BASE), ("Test News: Visits", f"{BASE}categories/visits/")]
    return [
        Outline(f"{title} ({name})", f"{page}feed.{extension}", page, version)
        for title, page in pages
        for name, extension, version in FORMATS
    ]


def render(outlines: list[Outline] | None = None, title: str = "Test News") -> bytes:
    return render_opml(title, MODIFIED, BASE, site_outlines() if outlines is None else outlines)


def test_document_is_opml_2_with_the_head_the_spec_names() -> None:
    root = etree.fromstring(render())
    assert root.tag == "opml"
    assert root.get("version") == "2.0"
    assert [child.tag for child in root] == ["head", "body"]
    assert root.findtext("head/title") == "Test News"
    assert root.findtext("head/docs") == OPML_DOCS
    assert root.findtext("head/ownerId") == BASE
    modified = root.findtext("head/dateModified")
    assert modified == "Fri, 16 Sep 2016 08:00:00 GMT"
    assert parsedate_to_datetime(modified) == MODIFIED


def test_every_outline_is_a_flat_rss_subscription_with_absolute_urls() -> None:
    root = etree.fromstring(render())
    outlines = root.findall("body/outline")
    body = root.find("body")
    assert body is not None
    assert len(outlines) == 6
    assert outlines == list(body)  # flat: no folders
    for outline, expected in zip(outlines, site_outlines(), strict=True):
        assert outline.get("type") == "rss"
        assert outline.get("text") == outline.get("title") == expected.title
        assert outline.get("xmlUrl") == expected.xml_url
        assert outline.get("htmlUrl") == expected.html_url
        assert outline.get("xmlUrl", "").startswith(BASE)
        assert outline.get("version") == (expected.version or None)
        assert len(outline) == 0


def test_listparser_reads_every_feed() -> None:
    parsed = listparser.parse(render())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "opml2"
    assert parsed.meta.title == "Test News"
    assert parsed.meta.modified_parsed == MODIFIED.astimezone(UTC)
    assert [(feed.url, feed.title) for feed in parsed.feeds] == [
        (outline.xml_url, outline.title) for outline in site_outlines()
    ]
    assert all(feed.categories == [] for feed in parsed.feeds)


def test_attributes_and_texts_are_escaped() -> None:
    awkward = "Q&A <live> \"quoted\" 'single' tab\tnew\nline"
    url = f"{BASE}feed.rss?tag=a&b<c>"
    body = render([Outline(awkward, url, BASE, "RSS2")], title="News & <Views>")
    assert b"News &amp; &lt;Views&gt;" in body
    assert b"feed.rss?tag=a&amp;b&lt;c&gt;" in body
    outline = etree.fromstring(body).find("body/outline")
    assert outline is not None
    assert outline.get("text") == outline.get("title") == awkward
    assert outline.get("xmlUrl") == url
    parsed = listparser.parse(body)
    assert [(feed.title, feed.url) for feed in parsed.feeds] == [(awkward, url)]
    assert parsed.meta.title == "News & <Views>"


def test_same_input_same_bytes() -> None:
    assert render() == render()
    assert render().startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<opml")


def test_order_is_kept_as_given() -> None:
    reversed_outlines = list(reversed(site_outlines()))
    urls = [o.get("xmlUrl") for o in etree.fromstring(render(reversed_outlines)).iter("outline")]
    assert urls == [o.xml_url for o in reversed_outlines]


def test_empty_list_is_still_a_document() -> None:
    parsed = listparser.parse(render([]))
    assert not parsed.bozo
    assert parsed.feeds == []


@pytest.mark.parametrize(
    "outline",
    [
        Outline("Relative", "/feed.rss", BASE, "RSS2"),
        Outline("No scheme", "news.example.org/feed.rss", BASE),
        Outline("Relative page", f"{BASE}feed.rss", "/"),
        Outline("Other scheme", "ftp://news.example.org/feed.rss", BASE, "RSS2"),
    ],
)
def test_relative_or_odd_urls_are_refused(outline: Outline) -> None:
    with pytest.raises(RenderError, match="absolute"):
        render([outline])


def test_naive_date_is_refused() -> None:
    with pytest.raises(RenderError, match="time zone"):
        render_opml("Test News", datetime(2016, 9, 16), BASE, site_outlines())


def test_text_xml_cannot_carry_is_a_render_error() -> None:
    with pytest.raises(RenderError):
        render([Outline("bell\x07", f"{BASE}feed.rss", BASE, "RSS2")])


# --- the site's list: it shows the site's settings, and is dated by them ----------------


def served_opml(live: Publisher) -> tuple[bytes, datetime]:
    doc = live.snapshot().document_of(OPML, None)
    parsed = listparser.parse(doc.body)
    assert not parsed.bozo and parsed.feeds
    modified = parsedate_to_datetime(etree.fromstring(doc.body).findtext("head/dateModified"))
    return doc.body, modified


@pytest.mark.parametrize("change", ["new entry", "edit", "draft", "touch", "delete"])
def test_what_entries_do_leaves_the_list_and_its_date_as_they_are(
    entries_dir: Path, write_entry: WriteEntry, change: str
) -> None:
    write_entry("a-visit")
    write_entry("b-visit", title="B", published="2015-11-12T09:00:00Z")
    age_folder(entries_dir)
    site_time = (entries_dir / "site.toml").stat().st_mtime
    settings = Settings(entries_dir=entries_dir, base_url=BASE_URL, watch=False)
    live = Publisher(settings, deletion_grace=0)
    body, modified = served_opml(live)
    assert modified.timestamp() == int(site_time)  # not the newest entry's time

    path = entries_dir / "a-visit.json"
    if change == "new entry":
        write_entry("c-visit", title="C", published="2015-12-12T09:00:00Z")
    elif change in ("edit", "draft"):
        write_entry("a-visit", title="A, again", draft=change == "draft")
    elif change == "touch":
        os.utime(path)  # now: a different second from the hour-old one
    else:
        path.unlink()
    live.refresh()
    # A restart that knows nothing of the files (no entry cache) dates them by their mtimes.
    fresh = entries_dir.parent / "another-state"
    restarted = Publisher(Settings(entries_dir, BASE_URL, watch=False, state_dir=fresh))
    assert restarted.snapshot().changed_at.timestamp() > site_time + 60  # the folder changed
    assert served_opml(live) == served_opml(restarted) == (body, modified)


def test_a_new_site_title_is_listed_and_dated_when_site_toml_changed(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit")
    age_folder(entries_dir)
    live = Publisher(Settings(entries_dir=entries_dir, base_url=BASE_URL, watch=False))
    _, before = served_opml(live)
    site = entries_dir / "site.toml"
    site.write_text(SITE_TOML.replace("Test News", "Other News"), encoding="utf-8")
    live.refresh()
    body, modified = served_opml(live)
    assert modified > before and modified.timestamp() == int(site.stat().st_mtime)
    assert listparser.parse(body).meta.title == "Other News"
