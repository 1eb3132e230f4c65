"""Entries no renderer takes: found by writing each alone, and left out of a document
that shows them, so that one entry's fault is its own, not every document's.

The entries a version has that the one before did not (``Indexes.new``: edited, added,
released) are each written alone in every feed format and the calendar before the
version is served or built (``refused``, about half a millisecond an entry): one that
fails is set aside by the publisher, whose readers keep its last good version in every
document, those made later (calendars, the archive) included. A document that still
fails (at a first start, after a bulk change, or a fault only some documents meet)
leaves out the entries it shows that fail alone (``render_without``). Pages are not
checked so: their templates are files, whose faults are no entry's (a page that cannot
be made is a 503).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import cast

from medfeed.documents import KINDS, Kind
from medfeed.errors import CacheDamaged, Problem, RenderError
from medfeed.renderers import Content, Month
from medfeed.store import Item

ALONE_KINDS = tuple(kind for kind in KINDS if kind.scope == "site" and kind.shows == "feed")
"""The documents each entry of a new version is written alone in: every feed format.
The calendar is added for entries with an event. Archive documents and category feeds
write their entries as these do (the same item writers), with other links around them."""


_SITE_KINDS = {kind.name: kind for kind in KINDS if kind.scope == "site"}


def _alone_kind(kind: Kind) -> Kind:
    """The site-wide document of the same format (a category's or a month's feed: the
    site's feed), which shows an entry alone where its subject is None."""
    return _SITE_KINDS[kind.name]


def failure_alone(content: Content, kind: Kind, item: Item) -> str | None:
    """Why a document of this kind (of its format) refuses this entry alone, or None."""
    try:
        _alone_kind(kind).render(cast(Content, _Only(content, item)), None)
    except CacheDamaged:
        raise  # no fault of the entry's: its file is read again (Publisher)
    except Exception as e:  # noqa: BLE001 - whatever a renderer raises is its entry's fault
        return str(e.__cause__ or e)
    return None


def problem(item: Item, reason: str, *, set_aside: bool = True) -> Problem:
    """The problem of an entry refused for this reason: set aside by the publisher (its
    last good version kept), or left out of the documents that refuse it."""
    then = "its last good version stays" if set_aside else "left out where it is refused"
    return Problem(item.source, "", f"cannot be rendered ({reason}); {then}")


def refused(content: Content, items: Iterable[Item], calendar: Kind) -> dict[str, Problem]:
    """The problems of those of ``items`` that a feed format, or ``calendar`` for an entry
    with an event, refuses alone, by source file."""
    found = {}
    for item in items:
        kinds = (*ALONE_KINDS, calendar) if item.head.has_event else ALONE_KINDS
        for kind in kinds:
            reason = failure_alone(content, kind, item)
            if reason is not None:
                found[item.source] = problem(item, reason)
                break
    return found


def render_without(
    content: Content,
    kind: Kind,
    subject: str | None,
    shown: Iterable[Item],
    known: Collection[str],
) -> tuple[bytes, dict[str, str]]:
    """The document without those of the entries it shows (``shown``) that its format
    refuses alone, nor those already ``known`` (by source file); and why it refused each
    entry it found so, by source file.

    Raises:
        RenderError: it fails without them too.
    """
    found = {}
    for item in shown:
        if item.source not in known:
            reason = failure_alone(content, kind, item)
            if reason is not None:
                found[item.source] = reason
    try:
        body = kind.render(cast(Content, _Without(content, {*known, *found})), subject)
    except Exception as e:  # noqa: BLE001 - a reader gets an error page, never a 500
        raise RenderError(f"{kind.path(subject)} cannot be rendered") from e
    return body, found


class _Only:
    """A content version seen with one item alone, to find which item fails."""

    def __init__(self, content: Content, item: Item) -> None:
        self._content, self._item = content, item
        self.item_texts = content.item_texts.alongside()

    def __getattr__(self, name: str) -> object:
        return getattr(self._content, name)

    def items_of(self, category: str | None) -> tuple[Item, ...]:
        return (self._item,)

    def calendar(self, category: str | None) -> tuple[Item, ...]:
        return (self._item,) if self._item.head.has_event else ()


class _Without:
    """A content version without the items no renderer takes."""

    def __init__(self, content: Content, sources: set[str]) -> None:
        self._content, self._sources = content, sources

    def __getattr__(self, name: str) -> object:
        return getattr(self._content, name)

    def _kept(self, items: tuple[Item, ...]) -> tuple[Item, ...]:
        return tuple(item for item in items if item.source not in self._sources)

    def items_of(self, category: str | None) -> tuple[Item, ...]:
        return self._kept(self._content.items_of(category))

    def calendar(self, category: str | None) -> tuple[Item, ...]:
        return self._kept(self._content.calendar(category))

    def archived(self, category: str | None, month: Month) -> tuple[Item, ...]:
        return self._kept(self._content.archived(category, month))
