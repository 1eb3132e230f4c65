"""The site settings in force for a live entries folder, and why a newer site.toml waits.

site.toml is read again only when its signature changes or a version of it is held
back. A version that cannot be read, or that drops a category published entries still
use, is reported and the last valid settings stay in force, so that no edit to
site.toml unpublishes items by accident.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from medfeed.errors import ConfigError, Problem
from medfeed.filestate import FileState, Signature, StatError, read_signature
from medfeed.models import SiteConfig
from medfeed.reading import SITE_FILE, file_label, read_site
from medfeed.store import Item


class SiteFile:
    """The site.toml of one folder: the settings in force and the problems of a newer one.

    Not thread-safe: callers serialise every method.

    Raises:
        ConfigError: at creation, site.toml cannot be read (there is nothing to keep).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.site: SiteConfig
        self.site, self.modified_ns = read_site(root)
        self.known = frozenset(c.slug for c in self.site.categories)
        """The category slugs of the settings in force."""
        self.problems: tuple[Problem, ...] = ()
        self._signature = self._stat()

    def _stat(self) -> Signature | None:
        try:
            return read_signature(self.root / SITE_FILE)
        except StatError:
            return None

    def reload(self, published: Mapping[str, Item], files: Mapping[str, FileState]) -> bool:
        """Read site.toml again if it changed or was held back; whether anything changed.

        ``published`` is what readers have, by source file, and ``files`` what was last
        read from each entry file: a new version may not drop a category they use.
        """
        signature = self._stat()
        if signature == self._signature and signature is not None and not self.problems:
            return False
        self._signature = signature
        try:
            site, modified = read_site(self.root)
        except ConfigError as e:
            return self._hold_back(e.problems)
        missing = self._categories_in_use(site, published, files)
        if missing:
            return self._hold_back(missing)
        changed = site != self.site or bool(self.problems)
        self.site, self.modified_ns, self.problems = site, modified, ()
        self.known = frozenset(c.slug for c in site.categories)
        return changed

    def _hold_back(self, problems: tuple[Problem, ...]) -> bool:
        changed = problems != self.problems
        self.problems = problems
        return changed

    def _categories_in_use(
        self, site: SiteConfig, published: Mapping[str, Item], files: Mapping[str, FileState]
    ) -> tuple[Problem, ...]:
        # Dropping a category readers' items are filed under (a typo, a tidy-up done in
        # the wrong order) would unpublish every one of them from every feed.
        known = {c.slug for c in site.categories}
        gone = {c.slug for c in self.site.categories} - known
        users: dict[str, list[str]] = {}
        for source, item in published.items():
            name = source.rsplit("/", 1)[-1]
            state = files.get(name)
            if state and state.item and known.issuperset(state.item.entry.categories):
                continue  # its current version fits the new vocabulary
            for slug in gone.intersection(item.entry.categories):
                users.setdefault(slug, []).append(name)
        problems = []
        for slug, sources in sorted(users.items()):
            shown = ", ".join(sorted(sources)[:3]) + (", …" if len(sources) > 3 else "")
            message = (
                f"the category {slug!r} is gone, but {len(sources)} published "
                f"entr{'y uses' if len(sources) == 1 else 'ies use'} it ({shown}); "
                "the previous settings stay in force until it is back or no entry uses it"
            )
            problems.append(Problem(file_label(self.root, SITE_FILE), "categories", message))
        return tuple(problems)
