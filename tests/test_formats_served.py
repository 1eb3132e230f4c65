"""Every way to follow the site, as a client gets it from the running app: the bundled
entries served over a real server and judged by each format's own oracles.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import feedparser
import icalendar
import listparser
import pytest
import vobject
from lxml import etree
from werkzeug.serving import make_server

from conftest import BASE_URL, SEED_ENTRIES
from medfeed import create_app
from medfeed.documents import KINDS
from test_jsonfeed import check_readers, check_spec_rules, strict_load, validator

DATA = Path(__file__).parent / "data"
SITEMAP_XSD = etree.XMLSchema(etree.parse(str(DATA / "sitemap.xsd")))
SEED_CATEGORIES = ["high-level-visits", "practical-cooperation", "israel-at-nato",
                   "conferences-and-anniversaries"]  # fmt: skip


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """The bundled entries on a real server, at BASE_URL's links."""
    app = create_app({"ENTRIES_DIR": str(SEED_ENTRIES), "BASE_URL": BASE_URL, "WATCH": False})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def get(site: str, path: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(site + path, timeout=10) as response:
        return response.headers["Content-Type"], response.read()


def local(url: str) -> str:
    """A public URL of the site as a path the test server answers."""
    assert url.startswith(BASE_URL), url
    return "/" + url.removeprefix(BASE_URL)


SCOPES = ["/", *(f"/categories/{slug}/" for slug in SEED_CATEGORIES)]


@pytest.mark.parametrize("folder", SCOPES)
def test_json_feed_is_valid_and_agrees_with_atom(site: str, folder: str) -> None:
    media, body = get(site, folder + "feed.json")
    assert media == "application/feed+json; charset=utf-8"
    document = strict_load(body)
    validator().validate(document)
    check_spec_rules(document)
    check_readers(body, document)
    atom = feedparser.parse(get(site, folder + "feed.atom")[1])
    assert [item["id"] for item in document["items"]] == [e.id for e in atom.entries]
    assert [item["url"] for item in document["items"]] == [e.link for e in atom.entries]
    assert document["feed_url"] == BASE_URL + folder.lstrip("/") + "feed.json"


def covered_days(body: bytes) -> dict[str, tuple[date, date]]:
    """Each event's first and last day, as icalendar reads them (DTEND is exclusive)."""
    days = {}
    for event in icalendar.Calendar.from_ical(body).walk("VEVENT"):
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        days[str(event["UID"])] = (start, date.fromordinal(end.toordinal() - 1))
    return days


def test_the_calendar_covers_each_seed_event_as_its_entry_says(site: str) -> None:
    media, body = get(site, "/events.ics")
    assert media == "text/calendar; charset=utf-8"
    days = covered_days(body)
    by_slug = {uid.rsplit(":", 1)[1]: span for uid, span in days.items()}
    # Written out from the bundled entries' JSON: a month known only to the month is
    # the whole month; a range ends on its last day.
    assert by_slug["stamatopoulos-visits-israel"] == (date(2015, 10, 12), date(2015, 10, 13))
    assert by_slug["mediterranean-dialogue-20th-anniversary-amman"] == (
        date(2014, 12, 1), date(2014, 12, 31),
    )  # fmt: skip
    assert by_slug["vershbow-visits-israel"] == (date(2014, 1, 1), date(2014, 1, 31))
    assert len(days) == 9
    # A second, independent parser sees the same events.
    parsed = vobject.readOne(body.decode("utf-8"))
    assert sorted(e.uid.value for e in parsed.vevent_list) == sorted(days)
    assert b"\r\n" in body and b"\n" not in body.replace(b"\r\n", b"")


@pytest.mark.parametrize("folder", SCOPES[1:])
def test_a_category_calendar_holds_its_events_only(site: str, folder: str) -> None:
    body = get(site, folder + "events.ics")[1]
    atom = feedparser.parse(get(site, folder + "feed.atom")[1])
    assert set(covered_days(body)) <= {e.id for e in atom.entries}


def test_the_opml_list_subscribes_to_every_feed(site: str) -> None:
    media, body = get(site, "/feeds.opml")
    assert media == "text/x-opml; charset=utf-8"
    parsed = listparser.parse(body)
    assert not parsed.bozo, parsed.bozo_exception
    urls = sorted(feed.url for feed in parsed.feeds)
    expected = sorted(
        BASE_URL + folder.lstrip("/") + kind.name
        for folder in SCOPES
        for kind in KINDS
        if kind.label
        and kind.scope == ("site" if folder == "/" else "category")
        and kind.name.startswith("feed.")
    )
    assert urls == expected
    for url in urls:
        feed = feedparser.parse(get(site, local(url))[1]) if not url.endswith(".json") else None
        assert feed is None or (feed.bozo == 0 and feed.entries), url


def test_the_sitemap_lists_every_page_and_robots_names_it(site: str) -> None:
    media, body = get(site, "/sitemap.xml")
    assert media == "application/xml; charset=utf-8"
    document = etree.fromstring(body)
    SITEMAP_XSD.assertValid(document)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = [loc.text or "" for loc in document.findall("s:url/s:loc", ns)]
    expected = {"", "archive/", *(f"categories/{c}/" for c in SEED_CATEGORIES)}
    expected |= {f"entries/{p.stem}/" for p in SEED_ENTRIES.glob("*.json")}
    assert {BASE_URL + path for path in expected} <= set(locs)
    assert len(locs) == len(set(locs))
    for loc in locs:
        media, _ = get(site, local(loc))
        assert media.startswith("text/html"), loc
    robots = get(site, "/robots.txt")[1].decode()
    assert f"Sitemap: {BASE_URL}sitemap.xml" in robots.splitlines()


def test_event_items_say_when_and_where_in_their_content(site: str) -> None:
    for path in ("/feed.rss", "/feed.atom"):
        parsed = feedparser.parse(get(site, path)[1])
        by_id = {e.id.rsplit(":", 1)[1]: e for e in parsed.entries}
        content = by_id["stamatopoulos-visits-israel"].content[0].value
        assert "Event: 12\u201313 October 2015, Israel" in content, path
        amman = by_id["mediterranean-dialogue-20th-anniversary-amman"].content[0].value
        assert "Event: December 2014, Amman, Jordan" in amman, path
    document = json.loads(get(site, "/feed.json")[1])
    [item] = [i for i in document["items"] if i["id"].endswith(":vershbow-visits-israel")]
    assert "Event: January 2014, Israel" in item["content_html"]


def test_pages_offer_every_feed_and_calendar(site: str) -> None:
    page = get(site, "/")[1].decode()
    for kind in KINDS:
        if kind.label and kind.scope == "site":
            assert f'href="{BASE_URL}{kind.name}"' in page, kind.name
    assert 'href="webcal://news.example.org/events.ics"' in page
    assert f'href="{BASE_URL}feeds.opml"' in page


def test_every_document_is_the_same_bytes_from_two_processes() -> None:
    config = {"ENTRIES_DIR": str(SEED_ENTRIES), "BASE_URL": BASE_URL, "WATCH": False}
    first, second = create_app(config).test_client(), create_app(config).test_client()
    snapshot = create_app(config).extensions["medfeed"].snapshot()
    for kind, path, _ in snapshot.documents():
        if not kind.served:
            continue
        one, two = first.get(path), second.get(path)
        assert one.status_code == 200, path
        assert one.data == two.data, path
        assert one.headers["ETag"] == two.headers["ETag"], path
