"""GeoRSS-Simple points in RSS items and Atom entries, as the schema names them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import feedparser
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from conftest import SEED_ENTRIES, entry_data
from helpers import valid_entries
from medfeed.feeds import Format, render_feed
from medfeed.georss import coordinate
from medfeed.loading import load_catalog
from medfeed.meta import FeedMeta
from medfeed.models import Author, Entry, has_point
from medfeed.store import Item
from medfeed.storedentry import head_of

GEORSS = "http://www.georss.org/georss"
G = f"{{{GEORSS}}}"
ATOM = "{http://www.w3.org/2005/Atom}"
ATOM_SCHEMA = Path(__file__).parent / "data" / "atom.rng"
FORMATS: tuple[Format, ...] = ("rss", "atom")
BASE = "https://news.example.org/"
AMMAN = {"place": "Amman", "country": "Jordan", "latitude": 31.95522, "longitude": 35.94503}
NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d*[1-9])?")


def make_item(slug: str, location: dict[str, Any] | None, **overrides: Any) -> Item:
    if location is not None:
        overrides["event"] = {"start": "2015-10", "location": location}
    entry = Entry.model_validate(entry_data(**overrides))
    return Item(slug=slug, source=f"{slug}.json", entry=entry, id=f"tag:example.org,2015:{slug}")


def meta(fmt: Format) -> FeedMeta:
    return FeedMeta(
        id="tag:example.org,2015:all",
        title="Test News",
        description="News for tests.",
        base_url=BASE,
        self_url=f"{BASE}feed.{fmt}",
        page_url=BASE,
        language="en",
        author=Author(name="Test Desk"),
    )


def render(items: list[Item], fmt: Format) -> bytes:
    return render_feed(items, meta(fmt), fmt)


def entries_of(document: etree._Element, fmt: Format) -> list[etree._Element]:
    path = "channel/item" if fmt == "rss" else f"{ATOM}entry"
    return list(document.findall(path))


@pytest.fixture
def mixed() -> list[Item]:
    """Newest first: one located item, one with a country only, one with no event."""
    return [
        make_item("in-amman", AMMAN, published="2016-01-01T10:00:00Z"),
        make_item(
            "in-israel",
            {"place": "Israel", "country": "Israel"},
            published="2015-12-01T10:00:00Z",
        ),
        make_item("nowhere", None),
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_located_items_carry_point_and_feature_name(mixed: list[Item], fmt: Format) -> None:
    document = etree.fromstring(render(mixed, fmt))
    located, country_only, no_event = entries_of(document, fmt)
    points = located.findall(f"{G}point")
    names = located.findall(f"{G}featureName")
    assert [p.text for p in points] == ["31.95522 35.94503"]  # latitude first
    assert [n.text for n in names] == ["Amman"]
    for bare in (country_only, no_event):
        assert [c for c in bare if isinstance(c.tag, str) and c.tag.startswith(G)] == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_lower_case_featurename_never_appears(mixed: list[Item], fmt: Format) -> None:
    # feedgen's geo extension writes this name; the GeoRSS schema does not define it.
    body = render(mixed, fmt)
    assert b"featurename" not in body
    assert etree.fromstring(body).find(f".//{G}featurename") is None
    assert b"<georss:featureName>Amman</georss:featureName>" in body


@pytest.mark.parametrize("fmt", FORMATS)
def test_namespace_is_declared_once_on_the_root(mixed: list[Item], fmt: Format) -> None:
    body = render(mixed, fmt)
    document = etree.fromstring(body)
    assert document.nsmap.get("georss") == GEORSS
    assert body.count(b"xmlns:georss=") == 1
    assert b"<georss:point>" in body


@pytest.mark.parametrize("fmt", FORMATS)
def test_feed_without_coordinates_has_no_georss_at_all(fmt: Format) -> None:
    items = [make_item("in-israel", {"place": "Israel", "country": "Israel"})]
    body = render(items, fmt)
    assert b"georss" not in body


@pytest.mark.parametrize("fmt", FORMATS)
def test_feedparser_reads_the_point_as_where(mixed: list[Item], fmt: Format) -> None:
    parsed = feedparser.parse(render(mixed, fmt))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    # feedparser gives GeoJSON order: longitude, then latitude.
    assert parsed.entries[0].where == {"type": "Point", "coordinates": (35.94503, 31.95522)}
    assert "where" not in parsed.entries[1]
    assert "where" not in parsed.entries[2]


def test_atom_with_georss_is_valid_rfc_4287(mixed: list[Item]) -> None:
    # GeoRSS elements are foreign markup, which RFC 4287 allows in entries.
    schema = etree.RelaxNG(etree.parse(str(ATOM_SCHEMA)))
    document = etree.fromstring(render(mixed, "atom"))
    assert document.find(f"{ATOM}entry/{G}point") is not None
    assert schema.validate(document), schema.error_log


@pytest.mark.parametrize("fmt", FORMATS)
def test_negative_coordinates(fmt: Format) -> None:
    place = {"place": "Sydney", "country": "Australia", "latitude": -33.8688, "longitude": -0.5}
    document = etree.fromstring(render([make_item("south", place)], fmt))
    assert document.findtext(f".//{G}point") == "-33.8688 -0.5"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (31.76904, "31.76904"),
        (-33.8688, "-33.8688"),
        (35.0, "35"),
        (-90.0, "-90"),
        (180.0, "180"),
        (0.0, "0"),
        (1e-05, "0.00001"),  # repr() would give 1e-05
        (0.1 + 0.2, "0.3"),  # repr() would give 0.30000000000000004
        (-1e-09, "0"),  # not "-0"
        (12.34567891, "12.3456789"),
    ],
)
def test_coordinate_is_a_plain_decimal(value: float, text: str) -> None:
    assert coordinate(value) == text


@given(st.floats(min_value=-180, max_value=180, allow_nan=False))
def test_every_coordinate_is_a_short_plain_decimal(value: float) -> None:
    text = coordinate(value)
    assert NUMBER.fullmatch(text), text
    assert abs(float(text) - value) <= 5e-8


def test_bundled_entries_with_coordinates_get_points() -> None:
    catalog = load_catalog(SEED_ENTRIES)
    expected = {}
    for path in sorted(SEED_ENTRIES.glob("*.json")):
        location = json.loads(path.read_text(encoding="utf-8")).get("event", {}).get("location")
        if location and "latitude" in location:
            expected[path.stem] = f"{location['latitude']} {location['longitude']}"
    assert expected, "no bundled entry has coordinates"
    document = etree.fromstring(render(list(catalog.items), "rss"))
    found = {
        item.findtext("link", "").rstrip("/").rsplit("/", 1)[1]: item.findtext(f"{G}point")
        for item in document.findall("channel/item")
    }
    assert {slug: point for slug, point in found.items() if point} == expected


def test_bundled_places_have_coordinates_unless_they_are_a_whole_country() -> None:
    places = [
        json.loads(path.read_text(encoding="utf-8")).get("event", {}).get("location")
        for path in sorted(SEED_ENTRIES.glob("*.json"))
    ]
    located = [place for place in places if place]
    assert located, "no bundled entry has a place"
    for place in located:
        whole_country = place["place"] == place["country"]
        assert ("latitude" in place) is not whole_country, place


@given(data=valid_entries())
def test_an_entrys_head_says_whether_its_event_carries_a_point(data: dict[str, Any]) -> None:
    # Feeds declare GeoRSS from the heads, without reading every entry back.
    entry = Entry.model_validate(data)
    event = entry.event
    assert head_of(entry).event_located == (event is not None and has_point(event.location))
