"""A static build kept up to date by a process that stays (``medfeed build --watch``):
after each change of the entries folder, only the documents whose content changed are
made and put in place.

What each document showed when it was put in place is kept in memory and compared with
what it shows now item by item, by identity, as the app's snapshots compare theirs (see
``ContentVersion.key``): no digest is worked out and no file looked at for a document
that shows the same. The manifest, with the digests of ``documentkeys``, stays as a full
build leaves it, so that a build by a new process takes over where this one stopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from medfeed.build import BuildReport, put
from medfeed.buildplan import REDATED, UNCHANGED, WRITTEN, Job, file_for, round_of, written_at
from medfeed.documentkeys import DocumentKeys
from medfeed.documents import KINDS
from medfeed.outdir import Manifest, Record, delete_written, survey, write_manifest
from medfeed.snapshot import Snapshot
from medfeed.version import Key, same_key


def jobs(snapshot: Snapshot) -> Iterator[Job]:
    """Every document of the snapshot, in the order of a build's rounds (see plan)."""
    for kind in sorted(KINDS, key=round_of):  # sorted() keeps the table's order within
        for subject in snapshot.subjects(kind):
            yield kind, subject


@dataclass
class Built:
    """What the output folder holds, as this process last left it."""

    root: Path
    documents: dict[str, Record]
    """The manifest's records, by file."""
    keys: dict[str, str]
    """The manifest's digests, by file (see ``documentkeys``)."""
    folders: set[str]
    """The folders builds made."""
    shows: DocumentKeys
    """The digests of the content version put in place last."""
    shown: dict[str, Key]
    """What each document that has a digest showed when it was put in place, by file."""

    @classmethod
    def after(
        cls, root: Path, snapshot: Snapshot, report: BuildReport, shows: DocumentKeys
    ) -> Built:
        """The folder ``root`` as ``report``, a whole build of ``snapshot``, left it."""
        left = report.left
        assert left is not None  # every build reports what it left
        shown = {}
        for kind, subject in jobs(snapshot):
            rel = file_for(kind.path(subject))
            if rel in left.keys:
                shown[rel] = snapshot.key(kind, subject)
        documents = {rel: record for rel, record in left.documents.items() if record}
        return cls(root, documents, dict(left.keys), set(left.folders), shows, shown)


def build_changes(snapshot: Snapshot, built: Built) -> BuildReport:
    """Bring the folder ``built`` describes up to date with ``snapshot``: make the
    documents that show something else than when they were put in place (and those that
    show the whole site), delete those gone, and keep ``built`` and the manifest up to
    date.

    Raises:
        BuildError: files medfeed did not write are in the way; nothing was changed.
        OSError: reading or writing failed; what was written is listed for the next build.
    """
    shows = DocumentKeys(snapshot, built.shows.fingerprint)
    shows.carry(built.shows)
    # Another base URL, site.toml or code: every document shows something else.
    shown = built.shown if shows.context == built.shows.context else {}
    documents, keys, root = built.documents, built.keys, str(built.root)
    present: set[str] = set()
    make: list[tuple[Job, str, Key]] = []
    for kind, subject in jobs(snapshot):
        path = kind.path(subject)
        rel = file_for(path)
        present.add(rel)
        key = snapshot.key(kind, subject)
        record, before = documents.get(rel), shown.get(rel)
        if record is not None and before is not None and same_key(before, key):
            if kind.page:  # the sitemap dates every page
                snapshot.dated(path, written_at(record))
        else:
            make.append(((kind, subject), rel, key))
    files = [rel for _, rel, _ in make]
    manifest = Manifest(dict(documents), frozenset(built.folders), keys=keys)
    kept, fresh = survey(built.root, files, manifest)
    folders = built.folders | fresh
    if fresh or any(rel not in documents for rel in files):
        # Listed before they exist, so that an interrupted build's files are medfeed's.
        write_manifest(root, {**dict.fromkeys(files), **documents}, folders, keys)
    outcomes = [UNCHANGED] * (len(present) - len(make))
    written = set()
    listed = folders != built.folders
    for (kind, subject), rel, key in make:
        record, outcome = put(root, rel, snapshot.document_of(kind, subject), kept.get(rel))
        documents[rel] = record
        outcomes.append(outcome)
        if outcome == WRITTEN:
            written.add(rel)
        digest = shows.of(kind, subject)
        listed = listed or outcome != UNCHANGED or keys.get(rel) != digest
        if digest is None:
            keys.pop(rel, None)
            built.shown.pop(rel, None)
        else:
            keys[rel] = digest
            built.shown[rel] = key
    gone = [rel for rel in documents if rel not in present]
    deleted = delete_written(root, gone, folders, documents)
    for rel in gone:
        del documents[rel]
        keys.pop(rel, None)
        built.shown.pop(rel, None)
    if listed or gone:  # a rebuild that changed nothing changes nothing
        write_manifest(root, documents, folders, keys)
    built.folders, built.shows = folders, shows
    snapshot.release()
    return BuildReport(
        outcomes.count(WRITTEN),
        outcomes.count(REDATED),
        outcomes.count(UNCHANGED),
        deleted,
        frozenset(written),
        Manifest(dict(documents), frozenset(folders), keys=dict(keys)),
    )
