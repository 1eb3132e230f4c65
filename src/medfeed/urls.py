"""The folders of a medfeed site's URL scheme, shared by every renderer; which documents
each folder holds is the table in ``documents``."""

from __future__ import annotations

from typing import Literal

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


Scope = Literal[
    "site", "category", "entry",
    "archive", "category-archive", "year", "category-year", "month", "category-month",
]  # fmt: skip
FOLDERS: dict[Scope, str] = {
    "site": "/",
    "category": "/categories/{c}/",
    "entry": "/entries/{c}/",
    "archive": "/archive/",
    "category-archive": "/categories/{c}/archive/",
    "year": "/archive/{y}/",
    "category-year": "/categories/{c}/archive/{y}/",
    "month": "/archive/{y}/{m}/",
    "category-month": "/categories/{c}/archive/{y}/{m}/",
}
"""Where each scope's documents live; {c} is a category or entry slug."""


def folder(scope: Scope, subject: str | None) -> str:
    """The folder of a scope's subject: "visits" in category, "visits/2015/10" in
    category-month, "2015" in year."""
    if scope == "entry":  # one per entry: a site of 100,000 asks 100,000 times
        return f"/entries/{subject}/"
    parts = (subject or "").split("/")
    category = parts[0] if scope.startswith(("category", "entry")) else None
    dates = parts[1:] if category is not None else [p for p in parts if p]
    year = dates[0] if dates else ""
    month = dates[1] if len(dates) > 1 else ""
    return FOLDERS[scope].format(c=category, y=year, m=month)


def split(scope: Scope, subject: str | None) -> tuple[str | None, int | None, int | None]:
    """(category, year, month) of a subject: "visits/2015/10" in category-month."""
    parts = (subject or "").split("/") if subject else []
    category = parts.pop(0) if scope.startswith("category") and parts else None
    year = int(parts[0]) if parts else None
    month = int(parts[1]) if len(parts) > 1 else None
    return category, year, month


def subject_of(category: str | None, year: int, month: int | None = None) -> str:
    """The subject of a period of a category (None: the whole site)."""
    when = f"{year:04d}" if month is None else f"{year:04d}/{month:02d}"
    return when if category is None else f"{category}/{when}"
