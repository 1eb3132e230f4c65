"""An entry's page, written in Python inside the frame every page shares.

A site has as many entry pages as entries, and a build writes them all: through Jinja,
10,000 of them took 3.7 s of a full build's CPU, where the same pages joined here take
2.0 s, everything else about them counted alike. The frame (``base.html``: the head, the header, the
footer) is still rendered by Jinja, once, around markers; each page fills in its title,
description, canonical address and main part between them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import escape

from medfeed.models import Category
from medfeed.pageparts import (
    archive_path,
    event_dates_html,
    month_name,
    published_html,
    shows_standfirst,
)
from medfeed.store import Item
from medfeed.urls import entry_path, page_path
from medfeed.wording import event_place, format_day

MARK = "\x00"
"""Stands in the frame for what each page fills in: no text on a page holds it (entries'
and site.toml's fields refuse control characters)."""
FILLED = 4
"""The title, the description, the canonical address and the main part, in this order."""


@dataclass(frozen=True)
class Frame:
    """A page's frame: the parts of the page around what each page fills in."""

    parts: tuple[str, ...]

    @classmethod
    def around_marks(cls, rendered: str) -> Frame:
        """The frame of ``rendered``, a page whose every filled-in part is MARK."""
        parts = tuple(rendered.split(MARK))
        if len(parts) != FILLED + 1:
            raise ValueError(f"a page frame needs {FILLED} marks, not {len(parts) - 1}")
        return cls(parts)

    def page(self, title: str, description: str, canonical: str, main: str) -> bytes:
        """A whole page; the title, description and canonical address are escaped here,
        ``main`` is HTML."""
        head, after_title, after_description, after_canonical, tail = self.parts
        return "".join(
            (head, escape(title), after_title, escape(description), after_description,
             escape(canonical), after_canonical, main, tail)
        ).encode()  # fmt: skip


def entry_main(
    item: Item,
    categories: Sequence[Category],
    older: Item | None,
    newer: Item | None,
    url: Callable[[str], str],
) -> str:
    """The main part of an entry's page: the article, then its neighbours."""
    entry = item.entry
    content = item.content_html
    published = entry.published
    month = (published.year, published.month)
    in_month = escape(f"{month_name(published.month)} {published.year}")
    out = [f"<article>\n<h1>{escape(entry.title)}</h1>\n"]
    if shows_standfirst(entry.summary, content):
        out.append(f'<p class="standfirst">{escape(entry.summary)}</p>\n')
    out.append(f'<p class="meta">{published_html(entry)}')
    updated = entry.updated
    if updated and updated != published:
        out.append(
            f'&nbsp;· updated&nbsp;<time datetime="{escape(updated.isoformat())}">'
            f"{escape(format_day(updated))}</time>"
        )
    out.append('</p>\n<dl class="facts">\n')
    event = entry.event
    if event:
        out.append(f"<dt>When</dt>\n<dd>{event_dates_html(event)}</dd>\n")
        if event.location:
            out.append(f"<dt>Where</dt>\n<dd>{escape(event_place(event.location))}</dd>\n")
    out.append("<dt>Categories</dt>\n<dd>" if len(categories) > 1 else "<dt>Category</dt>\n<dd>")
    out.append(
        ", ".join(
            f'<a href="{escape(url(page_path(category.slug)))}">{escape(category.title)}</a>'
            f' (<a href="{escape(url(archive_path(category.slug, *month)))}">{in_month} in it</a>)'
            for category in categories
        )
    )
    out.append("</dd>\n")
    if entry.authors:
        names = ", ".join(str(escape(author.name)) for author in entry.authors)
        out.append(f"<dt>By</dt>\n<dd>{names}</dd>\n")
    out.append("</dl>\n")
    if content:
        out.append(content + "\n")
    if entry.link:
        link = escape(entry.link)
        out.append(
            f'<p>Source: <a href="{link}" rel="noopener noreferrer">'
            f'<code class="url">{link}</code></a></p>\n'
        )
    out.append('</article>\n<nav class="neighbours" aria-label="Other entries">\n')
    if newer:
        out.append(
            f'<p>Newer: <a href="{escape(url(entry_path(newer.slug)))}" rel="next">'
            f"{escape(newer.entry.title)}</a></p>"
        )
    if older:
        out.append(
            f'<p>Older: <a href="{escape(url(entry_path(older.slug)))}" rel="prev">'
            f"{escape(older.entry.title)}</a></p>"
        )
    month_page = url(archive_path(None, *month))
    out.append(
        f'<p>All of <a href="{escape(month_page)}">{in_month}</a> · '
        f'<a href="{escape(url(archive_path(None)))}">the archive</a></p>\n</nav>\n'
    )
    return "".join(out)
