"""The site's feeds as an OPML 2.0 subscription list, for importing into a feed reader.

The list is flat: one ``<outline type="rss">`` per feed directly under ``<body>``.
FreshRSS and Miniflux import nested outlines as one level of categories and newsboat
turns them into tags, but every reader imports a flat list the same way, and each
outline's title already names its category and format.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from lxml import etree

from medfeed.errors import RenderError

OPML_DOCS = "http://opml.org/spec2.opml"
_ABSOLUTE = re.compile(r"https?://[^\s/?#]+[^\s]*", re.ASCII)


@dataclass(frozen=True)
class Outline:
    """One feed in the list: its title, its URL, the page it belongs to, its version."""

    title: str
    xml_url: str
    html_url: str
    version: str = ""
    """The ``version`` attribute: the OPML 2.0 spec names values for RSS only ("RSS2"),
    so other formats have none ("")."""


def _absolute(url: str, what: str) -> str:
    if not _ABSOLUTE.fullmatch(url):
        raise RenderError(f"OPML {what} must be an absolute http(s) URL, not {url!r}")
    return url


def _rfc822(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise RenderError("OPML dateModified needs a time zone")
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def render_opml(
    title: str, modified: datetime, home_url: str, outlines: Sequence[Outline]
) -> bytes:
    """An OPML 2.0 document listing these feeds in the order given; deterministic.

    ``modified`` becomes ``dateModified`` (RFC 822) and ``home_url`` the ``ownerId``.
    Every outline is ``type="rss"``, whatever its format: that is the type readers import.

    Raises:
        RenderError: a URL is not absolute, the date is naive, or a text cannot be XML.
    """
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    try:
        etree.SubElement(head, "title").text = title
        etree.SubElement(head, "dateModified").text = _rfc822(modified)
        etree.SubElement(head, "ownerId").text = _absolute(home_url, "ownerId")
        etree.SubElement(head, "docs").text = OPML_DOCS
        body = etree.SubElement(root, "body")
        for outline in outlines:
            attributes = {"type": "rss", "text": outline.title, "title": outline.title}
            attributes["xmlUrl"] = _absolute(outline.xml_url, "xmlUrl")
            attributes["htmlUrl"] = _absolute(outline.html_url, "htmlUrl")
            if outline.version:
                attributes["version"] = outline.version
            etree.SubElement(body, "outline", attributes)
    except ValueError as e:  # lxml refuses control characters and the like
        raise RenderError(f"cannot render the OPML list: {e}") from e
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
