"""GeoRSS-Simple elements for feed items whose event location has coordinates.

feedgen's geo extension writes ``georss:featurename``, a name the GeoRSS schema does not
define (it has ``featureName``), so medfeed writes the elements itself, on RSS items and
Atom entries alike. The namespace is declared once, on the document's root, by feeds.py.
"""

from __future__ import annotations

from html import escape
from typing import Any

from lxml import etree

from medfeed.models import Location, has_point

GEORSS_NS = "http://www.georss.org/georss"
GEORSS_PREFIX = "georss"
_NSMAP = {GEORSS_PREFIX: GEORSS_NS}
DECIMALS = 7
"""Coordinates are written to 1e-7 degree (about 1 cm), which hides float noise."""
# <georss:point>lat lon</georss:point> and <georss:featureName>...</...>, with indentation.
FIXED_BYTES = 140


def coordinate(value: float) -> str:
    """A latitude or longitude as a plain decimal: no exponent, no trailing zeros."""
    text = f"{value:.{DECIMALS}f}".rstrip("0").rstrip(".")
    # A tiny negative value rounds to "-0", which is no coordinate anyone writes.
    return "0" if text == "-0" else text


def point(location: Location) -> str:
    """The text of ``georss:point``: latitude first, then longitude, space-separated."""
    if location.latitude is None or location.longitude is None:
        raise ValueError(f"{location.place} has no coordinates")
    return f"{coordinate(location.latitude)} {coordinate(location.longitude)}"


def add_location(item: Any, location: Location | None) -> None:
    """Append ``georss:point`` and ``georss:featureName`` to an item; nothing without one."""
    if location is None or not has_point(location):
        return
    # feedgen builds an item before attaching it to the root; lxml then drops these
    # declarations in favour of the root's, so the namespace appears once per document.
    where = etree.SubElement(item, f"{{{GEORSS_NS}}}point", nsmap=_NSMAP)
    where.text = point(location)
    name = etree.SubElement(item, f"{{{GEORSS_NS}}}featureName", nsmap=_NSMAP)
    name.text = location.place


def location_bytes(location: Location | None) -> int:
    """A generous estimate of the bytes add_location writes, for a feed's size budget."""
    if location is None or not has_point(location):
        return 0
    return FIXED_BYTES + len(escape(location.place, quote=False).encode())
