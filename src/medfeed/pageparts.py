"""The pieces of HTML pages that are not templates: dates in ``<time>`` elements, the
paths of archive pages, and whether an entry page leads with its summary.
"""

from __future__ import annotations

import re
import unicodedata
from html import unescape
from html.parser import HTMLParser

from markupsafe import Markup, escape

from medfeed.models import Entry, Event
from medfeed.wording import MONTHS, date_label, date_pieces, published_on


def archive_path(category: str | None, year: int | None = None, month: int | None = None) -> str:
    """The archive page of a category (None: the site), of a year, or of a month."""
    folder = "/archive/" if category is None else f"/categories/{category}/archive/"
    if year is None:
        return folder
    return f"{folder}{year:04d}/" if month is None else f"{folder}{year:04d}/{month:02d}/"


def month_name(month: int) -> str:
    """The English name of a month, 1 to 12."""
    return MONTHS[month - 1]


# Written here, not in templates, with markupsafe's escape (C) and plain string joins:
# lists of thousands of entries (see PageRenderer._listed) cost a tenth of what a Jinja
# macro did, and Markup.format, whose formatter is Python, is avoided too.


def _time(stamp: str, text: str) -> str:
    return f'<time datetime="{escape(stamp)}">{escape(text)}</time>'


def published_html(entry: Entry) -> Markup:
    """When an entry was published, as pages write it: its day, or only its month."""
    on = published_on(entry)
    stamp = entry.published.isoformat() if on.day else str(on)
    return Markup("Published&nbsp;" + _time(stamp, date_label(on)))


def event_dates_html(event: Event) -> Markup:
    """``event_dates`` with each date in a ``<time datetime>`` element."""
    return Markup(
        "".join(
            _time(str(when), text) if when else str(escape(text))
            for text, when in date_pieces(event.start, event.end)
        )
    )


# Tags within a line of text: every other tag separates words.
_INLINE = frozenset(
    {"a", "abbr", "b", "cite", "code", "del", "em", "i", "ins", "kbd", "q", "s", "small",
     "strong", "sub", "sup", "u"}
)  # fmt: skip


class _Text(HTMLParser):
    """The text of an HTML fragment, with a space wherever a block starts or ends."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _INLINE:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        self.handle_starttag(tag, [])

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


STANDFIRST_STEP = 256
STANDFIRST_FACTOR = 2
"""Characters of content HTML read at a time to compare its beginning with the summary:
this many times the summary's length, and at least STANDFIRST_STEP."""


def _normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


_TAG = re.compile(r"""<(/?)([a-zA-Z][^\t\n\r\f />\x00]*)((?:[^>"']|"[^"]*"|'[^']*')*)>""")
"""A start, end or empty tag whose attribute values, if any, are quoted: all there is of
markup in sanitised HTML (nh3 writes no comments, and quotes every value)."""
_RAW_TEXT = frozenset({"script", "style"})
"""Tags whose content _Text reads as text, markup and all."""
_ENTITY_MARGIN = 40
"""Characters at the end of a piece's text that may be wrong: a piece can end inside a
character reference (the longest are 33 characters) or before combining characters."""


def _markup_text(html: str) -> str | None:
    """What _Text reads of ``html``, or None where it holds markup other than quoted
    tags (comments, declarations, a stray ``<``, raw text elements): left to _Text."""
    parts: list[str] = []
    at = 0
    while (start := html.find("<", at)) >= 0:
        parts.append(unescape(html[at:start]))
        tag = _TAG.match(html, start)
        if tag is None:
            return None
        name = tag.group(2).lower()
        if name in _RAW_TEXT:
            return None
        if name not in _INLINE:
            parts.append(" ")
        at = tag.end()
    parts.append(unescape(html[at:]))
    return "".join(parts)


def _text_start(html: str, step: int, needed: int) -> str | None:
    """The normalised text of the start of ``html``: more than ``needed`` characters of
    it where it has them, else all of it; None where _Text must read it.

    Read a piece at a time, as _Text reads it, with a regular expression in place of
    Python's HTML parser (half the cost); a piece ends before a tag it cuts."""
    end = 0
    while True:
        end += step
        piece = html[:end]
        whole = end >= len(html)
        if not whole:
            cut = piece.rfind("<")
            if cut > piece.rfind(">"):
                piece = piece[:cut]
        text = _markup_text(piece)
        if text is None:
            return None
        normal = _normal(text)
        if whole:
            return normal
        if len(normal) > needed + _ENTITY_MARGIN:
            return normal[: len(normal) - _ENTITY_MARGIN]


def shows_standfirst(summary: str, content_html: str) -> bool:
    """Whether an entry page leads with its summary: not where the content starts with it.

    Compared as plain text, ignoring case, markup and runs of white space, so a summary
    repeated as the content's first paragraph (or its first words) is shown once. The
    content must go on at a word boundary: "A visit" does not start "A visitor came".
    """
    lead = _normal(summary)
    if not lead:
        return True
    # Only the content's beginning matters: it is read a piece at a time until its text
    # goes two characters past the summary's length (the last of a piece may combine
    # with what follows it, and the one after the summary decides the word boundary).
    step = max(STANDFIRST_STEP, STANDFIRST_FACTOR * len(summary))
    found = _text_start(content_html, step, len(lead) + 1)
    if found is not None:
        text = found
    else:
        reader = _Text()
        for start in range(0, len(content_html), step):
            reader.feed(content_html[start : start + step])
            text = _normal("".join(reader.parts))
            if len(text) > len(lead) + 1:
                break
        else:
            reader.close()
            text = _normal("".join(reader.parts))
    if not text.startswith(lead):
        return True
    rest = text[len(lead) :]
    return bool(rest) and rest[0].isalnum() and lead[-1].isalnum()
