"""Each item written once per format and cut, for every document of a content version
that shows it: an entry in the site's archive and in its categories' archives is one
piece of text, written once; so is its VEVENT in every calendar and its entry in every
list page.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Sequence

from medfeed.store import Item

Key = tuple[int, str, bool, bool]
LARGEST = 256 * 1024
"""Larger texts (entries of megabytes, which feeds cut anyway) are written each time
they are needed rather than held for the life of the content version."""


Cut = tuple[str, bool, bool]
"""A text's format, whether it has the content, and whether it is shortened."""
Slot = tuple[Item, dict[Cut, bytes]]
Recall = Callable[[Hashable, Item, Cut], "bytes | None"]
"""Where texts written by an earlier process may be found (a static build's, kept in
its state folder): the text of an item in a context and cut, or None."""
Row = tuple[Hashable, Key, bytes]


class ItemTexts:
    """Written items by (item, format, with content, shortened), within one context.

    The context is what an item's text depends on besides the item (base URL, category
    titles, the site's author): a text is reused only where the context is the same.
    Items are held by identity, as content versions hold them, and kept alive with
    their texts, so an id is never taken for another item's. The texts of one item are
    shared by the content versions that show it.
    """

    def __init__(self) -> None:
        self._texts: dict[Hashable, dict[int, Slot]] = {}
        self.recall: Recall | None = None
        """Asked before a text is written, where set."""
        self.made: list[tuple[Hashable, Item, Cut]] | None = None
        """Each text this process took (written or recalled), in order, where kept: a
        build's processes send them back to the one that forked them."""
        self.fitted: dict[Hashable, object] = {}
        """Each calendar as last fitted (icalsize.Fitted), by context and calendar: the
        next content version's calendars take the texts of the same events from it.
        Shared by the versions made from this one, each fitting replacing its own."""

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
        slot = texts.get(id(item))
        cut = (fmt, with_content, short)
        if slot is not None and slot[0] is item:
            found = slot[1].get(cut)
            if found is not None:
                return found
        recall = self.recall
        recalled = recall(context, item, cut) if recall is not None else None
        written = write() if recalled is None else recalled
        if len(written) <= LARGEST:
            if slot is None or slot[0] is not item:
                slot = texts[id(item)] = (item, {})
            slot[1][cut] = written
            if self.made is not None:
                self.made.append((context, item, cut))
        return written

    def held(self, context: Hashable, items: Sequence[Item], cut: Cut) -> list[bytes | None]:
        """The texts of these items in one cut that are held, None for the others, in
        one pass: a calendar of thousands of events asks for thousands at once."""
        slots = self._texts.get(context, {})
        return [
            None if slot is None or slot[0] is not item else slot[1].get(cut)
            for item, slot in zip(items, map(slots.get, map(id, items)), strict=True)
        ]

    def made_since(self, mark: int, formats: Collection[str]) -> list[Row]:
        """The texts in these formats taken since ``len(made)`` was ``mark``, to be
        adopted by the process that forked this one."""
        made = self.made or []
        rows = []
        for context, item, cut in made[mark:]:
            if cut[0] not in formats:
                continue
            slot = self._texts[context].get(id(item))
            if slot is not None and slot[0] is item:
                rows.append((context, (id(item), *cut), slot[1][cut]))
        return rows

    def rows(self) -> Iterator[tuple[Hashable, Item, Cut, bytes]]:
        """Every text held, with its context, item and cut."""
        for context, texts in self._texts.items():
            for item, cuts in texts.values():
                for cut, text in cuts.items():
                    yield context, item, cut, text

    def adopt(self, rows: Iterable[Row], items: Iterable[Item]) -> None:
        """Take texts sent by a forked process (``made_since``) for these (the same)
        items."""
        by_id = {id(item): item for item in items}
        for context, key, text in rows:
            item = by_id.get(key[0])
            if item is None:
                continue
            texts = self._texts.setdefault(context, {})
            slot = texts.get(key[0])
            if slot is None or slot[0] is not item:
                slot = texts[key[0]] = (item, {})
            slot[1][key[1:]] = text

    def alongside(self) -> ItemTexts:
        """The same texts (those written through it are this one's too), with calendars
        fitted of their own: for documents made aside (an entry written alone), whose
        calendars the next version's should not take for this one's."""
        aside = ItemTexts()
        aside._texts, aside.recall, aside.made = self._texts, self.recall, self.made
        return aside

    def kept_for(self, items: Iterable[Item]) -> ItemTexts:
        """The texts of these items (those of others left behind), for a new content
        version made in the same context: an edit then costs the edited item's texts."""
        present = {id(item): item for item in items}
        kept = ItemTexts()
        kept.fitted = self.fitted
        for context, texts in self._texts.items():
            kept._texts[context] = {
                key: slot for key, slot in texts.items() if present.get(key) is slot[0]
            }
        return kept

    def without(self, removed: Iterable[Item]) -> ItemTexts:
        """The texts of every item but these, for a new content version made in the same
        context from the items of this one's less ``removed`` (and new ones)."""
        gone = {id(item): item for item in removed}
        kept = ItemTexts()
        kept.fitted = self.fitted
        for context, texts in self._texts.items():
            kept._texts[context] = left = dict(texts)
            for key, item in gone.items():
                slot = left.get(key)
                if slot is not None and slot[0] is item:
                    del left[key]
        return kept

    def __len__(self) -> int:
        return sum(len(slot[1]) for texts in self._texts.values() for slot in texts.values())
