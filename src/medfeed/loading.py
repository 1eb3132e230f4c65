"""Read a whole entries folder at once into a Catalog (the command line and static builds;
the running app keeps a live ``folder`` instead). Large folders are read by two processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from medfeed.errors import ConfigError, EntryError, Problem
from medfeed.models import Entry
from medfeed.parallel import in_two_processes
from medfeed.reading import entry_paths, file_label, read_entry, read_site
from medfeed.store import Catalog, assemble, build_item, time_problems

PARALLEL_FROM = 2000
"""A folder of at least this many files is read by two processes."""


Reading = tuple[str, Entry | None, tuple[Problem, ...], int]
"""One file read: its name, its entry or its problems, and its mtime in nanoseconds."""


def _mtime_ns(path: Path) -> int:
    try:
        return path.lstat().st_mtime_ns
    except OSError:
        return 0


def _read_files(
    paths: list[Path], folder: Path, now: datetime, known: frozenset[str]
) -> list[Reading]:
    readings: list[Reading] = []
    for path in paths:
        try:
            entry, modified = read_entry(path, folder, known)
        except EntryError as e:
            readings.append((path.name, None, e.problems, _mtime_ns(path)))
            continue
        late = time_problems(entry, file_label(folder, path.name), now)
        readings.append((path.name, None if late else entry, tuple(late), modified))
    return readings


def _read_in_two_processes(
    paths: list[Path], folder: Path, now: datetime, known: frozenset[str]
) -> list[Reading]:
    # Validating thousands of files is CPU-bound: a child reads every other file and
    # pickles its readings back, which costs a fifth of reading them.
    def read(some: Sequence[Path]) -> list[Reading]:
        return _read_files(list(some), folder, now, known)

    mine, theirs = in_two_processes(paths, read, minimum=PARALLEL_FROM)
    if theirs is None:
        theirs = read(paths[1::2])
    merged = [reading for pair in zip(mine, theirs, strict=False) for reading in pair]
    return merged + mine[len(theirs) :]


def load_catalog(folder: Path, now: datetime | None = None) -> Catalog:
    """Read a whole entries folder (large ones with two processes).

    Raises:
        ConfigError: site.toml is missing or invalid, or the folder cannot be listed.
    """
    site, site_modified = read_site(folder)
    try:
        paths = list(entry_paths(folder))
        folder_modified = folder.stat().st_mtime_ns
    except OSError as e:
        raise ConfigError(f"{folder}: cannot list the entries folder ({e.strerror})") from e
    problems: list[Problem] = []
    items = []
    changed = max(site_modified, folder_modified)
    known = frozenset(c.slug for c in site.categories)
    readings = _read_in_two_processes(paths, folder, now or _utc_now(), known)
    for name, entry, found, modified in readings:
        problems.extend(found)
        changed = max(changed, modified)
        if entry is not None:
            slug = name.removesuffix(".json")
            items.append(build_item(slug, file_label(folder, name), entry, site, modified))
    published, cross = assemble(site, items)
    return Catalog(
        site=site,
        items=published,
        problems=tuple(sorted(problems + cross)),
        site_modified_ns=site_modified,
        changed_ns=changed,
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)
