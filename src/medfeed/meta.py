"""What a feed says about itself, whatever its format (RSS, Atom, JSON Feed, ...)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from medfeed.models import Author
from medfeed.store import Item

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_FEED_BYTES = 4 * 1024 * 1024
"""No feed document is larger: feed readers refuse feeds of a few MB."""


@dataclass(frozen=True)
class FeedMeta:
    """What a feed says about itself; every URL already absolute."""

    id: str
    title: str
    description: str
    base_url: str
    self_url: str
    page_url: str
    language: str
    author: Author
    category_titles: Mapping[str, str] = field(default_factory=dict)
    fallback_updated: datetime = EPOCH
    archive: Archive | None = None
    """Where this document stands in its feed's chain of archives (RFC 5005), if any."""
    hubs: tuple[str, ...] = ()
    """WebSub hubs the document advertises (rel="hub")."""

    @property
    def item_context(self) -> Hashable:
        """What an item's text in this feed depends on besides the item: a text written
        for one feed serves another with the same context (see ItemTexts)."""
        return (self.base_url, tuple(self.category_titles.items()), self.author)


@dataclass(frozen=True)
class Archive:
    """RFC 5005 links of a feed document; every URL absolute, in the same format.

    The current feed has only ``prev_archive`` (its newest archive); an archive document
    has ``current`` and its neighbours, and says it is one (``fh:archive``).
    """

    prev_archive: str | None = None
    """The next older archive document."""
    next_archive: str | None = None
    """The next newer archive document (none for the newest)."""
    current: str | None = None
    """The current feed, on an archive document; None on the current feed itself."""

    @property
    def is_archive(self) -> bool:
        """Whether the document is an archive (not the current feed)."""
        return self.current is not None


def feed_updated(items: Sequence[Item], fallback: datetime = EPOCH) -> datetime:
    """The feed's updated time: the latest change of any of its items."""
    if not items:
        return fallback
    return max(items, key=_changed_at).head.last_changed


def _changed_at(item: Item) -> float:
    return item.changed_at
