"""A static build kept up to date by a process that stays (``medfeed build --watch``):
after each change of the entries folder, only the documents whose content changed are
made and put in place.

What each document showed when it was put in place is kept in memory and compared with
what it shows now item by item, by identity, as the app's snapshots compare theirs (see
``ContentVersion.key``): no digest is worked out and no file looked at for a document
that shows the same. An entry's page shows its entry and the two published next to it,
so only the pages of entries that came, went or changed, and of those next to them
before or after, are looked at: a round costs what changed, not the size of the folder
(besides the sitemap, which dates every page). The manifest, with the digests of
``documentkeys``, stays as a full build leaves it, so that a build by a new process
takes over where this one stopped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

from medfeed.build import BuildReport, put
from medfeed.buildplan import (
    REDATED,
    UNCHANGED,
    WRITTEN,
    Job,
    file_for,
    path_of,
    round_of,
    written_at,
)
from medfeed.buildtexts import BuildTexts
from medfeed.documentkeys import DocumentKeys
from medfeed.documents import KINDS, Kind
from medfeed.inorder import InOrder
from medfeed.manifest import ManifestText
from medfeed.outdir import Manifest, Record, delete_written, put_manifest, survey
from medfeed.snapshot import Snapshot
from medfeed.store import Item
from medfeed.version import Key, same_key

ENTRY_KINDS = tuple(kind for kind in KINDS if kind.scope == "entry")


def jobs(snapshot: Snapshot, entries: bool = True) -> Iterator[Job]:
    """Every document of the snapshot (``entries``: entries' pages too), in the order of
    a build's rounds (see plan)."""
    for kind in sorted(KINDS, key=round_of):  # sorted() keeps the table's order within
        if entries or kind.scope != "entry":
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
    shows: DocumentKeys
    """The digests of the content version put in place last."""
    shown: dict[str, Key]
    """What each document that has a digest showed when it was put in place, by file."""
    items: dict[int, Item]
    """The items of the content version put in place last, by id()."""
    dates: dict[str, datetime]
    """Each page's Last-Modified, by site path (the sitemap gives them)."""
    others: set[str]
    """The files of the documents that are not entries' pages."""
    text: ManifestText
    """The manifest, kept document by document."""
    texts: BuildTexts | None = None
    """The entries' texts builds kept in the state folder (see BuildTexts), for the
    documents made after a start over a folder built before: a year's page or a
    calendar then splices what it can, as a build by a new process does."""

    @classmethod
    def after(
        cls, root: Path, snapshot: Snapshot, report: BuildReport, shows: DocumentKeys
    ) -> Built:
        """The folder ``root`` as ``report``, a whole build of ``snapshot``, left it."""
        left = report.left
        assert left is not None  # every build reports what it left
        documents = {rel: record for rel, record in left.documents.items() if record}
        built = cls(
            root, documents, dict(left.keys), set(left.folders), shows, {}, {}, {}, set(),
            ManifestText(documents, left.keys),
        )  # fmt: skip
        built.take(snapshot, shows)
        for kind, subject in jobs(snapshot):
            path = kind.path(subject)
            rel = file_for(path)
            if rel in left.keys:
                built.shown[rel] = snapshot.key(kind, subject)
            if kind.page and rel in documents:
                built.dates[path] = written_at(documents[rel])
            if kind.scope != "entry":
                built.others.add(rel)
        return built

    def take(self, snapshot: Snapshot, shows: DocumentKeys) -> None:
        """Have ``snapshot`` be the content version put in place."""
        self.items = {id(item): item for item in snapshot.items}
        self.shows = shows

    def suspects(self, snapshot: Snapshot) -> set[str]:
        """The slugs of the entries whose pages may show something else in ``snapshot``:
        those that came, went or changed, and those next to them before or after."""
        now = {id(item): item for item in snapshot.items}
        changed = [item for key, item in now.items() if key not in self.items]
        changed += [item for key, item in self.items.items() if key not in now]
        slugs = set()
        for item in changed:
            slugs.add(item.slug)
            for kind in ENTRY_KINDS:
                before = self.shown.get(file_for(kind.path(item.slug)), ())
                slugs.update(shown.slug for shown in before if isinstance(shown, Item))
            if item.slug in snapshot.by_slug:
                slugs.update(n.slug for n in snapshot.neighbours(item.slug) if n is not None)
        return slugs


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
    others = list(jobs(snapshot, entries=False))
    if shows.context == built.shows.context:
        if built.texts is not None:
            built.texts.take_keys(shows)
            snapshot.item_texts.recall = built.texts.recall
        looked = [(kind, slug) for kind in ENTRY_KINDS for slug in sorted(built.suspects(snapshot))]
        scan = [job for job in looked if job[1] in snapshot.by_slug] + others
        gone = [file_for(kind.path(slug)) for kind, slug in looked if slug not in snapshot.by_slug]
    else:  # another base URL, site.toml or code: every document shows something else
        built.shown.clear()
        built.texts = None  # written for the other context
        scan = [(kind, slug) for kind in ENTRY_KINDS for slug in snapshot.subjects(kind)]
        scan += others
        present = {file_for(kind.path(subject)) for kind, subject in scan}
        gone = [rel for rel in built.documents if rel not in present]
    now_others = {file_for(kind.path(subject)) for kind, subject in others}
    gone += [rel for rel in built.others if rel not in now_others]
    built.others = now_others
    make = []
    for kind, subject in scan:
        rel = file_for(kind.path(subject))
        key = snapshot.key(kind, subject)
        before = built.shown.get(rel)
        if rel not in built.documents or before is None or not same_key(before, key):
            make.append((kind, subject, rel, key))
    gone = [rel for rel in dict.fromkeys(gone) if rel in built.documents]
    return _put_in_place(snapshot, built, shows, make, gone)


def _put_in_place(
    snapshot: Snapshot,
    built: Built,
    shows: DocumentKeys,
    make: list[tuple[Kind, str | None, str, Key]],
    gone: list[str],
) -> BuildReport:
    documents, root = built.documents, str(built.root)
    files = [rel for _, _, rel, _ in make]
    listed_now: dict[str, Record | None] = dict(documents)
    manifest = Manifest(listed_now, frozenset(built.folders), keys=built.keys)
    kept, fresh = survey(built.root, files, manifest)
    folders = built.folders | fresh
    new = [rel for rel in files if rel not in documents]
    for rel in new:
        # Listed before they exist, so that an interrupted build's files are medfeed's.
        built.text.put(rel, None, None)
    if new or fresh:
        put_manifest(root, built.text.text(folders))
    snapshot.dated_all(built.dates)  # the pages not made keep theirs
    for kind, subject, rel, _ in make:
        before = built.shown.get(rel)
        if kind.earlier is not None and before is not None and rel in kept:
            # Its items' texts as this folder has them: a feed of hundreds of items
            # written by another process is not written again whole for one item.
            shown = [part for part in before if isinstance(part, Item)]
            kind.earlier(snapshot, subject, shown, partial(_read, os.path.join(root, rel)))
    done, failure = _made_and_put(snapshot, root, make, kept)
    outcomes, written = [], set()
    listed = bool(new or fresh or gone)
    # ``done`` ends where a document failed to be made or put: those after it were not.
    for (kind, subject, rel, key), (record, outcome) in zip(make, done, strict=False):
        digest = shows.of(kind, subject)
        listed = listed or outcome != UNCHANGED or built.keys.get(rel) != digest
        documents[rel] = record
        built.text.put(rel, record, digest)
        if digest is None:
            built.keys.pop(rel, None)
            built.shown.pop(rel, None)
        else:
            built.keys[rel], built.shown[rel] = digest, key
        if kind.page:
            built.dates[kind.path(subject)] = written_at(record)
        outcomes.append(outcome)
        if outcome == WRITTEN:
            written.add(rel)
    if failure is not None:
        raise failure  # what was put in place before it is listed (built.text)
    deleted = delete_written(root, gone, folders, documents)
    for rel in gone:
        del documents[rel]
        built.keys.pop(rel, None)
        built.shown.pop(rel, None)
        built.text.drop(rel)
        built.dates.pop(path_of(rel), None)
    if listed:  # a round that changed nothing changes nothing
        put_manifest(root, built.text.text(folders))
    built.folders = folders
    built.take(snapshot, shows)
    snapshot.release()
    return BuildReport(
        outcomes.count(WRITTEN),
        outcomes.count(REDATED),
        len(documents) - len(outcomes) + outcomes.count(UNCHANGED),
        deleted,
        frozenset(written),
        Manifest(dict(documents), frozenset(folders), keys=dict(built.keys)),
    )


def _made_and_put(
    snapshot: Snapshot,
    root: str,
    make: list[tuple[Kind, str | None, str, Key]],
    kept: dict[str, Record],
) -> tuple[list[tuple[Record, int]], BaseException | None]:
    """Make these documents and put them in place, each while the last is compressed
    and written (see InOrder); what was put in place, in order, until one failed (made
    or put), and what failed."""
    with InOrder[tuple[Record, int]]("medfeed-put") as behind:
        try:
            for kind, subject, rel, _ in make:
                if behind.failure is not None:
                    break
                doc = snapshot.document_of(kind, subject)
                behind.add(partial(put, root, rel, doc, kept.get(rel)))
        except BaseException as e:  # noqa: BLE001 - raised once what was put is listed
            failure: BaseException | None = e
        else:
            failure = None
    return behind.finish(), behind.failure or failure


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None  # the document is written anew
