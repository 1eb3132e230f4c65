"""Which documents a static build makes and in what order: the rounds that let no
document link to one not yet written, shared out between the cores; and which of them a
rebuild need not make, because each shows what it showed when its file was written (see
``documentkeys``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from medfeed.documents import KINDS, SITEMAP, SITEMAP_PART, Kind
from medfeed.manifest import Record
from medfeed.parallel import cores
from medfeed.snapshot import Snapshot
from medfeed.urls import split

PARALLEL_FROM = 200
"""A build round of at least this many documents is shared out between every core."""

WRITTEN, REDATED, UNCHANGED = 0, 1, 2
Result = tuple[str, Record, int]
"""A document put in place: its file, its record, and which of the three outcomes."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def file_for(path: str) -> str:
    """The file that holds a site path: pages are ``index.html`` in their folder."""
    relative = path.lstrip("/")
    return relative + "index.html" if relative.endswith("/") or not relative else relative


def written_at(record: Record) -> datetime:
    """The Last-Modified a document was written with (its file's mtime)."""
    return EPOCH + timedelta(microseconds=record[1] // 1000)


def path_of(rel: str) -> str:
    """The site path a file of the build holds (``file_for`` the other way)."""
    folder, _, name = rel.rpartition("/")
    if name == "index.html":
        return "/" + (folder + "/" if folder else "")
    return "/" + rel


Job = tuple[Kind, str | None]
"""One document to put in place: its kind and what it is about."""
Weighed = tuple[int, list[Job]]
"""Documents put in place together, and roughly what they cost (entry pages, or items)."""


def round_of(kind: Kind) -> int:
    """Which of a build's three rounds puts documents of this kind in place (see plan)."""
    if kind.scope == "entry" or (kind.shows in ("archive", "period") and "month" in kind.scope):
        return 0
    # The sitemap gives every page's date: written last, once they all are.
    return 2 if kind.shows == "feed" or kind in (SITEMAP, SITEMAP_PART) else 1


def plan(snapshot: Snapshot) -> tuple[list[Weighed], list[Weighed], list[Job]]:
    """The documents in three rounds, each ending before the next begins, so that no
    document links to one not yet written: each month's entry pages and then its archive
    (feeds and pages, the site's and its categories'); the years' pages and every other
    page and list; then the feeds and the sitemap (which dates every page).

    A month's documents show the same entries: one process puts all of them, so each
    entry's Markdown is rendered and each of its texts written once (see ItemTexts).
    """
    months: dict[tuple[int | None, int | None], list[Job]] = {}
    periods: dict[int | None, list[Job]] = {}  # a year's pages, the site's and categories'
    singles: list[list[Job]] = []
    calendars: list[Job] = []  # one process: their events' texts are written once
    feeds: list[Job] = []
    for kind in KINDS:
        if kind.scope == "entry":
            for slug in snapshot.subjects(kind):
                published = snapshot.item(slug or "").head.published
                months.setdefault((published.year, published.month), []).append((kind, slug))
    for kind in KINDS:
        rounds = round_of(kind)
        if kind.scope == "entry":
            continue
        if rounds == 0:
            for subject in snapshot.subjects(kind):
                _, year, month = split(kind.scope, subject)
                months.setdefault((year, month), []).append((kind, subject))
        elif rounds == 2:
            feeds += [(kind, subject) for subject in snapshot.subjects(kind)]
        elif kind.shows == "calendar":
            calendars += [(kind, subject) for subject in snapshot.subjects(kind)]
        elif kind.shows in ("archive", "period"):
            for subject in snapshot.subjects(kind):
                periods.setdefault(split(kind.scope, subject)[1], []).append((kind, subject))
        else:
            singles += [[(kind, subject)] for subject in snapshot.subjects(kind)]
    others = [*periods.values(), *([calendars] if calendars else []), *singles]
    # A month holding much of the site (a bulk import) is split, or one process would
    # put it alone; its archive goes with its last part.
    most = max(PARALLEL_FROM, sum(map(len, months.values())) // (4 * cores()))
    parts = [group[start : start + most] for group in months.values() for start in
             range(0, len(group), most)]  # fmt: skip

    def items(group: list[Job]) -> int:
        # What its documents show: a year's pages list every entry of the year.
        return sum(len(snapshot.key(kind, subject)) for kind, subject in group)

    return [(len(part), part) for part in parts], [(items(g), g) for g in others], feeds


class Unchanged:
    """The documents a rebuild need not make: each shows what it showed when the build
    that wrote it kept its key (see ``documentkeys``), its file is as written, and the
    date it was written with is the one this build gives its bytes."""

    def __init__(
        self,
        snapshot: Snapshot,
        kept: Mapping[str, Record],
        keys: Mapping[str, str],
        of: Callable[[Kind, str | None], str | None],
    ) -> None:
        self._snapshot, self._kept, self._keys, self._of = snapshot, kept, keys, of
        self.digests: dict[str, str] = {}
        """What every document shows, by file, where it can be known."""
        self.results: list[Result] = []
        """The documents found unchanged, as put in place."""

    def _made(self, job: Job) -> bool:
        kind, subject = job
        path = kind.path(subject)
        rel = file_for(path)
        digest = self._of(kind, subject)
        if digest is None:
            return True
        self.digests[rel] = digest
        record = self._kept.get(rel)
        if record is None or self._keys.get(rel) != digest:
            return True
        written = written_at(record)
        if not self._snapshot.ledger.gives(path, record[0], written):
            return True
        self.results.append((rel, record, UNCHANGED))
        return False

    def left_in(self, jobs: list[Job]) -> list[Job]:
        """Those of ``jobs`` to make."""
        return [job for job in jobs if self._made(job)]

    def left_of(self, groups: list[Weighed]) -> list[Weighed]:
        """Each group's documents to make, weighed again by what they show."""
        left = []
        for weight, group in groups:
            jobs = self.left_in(group)
            if jobs:
                left.append((weight * len(jobs) // len(group), jobs))
        return left
