"""Render the HTML pages: the home page, category pages, entry pages and errors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, cached_property, partial
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from medfeed.entrypage import MARK, Frame, entry_main
from medfeed.itemtexts import ItemTexts
from medfeed.models import Category, SiteConfig
from medfeed.pageparts import archive_path, event_dates_html, month_name, published_html
from medfeed.store import Item
from medfeed.urls import absolute, entry_path, page_path
from medfeed.wording import event_place

FRAME = (
    '{% extends "base.html" %}{% block title %}{{ mark }}{% endblock %}'
    "{% block description %}{{ mark }}{% endblock %}{% block main %}{{ mark }}{% endblock %}"
)
"""base.html with a mark for each part an entry page fills in (see entrypage.Frame)."""

LISTED = "html"
"""The format (see ItemTexts) of entries as lists show them (PageRenderer._listed)."""
_LIST_MARK = "\x00list\x00"
"""Where a list goes in a page (no text of a page holds a NUL: see fields.xml_unsafe)."""


@dataclass(frozen=True)
class FeedLink:
    """One feed (or calendar) as a page advertises it."""

    title: str
    url: str
    media_type: str
    format_name: str
    calendar: bool = False
    """Whether calendar programs subscribe to it (it then has a webcal: address too)."""

    @property
    def webcal(self) -> str | None:
        """The webcal: address calendar programs subscribe to, for a calendar."""
        if not self.calendar:
            return None
        return "webcal:" + self.url.split(":", 1)[1]


FeedLinks = Callable[[str | None], list[FeedLink]]
Month = tuple[int, int]


"""The feeds a page of a category (None: the whole site) offers."""


@dataclass(frozen=True)
class Chrome:
    """The parts every page shares, already rendered."""

    header: Markup
    footer: Markup


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("medfeed", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Templates ship with the package: no stat() of every template on every render.
        auto_reload=False,
    )
    return env


class PageRenderer:
    """Renders the pages of one site at one base URL."""

    def __init__(
        self, site: SiteConfig, base_url: str, links: FeedLinks, texts: ItemTexts | None = None
    ) -> None:
        self.site = site
        self.base_url = base_url
        self.links = links
        self.texts = ItemTexts() if texts is None else texts
        # The same on every page: rendered once, not once per page of thousands.
        self.chrome = Chrome(
            header=Markup(self._render_str("_header.html")),
            footer=Markup(self._render_str("_footer.html", all_feeds=links(None))),
        )

    def url(self, path: str) -> str:
        """An absolute URL on this site."""
        return absolute(self.base_url, path)

    def feed_links(self, category: Category | None) -> list[FeedLink]:
        """The feeds of a category, or of every entry, in every format."""
        return self.links(None if category is None else category.slug)

    def _context(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "url": self.url,
            "page_path": page_path,
            "archive_path": archive_path,
        }

    def _render_str(self, template: str, **context: Any) -> str:
        return _environment().get_template(template).render({**self._context(), **context})

    def _listed(self, items: Sequence[Item]) -> bytes:
        """Entries as lists show them, one per line, each written once per content
        version (see ItemTexts): an entry is in its year's and month's archive pages, its
        categories' and the lists of the latest, all alike. Joined here rather than
        looped over in a template: a year's page lists thousands."""
        texts, context = self.texts, ("page", self.base_url)
        written = texts.held(context, items, (LISTED, True, False))
        for n in [n for n, text in enumerate(written) if text is None]:
            write = partial(self._list_entry, items[n])
            written[n] = texts.text(context, items[n], LISTED, True, False, write)
        return b"\n".join(text for text in written if text is not None)

    def _list_entry(self, item: Item) -> bytes:
        entry = item.entry
        meta = str(published_html(entry))
        event = entry.event
        if event is not None:
            meta += "&nbsp;· Event:&nbsp;" + str(event_dates_html(event))
            if event.location is not None:
                meta += ", " + str(escape(event_place(event.location)))
        url = escape(self.url(entry_path(item.slug)))
        return (
            f'<li>\n<h3><a href="{url}">{escape(entry.title)}</a></h3>\n'
            f'<p class="meta">{meta}</p>\n<p>{escape(entry.summary)}</p>\n</li>'
        ).encode()

    def _render(self, template: str, **context: Any) -> bytes:
        # The lists are put in the page as bytes, after the template: thousands of lines
        # are not decoded, joined into the page's text and encoded again.
        lists: list[bytes] = []

        def listed_all(items: Sequence[Item]) -> Markup:
            lists.append(self._listed(items))
            return Markup(_LIST_MARK)

        page = self._render_str(template, chrome=self.chrome, listed_all=listed_all, **context)
        parts = page.encode("utf-8").split(_LIST_MARK.encode())
        assert len(parts) == len(lists) + 1, "a list's mark in the page's own text"
        return b"".join(part for pair in zip(parts, [*lists, b""], strict=True) for part in pair)

    def _common(self) -> dict[str, Any]:
        return {
            "categories": [(c, self.feed_links(c)) for c in self.site.categories],
            "all_feeds": self.feed_links(None),
        }

    def index(self, items: Sequence[Item], total: int) -> bytes:
        """The home page: what the site is, every feed, the latest entries."""
        return self._render(
            "index.html",
            items=items,
            total=total,
            feeds=self.feed_links(None),
            canonical=self.url(page_path()),
            **self._common(),
        )

    def category(self, category: Category, items: Sequence[Item], total: int) -> bytes:
        """A category's page, advertising that category's feeds."""
        return self._render(
            "category.html",
            category=category,
            items=items,
            total=total,
            feeds=self.feed_links(category),
            canonical=self.url(page_path(category.slug)),
            **self._common(),
        )

    @cached_property
    def frame(self) -> Frame:
        """Every entry page's frame (see entrypage): the site's feeds in its head."""
        mark = Markup(MARK)
        return Frame.around_marks(
            _environment()
            .from_string(FRAME)
            .render(**self._context(), chrome=self.chrome, mark=mark, canonical=mark,
                    feeds=self.feed_links(None))
        )  # fmt: skip

    def entry(self, item: Item, *, older: Item | None = None, newer: Item | None = None) -> bytes:
        """One entry's page, with the entries published just before and after it."""
        entry = item.entry
        categories = [c for c in self.site.categories if c.slug in entry.categories]
        return self.frame.page(
            f"{entry.title} · {self.site.title}",
            entry.summary,
            self.url(entry_path(item.slug)),
            entry_main(item, categories, older, newer, self.url),
        )

    def archive(self, category: Category | None, periods: Sequence[tuple[Month, int]]) -> bytes:
        """The archive's index: every year and month with entries, and how many."""
        slug = category.slug if category else None
        years: dict[int, list[tuple[int, int]]] = {}
        for (year, month), count in periods:
            years.setdefault(year, []).append((month, count))
        return self._render(
            "archive.html",
            category=category,
            years=list(years.items()),
            total=sum(count for _, count in periods),
            scope_path=partial(archive_path, slug),
            month_name=month_name,
            feeds=self.feed_links(category),
            canonical=self.url(archive_path(slug)),
        )

    def period(
        self, category: Category | None, year: int, month: int | None, items: Sequence[Item]
    ) -> bytes:
        """Every entry of one year or month of the site or a category."""
        slug = category.slug if category else None
        label = str(year) if month is None else f"{month_name(month)} {year}"
        months = sorted({i.head.published.month for i in items}, reverse=True)
        return self._render(
            "period.html",
            category=category,
            label=label,
            year=year,
            month=month,
            items=items,
            months=months if month is None else [],
            scope_path=partial(archive_path, slug),
            month_name=month_name,
            feeds=self.feed_links(category),
            canonical=self.url(archive_path(slug, year, month)),
        )

    def error(self, status: int, title: str, message: str) -> bytes:
        """A small error page."""
        return self._render(
            "error.html",
            status=status,
            error_title=title,
            message=message,
            feeds=self.feed_links(None),
            canonical=None,
        )
