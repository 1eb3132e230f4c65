"""Each item written once per format and cut, for every document of a content version
that shows it: an entry in the site's archive and in its categories' archives is one
piece of text, written once; so is its VEVENT in every calendar and its entry in every
list page.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable

from medfeed.store import Item

Key = tuple[int, str, bool, bool]
LARGEST = 256 * 1024
"""Larger texts (entries of megabytes, which feeds cut anyway) are written each time
they are needed rather than held for the life of the content version."""


class ItemTexts:
    """Written items by (item, format, with content, shortened), within one context.

    The context is what an item's text depends on besides the item (base URL, category
    titles, the site's author): a text is reused only where the context is the same.
    Items are held by identity, as content versions hold them, and kept alive with
    their texts, so an id is never taken for another item's.
    """

    def __init__(self) -> None:
        self._texts: dict[Hashable, dict[Key, tuple[Item, bytes]]] = {}

    def text(
        self,
        context: Hashable,
        item: Item,
        fmt: str,
        with_content: bool,
        short: bool,
        write: Callable[[], bytes],
    ) -> bytes:
        """The item's text in ``fmt`` (UTF-8): written by ``write`` unless it was already."""
        texts = self._texts.get(context)
        if texts is None:
            texts = self._texts.setdefault(context, {})
        key = (id(item), fmt, with_content, short)
        found = texts.get(key)
        if found is not None and found[0] is item:
            return found[1]
        written = write()
        if len(written) <= LARGEST:
            texts[key] = (item, written)
        return written

    def export(self, items: Iterable[Item], fmt: str) -> list[tuple[Hashable, Key, bytes]]:
        """The texts in ``fmt`` of these items, to be adopted by another process forked
        from the one that made the items (their ids are the same there)."""
        ids = set(map(id, items))
        return [
            (context, key, found[1])
            for context, texts in self._texts.items()
            for key, found in texts.items()
            if key[1] == fmt and key[0] in ids
        ]

    def adopt(self, rows: Iterable[tuple[Hashable, Key, bytes]], items: Iterable[Item]) -> None:
        """Take texts exported by a forked process for these (the same) items."""
        by_id = {id(item): item for item in items}
        for context, key, text in rows:
            item = by_id.get(key[0])
            if item is not None:
                self._texts.setdefault(context, {})[key] = (item, text)

    def kept_for(self, items: Iterable[Item]) -> ItemTexts:
        """The texts of these items (those of others left behind), for a new content
        version made in the same context: an edit then costs the edited item's texts."""
        present = {id(item): item for item in items}
        kept = ItemTexts()
        for context, texts in self._texts.items():
            kept._texts[context] = {
                key: found for key, found in texts.items() if present.get(key[0]) is found[0]
            }
        return kept

    def __len__(self) -> int:
        return sum(len(texts) for texts in self._texts.values())
