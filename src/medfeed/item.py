"""One valid entry as medfeed publishes it, with what is worked out of it once."""

from __future__ import annotations

from datetime import date

from medfeed.markup import render_markdown
from medfeed.models import Entry, SiteConfig, entry_id
from medfeed.storedentry import AnyEntry, Head, loaded, same_entry
from medfeed.storedentry import head as head_of_any


class Item:
    """A valid entry as medfeed publishes it: the file's slug and label, and its id.

    The entry itself may lie in the entry cache's file (a restart on unchanged content):
    ``head`` answers what passes over every item ask, ``entry`` reads the rest back.
    Immutable by convention, like the frozen dataclass it was. Slots, with what every
    pass asks worked out at once: a process serving 100,000 entries holds one per file
    (a dictionary each would weigh 40 MB more), and sorting reads them by the million.
    """

    __slots__ = (
        "slug",
        "source",
        "stored",
        "id",
        "modified_ns",
        "head",
        "published_at",
        "changed_at",
        "order",
        "_html",
    )

    def __init__(
        self,
        slug: str,
        source: str,
        entry: AnyEntry,
        id: str,
        modified_ns: int = 0,
        head: Head | None = None,
    ) -> None:
        self.slug = slug
        self.source = source
        self.stored = entry
        """The entry as this item holds it: in memory, or in a cache file."""
        self.id = id
        self.modified_ns = modified_ns
        """The file's mtime when this version was read: when its bytes last changed."""
        facts = head_of_any(entry) if head is None else head
        self.head = facts
        """What every pass over all items asks of the entry, without reading it back."""
        self.published_at = facts.published.timestamp()
        """The publication time as a POSIX timestamp, cheap to compare."""
        updated = facts.updated
        self.changed_at = self.published_at if updated is None else updated.timestamp()
        """When the entry last changed (updated, else published), as a POSIX timestamp."""
        self.order = (self.published_at, slug)
        """Sort key, newest first when reversed: publication time, then slug."""
        self._html: str | None = None

    @property
    def entry(self) -> Entry:
        """The entry, read back from the cache file if it lies there."""
        return loaded(self.stored)

    def with_id(self, id: str) -> Item:
        """The same version under another id."""
        return Item(self.slug, self.source, self.stored, id, self.modified_ns, self.head)

    def _key(self) -> tuple[str, str, str, int]:
        return (self.slug, self.source, self.id, self.modified_ns)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Item):
            return NotImplemented
        return self is other or (
            self._key() == other._key() and same_entry(self.stored, other.stored)
        )

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Item(slug={self.slug!r}, source={self.source!r}, id={self.id!r})"

    @property
    def content_html(self) -> str:
        """The content as safe HTML, rendered when first needed.

        Only the items that feeds and visited pages show are ever rendered, which keeps
        start-up with thousands of entries fast.
        """
        html = self._html
        if html is None:
            content = self.entry.content
            html = self._html = render_markdown(content) if content else ""
        return html

    def rendered_html(self) -> str | None:
        """``content_html`` if it was made already; None rather than render it now."""
        return self._html

    def keep_html(self, html: str) -> None:
        """Take ``content_html`` as made from this content by an earlier process (the
        entry cache), so that it is not rendered again."""
        self._html = html


def event_days(item: Item) -> tuple[date, date]:
    """The first and last days of an item's event."""
    days = item.head.event_days
    assert days is not None  # only items with an event are in a calendar
    return days


def calendar_key(item: Item) -> tuple[date, date, str]:
    """Where an item's event goes in a calendar: by first day, then last day, then id."""
    return (*event_days(item), item.id)


def build_item(
    slug: str, label: str, entry: AnyEntry, site: SiteConfig, modified_ns: int = 0
) -> Item:
    """Attach the computed id to a valid entry."""
    facts = head_of_any(entry)
    computed = facts.id or entry_id(site.authority, facts.published, slug)
    return Item(slug, label, entry, computed, modified_ns, facts)
