"""Write every feed and page of a site as static files, byte-identical to what the app
serves, each with a precompressed ``.gz`` sibling for nginx's gzip_static or any CDN.

A rebuild updates the folder in place and touches only what its manifest says medfeed
wrote: changed documents are replaced atomically, each file's mtime is its document's
Last-Modified, and files medfeed did not write are never changed.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from medfeed.delivery import Document
from medfeed.documentkeys import DocumentKeys
from medfeed.documents import KINDS, SITEMAP, SITEMAP_PART, Kind
from medfeed.itemtexts import Key
from medfeed.ledger import DateLedger
from medfeed.outdir import (
    Manifest,
    Record,
    delete_written,
    read_manifest,
    replace_file,
    survey,
    write_manifest,
)
from medfeed.pages import LISTED
from medfeed.parallel import cores, shared_out
from medfeed.snapshot import Snapshot
from medfeed.urls import split

PARALLEL_FROM = 200
"""A build round of at least this many documents is shared out between every core."""

WRITTEN, REDATED, UNCHANGED = 0, 1, 2
Result = tuple[str, Record, int]
"""A document put in place: its file, its record, and which of the three outcomes."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class BuildReport:
    """What a build did, in documents (a file and its .gz sibling each)."""

    written: int
    redated: int
    unchanged: int
    deleted: int
    written_files: frozenset[str] = frozenset()
    """The files written (new or changed bytes), relative to the output folder."""


def file_for(path: str) -> str:
    """The file that holds a site path: pages are ``index.html`` in their folder."""
    relative = path.lstrip("/")
    return relative + "index.html" if relative.endswith("/") or not relative else relative


def path_of(rel: str) -> str:
    """The site path a file of the build holds (``file_for`` the other way)."""
    folder, _, name = rel.rpartition("/")
    if name == "index.html":
        return "/" + (folder + "/" if folder else "")
    return "/" + rel


def _ns(moment: datetime) -> int:
    # Whole seconds, as in the app's Last-Modified header (and nginx's, from the mtime).
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000


def _put(root: str, rel: str, doc: Document, kept: Record | None) -> tuple[Record, int]:
    mtime = _ns(doc.last_modified)
    target = os.path.join(root, rel)
    if kept is not None and kept[0] == doc.etag:
        if kept[1] == mtime:
            return kept, UNCHANGED
        os.utime(target, ns=(mtime, mtime))
        os.utime(target + ".gz", ns=(mtime, mtime))
        return (kept[0], mtime, kept[2], kept[3], kept[4], kept[5]), REDATED
    main = replace_file(target, doc.body, mtime)
    # Only a document being written is compressed: an unchanged one costs its render.
    gz = replace_file(target + ".gz", doc.gzip, mtime)
    return (doc.etag, mtime, main.st_size, main.st_ino, gz.st_size, gz.st_ino), WRITTEN


Job = tuple[Kind, str | None]
"""One document to put in place: its kind and what it is about."""
Exported = tuple[Hashable, Key, bytes]
Weighed = tuple[int, list[Job]]
"""Documents put in place together, and roughly what they cost (entry pages, or items)."""


def _put_all(
    root: str, snapshot: Snapshot, jobs: Iterable[Job], kept: Mapping[str, Record]
) -> list[Result]:
    results = []
    for kind, subject in jobs:
        rel = file_for(kind.path(subject))
        results.append((rel, *_put(root, rel, snapshot.document_of(kind, subject), kept.get(rel))))
    return results


def _in_parallel(
    root: str, snapshot: Snapshot, groups: list[Weighed], kept: Mapping[str, Record]
) -> list[Result]:
    """Put these groups of documents in place with every core, the heaviest first; the
    documents of one group are put by one process, in order.

    The entries of lists written by other processes come back with their results, so
    that the pages of a later round (a year's, listing the months' entries) need not
    write them again."""
    many = sum(weight for weight, _ in groups) >= PARALLEL_FROM

    def put(group: list[Job]) -> tuple[list[Result], list[Exported]]:
        results = _put_all(root, snapshot, group, kept)
        shown = [snapshot.item(slug or "") for kind, slug in group if kind.scope == "entry"]
        return results, snapshot.item_texts.export(shown, LISTED)

    done = shared_out(
        [group for _, group in sorted(groups, key=lambda weighed: weighed[0], reverse=True)],
        put,
        processes=None if many else 1,
    )
    for _, exported in done:
        snapshot.item_texts.adopt(exported, snapshot.items)
    return [result for results, _ in done for result in results]


def _plan(snapshot: Snapshot) -> tuple[list[Weighed], list[Weighed], list[Job]]:
    """The documents in three rounds, each ending before the next begins, so that no
    document links to one not yet written: each month's entry pages and then its archive
    (feeds and pages, the site's and its categories'); the years' pages and every other
    page and list; then the feeds and the sitemap (which dates every page).

    A month's documents show the same entries: one process puts all of them, so each
    entry's Markdown is rendered and each of its texts written once (see ItemTexts).
    """
    months: dict[tuple[int | None, int | None], list[Job]] = {}
    for kind in KINDS:
        if kind.scope == "entry":
            for slug in snapshot.subjects(kind):
                published = snapshot.item(slug or "").head.published
                months.setdefault((published.year, published.month), []).append((kind, slug))
    periods: dict[tuple[int | None, int | None], list[Job]] = {}
    for kind in KINDS:
        if kind.shows in ("archive", "period"):
            for subject in snapshot.subjects(kind):
                _, year, month = split(kind.scope, subject)
                (months if month else periods).setdefault((year, month), []).append((kind, subject))
    # A month holding much of the site (a bulk import) is split, or one process would
    # put it alone; its archive goes with its last part.
    most = max(PARALLEL_FROM, sum(map(len, months.values())) // (4 * cores()))
    parts = [group[start : start + most] for group in months.values() for start in
             range(0, len(group), most)]  # fmt: skip
    others = [*periods.values()]
    feeds: list[Job] = []
    for kind in KINDS:
        if kind.scope != "entry" and kind.shows not in ("archive", "period"):
            jobs = [(kind, subject) for subject in snapshot.subjects(kind)]
            # The sitemap gives every page's date: written last, once they all are.
            if kind.shows == "feed" or kind in (SITEMAP, SITEMAP_PART):
                feeds += jobs
            else:
                others += [[job] for job in jobs]

    def items(group: list[Job]) -> int:
        # What its documents show: a year's pages list every entry of the year.
        return sum(len(snapshot.key(kind, subject)) for kind, subject in group)

    return [(len(part), part) for part in parts], [(items(g), g) for g in others], feeds


def dates_of(manifest: Manifest | None) -> DateLedger:
    """The dates an earlier build gave its documents (their files' mtimes, as its
    ``manifest`` lists them), for the snapshot of the next one: a document keeps its date
    while its bytes stay the same, and one that changed is dated later than its file was
    (see DateLedger)."""
    ledger = DateLedger()
    for rel, record in (manifest.documents if manifest else {}).items():
        if record is not None:
            moment = EPOCH + timedelta(microseconds=record[1] // 1000)
            ledger.remember(path_of(rel), record[0], moment)
    return ledger


def build_site(snapshot: Snapshot, outdir: Path) -> BuildReport:
    """Bring ``outdir`` up to date with the snapshot, touching only what medfeed wrote.

    Raises:
        BuildError: files medfeed did not write are in the way; nothing was changed.
        OSError: reading or writing failed; what was written is listed for the next build.
    """
    return build_over(snapshot, outdir, read_manifest(outdir) if outdir.is_dir() else None)


def build_over(snapshot: Snapshot, outdir: Path, manifest: Manifest | None) -> BuildReport:
    """``build_site`` over the build ``manifest`` lists (read by the caller)."""
    months, others, feeds = _plan(snapshot)
    files = [
        file_for(kind.path(subject))
        for group in [*(group for _, group in [*months, *others]), feeds]
        for kind, subject in group
    ]
    kept, fresh = survey(outdir, files, manifest)
    outdir.mkdir(exist_ok=True)
    root = str(outdir)
    documents: dict[str, Record | None] = dict(manifest.documents) if manifest else {}
    keys = dict(manifest.keys) if manifest else {}
    made = manifest.folders if manifest else frozenset()
    folders = set(made) | fresh
    if fresh or any(rel not in documents for rel in files):
        # Listed before they exist, so that an interrupted build's files are medfeed's.
        write_manifest(root, {**dict.fromkeys(files), **documents}, folders, keys)
    same = _Unchanged(snapshot, kept, keys)
    results = same.results
    results += _in_parallel(root, snapshot, same.left_of(months), kept)
    results += _in_parallel(root, snapshot, same.left_of(others), kept)
    for rel, record, _ in results:  # dated by the processes that wrote them
        snapshot.dated(path_of(rel), EPOCH + timedelta(microseconds=record[1] // 1000))
    results += _put_all(root, snapshot, same.left_in(feeds), kept)
    now = {rel: record for rel, record, _ in results}
    deleted = delete_written(root, [rel for rel in documents if rel not in now], folders)
    if now != documents or folders != made or same.digests != keys:
        # A rebuild that changed nothing changes nothing.
        write_manifest(root, now, folders, same.digests)
    outcomes = [outcome for _, _, outcome in results]
    return BuildReport(
        outcomes.count(WRITTEN),
        outcomes.count(REDATED),
        outcomes.count(UNCHANGED),
        deleted,
        frozenset(rel for rel, _, outcome in results if outcome == WRITTEN),
    )


class _Unchanged:
    """The documents a rebuild need not make: each shows what it showed when the build
    that wrote it kept its key (see ``documentkeys``), its file is as written, and the
    date it was written with is the one this build gives its bytes."""

    def __init__(self, snapshot: Snapshot, kept: Mapping[str, Record], keys: Mapping[str, str]):
        self._snapshot, self._kept, self._keys = snapshot, kept, keys
        self._of = DocumentKeys(snapshot).of
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
        written = EPOCH + timedelta(microseconds=record[1] // 1000)
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
