"""Items written as text (feeditems.py, jsonfeed's spliced items) are byte for byte what
feedgen and one json.dumps of the whole document write, for any valid entries, any cut,
any feed document (current or archive, with hubs or not); and an item shown in several
documents of one content version is written once.
"""

from __future__ import annotations

import os
import pickle
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import BASE_URL, SITE_TOML
from helpers import items_of, valid_entries
from medfeed import feeds, jsonfeed
from medfeed.budget import Cut
from medfeed.feeditems import attribute, rfc2822, text
from medfeed.itemtexts import ItemTexts
from medfeed.meta import Archive, FeedMeta
from medfeed.models import SiteConfig
from medfeed.settings import Settings
from medfeed.site import Publisher
from medfeed.store import Item
from medfeed.urls import absolute

CATEGORY_TITLES = {"visits": 'Visits & "talks" <here>', "conferences": "Conférences\tand\nmore"}


def _site() -> SiteConfig:
    site = SiteConfig.model_validate(tomllib.loads(SITE_TOML))
    categories = [c.model_copy(update={"title": CATEGORY_TITLES[c.slug]}) for c in site.categories]
    return site.model_copy(update={"categories": tuple(categories)})


def _meta(site: SiteConfig, fmt: str, archive: Archive | None, hubs: tuple[str, ...]) -> FeedMeta:
    return FeedMeta(
        id=f"tag:{site.authority},2000:feed",
        title=site.title,
        description=site.description,
        base_url=BASE_URL,
        self_url=absolute(BASE_URL, f"2016/06/feed.{fmt}" if archive else f"feed.{fmt}"),
        page_url=absolute(BASE_URL, ""),
        language=site.language,
        author=site.author,
        category_titles={c.slug: c.title for c in site.categories},
        archive=archive,
        hubs=hubs,
    )


ARCHIVES = st.sampled_from([
    None,
    Archive(prev_archive=absolute(BASE_URL, "2016/05/feed")),
    Archive(prev_archive=absolute(BASE_URL, "2016/05/feed"),
            next_archive=absolute(BASE_URL, "2016/07/feed"), current=absolute(BASE_URL, "feed")),
])  # fmt: skip
HUBS = st.sampled_from([(), ("https://hub.example.org/",), ("https://a.example/h", "http://b/")])


@st.composite
def cuts(draw: st.DrawFn, count: int) -> Cut:
    shown = draw(st.integers(min(count, 1), count))
    return Cut(shown, draw(st.integers(0, shown)), draw(st.integers(0, shown)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(valid_entries(), max_size=4), ARCHIVES, HUBS, st.data())
def test_written_items_are_what_feedgen_writes(
    data: list[dict[str, Any]], archive: Archive | None, hubs: tuple[str, ...], draw: st.DataObject
) -> None:
    items = items_of(data)
    cut = draw.draw(cuts(len(items)))
    site = _site()
    for fmt in ("rss", "atom"):
        meta = _meta(site, fmt, archive, hubs)
        written = feeds._render(items, meta, fmt, cut, ItemTexts())
        assert written == feeds.render_with_feedgen(items, meta, fmt, cut)
    meta = _meta(site, "json", archive, hubs)
    written = jsonfeed._render(items, meta, cut, jsonfeed._Written(meta, ItemTexts()))
    assert written == jsonfeed.render_whole(items, meta, cut)


@settings(max_examples=40, deadline=None)
@given(st.lists(valid_entries(), min_size=1, max_size=3))
def test_whole_documents_within_the_size_limit_match_too(data: list[dict[str, Any]]) -> None:
    # Through render_feed, with its size plan: the same document either way.
    items = items_of(data)
    site = _site()
    for fmt in ("rss", "atom"):
        meta = _meta(site, fmt, None, ())
        whole = feeds.render_with_feedgen(items, meta, fmt, Cut(len(items), len(items), len(items)))
        assert feeds.render_feed(items, meta, fmt) == whole


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2016, 9, 16, tzinfo=UTC),
        datetime(1901, 1, 1, 23, 59, 59, tzinfo=timezone(timedelta(hours=-11, minutes=-30))),
        datetime(9998, 12, 30, 0, 0, 1, 999_999, tzinfo=timezone(timedelta(hours=5, minutes=45))),
    ],
)
def test_rss_dates_are_strftime_in_the_c_locale(moment: datetime) -> None:
    assert rfc2822(moment) == moment.strftime("%a, %d %b %Y %H:%M:%S %z")


def test_escaping_is_libxml2s() -> None:
    from lxml import etree

    value = "a & b < c > d \" e ' f \t g \n h \r i é"
    element = etree.Element("x", y=value)
    element.text = value
    assert (
        etree.tostring(element, encoding="unicode")
        == f'<x y="{attribute(value)}">{text(value)}</x>'
    )


def test_an_item_in_several_documents_is_written_once() -> None:
    days = range(1, 4)
    items = items_of([{"title": f"T{i}", "summary": "S", "categories": ["visits"],
                       "published": f"2016-06-0{i}T10:00:00+02:00"} for i in days])  # fmt: skip
    site = _site()
    texts = ItemTexts()
    site_meta = _meta(site, "atom", None, ())
    first = feeds.render_feed(items, site_meta, "atom", texts)
    assert len(texts) == 3
    category_meta = FeedMeta(**{**site_meta.__dict__, "title": "Visits"})
    feeds.render_feed(items[:2], category_meta, "atom", texts)
    assert len(texts) == 3  # the category's items were written for the site's feed
    assert feeds.render_feed(items, site_meta, "atom", texts) == first
    # Another base URL is another context: nothing written for the first is reused.
    elsewhere = FeedMeta(**{**site_meta.__dict__, "base_url": "https://elsewhere.example.net/"})
    moved = feeds.render_feed(items, elsewhere, "atom", texts)
    assert len(texts) == 6
    assert b"https://elsewhere.example.net/entries/" in moved
    assert BASE_URL.encode() + b"entries/" not in moved


def test_texts_written_in_a_forked_process_are_adopted_for_the_same_items() -> None:
    data = [{"title": f"T{i}", "summary": "S", "categories": ["visits"],
             "published": f"2016-06-0{i}T10:00:00+02:00"} for i in (1, 2, 3)]  # fmt: skip
    items = items_of(data)
    meta = _meta(_site(), "atom", None, ())
    child = ItemTexts()
    child.made = []
    jsonfeed.render_json_feed(items, _meta(_site(), "json", None, ()), child)
    mark = len(child.made)
    feeds.render_feed(items[:2], meta, "atom", child)
    jsonfeed.render_json_feed(items, _meta(_site(), "json", None, ()), child)  # had them
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child sends what it made and leaves
        with os.fdopen(write, "wb") as out:
            pickle.dump(child.made_since(mark, ("atom",)), out)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as source:
        exported = pickle.load(source)
    os.waitpid(pid, 0)
    assert [key[1] for _, key, _ in exported] == ["atom", "atom"], "one format, two items"
    assert child.made_since(0, ("json",)), "the earlier ones are there to send too"
    parent = ItemTexts()
    parent.adopt(exported, items[1:])  # the first item is not among these
    assert len(parent) == 1
    writes: list[str] = []

    def never(*args: object) -> bytes:
        writes.append("written")
        return b""

    assert parent.text(meta.item_context, items[1], "atom", True, False, never) == (
        child.text(meta.item_context, items[1], "atom", True, False, never)
    )
    assert writes == []


def test_an_edited_item_is_written_again() -> None:
    (item,) = items_of([{"title": "Old", "summary": "S", "published": "2016-06-01T10:00:00+02:00",
                       "categories": ["visits"]}])  # fmt: skip
    edited = Item(item.slug, item.source, item.entry.model_copy(update={"title": "New"}), item.id)
    texts = ItemTexts()
    meta = _meta(_site(), "json", None, ())
    assert b'"Old"' in jsonfeed.render_json_feed([item], meta, texts)
    again = jsonfeed.render_json_feed([edited], meta, texts)
    assert b'"New"' in again and b'"Old"' not in again


def test_a_new_content_version_keeps_what_was_written_of_unchanged_entries(
    entries_dir: Path, write_entry: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    for day in range(1, 5):
        write_entry(
            f"visit-{day}", title=f"Visit {day}", published=f"2015-10-0{day}T10:00:00+02:00"
        )
    publisher = Publisher(Settings(entries_dir=entries_dir, base_url=BASE_URL, watch=False))
    first = publisher.snapshot()
    assert len(first.item_texts) == 4 * 3  # four entries in three formats, for the feeds
    assert b"Visit 1" in first.page("/archive/2015/10/").body
    write_entry("visit-2", title="Visit two, edited", published="2015-10-02T10:00:00+02:00")
    writes: list[str] = []
    for fmt, write in list(feeds.WRITERS.items()):

        def counted(item: Item, *args: Any, write: Any = write) -> str:
            writes.append(item.slug)
            return str(write(item, *args))

        monkeypatch.setitem(feeds.WRITERS, fmt, counted)
    assert publisher.refresh({"visit-2.json"})
    second = publisher.snapshot()
    assert second is not first
    assert writes == ["visit-2", "visit-2"]  # RSS and Atom, the edited entry only
    # What was written of the entry before its edit is left behind with the old version:
    # the feeds' texts of all four, and the list entries of the three others.
    assert len(second.item_texts) == 4 * 3 + 3
    for fmt in ("rss", "atom", "json"):
        body = second.feed(None, fmt).body
        assert b"Visit two, edited" in body and b"Visit 2<" not in body and b'"Visit 2"' not in body
    listed = second.page("/archive/2015/10/").body
    assert b"Visit two, edited" in listed and b"Visit 1" in listed
    assert b">Visit 2<" not in listed
