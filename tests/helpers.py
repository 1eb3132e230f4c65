"""Helpers shared by the feed tests of every format."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from medfeed.fields import xml_unsafe
from medfeed.folder import Folder
from medfeed.models import Entry, entry_id
from medfeed.store import Item

WriteEntry = Callable[..., Path]
HOUR_AGO = time.time() - 3600


def settled() -> datetime:
    """A clock ahead of the files a test has just written: they count as settled (a file
    read within two seconds of its last change is not cached; see entrycache.RACY_NS)."""
    return datetime.now(UTC) + timedelta(seconds=10)


def started(entries_dir: Path, state: Path) -> Folder:
    """A Folder as a (re)started process with a state folder makes it, its catalog
    published."""
    folder = Folder(entries_dir, state=state, now=settled, deletion_grace=0)
    folder.catalog()
    return folder


def age_folder(folder: Path, moment: float = HOUR_AGO) -> None:
    """Date every file and the folder itself at ``moment``, as if written then."""
    for path in [*folder.iterdir(), folder]:
        os.utime(path, (moment, moment))


class Displayed(HTMLParser):
    """What a reader displays of an HTML fragment: its text and which tags it has."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = ""
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text += data


def displayed(fragment: str) -> Displayed:
    """What a reader displays of an HTML fragment."""
    reader = Displayed()
    reader.feed(fragment)
    reader.close()
    return reader


WORDS = "visit talks security cooperation dialogue minister summit delegation".split()


def long_markdown(slug: str, size: int) -> str:
    """About ``size`` characters of ordinary Markdown that ends with a marker."""
    paragraph = " ".join(WORDS[i % len(WORDS)] for i in range(150)) + "."
    count = size // (len(paragraph) + 2)
    return "\n\n".join([*([paragraph] * count), f"The end of {slug}."])


def write_many(write_entry: WriteEntry, count: int, **fields: Any) -> list[str]:
    """``count`` entries a day apart; returns their slugs, newest first."""
    slugs = [f"entry-{index:04d}" for index in range(count)]
    for index, slug in enumerate(slugs):
        day = datetime(2015, 1, 1, tzinfo=UTC) + timedelta(days=index)
        values = {key: value(slug) if callable(value) else value for key, value in fields.items()}
        write_entry(slug, **{"title": f"Title {slug}", "published": day.isoformat(), **values})
    return slugs[::-1]


# --- strategies of what validation accepts, for the property tests of renderers ---------------


def xml_text(*, lines: bool, max_size: int) -> st.SearchStrategy[str]:
    """Text any field can hold: every character XML carries, the ones escaping touches
    made likely; one line unless ``lines``."""
    alphabet = (
        st.characters(exclude_categories=("Cs", "Cc"))
        | st.sampled_from("\t\n\r&<>\"'")
        | st.sampled_from(["é", "ש", "😀", "\u2028"])
    )
    value = st.text(alphabet, min_size=1, max_size=max_size)
    value = value.filter(lambda t: xml_unsafe(t) is None and t.strip() != "")
    return value if lines else value.filter(lambda t: "\n" not in t and "\r" not in t)


OFFSETS = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
TIMES = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone),
    # Room for 30 days of updates before year 9999, which validation refuses.
    st.datetimes(datetime(1901, 1, 1), datetime(9998, 11, 1)),
    OFFSETS,
)
"""Aware times in any offset, years that validation accepts."""

PLACES = st.builds(
    lambda place, coordinates: {"place": place, "country": "Belgium", **coordinates},
    xml_text(lines=False, max_size=20),
    st.sampled_from(
        [
            {},
            {"latitude": 50.8503, "longitude": 4.3517},
            {"latitude": -0.0000001, "longitude": 179.99999999},
        ]
    ),  # fmt: skip
)


@st.composite
def valid_entries(
    draw: st.DrawFn, categories: tuple[str, ...] = ("visits", "conferences")
) -> dict[str, Any]:
    """Entry data that validation accepts, every optional field maybe there."""
    published = draw(TIMES)
    data: dict[str, Any] = {
        "title": draw(xml_text(lines=False, max_size=40)),
        "summary": draw(xml_text(lines=True, max_size=1100)),
        "published": published.isoformat(),
        "categories": draw(st.lists(st.sampled_from(categories), min_size=1,
                                    max_size=len(categories), unique=True)),
    }  # fmt: skip
    if draw(st.booleans()):
        data["content"] = draw(xml_text(lines=True, max_size=80))
    if draw(st.booleans()):
        later = published + draw(st.timedeltas(timedelta(0), timedelta(days=30)))
        data["updated"] = later.astimezone(draw(OFFSETS)).isoformat()
    if draw(st.booleans()):
        data["link"] = draw(st.sampled_from(["https://source.example.org/x",
                                             "http://example.com/a?b=c&d=<e>\"f"]))  # fmt: skip
    authors = []
    for name in draw(st.lists(xml_text(lines=False, max_size=20), max_size=12)):
        author: dict[str, str] = {"name": name}
        if draw(st.booleans()):
            author["email"] = "desk@example.org"
        if draw(st.booleans()):
            author["uri"] = "https://example.org/people?a=1&b=2"
        authors.append(author)
    data["authors"] = authors
    if draw(st.booleans()):
        data["event"] = {"start": "2015-10-12", "end": "2015-10-13"}
        if draw(st.booleans()):
            data["event"]["location"] = draw(PLACES)
    return data


def items_of(data: list[dict[str, Any]]) -> list[Item]:
    """Items of these entries' data (slugs entry-0, entry-1, ...), newest first."""
    made = []
    for index, fields in enumerate(data):
        entry = Entry.model_validate(fields)
        slug = f"entry-{index}"
        made.append(
            Item(slug, f"{slug}.json", entry, entry_id("example.org", entry.published, slug))
        )
    return sorted(made, key=lambda item: item.order, reverse=True)
