"""One valid entry as medfeed publishes it, with what is worked out of it once."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any, Generic, TypeVar, overload

from medfeed.markup import render_markdown
from medfeed.models import Entry, SiteConfig, entry_id
from medfeed.storedentry import AnyEntry, Head, loaded, same_entry
from medfeed.storedentry import head as head_of_any

T = TypeVar("T")


class _once(Generic[T]):
    """``functools.cached_property`` without the lock that Python 3.11 takes on each first
    use: a start-up computes these for every one of thousands of items, and two threads
    computing one of them at once get the same value anyway."""

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self._compute = compute
        self._name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type) -> _once[T]: ...

    @overload
    def __get__(self, instance: object, owner: type) -> T: ...

    def __get__(self, instance: object, owner: type) -> T | _once[T]:
        if instance is None:
            return self
        # Kept where attribute lookup finds it before this descriptor from now on.
        value = instance.__dict__[self._name] = self._compute(instance)
        return value


class Item:
    """A valid entry as medfeed publishes it: the file's slug and label, and its id.

    The entry itself may lie in the entry cache's file (a restart on unchanged content):
    ``head`` answers what passes over every item ask, ``entry`` reads the rest back.
    Immutable by convention, like the frozen dataclass it was: its computed values are
    kept in ``__dict__`` when first asked for.
    """

    def __init__(
        self, slug: str, source: str, entry: AnyEntry, id: str, modified_ns: int = 0
    ) -> None:
        self.slug = slug
        self.source = source
        self.stored = entry
        """The entry as this item holds it: in memory, or in a cache file."""
        self.id = id
        self.modified_ns = modified_ns
        """The file's mtime when this version was read: when its bytes last changed."""

    @property
    def entry(self) -> Entry:
        """The entry, read back from the cache file if it lies there."""
        return loaded(self.stored)

    def with_id(self, id: str) -> Item:
        """The same version under another id."""
        return Item(self.slug, self.source, self.stored, id, self.modified_ns)

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

    @_once
    def head(self) -> Head:
        """What every pass over all items asks of the entry, without reading it back."""
        return head_of_any(self.stored)

    @_once
    def order(self) -> tuple[float, str]:
        """Sort key, newest first when reversed: publication time, then slug."""
        return (self.published_at, self.slug)

    @_once
    def changed_at(self) -> float:
        """When the entry last changed (updated, else published), as a POSIX timestamp."""
        return self.head.last_changed.timestamp()

    @_once
    def published_at(self) -> float:
        """The publication time as a POSIX timestamp, cheap to compare."""
        return self.head.published.timestamp()

    @cached_property
    def content_html(self) -> str:
        """The content as safe HTML, rendered when first needed.

        Only the items that feeds and visited pages show are ever rendered, which keeps
        start-up with thousands of entries fast.
        """
        content = self.entry.content
        return render_markdown(content) if content else ""

    def rendered_html(self) -> str | None:
        """``content_html`` if it was made already; None rather than render it now."""
        found = self.__dict__.get("content_html")
        return found if isinstance(found, str) else None

    def keep_html(self, html: str) -> None:
        """Take ``content_html`` as made from this content by an earlier process (the
        entry cache), so that it is not rendered again."""
        # What cached_property itself does on first use.
        self.__dict__["content_html"] = html


def build_item(
    slug: str, label: str, entry: AnyEntry, site: SiteConfig, modified_ns: int = 0
) -> Item:
    """Attach the computed id to a valid entry."""
    facts = head_of_any(entry)
    computed = facts.id or entry_id(site.authority, facts.published, slug)
    item = Item(slug, label, entry, computed, modified_ns)
    item.__dict__["head"] = facts  # worked out already
    return item
