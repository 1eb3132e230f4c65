"""The site settings in force for a live entries folder, and why a newer site.toml waits.

site.toml is read again only when its signature changes or a version of it is held
back. A version that cannot be read, or that drops a category published entries still
use, is reported and the last valid settings stay in force, so that no edit to
site.toml unpublishes items by accident. With a state folder, the settings in force are
recorded there (see ``siterecord``): a process that starts later, while site.toml is
broken, starts from them, as if it had been running all along.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from medfeed.errors import ConfigError, Problem
from medfeed.filestate import FileState, Signature, StatError, read_signature
from medfeed.models import SiteConfig
from medfeed.reading import MAX_FILE_BYTES, SITE_FILE, file_label, read_site
from medfeed.safefile import read_regular_file
from medfeed.siterecord import SiteRecord, SiteVersion, parse_site_text
from medfeed.store import Item


def read_site_version(root: Path) -> SiteVersion:
    """Read and validate site.toml, with the text its settings were read from.

    Raises:
        ConfigError: the file is missing, unreadable, not TOML, or not a valid description.
    """
    site, modified = read_site(root)
    # Read again for the record: the text must give these very settings, or the file
    # changed in between and the watcher will bring the newer version.
    try:
        raw, _ = read_regular_file(root / SITE_FILE, root, MAX_FILE_BYTES)
        text = raw.decode("utf-8-sig")
        same = parse_site_text(text) == site
    except (OSError, ValueError):
        same = False
    return SiteVersion(site, modified, text if same else None)


class SiteFile:
    """The site.toml of one folder: the settings in force and the problems of a newer one.

    Not thread-safe: callers serialise every method.

    Raises:
        ConfigError: at creation, site.toml cannot be read and no valid version of it is
            recorded (there is nothing to keep).
    """

    def __init__(self, root: Path, record: SiteRecord | None = None) -> None:
        self.root = root
        self.record = record
        self.problems: tuple[Problem, ...] = ()
        self.unreadable = False
        """Whether the last look at site.toml was refused by the system (permissions):
        no notification says when it no longer is."""
        recorded = record.load() if record is not None else None
        self._recorded = recorded
        """The version this process knows the record holds."""
        self._signature: Signature | None
        if recorded is None:
            self._signature = self._stat()
            self._put_in_force(read_site_version(root))
        else:
            # The settings the processes serving this folder have in force; site.toml
            # is read by the first reload, and held back or taken as by theirs.
            self._signature = None
            self._put_in_force(recorded)

    def _put_in_force(self, version: SiteVersion) -> None:
        self.site: SiteConfig = version.site
        self.modified_ns = version.modified_ns
        self.known = frozenset(c.slug for c in version.site.categories)
        """The category slugs of the settings in force."""
        if self.record is not None and (
            self._recorded is None or self._recorded[1:] != version[1:]
        ):
            if self.record.save(version):
                self._recorded = version

    def _stat(self) -> Signature | None:
        try:
            signature = read_signature(self.root / SITE_FILE)
        except StatError:
            self.unreadable = True
            return None
        self.unreadable = False
        return signature

    def reload(
        self, published: Callable[[], Mapping[str, Item]], files: Mapping[str, FileState]
    ) -> bool:
        """Read site.toml again if it changed or was held back; whether anything changed.

        ``published`` gives what readers have, by source file (asked for only if the
        file changed), and ``files`` what was last read from each entry file: a new
        version may not drop a category they use.
        """
        signature = self._stat()
        if signature == self._signature and signature is not None and not self.problems:
            return False
        self._signature = signature
        try:
            version = read_site_version(self.root)
        except ConfigError as e:
            # Unreadable, from the error the system gave: not the file's own fault.
            self.unreadable |= isinstance(getattr(e.__cause__, "__cause__", None), OSError)
            return self._hold_back(e.problems)
        missing = dropped_categories(self.root, self.site, version.site, published, files)
        if missing:
            return self._hold_back(missing)
        changed = version.site != self.site or bool(self.problems)
        self.problems = ()
        self._put_in_force(version)
        return changed

    def _hold_back(self, problems: tuple[Problem, ...]) -> bool:
        changed = problems != self.problems
        self.problems = problems
        return changed


def dropped_categories(
    root: Path,
    site: SiteConfig,
    new: SiteConfig,
    published: Callable[[], Mapping[str, Item]],
    files: Mapping[str, FileState] | None = None,
) -> tuple[Problem, ...]:
    """Why ``new`` may not replace the settings ``site`` of the folder ``root``: the
    categories it drops that the items ``published`` gives (by source file; a pass
    over every file, asked for only if a category is dropped) are filed under.

    An item whose file now holds a version that fits ``new`` (``files``, what was last
    read of each) is no obstacle.
    """
    # Dropping a category readers' items are filed under (a typo, a tidy-up done in
    # the wrong order) would unpublish every one of them from every feed.
    known = {c.slug for c in new.categories}
    gone = {c.slug for c in site.categories} - known
    if not gone:
        return ()
    users: dict[str, list[str]] = {}
    for source, item in published().items():
        name = source.rsplit("/", 1)[-1]
        state = files.get(name) if files is not None else None
        if state and state.item and known.issuperset(state.item.head.categories):
            continue  # its current version fits the new vocabulary
        for slug in gone.intersection(item.head.categories):
            users.setdefault(slug, []).append(name)
    problems = []
    for slug, sources in sorted(users.items()):
        shown = ", ".join(sorted(sources)[:3]) + (", …" if len(sources) > 3 else "")
        message = (
            f"the category {slug!r} is gone, but {len(sources)} published "
            f"entr{'y uses' if len(sources) == 1 else 'ies use'} it ({shown}); "
            "the previous settings stay in force until it is back or no entry uses it"
        )
        problems.append(Problem(file_label(root, SITE_FILE), "categories", message))
    return tuple(problems)
