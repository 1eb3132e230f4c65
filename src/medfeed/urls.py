"""The URL scheme of a medfeed site, shared by the web app, feeds and pages."""

from __future__ import annotations

from typing import Literal

Format = Literal["rss", "atom"]
FORMATS: tuple[Format, ...] = ("rss", "atom")
MEDIA_TYPES: dict[Format, str] = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
}
FORMAT_NAMES: dict[Format, str] = {"rss": "RSS", "atom": "Atom"}
CATEGORIES_PATH = "/categories/"


def page_path(category: str | None = None) -> str:
    """The HTML page that lists a category's entries, or every entry."""
    return "/" if category is None else f"{CATEGORIES_PATH}{category}/"


def feed_path(category: str | None, fmt: Format) -> str:
    """The feed of a category, or of every entry, in one format."""
    return f"{page_path(category)}feed.{fmt}"


def entry_path(slug: str) -> str:
    """One entry's page."""
    return f"/entries/{slug}/"


def absolute(base_url: str, path: str) -> str:
    """Join a site path onto the base URL, which may carry a path prefix."""
    return base_url.rstrip("/") + path
