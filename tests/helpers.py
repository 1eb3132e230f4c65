"""Helpers shared by the feed tests of every format."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

WriteEntry = Callable[..., Path]


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
