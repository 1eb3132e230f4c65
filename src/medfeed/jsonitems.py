"""One JSON Feed item: as a dictionary (for json.dumps of a whole document, which the
tests compare with) and as the text json.dumps writes for it at its place in a document,
written directly (see ``item_text``).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring
from typing import Any

from medfeed.budget import SHORT_AUTHORS, shorten
from medfeed.meta import FeedMeta
from medfeed.models import Author, Event
from medfeed.store import Item
from medfeed.urls import absolute, entry_path
from medfeed.wording import item_notes

EXTENSION = "_medfeed"
"""The key of medfeed's extension object in an item; JSON Feed reserves ``_`` names."""
INDENT = 2
# Items sit two levels down ({"items": [...]}): each of their lines gets this much more.
ITEM_INDENT = 2 * INDENT

Json = dict[str, Any]


_MARGINS = tuple(" " * (ITEM_INDENT + INDENT * depth) for depth in range(5))
"""The indentation of each nesting level of an item, from the item's braces down."""


def item_text(item: Item, meta: FeedMeta, with_content: bool, short: bool) -> str:
    """What json.dumps writes for ``item_fields(item, meta, with_content, short)`` at an
    item's place in a document, written directly: an item's fields are known, and
    spelling them out takes half the time of laying out a dictionary (items are most of
    what a build writes as JSON)."""
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
        f'{m1}"content_html": {text(body(item, with_content, short))},\n'
        f'{m1}"summary": {text(summary(item, short))},\n'
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
    # As json.dumps writes numbers; NaN and infinities never pass validation.
    return int.__repr__(value) if isinstance(value, int) else float.__repr__(value)


def item_fields(item: Item, meta: FeedMeta, with_content: bool, short: bool) -> Json:
    entry = item.entry
    fields: Json = {"id": item.id, "url": absolute(meta.base_url, entry_path(item.slug))}
    if entry.link:
        fields["external_url"] = str(entry.link)
    fields["title"] = entry.title
    fields["content_html"] = body(item, with_content, short)
    fields["summary"] = summary(item, short)
    fields["date_published"] = entry.published.isoformat()
    if entry.updated is not None:
        fields["date_modified"] = entry.updated.isoformat()
    authors = entry.authors or (meta.author,)
    fields["authors"] = [person(a) for a in (authors[:SHORT_AUTHORS] if short else authors)]
    fields["tags"] = _tags(entry.categories, meta.category_titles)
    if entry.event is not None:
        fields[EXTENSION] = {"event": _event(entry.event)}
    return fields


def summary(item: Item, short: bool) -> str:
    return shorten(item.entry.summary) if short else item.entry.summary


def body(item: Item, with_content: bool, short: bool) -> str:
    # The same notes as RSS and Atom content, so that the formats agree.
    before, after = item_notes(item.entry)
    if with_content and item.content_html:
        return before + item.content_html + after
    return f"{before}<p>{html.escape(summary(item, short))}</p>{after}"


def person(author: Author) -> Json:
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
