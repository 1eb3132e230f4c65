"""Every page of a content version with its URL, as the sitemap lists them, and how many
sitemap documents they make: worked out once per version, and taken over from the
version before while the base URL and the pages are the same. An edit changes neither,
so a round over a site of 10,000 pages does not write 10,000 URLs again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from medfeed.documents import Kind
from medfeed.sitemap import sitemap_count
from medfeed.urls import absolute

Page = tuple[Kind, str | None, str]
"""A page: its kind, its subject and its URL."""
Subjects = list[tuple[Kind, list[str | None]]]
"""Each kind of page with what its pages are about, in the table's order."""


class SitePages:
    """The pages of one content version (see the module), and each page's sitemap line,
    kept from version to version while the base URL is the same."""

    def __init__(self, base_url: str, earlier: SitePages | None = None) -> None:
        self.base_url: str = base_url
        same = earlier is not None and earlier.base_url == base_url
        self.lines: dict[str, tuple[datetime, bytes]] = earlier.lines if same and earlier else {}
        """Each page's sitemap line by URL, with the date it was written for."""
        self._subjects: Subjects | None = None
        self._pages: list[Page] | None = None
        self._count: int | None = None
        # What the last version that worked its pages out had: not the version itself,
        # which would keep every version before it alive.
        self._carried = earlier._worked() if same and earlier is not None else None

    def _worked(self) -> tuple[Subjects, list[Page], int | None] | None:
        if self._subjects is None or self._pages is None:
            return self._carried
        return self._subjects, self._pages, self._count

    def pages(self, subjects: Subjects) -> list[Page]:
        """Every page, with its URL, of these subjects (this version's)."""
        if self._pages is None:
            carried = self._carried
            if carried is not None and carried[0] == subjects:
                self._pages, self._count = carried[1], carried[2]
            else:
                base = self.base_url
                self._pages = [
                    (kind, subject, absolute(base, kind.path(subject)))
                    for kind, some in subjects
                    for subject in some
                ]
            self._subjects = subjects
            self._carried = None
        return self._pages

    def count(self, subjects: Subjects) -> int:
        """How many documents the sitemap of these pages is (see sitemap_count)."""
        if self._count is None:
            self._count = sitemap_count([url for *_, url in self.pages(subjects)])
        return self._count

    def drop_lines_beyond(self, pages: Sequence[Page]) -> None:
        """Forget the sitemap lines of pages gone long ago."""
        if len(self.lines) > 2 * len(pages):
            self.lines.clear()
