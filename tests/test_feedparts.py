"""A feed document written earlier gives back its items' texts (feedparts.py) only where
they are the texts its items have whole: for any valid entries, any cut the size budget
makes, any format, a text taken back is the one the writer writes, and a whole document
gives back every item's, so that the document rendered again from them is the same bytes.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from helpers import items_of, valid_entries
from medfeed import feeds, jsonfeed
from medfeed.budget import Cut
from medfeed.feedparts import FeedFormat, split, take_back, writer
from medfeed.itemtexts import ItemTexts
from medfeed.store import Item
from test_feeditems import ARCHIVES, _meta, _site

FORMATS: tuple[FeedFormat, ...] = ("rss", "atom", "json")


def planned(count: int) -> st.SearchStrategy[Cut]:
    """The cuts budget.plan makes of ``count`` items: the oldest lose their content; or
    no content is kept and the oldest are shortened; or, shortened, the oldest go
    (test_budget checks that it makes no other)."""
    n = st.integers(0, count)
    return st.one_of(
        n.map(lambda kept: Cut(count, kept, count)),
        n.map(lambda shortened: Cut(count, 0, shortened)),
        st.integers(min(count, 1), count).map(lambda shown: Cut(shown, 0, 0)),
    )


def render(items: list[Item], fmt: FeedFormat, cut: Cut, texts: ItemTexts, archive: Any) -> bytes:
    meta = _meta(_site(), fmt, archive, ())
    if fmt == "json":
        return jsonfeed._render(items, meta, cut, jsonfeed._Written(meta, texts))
    return feeds._render(items, meta, fmt, cut, texts)


def taken(texts: ItemTexts) -> dict[tuple[str, tuple[str, bool, bool]], bytes]:
    return {(item.slug, cut): text for _, item, cut, text in texts.rows()}


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(valid_entries(), min_size=1, max_size=5), ARCHIVES, st.data())
def test_a_text_taken_back_is_the_items_whole_text_whatever_the_planned_cut(
    data: list[dict[str, Any]], archive: Any, draw: st.DataObject
) -> None:
    items = items_of(data)
    cut = draw.draw(planned(len(items)))
    for fmt in FORMATS:
        meta = _meta(_site(), fmt, archive, ())
        body = render(items, fmt, cut, ItemTexts(), archive)
        texts = ItemTexts()
        count = take_back(texts, meta, fmt, items, lambda body=body: body, {id(i) for i in items})
        write = writer(fmt, meta)
        for (slug, held_cut), text in taken(texts).items():
            item = next(i for i in items if i.slug == slug)
            assert held_cut == (fmt, True, False)
            assert text == write(item), (fmt, cut, slug)
        whole = cut == Cut(len(items), len(items), len(items))
        if whole:
            assert count == len(items), (fmt, "a whole document gives back every item")
        assert count <= len(items)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(valid_entries(), min_size=1, max_size=5), ARCHIVES)
def test_a_whole_document_splits_into_its_items_and_renders_again_the_same(
    data: list[dict[str, Any]], archive: Any
) -> None:
    items = items_of(data)
    whole = Cut(len(items), len(items), len(items))
    for fmt in FORMATS:
        meta = _meta(_site(), fmt, archive, ())
        body = render(items, fmt, whole, ItemTexts(), archive)
        assert split(body, fmt) == [writer(fmt, meta)(item) for item in items]
        texts = ItemTexts()
        take_back(texts, meta, fmt, items, lambda body=body: body, {id(i) for i in items})
        assert None not in texts.held(meta.item_context, items, (fmt, True, False))
        assert render(items, fmt, whole, texts, archive) == body


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(valid_entries(), min_size=2, max_size=5), st.data())
def test_a_document_of_other_items_gives_nothing_back(
    data: list[dict[str, Any]], draw: st.DataObject
) -> None:
    items = items_of(data)
    assume(len({item.id for item in items}) == len(items))  # as a catalog has them
    others = draw.draw(st.permutations(items).filter(lambda order: order != items))
    whole = Cut(len(items), len(items), len(items))
    for fmt in FORMATS:
        meta = _meta(_site(), fmt, None, ())
        body = render(items, fmt, whole, ItemTexts(), None)
        texts = ItemTexts()
        # Told it shows them in another order (or fewer), it takes nothing back.
        for shown in (others, items[1:]):
            wanted = {id(i) for i in items}
            assert take_back(texts, meta, fmt, shown, lambda b=body: b, wanted) == 0
        written = taken(texts)
        assert all(text == writer(fmt, meta)(next(i for i in items if i.slug == slug))
                   for (slug, _), text in written.items())  # fmt: skip


def test_what_is_not_a_feed_document_gives_nothing_back() -> None:
    items = items_of(
        [
            {
                "title": "T",
                "summary": "S",
                "categories": ["visits"],
                "published": "2016-06-01T10:00:00Z",
            }
        ]
    )
    for fmt in FORMATS:
        meta = _meta(_site(), fmt, None, ())
        body = render(items, fmt, Cut(1, 1, 1), ItemTexts(), None)
        for broken in (b"", b"<rss/>", body[: len(body) // 2], body + b"\n", None):
            texts = ItemTexts()
            assert take_back(texts, meta, fmt, items, lambda b=broken: b, {id(items[0])}) == 0
            assert list(texts.rows()) == []


def test_a_cut_document_whose_oldest_item_has_no_content_gives_back_no_cut_text() -> None:
    # The oldest item reads the same cut or whole: it tells nothing of the newer ones.
    items = items_of([
        {"title": "Newer", "summary": "S", "content": "Long *content*.", "categories": ["visits"],
         "published": "2016-06-02T10:00:00Z"},
        {"title": "Older", "summary": "S", "categories": ["visits"],
         "published": "2016-06-01T10:00:00Z"},
    ])  # fmt: skip
    newer = items[0]
    for fmt in FORMATS:
        meta = _meta(_site(), fmt, None, ())
        cut = render(items, fmt, Cut(2, 0, 2), ItemTexts(), None)  # no content kept
        texts = ItemTexts()
        assert take_back(texts, meta, fmt, items, lambda b=cut: b, {id(i) for i in items}) == 0
        held = texts.held(meta.item_context, [newer], (fmt, True, False))[0]
        assert held in (None, writer(fmt, meta)(newer)), fmt  # written to compare
        assert b"Long" not in cut and b"Long" in render(items, fmt, Cut(2, 2, 2), texts, None)


def test_a_cut_document_whose_oldest_content_reads_as_its_summary_gives_back_no_cut_text() -> None:
    # A JSON item without content shows its summary as HTML: "0" as content or as the
    # summary reads alike, so the oldest item tells nothing of the newer, shortened one.
    items = items_of([
        {"title": "0", "summary": "0", "content": "0", "categories": ["visits"],
         "published": "2000-01-01T00:00:00+00:00"},
        {"title": "0", "summary": "0", "categories": ["visits"],
         "published": "2000-01-01T00:00:00+00:00", "authors": [{"name": "0"}] * 11},
    ])  # fmt: skip
    for fmt in FORMATS:
        meta = _meta(_site(), fmt, None, ())
        body = render(items, fmt, Cut(2, 0, 0), ItemTexts(), None)  # no content, shortened
        texts = ItemTexts()
        take_back(texts, meta, fmt, items, lambda b=body: b, {id(i) for i in items})
        for (slug, _), text in taken(texts).items():
            assert text == writer(fmt, meta)(next(i for i in items if i.slug == slug)), fmt
