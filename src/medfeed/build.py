"""Write every feed and page of a site as static files, byte-identical to what the app
serves, each with a precompressed ``.gz`` sibling for nginx's gzip_static or any CDN.

A rebuild updates the folder in place and touches only what its manifest says medfeed
wrote: changed documents are replaced atomically, each file's mtime is its document's
Last-Modified, and files medfeed did not write are never changed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from medfeed.delivery import Document
from medfeed.documents import KINDS
from medfeed.outdir import (
    Record,
    delete_written,
    read_manifest,
    replace_file,
    survey,
    write_manifest,
)
from medfeed.parallel import in_two_processes
from medfeed.snapshot import Snapshot
from medfeed.urls import split

TWO_PROCESSES_FROM = 200
"""A build with at least this many entry pages writes them with two processes."""

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


def _put_entry_pages(
    root: str, snapshot: Snapshot, paths: Iterable[str], kept: Mapping[str, Record]
) -> list[Result]:
    results = []
    for path in paths:
        rel = file_for(path)
        results.append((rel, *_put(root, rel, snapshot.page(path), kept.get(rel))))
    return results


def _in_two_processes(
    root: str, snapshot: Snapshot, groups: list[list[str]], kept: Mapping[str, Record]
) -> list[Result]:
    """Write these documents (entry pages, archives), half of the groups in a child
    process; the documents of one group are written by the same process."""

    def write(some: Sequence[list[str]]) -> list[Result]:
        return _put_entry_pages(root, snapshot, [path for group in some for path in group], kept)

    many = sum(len(group) for group in groups) >= TWO_PROCESSES_FROM
    mine, theirs = in_two_processes(groups, write, minimum=2 if many else len(groups) + 1)
    if theirs is None:
        raise OSError("writing documents failed in a child process")
    return mine + theirs


def _balanced(groups: list[list[str]]) -> list[list[str]]:
    """The groups ordered so that taking every other one (as in_two_processes does) gives
    two halves of about the same number of documents: the largest first, each to the
    half with fewer so far."""
    halves: tuple[list[list[str]], list[list[str]]] = ([], [])
    sizes = [0, 0]
    for group in sorted(groups, key=len, reverse=True):
        smaller = 0 if sizes[0] <= sizes[1] else 1
        halves[smaller].append(group)
        sizes[smaller] += len(group)
    first, second = halves
    second += [[]] * (len(first) - len(second))
    first += [[]] * (len(second) - len(first))
    return [group for pair in zip(first, second, strict=True) for group in pair]


def build_site(snapshot: Snapshot, outdir: Path) -> BuildReport:
    """Bring ``outdir`` up to date with the snapshot, touching only what medfeed wrote.

    Raises:
        BuildError: files medfeed did not write are in the way; nothing was changed.
        OSError: reading or writing failed; what was written is listed for the next build.
    """
    manifest = read_manifest(outdir) if outdir.is_dir() else None
    # Every document of the table: each month's entry pages and then its archive (feeds
    # and pages, the site's and its categories'), the years' pages, then the other pages
    # and lists, then the feeds. A month's documents show the same entries: one process
    # writes all of them, so each entry's Markdown is rendered and each of its texts
    # written once (see ItemTexts); the months are shared between two processes.
    months: dict[tuple[int | None, int | None], list[str]] = {}
    for kind in KINDS:
        if kind.scope == "entry":
            for slug in snapshot.subjects(kind):
                published = snapshot.item(slug or "").entry.published
                months.setdefault((published.year, published.month), []).append(kind.path(slug))
    years: dict[tuple[int | None, int | None], list[str]] = {}
    for kind in KINDS:
        if kind.shows in ("archive", "period"):
            for subject in snapshot.subjects(kind):
                _, year, month = split(kind.scope, subject)
                (months if month else years).setdefault((year, month), []).append(
                    kind.path(subject)
                )
    paths = [path for group in [*months.values(), *years.values()] for path in group]
    # A month holding much of the site (a bulk import) is split, or one process would
    # write it alone; its archive goes with its last part.
    most = max(TWO_PROCESSES_FROM, len(paths) // 4)
    parts = [group[start : start + most] for group in months.values() for start in
             range(0, len(group), most)]  # fmt: skip
    rest = [
        (kind, subject)
        for feeds_last in (False, True)
        for kind in KINDS
        if kind.scope != "entry"
        and kind.shows not in ("archive", "period")
        and (kind.shows == "feed") == feeds_last
        for subject in snapshot.subjects(kind)
    ]
    files = [file_for(path) for path in paths]
    files += [file_for(kind.path(subject)) for kind, subject in rest]
    kept, fresh = survey(outdir, files, manifest)
    outdir.mkdir(exist_ok=True)
    root = str(outdir)
    documents: dict[str, Record | None] = dict(manifest.documents) if manifest else {}
    made = manifest.folders if manifest else frozenset()
    folders = set(made) | fresh
    if fresh or any(rel not in documents for rel in files):
        # Listed before they exist, so that an interrupted build's files are medfeed's.
        write_manifest(root, {**dict.fromkeys(files), **documents}, folders)
    results = _in_two_processes(root, snapshot, _balanced(parts), kept)
    results += _in_two_processes(root, snapshot, list(years.values()), kept)
    for kind, subject in rest:
        rel = file_for(kind.path(subject))
        results.append((rel, *_put(root, rel, snapshot.document_of(kind, subject), kept.get(rel))))
    now = {rel: record for rel, record, _ in results}
    deleted = delete_written(root, [rel for rel in documents if rel not in now], folders)
    if now != documents or folders != made:  # a rebuild that changed nothing changes nothing
        write_manifest(root, now, folders)
    outcomes = [outcome for _, _, outcome in results]
    return BuildReport(
        outcomes.count(WRITTEN),
        outcomes.count(REDATED),
        outcomes.count(UNCHANGED),
        deleted,
        frozenset(rel for rel, _, outcome in results if outcome == WRITTEN),
    )
