"""Write every feed and page of a site as static files, byte-identical to what the app
serves, each with a precompressed ``.gz`` sibling for nginx's gzip_static or any CDN.

A rebuild updates the folder in place and touches only what its manifest says medfeed
wrote: changed documents are replaced atomically, each file's mtime is its document's
Last-Modified, and files medfeed did not write are never changed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from medfeed.buildplan import (
    EPOCH,
    PARALLEL_FROM,
    REDATED,
    UNCHANGED,
    WRITTEN,
    Job,
    Result,
    Unchanged,
    Weighed,
    path_of,
    plan,
    written_at,
)
from medfeed.buildplan import file_for as file_for
from medfeed.buildtexts import BuildTexts
from medfeed.delivery import Document
from medfeed.documentkeys import DocumentKeys
from medfeed.itemtexts import Row
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
from medfeed.parallel import shared_out
from medfeed.snapshot import Snapshot

KEPT_TEXTS = ("ics", LISTED)
"""The entries' texts kept for the next build: those of documents that show every entry
(the calendars) or many (a year's page). A feed shows few, and the archive's feeds,
which show every entry too, are made again a month at a time."""


@dataclass(frozen=True)
class BuildReport:
    """What a build did, in documents (a file and its .gz sibling each)."""

    written: int
    redated: int
    unchanged: int
    deleted: int
    written_files: frozenset[str] = frozenset()
    """The files written (new or changed bytes), relative to the output folder."""
    left: Manifest | None = None
    """What the folder holds after the build, as its manifest lists it."""

    def line(self, outdir: str) -> str:
        """What the build did, as the command says it."""
        return (
            f"{outdir}: {self.written} documents written, {self.redated} re-dated, "
            f"{self.unchanged} unchanged, {self.deleted} deleted"
        )


def _ns(moment: datetime) -> int:
    # Whole seconds, as in the app's Last-Modified header (and nginx's, from the mtime).
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000


def put(root: str, rel: str, doc: Document, kept: Record | None) -> tuple[Record, int]:
    """Put a document's file and .gz in place under ``root`` (``kept``: the record of
    the intact files an earlier build wrote there); its record, and which outcome."""
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


def _put_all(
    root: str, snapshot: Snapshot, jobs: Iterable[Job], kept: Mapping[str, Record]
) -> list[Result]:
    results = []
    for kind, subject in jobs:
        rel = file_for(kind.path(subject))
        results.append((rel, *put(root, rel, snapshot.document_of(kind, subject), kept.get(rel))))
    return results


def _in_parallel(
    root: str, snapshot: Snapshot, groups: list[Weighed], kept: Mapping[str, Record]
) -> list[Result]:
    """Put these groups of documents in place with every core, the heaviest first; the
    documents of one group are put by one process, in order.

    The texts of lists and calendars written by other processes come back with their
    results, so that the pages of a later round (a year's, listing the months' entries)
    need not write them again, and the next build can have them (see BuildTexts). Not
    the feeds' items: the archive's are most of a build's bytes, and nothing later asks
    for them."""
    many = sum(weight for weight, _ in groups) >= PARALLEL_FROM

    def put(group: list[Job]) -> tuple[list[Result], list[Row]]:
        texts = snapshot.item_texts
        mark = len(texts.made or ())
        results = _put_all(root, snapshot, group, kept)
        return results, texts.made_since(mark, KEPT_TEXTS)

    done = shared_out(
        [group for _, group in sorted(groups, key=lambda weighed: weighed[0], reverse=True)],
        put,
        processes=None if many else 1,
    )
    for _, exported in done:
        snapshot.item_texts.adopt(exported, snapshot.items)
    return [result for results, _ in done for result in results]


def dates_of(manifest: Manifest | None) -> DateLedger:
    """The dates an earlier build gave its documents (their files' mtimes, as its
    ``manifest`` lists them), for the snapshot of the next one: a document keeps its date
    while its bytes stay the same, and one that changed is dated later than its file was
    (see DateLedger)."""
    ledger = DateLedger()
    remember_dates(ledger, manifest.documents if manifest else {})
    return ledger


def remember_dates(ledger: DateLedger, documents: Mapping[str, Record | None]) -> None:
    """Have ``ledger`` date each of these documents, while its bytes stay the same, as
    its file is dated."""
    for rel, record in documents.items():
        if record is not None:
            ledger.remember(path_of(rel), record[0], written_at(record))


def build_site(snapshot: Snapshot, outdir: Path) -> BuildReport:
    """Bring ``outdir`` up to date with the snapshot, touching only what medfeed wrote.

    Raises:
        BuildError: files medfeed did not write are in the way; nothing was changed.
        OSError: reading or writing failed; what was written is listed for the next build.
    """
    return build_over(snapshot, outdir, read_manifest(outdir) if outdir.is_dir() else None)


def build_over(
    snapshot: Snapshot,
    outdir: Path,
    manifest: Manifest | None,
    state: Path | None = None,
    shows: DocumentKeys | None = None,
) -> BuildReport:
    """``build_site`` over the build ``manifest`` lists (read by the caller); with
    ``state``, a state folder, the entries' texts written by the last build from it are
    used again, and this build's kept there (see BuildTexts). ``shows``: the digests of
    the snapshot's documents, where the caller keeps them."""
    shows = shows or DocumentKeys(snapshot)
    snapshot.item_texts.made = []  # what each process writes, sent back (_in_parallel)
    months, others, feeds = plan(snapshot)
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
    shows.prime(snapshot.items)
    same = Unchanged(snapshot, kept, keys, shows.of)
    months, others, feeds = same.left_of(months), same.left_of(others), same.left_in(feeds)
    kept_texts = None
    left = [job for _, group in [*months, *others] for job in group] + feeds
    if state is not None and any(file_for(k.path(s)) in same.digests for k, s in left):
        # Read before the processes fork, which share it; not read where no document
        # showing entries is made (whole-site ones, such as sitemaps, always are).
        kept_texts = BuildTexts(state, shows, KEPT_TEXTS)
        kept_texts.load()
        snapshot.item_texts.recall = kept_texts.recall
    results = same.results
    results += _in_parallel(root, snapshot, months, kept)
    results += _in_parallel(root, snapshot, others, kept)
    for rel, record, _ in results:  # dated by the processes that wrote them
        snapshot.dated(path_of(rel), written_at(record))
    results += _put_all(root, snapshot, feeds, kept)
    now = {rel: record for rel, record, _ in results}
    deleted = delete_written(root, [rel for rel in documents if rel not in now], folders)
    if now != documents or folders != made or same.digests != keys:
        # A rebuild that changed nothing changes nothing.
        write_manifest(root, now, folders, same.digests)
    if kept_texts is not None:
        kept_texts.save(snapshot.item_texts, snapshot.items)
    outcomes = [outcome for _, _, outcome in results]
    return BuildReport(
        outcomes.count(WRITTEN),
        outcomes.count(REDATED),
        outcomes.count(UNCHANGED),
        deleted,
        frozenset(rel for rel, _, outcome in results if outcome == WRITTEN),
        Manifest(dict(now), frozenset(folders), keys=same.digests),
    )
