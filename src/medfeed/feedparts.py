"""The items of a feed document written earlier, taken back as texts (ItemTexts) where
the document shows them whole: a month of the archive that one edit changed then costs
one item's text, not hundreds, in a process that did not write the others (a build's
forked processes did, or the process before a restart).

A document is spliced from its items' texts (feeds._splice, jsonfeed._splice), so it
splits back into them at the lines that open and close each item: markup inside an
item's text is escaped, and JSON strings hold no line breaks, so nothing within an item
looks like them. A document cut to fit the size limit shows some items without their
content; it is told apart from one that shows every item whole by writing its items
again from the oldest, as far as the first one with content (see ``take_back``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from functools import partial
from json.encoder import encode_basestring
from typing import Literal, NamedTuple

from medfeed.feeditems import ATOM_ENTRY, ATOM_FIELD, RSS_FIELD, RSS_ITEM, WRITERS, text
from medfeed.feeds import DOCUMENT_END
from medfeed.itemtexts import LARGEST, ItemTexts
from medfeed.jsonfeed import ITEMS_CLOSE, ITEMS_JOIN
from medfeed.jsonitems import INDENT, ITEM_INDENT, item_text
from medfeed.meta import FeedMeta
from medfeed.store import Item

FeedFormat = Literal["rss", "atom", "json"]
FEED_FORMATS: dict[str, FeedFormat] = {"rss": "rss", "atom": "atom", "json": "json"}
"""The formats whose documents split into their items, by file extension."""


class _Layout(NamedTuple):
    before: bytes
    """What comes just before the first item (the items are the document's last part)."""
    opens: bytes
    """How each item's text begins."""
    between: bytes
    """What joins two items' texts."""
    closes: bytes
    """How each item's text ends."""
    after: bytes
    """What follows the last item, to the end of the document."""
    names: Callable[[str], bytes]
    """The line of an item's text that gives its id."""


_JSON_MARGIN = b" " * ITEM_INDENT
_JSON_FIELD = " " * (ITEM_INDENT + INDENT)
LAYOUTS: dict[FeedFormat, _Layout] = {
    "rss": _Layout(b"\n", f"{RSS_ITEM}<item>\n".encode(), b"",
                   f"{RSS_ITEM}</item>\n".encode(), DOCUMENT_END["rss"],
                   lambda id: f'{RSS_FIELD}<guid isPermaLink="false">{text(id)}</guid>\n'.encode()),
    "atom": _Layout(b"\n", f"{ATOM_ENTRY}<entry>\n".encode(), b"",
                    f"{ATOM_ENTRY}</entry>\n".encode(), DOCUMENT_END["atom"],
                    lambda id: f"{ATOM_FIELD}<id>{text(id)}</id>\n".encode()),
    # ``items`` is the document's last key (jsonfeed._splice), after which it closes.
    "json": _Layout(b"\n" + b" " * INDENT + b'"items": [\n', _JSON_MARGIN + b"{\n", ITEMS_JOIN,
                    b"\n" + _JSON_MARGIN + b"}", ITEMS_CLOSE + b"\n}\n",
                    lambda id: f'{_JSON_FIELD}"id": {encode_basestring(id)},\n'.encode()),
}  # fmt: skip


def split(body: bytes, fmt: FeedFormat) -> list[bytes] | None:
    """The texts of the items of a document in ``fmt``, in order; None where it has no
    items or is not laid out as this process writes it."""
    layout = LAYOUTS[fmt]
    start = body.find(layout.before + layout.opens)
    if start < 0 or not body.endswith(layout.after):
        return None
    region = body[start + len(layout.before) : len(body) - len(layout.after)]
    boundary = layout.closes + layout.between + layout.opens
    parts = region.split(boundary)
    last = len(parts) - 1
    texts = [
        (b"" if n == 0 else layout.opens) + part + (b"" if n == last else layout.closes)
        for n, part in enumerate(parts)
    ]
    if not (texts[0].startswith(layout.opens) and texts[-1].endswith(layout.closes)):
        return None
    return texts


def writer(
    fmt: FeedFormat, meta: FeedMeta, with_content: bool = True, short: bool = False
) -> Callable[[Item], bytes]:
    """How an item's text is written in ``fmt``: whole (with its content, not shortened)
    unless told otherwise."""
    if fmt == "json":
        return lambda item: item_text(item, meta, with_content, short).encode()
    write = WRITERS[fmt]
    return lambda item: write(item, meta, with_content, short).encode()


def take_back(
    texts: ItemTexts,
    meta: FeedMeta,
    fmt: FeedFormat,
    shown: Sequence[Item],
    body: Callable[[], bytes | None],
    wanted: Collection[int],
) -> int:
    """Hold the whole texts of the items a document ``shown`` (its items, in order) as
    its ``body`` has them, for those whose ids are ``wanted`` and are not held already;
    how many were taken. Nothing where the body does not show every item whole.

    A document cut to fit shows every item (else it splits into fewer texts), and cuts
    the content of its oldest first: the newest items keep theirs, and nothing is
    shortened where any item keeps it (budget.plan). So the items are written again
    from the oldest, each compared with its text in the body, until one whose whole
    text is unlike both its texts without content (a JSON item without content shows
    its summary, which may read as its content does): that one has its content in the
    body, so every item newer than it is whole too.
    """
    context, cut = meta.item_context, (fmt, True, False)
    missing = [
        item
        for item, text in zip(shown, texts.held(context, shown, cut), strict=True)
        if text is None and id(item) in wanted
    ]
    if not missing:
        return 0
    found = body()
    parts = None if found is None else split(found, fmt)
    if parts is None or len(parts) != len(shown):
        return 0
    write = writer(fmt, meta)
    without = (writer(fmt, meta, False, False), writer(fmt, meta, False, True))
    for item, part in zip(reversed(shown), reversed(parts), strict=True):
        whole = texts.text(context, item, fmt, True, False, partial(write, item))
        if part != whole:
            return 0
        if all(whole != other(item) for other in without):
            break
    names = LAYOUTS[fmt].names
    at = {id(item): n for n, item in enumerate(shown)}
    rows = []
    for item in missing:
        part = parts[at[id(item)]]
        if names(item.id) not in part:
            return 0  # not the items the document was said to show
        if len(part) <= LARGEST:
            rows.append((context, (id(item), *cut), part))
    texts.adopt(rows, missing)
    return len(rows)
