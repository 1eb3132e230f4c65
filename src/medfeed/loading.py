"""Read a whole entries folder at once into a Catalog (the command line and static builds;
the running app keeps a live ``folder`` instead). Large folders are read by every core;
with a state folder, unchanged files come from the entry cache (see ``entrycache``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from medfeed.cachecodec import Record, Version, gc_paused, same_as_before
from medfeed.cachewriter import SavesApart
from medfeed.entrycache import RACY_NS, EntryCache
from medfeed.errors import ConfigError, EntryError, Problem
from medfeed.filestate import Signature, StatError, read_signature
from medfeed.identity import Claim, claim_of_file, identity_problems
from medfeed.parallel import FILE_SHARE, FILES_FROM, in_shares
from medfeed.reading import entry_paths, file_label, read_entry, read_site
from medfeed.salvage import Salvage, salvage_entry, salvage_of
from medfeed.sitefile import dropped_categories
from medfeed.siterecord import SiteVersion
from medfeed.store import Catalog, assemble, build_item, time_problems
from medfeed.storedentry import AnyEntry, loaded

Reading = tuple[str, AnyEntry | None, tuple[Problem, ...], Salvage | None, int]
"""One file read: its name, its entry or its problems (and then what can still be read
from it), and its mtime in nanoseconds."""


def _mtime_ns(path: Path) -> int:
    try:
        return path.lstat().st_mtime_ns
    except OSError:
        return 0


def _read_files(
    paths: list[Path], folder: Path, now: datetime, known: frozenset[str]
) -> list[Reading]:
    readings: list[Reading] = []
    labels = _labels(folder)
    for path in paths:
        try:
            entry, modified = read_entry(path, folder, known)
        except EntryError as e:
            readings.append((path.name, None, e.problems, salvage_of(e), _mtime_ns(path)))
            continue
        late = time_problems(entry, labels(path.name), now)
        readings.append((path.name, *_unless_late(entry, late), modified))
    return readings


def _read_in_parallel(
    paths: list[Path], folder: Path, now: datetime, known: frozenset[str]
) -> list[Reading]:
    # Validating thousands of files is CPU-bound: children read shares of the files and
    # pickle their readings back, which costs a fifth of reading them.
    if len(paths) < FILES_FROM:
        return _read_files(paths, folder, now, known)
    read = in_shares(paths, lambda share: _read_files(share, folder, now, known), FILE_SHARE)
    return [reading for share in read for reading in share]


class _Recalled:
    """What the entry cache gives a whole-folder read: the unchanged files' versions."""

    def __init__(self, cache: EntryCache, paths: list[Path]) -> None:
        self.cache = cache
        # Read back when first shown, then kept: a build shows every entry in several
        # documents (its page, its months and years, its categories' archives), a
        # rebuild only those of the documents that changed.
        self.records = cache.load(keep_all=True)
        self.hits: dict[str, Version] = {}
        self.before: dict[str, Version] = {}
        """Files read again that say what the cache's version says (see as_before)."""
        self.signatures: dict[str, Signature] = {}
        self.fresh: list[Path] = []
        self.names = [path.name for path in paths]
        for path in paths:
            try:
                signature = read_signature(path)
            except StatError:
                signature = None
            record = self.records.get(path.name)
            if signature is None:
                self.fresh.append(path)
            elif record and record.current and record.signature == signature:
                self.hits[path.name] = record.current
            else:
                self.fresh.append(path)
                self.signatures[path.name] = signature

    def as_before(self, fresh: list[Reading]) -> list[Reading]:
        """``fresh``, where a file changed only its signature dated as the cache's
        version that says the same (see ``same_as_before``)."""
        dated = []
        for reading in fresh:
            name, entry, problems, salvaged, _ = reading
            before = None if entry is None else same_as_before(self.records.get(name), entry)
            if before is not None:
                self.before[name] = before
                reading = (name, before.entry, problems, salvaged, before.modified_ns)
            dated.append(reading)
        return dated

    def cached_version(self, name: str) -> Version | None:
        """The cached version a reading was taken from, with its HTML if kept."""
        return self.hits.get(name) or self.before.get(name)

    def readings(self, folder: Path, now: datetime) -> list[Reading]:
        found: list[Reading] = []
        labels = _labels(folder)
        for name, version in self.hits.items():
            late = time_problems(version.entry, labels(name), now)
            found.append((name, *_unless_late(version.entry, late), version.modified_ns))
        return found

    def save(self, readings: list[Reading], now: datetime, apart: SavesApart | None) -> None:
        """Record the versions read (``apart``: by a forked child); the published ones
        on disk stay as they are."""
        settled = int(now.timestamp() * 1e9) - RACY_NS
        records = {name: Record(self.records[name].signature, v, None)
                   for name, v in self.hits.items()}  # fmt: skip
        for name, entry, _, _, modified in readings:
            signature = self.signatures.get(name)
            if entry is not None and signature is not None and signature[1] < settled:
                records[name] = Record(signature, Version(entry, modified), None)
        # Nothing to write when every recorded file was unchanged and is still there.
        if records.keys() != self.records.keys() or len(self.hits) != len(self.records):
            if apart is None:
                self.cache.save(records, adopt=self.names)
            else:
                apart.save(self.cache, records, self.names)


def load_catalog(
    folder: Path,
    now: datetime | None = None,
    *,
    state: Path | None = None,
    site_version: SiteVersion | None = None,
    apart: SavesApart | None = None,
) -> Catalog:
    """Read a whole entries folder (large ones with every core).

    With ``state``, a state folder, files unchanged since the entry cache there was
    written are not read again, and the cache is brought up to date (with ``apart``, by
    a forked child the caller waits for). ``site_version`` stands for site.toml, which
    is then not read.

    Raises:
        ConfigError: site.toml is missing or invalid, or the folder cannot be listed.
    """
    if site_version is None:
        site, site_modified = read_site(folder)
    else:
        site, site_modified = site_version.site, site_version.modified_ns
    try:
        paths = list(entry_paths(folder))
        folder_modified = folder.stat().st_mtime_ns
    except OSError as e:
        raise ConfigError(f"{folder}: cannot list the entries folder ({e.strerror})") from e
    problems: list[Problem] = []
    items = []
    broken: list[Claim] = []
    changed = max(site_modified, folder_modified)
    known = frozenset(c.slug for c in site.categories)
    moment = now or _utc_now()
    labels = _labels(folder)
    with gc_paused():
        recalled = _Recalled(EntryCache(state, folder), paths) if state is not None else None
        if recalled is None:
            readings = _read_in_parallel(paths, folder, moment, known)
        else:
            fresh = recalled.as_before(_read_in_parallel(recalled.fresh, folder, moment, known))
            recalled.save(fresh, moment, apart)
            readings = recalled.readings(folder, moment) + fresh
        for name, entry, found, salvaged, modified in readings:
            problems.extend(found)
            changed = max(changed, modified)
            if salvaged is not None:
                claim = claim_of_file(name, labels(name), salvaged, site)
                broken += [claim] if claim else []
            if entry is not None:
                slug = name.removesuffix(".json")
                item = build_item(slug, labels(name), entry, site, modified)
                hit = recalled.cached_version(name) if recalled else None
                if hit is not None and hit.html is not None:
                    item.keep_html(hit.html)
                items.append(item)
    published, cross = assemble(site, items, broken=broken)
    return Catalog(
        site=site,
        items=published,
        problems=tuple(sorted({*problems, *cross})),
        site_modified_ns=site_modified,
        changed_ns=changed,
    )


def load_catalog_in_force(
    folder: Path, recorded: SiteVersion | None, now: datetime | None = None
) -> Catalog:
    """The catalog a process starting now would serve, ``recorded`` being the settings
    in force for the folder (see ``siterecord``): a site.toml that is broken, or that
    drops a category the entries use, is a site.toml problem, and the entries are
    checked against the recorded settings, as the live folder does.

    Raises:
        ConfigError: site.toml is missing or invalid and nothing is recorded, or the
            folder cannot be listed.
    """
    if recorded is None:
        return load_catalog(folder, now)
    try:
        site, modified = read_site(folder)
    except ConfigError as e:
        held = e.problems
    else:
        if site == recorded.site:
            return load_catalog(folder, now, site_version=SiteVersion(site, modified, None))
        before = load_catalog(folder, now, site_version=recorded)
        users = {item.source: item for item in before.items}
        held = dropped_categories(folder, recorded.site, site, lambda: users)
        if not held:
            return load_catalog(folder, now, site_version=SiteVersion(site, modified, None))
        return replace(before, problems=tuple(sorted({*held, *before.problems})))
    before = load_catalog(folder, now, site_version=recorded)
    return replace(before, problems=tuple(sorted({*held, *before.problems})))


def check_entries_alone(folder: Path, now: datetime | None = None) -> list[Problem]:
    """Every entry file's own problems, and ids and aliases across files, for a folder
    whose site.toml cannot be read: categories and the ids computed from the authority
    need it, and are checked once it can be.

    Raises:
        OSError: the folder cannot be listed.
    """
    problems: list[Problem] = []
    claims = []
    moment = now or _utc_now()
    for path in entry_paths(folder):
        label = file_label(folder, path.name)
        try:
            entry, _ = read_entry(path, folder)
        except EntryError as e:
            problems += e.problems
            salvaged = salvage_of(e)
        else:
            problems += time_problems(entry, label, moment)
            salvaged = salvage_entry(entry)
        claim = claim_of_file(path.name, label, salvaged, None)
        claims += [claim] if claim else []
    return sorted({*problems, *identity_problems(claims)})


def _labels(folder: Path) -> Callable[[str], str]:
    """``file_label`` for the files of one folder, the folder's part worked out once
    (it asks the file system where the folder is)."""
    prefix = file_label(folder, "")
    return lambda name: prefix + name


def _unless_late(
    entry: AnyEntry, late: list[Problem]
) -> tuple[AnyEntry | None, tuple[Problem, ...], Salvage | None]:
    # An entry whose times are not yet right publishes nothing, but still says who it is.
    return (None, tuple(late), salvage_entry(loaded(entry))) if late else (entry, (), None)


def _utc_now() -> datetime:
    return datetime.now(UTC)
