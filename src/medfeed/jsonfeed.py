"""Render items as a JSON Feed 1.1 document: the same items, order and cuts as RSS and Atom.

Where the spec (https://www.jsonfeed.org/version/1.1/) leaves a choice:
- tags are the categories' titles, not their slugs: JSON Feed tags are plain text that
  readers show to people, and a feed has no scheme to turn a slug into a page;
- date_modified is written only where the entry has ``updated``: it says the item was
  changed after publication, and readers fall back to date_published without it (Atom
  must always have an updated time; JSON Feed need not claim a change that never was);
- content_html is never empty: readers show it, not the summary, in their detail view,
  so an item without content (or whose content did not fit) carries its summary there;
- an event goes into the ``_medfeed`` extension object, as the entry file writes it. It
  has no ``about`` URL: no public page documents it yet, and pointing at the site's home
  page would say that it does. Readers ignore extensions they do not know either way;
- items carry no ``language``: entries have none of their own, so each is the feed's;
- JSON Feed has no archives (RFC 5005), only ``next_url`` for the next page: it is the
  next older archive, so a reader pages from the current feed back in time. An archive
  document says nothing more: no ``next_url`` to a newer one, no link to the current feed.

Each item is serialised once per content version (see ItemTexts) and spliced into every
document that shows it: the bytes are those of json.dumps of the whole document, which
``render_whole`` still writes for the tests to compare.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from medfeed.budget import Cut, fit
from medfeed.errors import RenderError
from medfeed.itemtexts import ItemTexts
from medfeed.jsonitems import INDENT, Json, body, item_fields, item_text, person
from medfeed.meta import MAX_FEED_BYTES, FeedMeta
from medfeed.store import Item
from medfeed.urls import absolute

VERSION = "https://jsonfeed.org/version/1.1"
MEDIA_TYPE = "application/feed+json"
FAVICON_PATH = "/favicon.svg"
"""The site's icon, which the web app and the static build both serve."""
ITEMS_JOIN = b",\n"
"""What json.dumps writes between two items of a list."""
ITEMS_CLOSE = b"\n" + b" " * INDENT + b"]"
"""What json.dumps writes after the last item of the document's ``items``."""
ITEM_SEPARATOR = len(ITEMS_JOIN)


def render_json_feed(
    items: Sequence[Item], meta: FeedMeta, texts: ItemTexts | None = None
) -> bytes:
    """Render a JSON Feed 1.1 of these items (newest first) as bytes under MAX_FEED_BYTES.

    What does not fit is cut as in the RSS and Atom feeds (see medfeed.budget): content
    of the oldest first, then long summaries and author lists, then the oldest items.
    Deterministic: UTF-8, keys in a fixed order, indented, a final newline.

    Raises:
        RenderError: the input cannot be written as JSON, which validation prevents, or
            ``meta.archive`` pages the document to itself.
    """
    if meta.archive is not None and meta.archive.prev_archive == meta.self_url:
        # The spec forbids it: a reader following next_url would never stop.
        raise RenderError(f"cannot render {meta.self_url}: next_url would be the feed_url")
    written = _Written(meta, ItemTexts() if texts is None else texts)
    try:
        # Nearly always everything fits: then the items written in full are the document.
        head = _dump({**_feed(meta), "items": []})
        parts = [written.item(item, True, False) for item in items]
        if _spliced_size(head, parts) <= MAX_FEED_BYTES:
            return _splice(head, parts)
        sizes = _Sizes(items, meta, written)
        return fit(
            lambda cut: _render(items, meta, cut, written), sizes, len(items), MAX_FEED_BYTES
        )
    except ValueError as e:  # NaN coordinates or an unpaired surrogate: both refused earlier
        raise RenderError(f"cannot render {meta.self_url}: {e}") from e


class _Written:
    """Items serialised as they stand in a document's ``items`` list, each once."""

    def __init__(self, meta: FeedMeta, texts: ItemTexts) -> None:
        self.meta, self.texts = meta, texts

    def item(self, item: Item, with_content: bool, short: bool) -> bytes:
        def write() -> bytes:
            return item_text(item, self.meta, with_content, short).encode()

        return self.texts.text(self.meta.item_context, item, "json", with_content, short, write)


def _render(items: Sequence[Item], meta: FeedMeta, cut: Cut, written: _Written) -> bytes:
    shown = items[: cut.count]
    parts = [
        written.item(item, index < cut.with_content, index >= cut.shortened_from)
        for index, item in enumerate(shown)
    ]
    return _splice(_dump({**_feed(meta), "items": []}), parts)


def _spliced_size(head: bytes, parts: list[bytes]) -> int:
    """len(_splice(head, parts)), without putting it together."""
    if not parts:
        return len(head)
    opened = len(b"[\n") + len(ITEMS_CLOSE) - len(b"[]")
    return len(head) + opened + sum(map(len, parts)) + ITEM_SEPARATOR * (len(parts) - 1)


def _splice(head: bytes, parts: list[bytes]) -> bytes:
    """The document with these items: json.dumps writes "[]" for none, else "[\\n" ... "\\n  ]"."""
    if not parts:
        return head
    start, end = head.rsplit(b"[]", 1)
    return start + b"[\n" + ITEMS_JOIN.join(parts) + ITEMS_CLOSE + end


def render_whole(items: Sequence[Item], meta: FeedMeta, cut: Cut) -> bytes:
    """The document serialised in one json.dumps: what ``_render`` must equal."""
    document = _feed(meta)
    document["items"] = [
        item_fields(item, meta, index < cut.with_content, index >= cut.shortened_from)
        for index, item in enumerate(items[: cut.count])
    ]
    return _dump(document)


def _dump(value: Json) -> bytes:
    # Keys stay in the order they were added (version first, as the spec asks); text
    # stays UTF-8 rather than \u escapes; no NaN, which JSON does not have.
    return (json.dumps(value, ensure_ascii=False, indent=INDENT, allow_nan=False) + "\n").encode()


def _feed(meta: FeedMeta) -> Json:
    """The feed's own fields, in the order written; items come after them.

    New feed-level fields (next_url, hubs) belong here: the size estimate measures
    whatever this returns, so nothing else needs to know about them.
    """
    fields: Json = {
        "version": VERSION,
        "title": meta.title,
        "home_page_url": meta.page_url,
        "feed_url": meta.self_url,
        "description": meta.description,
    }
    if meta.archive is not None and meta.archive.prev_archive is not None:
        fields["next_url"] = meta.archive.prev_archive
    fields["language"] = meta.language
    fields["favicon"] = absolute(meta.base_url, FAVICON_PATH)
    fields["authors"] = [person(meta.author)]
    if meta.hubs:
        fields["hubs"] = [{"type": "WebSub", "url": hub} for hub in meta.hubs]
    return fields


def _string_bytes(text: str) -> int:
    return len(json.dumps(text, ensure_ascii=False).encode())


class _Sizes:
    """A document's size from its parts, each serialised alone: exact, give or take the
    last item's separator, except where an item keeps its content but has its summary
    shortened (then the retry in budget.fit makes up the difference)."""

    def __init__(
        self, items: Sequence[Item], meta: FeedMeta, written: _Written | None = None
    ) -> None:
        self.items, self.meta = items, meta
        self.written = _Written(meta, ItemTexts()) if written is None else written
        # With items, '"items": []' opens to '"items": [\n' ... '\n  ]'.
        self.feed = len(_dump({**_feed(meta), "items": []})) + 2 + INDENT
        self._items: dict[tuple[int, bool], int] = {}
        self._contents: dict[int, int] = {}

    def item(self, index: int, short: bool) -> int:
        """An item with its summary in place of its content, as the document has it."""
        key = (index, short)
        if key not in self._items:
            if short:
                text = self.written.item(self.items[index], False, True)
                self._items[key] = len(text) + ITEM_SEPARATOR
            else:
                # Written with its content, as most items are rendered: written once.
                text = self.written.item(self.items[index], True, False)
                extra = self.content(index)
                self._items[key] = len(text) - extra + ITEM_SEPARATOR
        return self._items[key]

    def content(self, index: int) -> int:
        """What keeping its content adds; renders its Markdown if that was not done yet."""
        if index not in self._contents:
            item = self.items[index]
            extra = 0
            if item.content_html:
                extra = _string_bytes(body(item, True, False))
                extra -= _string_bytes(body(item, False, False))
            self._contents[index] = extra
        return self._contents[index]
