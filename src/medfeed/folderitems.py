"""What a live entries folder publishes from what it last read of each file: the version
of each file in use, and the rules across files applied with what readers already have
as the fallback.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from medfeed.errors import Problem
from medfeed.filestate import FileState
from medfeed.identity import claim_of_file
from medfeed.models import SiteConfig
from medfeed.salvage import Salvage
from medfeed.store import Item, assemble
from medfeed.storedentry import AnyEntry, Head, same_entry


@dataclass(frozen=True)
class FolderView:
    """What a live folder knows, as it stands: the state of each file by name, the files
    found gone whose removal is not yet published, what readers have (by source file),
    and what the files with problems still say of who they are (by name)."""

    site: SiteConfig
    files: Mapping[str, FileState]
    vanished: Collection[str]
    published: Mapping[str, Item]
    salvaged: Mapping[str, Salvage]
    label: Callable[[str], str]


def choose_items(view: FolderView) -> tuple[tuple[Item, ...], list[Problem]]:
    """The items to publish, newest first, with every file's problems and those across
    files (ids, aliases, categories)."""
    items = []
    last_good = {}
    problems: list[Problem] = []
    present_ids = set()
    present_entries: dict[Head, list[AnyEntry]] = {}  # by head: compared only if alike
    if view.vanished:  # to tell a file renamed from one deleted
        for name, state in view.files.items():
            if name not in view.vanished and state.item is not None:
                present_ids.add(state.item.id)
                present_entries.setdefault(state.item.head, []).append(state.item.stored)
    # Any order: assemble sorts, and ties are broken by slug.
    for name, state in view.files.items():
        problems.extend(state.problems)
        current = state.item or state.last_good
        if current is None:
            continue
        if name in view.vanished and (
            current.id in present_ids
            or any(same_entry(current.stored, e) for e in present_entries.get(current.head, ()))
        ):
            continue  # renamed: the new name already carries it
        if state.last_good is not None:
            last_good[state.last_good.source] = state.last_good
        items.append(current)
    # What readers have now is the best fallback for a file that breaks a rule.
    last_good.update((s, i) for s, i in view.published.items() if s in last_good)
    broken = [
        claim
        for name, salvaged in view.salvaged.items()
        if name not in view.vanished
        and (claim := claim_of_file(name, view.label(name), salvaged, view.site))
    ]
    published, cross = assemble(
        view.site,
        items,
        last_good=last_good,
        published={(item.id, source) for source, item in view.published.items()},
        broken=broken,
    )
    return published, [*problems, *cross]
