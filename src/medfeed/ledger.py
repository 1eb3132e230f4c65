"""Which HTTP dates can still tell a document's versions apart (If-Modified-Since)."""

from __future__ import annotations

from datetime import datetime


class DateLedger:
    """The Last-Modified second of each document path, and the bytes it named.

    HTTP dates count whole seconds: two versions of a document made within one second
    (or a folder swapped for one with older files) share a date. Such a date cannot
    tell them apart, so ``If-Modified-Since`` is not honoured for it (ETags still are).
    """

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, int]] = {}

    def date_validates(self, path: str, etag: str, last_modified: datetime) -> bool:
        """Record a document; whether its date tells it from every earlier version."""
        second = int(last_modified.timestamp())
        before = self._seen.get(path)
        self._seen[path] = (etag, second) if before is None else (etag, max(second, before[1]))
        return before is None or before[0] == etag or second > before[1]
