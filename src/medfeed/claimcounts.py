"""Who claims what among a live folder's files, counted as files change: each id, and
each path (a slug or an alias), with the files that claim it. A key claimed more than
once is crowded: the rules across files (``store.assemble``) can only bite where keys
are crowded, so only the files claiming them need the whole rules.
"""

from __future__ import annotations

Footprint = tuple[tuple[str, ...], tuple[str, ...]]
"""What one file claims: its ids (each once) and its paths (its slug once, and every
alias it names: an alias equal to its slug is a second claim)."""
Holders = str | list[str]
"""The file claiming a key, or the files (in a list only once there are several: most
keys have one holder, kept as the name itself)."""


class ClaimCounts:
    """The holders of every claimed id and path, and the crowded ones."""

    def __init__(self) -> None:
        self._ids: dict[str, Holders] = {}
        self._paths: dict[str, Holders] = {}
        self.crowded: set[tuple[str, str]] = set()
        """("id", id) and ("path", path) claimed more than once."""

    def claim_alone(self, name: str, claimed_id: str, slug: str) -> bool:
        """Claim ``claimed_id`` and ``slug`` for ``name`` if nobody claims either yet
        (start-up's common case, in few steps); whether it did."""
        if claimed_id in self._ids or slug in self._paths:
            return False
        self._ids[claimed_id] = name
        self._paths[slug] = name
        return True

    def add(self, name: str, footprint: Footprint) -> None:
        """Count what ``name`` claims."""
        ids, paths = footprint
        for key in ids:
            self._add(self._ids, "id", key, name)
        for key in paths:
            self._add(self._paths, "path", key, name)

    def remove(self, name: str, footprint: Footprint) -> None:
        """Stop counting what ``name`` claimed (as ``add`` was told)."""
        ids, paths = footprint
        for key in ids:
            self._remove(self._ids, "id", key, name)
        for key in paths:
            self._remove(self._paths, "path", key, name)

    def crowding(self) -> set[str]:
        """The files claiming a crowded key."""
        names: set[str] = set()
        for kind, key in self.crowded:
            holders = (self._ids if kind == "id" else self._paths)[key]
            names.update((holders,) if isinstance(holders, str) else holders)
        return names

    def _add(self, table: dict[str, Holders], kind: str, key: str, name: str) -> None:
        holders = table.get(key)
        if holders is None:
            table[key] = name
            return
        if isinstance(holders, str):
            table[key] = [holders, name]
        else:
            holders.append(name)
        self.crowded.add((kind, key))

    def _remove(self, table: dict[str, Holders], kind: str, key: str, name: str) -> None:
        holders = table[key]
        if isinstance(holders, str):
            del table[key]
            return
        holders.remove(name)
        if len(holders) == 1:
            table[key] = holders[0]
            self.crowded.discard((kind, key))
