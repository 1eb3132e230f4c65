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

import html
import json
import math
from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring
from typing import Any

from medfeed.budget import SHORT_AUTHORS, Cut, fit, shorten
from medfeed.errors import RenderError
from medfeed.itemtexts import ItemTexts
from medfeed.meta import MAX_FEED_BYTES, FeedMeta
from medfeed.models import Author, Event
from medfeed.store import Item
from medfeed.urls import absolute, entry_path
from medfeed.wording import item_notes

VERSION = "https://jsonfeed.org/version/1.1"
MEDIA_TYPE = "application/feed+json"
EXTENSION = "_medfeed"
"""The key of medfeed's extension object in an item; JSON Feed reserves ``_`` names."""
FAVICON_PATH = "/favicon.svg"
"""The site's icon, which the web app and the static build both serve."""
INDENT = 2
# Items sit two levels down ({"items": [...]}): each of their lines gets this much more.
ITEM_INDENT = 2 * INDENT
ITEM_SEPARATOR = len(",\n")

Json = dict[str, Any]


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
            return _item_text(item, self.meta, with_content, short).encode()

        return self.texts.text(self.meta.item_context, item, "json", with_content, short, write)


_MARGINS = tuple(" " * (ITEM_INDENT + INDENT * depth) for depth in range(5))
"""The indentation of each nesting level of an item, from the item's braces down."""


def _item_text(item: Item, meta: FeedMeta, with_content: bool, short: bool) -> str:
    """What ``_lay_out`` writes for ``_item(item, meta, with_content, short)``, written
    directly: an item's fields are known, and spelling them out takes half the time of
    laying out a dictionary (items are most of what a build writes as JSON)."""
    entry = item.entry
    m0, m1, m2, m3, m4 = _MARGINS
    text = encode_basestring
    out = [
        f'{m0}{{\n{m1}"id": {text(item.id)},\n'
        f'{m1}"url": {text(absolute(meta.base_url, entry_path(item.slug)))},\n'
    ]
    if entry.link:
        out.append(f'{m1}"external_url": {text(str(entry.link))},\n')
    out.append(
        f'{m1}"title": {text(entry.title)},\n'
        f'{m1}"content_html": {text(_body(item, with_content, short))},\n'
        f'{m1}"summary": {text(_summary(item, short))},\n'
        f'{m1}"date_published": {text(entry.published.isoformat())},\n'
    )
    if entry.updated is not None:
        out.append(f'{m1}"date_modified": {text(entry.updated.isoformat())},\n')
    authors = entry.authors or (meta.author,)
    people = []
    for author in authors[:SHORT_AUTHORS] if short else authors:
        person = f'{m2}{{\n{m3}"name": {text(author.name)}'
        if author.uri:
            person += f',\n{m3}"url": {text(str(author.uri))}'
        people.append(f"{person}\n{m2}}}")
    out.append(f'{m1}"authors": [\n' + ",\n".join(people) + f"\n{m1}],\n")
    tags = _tags(entry.categories, meta.category_titles)
    if tags:
        listed = ",\n".join(m2 + text(tag) for tag in tags)
        out.append(f'{m1}"tags": [\n{listed}\n{m1}]')
    else:
        out.append(f'{m1}"tags": []')
    if entry.event is not None:
        event = entry.event
        out.append(f',\n{m1}{text(EXTENSION)}: {{\n{m2}"event": {{\n')
        out.append(f'{m3}"start": {text(str(event.start))}')
        if event.end is not None:
            out.append(f',\n{m3}"end": {text(str(event.end))}')
        if event.location is not None:
            where = event.location
            out.append(
                f',\n{m3}"location": {{\n{m4}"place": {text(where.place)},\n'
                f'{m4}"country": {text(where.country)}'
            )
            if where.latitude is not None and where.longitude is not None:
                out.append(
                    f',\n{m4}"latitude": {_number(where.latitude)},\n'
                    f'{m4}"longitude": {_number(where.longitude)}'
                )
            out.append(f"\n{m3}}}")
        out.append(f"\n{m2}}}\n{m1}}}")
    out.append(f"\n{m0}}}")
    return "".join(out)


def _number(value: float) -> str:
    out: list[str] = []
    _lay_out(value, "", out)
    return out[0]


def _lay_out(value: object, margin: str, out: list[str]) -> None:
    """What json.dumps(value, ensure_ascii=False, indent=INDENT, allow_nan=False) writes,
    lines after the first indented by ``margin`` more, for the types items hold. The
    standard library lays out indented JSON in pure Python, through generators: this is
    the same layout in a third of the time, with its C string encoder."""
    if isinstance(value, str):
        out.append(encode_basestring(value))
    elif isinstance(value, dict):
        _lay_out_pairs(list(value.items()), margin, "{", "}", out)
    elif isinstance(value, list):
        _lay_out_pairs([(None, v) for v in value], margin, "[", "]", out)
    elif value is True or value is False or value is None:
        out.append("true" if value else "false" if value is False else "null")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"Out of range float values are not JSON compliant: {value!r}")
        out.append(float.__repr__(value))
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _lay_out_pairs(
    pairs: list[tuple[str | None, object]], margin: str, opening: str, closing: str, out: list[str]
) -> None:
    if not pairs:
        out.append(opening + closing)
        return
    inner = margin + " " * INDENT
    out.append(opening)
    for index, (key, value) in enumerate(pairs):
        out.append(("\n" if index == 0 else ",\n") + inner)
        if key is not None:
            out.append(encode_basestring(key) + ": ")
        _lay_out(value, inner, out)
    out.append("\n" + margin + closing)


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
    opened = len(b"[\n") + len(b"\n") + INDENT + len(b"]") - len(b"[]")
    return len(head) + opened + sum(map(len, parts)) + ITEM_SEPARATOR * (len(parts) - 1)


def _splice(head: bytes, parts: list[bytes]) -> bytes:
    """The document with these items: json.dumps writes "[]" for none, else "[\\n" ... "\\n  ]"."""
    if not parts:
        return head
    start, end = head.rsplit(b"[]", 1)
    return start + b"[\n" + b",\n".join(parts) + b"\n" + b" " * INDENT + b"]" + end


def render_whole(items: Sequence[Item], meta: FeedMeta, cut: Cut) -> bytes:
    """The document serialised in one json.dumps: what ``_render`` must equal."""
    document = _feed(meta)
    document["items"] = [
        _item(item, meta, index < cut.with_content, index >= cut.shortened_from)
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
    fields["authors"] = [_person(meta.author)]
    if meta.hubs:
        fields["hubs"] = [{"type": "WebSub", "url": hub} for hub in meta.hubs]
    return fields


def _item(item: Item, meta: FeedMeta, with_content: bool, short: bool) -> Json:
    entry = item.entry
    fields: Json = {"id": item.id, "url": absolute(meta.base_url, entry_path(item.slug))}
    if entry.link:
        fields["external_url"] = str(entry.link)
    fields["title"] = entry.title
    fields["content_html"] = _body(item, with_content, short)
    fields["summary"] = _summary(item, short)
    fields["date_published"] = entry.published.isoformat()
    if entry.updated is not None:
        fields["date_modified"] = entry.updated.isoformat()
    authors = entry.authors or (meta.author,)
    fields["authors"] = [_person(a) for a in (authors[:SHORT_AUTHORS] if short else authors)]
    fields["tags"] = _tags(entry.categories, meta.category_titles)
    if entry.event is not None:
        fields[EXTENSION] = {"event": _event(entry.event)}
    return fields


def _summary(item: Item, short: bool) -> str:
    return shorten(item.entry.summary) if short else item.entry.summary


def _body(item: Item, with_content: bool, short: bool) -> str:
    # The same notes as RSS and Atom content, so that the formats agree.
    before, after = item_notes(item.entry)
    if with_content and item.content_html:
        return before + item.content_html + after
    return f"{before}<p>{html.escape(_summary(item, short))}</p>{after}"


def _person(author: Author) -> Json:
    # JSON Feed authors have a name, url and avatar: an e-mail address has no place.
    person: Json = {"name": author.name}
    if author.uri:
        person["url"] = str(author.uri)
    return person


def _tags(categories: Sequence[str], titles: Mapping[str, str]) -> list[str]:
    # dict.fromkeys keeps the first of equal titles: tags must be unique, titles need not.
    return list(dict.fromkeys(titles.get(slug, slug) for slug in categories))


def _event(event: Event) -> Json:
    fields: Json = {"start": str(event.start)}
    if event.end is not None:
        fields["end"] = str(event.end)
    if event.location is not None:
        where = event.location
        place: Json = {"place": where.place, "country": where.country}
        if where.latitude is not None and where.longitude is not None:
            place["latitude"] = where.latitude
            place["longitude"] = where.longitude
        fields["location"] = place
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
                extra = _string_bytes(_body(item, True, False))
                extra -= _string_bytes(_body(item, False, False))
            self._contents[index] = extra
        return self._contents[index]
