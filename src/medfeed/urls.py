"""The folders of a medfeed site's URL scheme, shared by every renderer; which documents
each folder holds is the table in ``documents``."""

from __future__ import annotations

CATEGORIES_PATH = "/categories/"


def page_path(category: str | None = None) -> str:
    """The HTML page that lists a category's entries, or every entry."""
    return "/" if category is None else f"{CATEGORIES_PATH}{category}/"


def entry_path(slug: str) -> str:
    """One entry's page."""
    return f"/entries/{slug}/"


def absolute(base_url: str, path: str) -> str:
    """Join a site path onto the base URL, which may carry a path prefix."""
    return base_url.rstrip("/") + path
