"""Write every feed and page of a site as static files, byte-identical to what the app
serves, each with a precompressed ``.gz`` sibling for nginx's gzip_static or any CDN.

A rebuild updates the folder in place and touches only what its manifest says medfeed
wrote: changed documents are replaced atomically, each file's mtime is its document's
Last-Modified, and files medfeed did not write are never changed.
"""

from __future__ import annotations

import json
import os
import pickle
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from medfeed.delivery import Document
from medfeed.documents import KINDS
from medfeed.snapshot import Snapshot

MARKER = ".medfeed-build"
"""The manifest of what medfeed wrote in a folder; a rebuild touches nothing else."""
MANIFEST_FORMAT = 1
TWO_PROCESSES_FROM = 200
"""A build with at least this many entry pages writes them with two processes."""

Record = tuple[str, int, int, int, int, int]
"""A document as written: etag, mtime (ns), then size and inode of the file and its .gz."""
WRITTEN, REDATED, UNCHANGED = 0, 1, 2
Result = tuple[str, Record, int]
"""A document put in place: its file, its record, and which of the three outcomes."""

TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
UTIME_FD = os.utime in os.supports_fd
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BuildError(Exception):
    """The build cannot go ahead as asked; nothing in the output folder was changed."""


@dataclass(frozen=True)
class BuildReport:
    """What a build did, in documents (a file and its .gz sibling each)."""

    written: int
    redated: int
    unchanged: int
    deleted: int


@dataclass(frozen=True)
class Manifest:
    """What earlier builds wrote in a folder: documents by file, and folders they made."""

    documents: dict[str, Record | None]
    folders: frozenset[str]
    legacy: bool = False


def file_for(path: str) -> str:
    """The file that holds a site path: pages are ``index.html`` in their folder."""
    relative = path.lstrip("/")
    return relative + "index.html" if relative.endswith("/") or not relative else relative


def check_outdir(outdir: str, entries: Path) -> Path:
    """The real folder to build into, refusing places a build must not write to.

    Raises:
        BuildError: OUTDIR is empty, ``/``, the entries folder, inside it or around it,
            not a folder, on a missing parent, or not writable.
    """
    if not outdir.strip():
        raise BuildError("OUTDIR is empty: name the folder to build into")
    # A symlink to an earlier build is followed: the build goes to its target in place.
    target = Path(os.path.realpath(outdir))
    source = Path(os.path.realpath(entries))
    refuse = f"cannot build into {outdir}"
    if target == Path(target.anchor):
        raise BuildError(f"{refuse}: it is the root folder")
    if target == source:
        raise BuildError(f"{refuse}: it is the entries folder")
    if target in source.parents:
        raise BuildError(f"{refuse}: it contains the entries folder {entries}")
    if source in target.parents:
        raise BuildError(f"{refuse}: it is inside the entries folder {entries}")
    if os.path.lexists(target) and not target.is_dir():
        raise BuildError(f"{refuse}: it is a file, not a folder")
    folder = target if target.is_dir() else target.parent
    if not folder.is_dir():
        missing = "is not a folder" if os.path.lexists(folder) else "does not exist"
        raise BuildError(f"{refuse}: {folder} {missing}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BuildError(f"{refuse}: no permission to write in {folder}")
    return target


def _record(value: object) -> Record | None:
    if isinstance(value, list) and len(value) == 6 and isinstance(value[0], str):
        if all(isinstance(n, int) for n in value[1:]):
            return (value[0], value[1], value[2], value[3], value[4], value[5])
    return None


def _read_manifest(root: Path) -> Manifest | None:
    """The manifest of an earlier build in ``root``, or None if medfeed never built there."""
    try:
        raw = (root / MARKER).read_bytes()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(raw)
        if data["medfeed-build"] != MANIFEST_FORMAT:
            raise ValueError("another manifest format")
        documents = {str(k): _record(v) for k, v in data["documents"].items()}
        return Manifest(documents, frozenset(str(f) for f in data["folders"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        # A marker from before manifests, or a damaged one: medfeed built this folder but
        # did not list what, so the files at the new build's paths count as medfeed's.
        return Manifest({}, frozenset(), legacy=True)


def _write_manifest(root: str, documents: Mapping[str, Record | None], folders: set[str]) -> None:
    listed = {rel: documents[rel] for rel in sorted(documents)}
    data = {"medfeed-build": MANIFEST_FORMAT, "documents": listed, "folders": sorted(folders)}
    _replace(os.path.join(root, MARKER), json.dumps(data, separators=(",", ":")).encode(), None)


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _intact(record: Record, main: os.stat_result, gz: os.stat_result) -> bool:
    # A file replaced or edited since medfeed wrote it has a new inode, size or mtime.
    on_disk = (main.st_mtime_ns, main.st_size, main.st_ino, gz.st_mtime_ns, gz.st_size, gz.st_ino)
    return on_disk == (record[1], record[2], record[3], record[1], record[4], record[5])


def _survey(
    root: Path, files: list[str], manifest: Manifest | None
) -> tuple[dict[str, Record], set[str]]:
    """Check the folder before changing it: intact earlier files, and folders to create.

    Raises:
        BuildError: a file or folder medfeed did not write is where the build would write.
    """
    kept: dict[str, Record] = {}
    folders: set[str] = set()
    for rel in files:
        folder = os.path.dirname(rel)
        while folder and folder not in folders:
            folders.add(folder)
            folder = os.path.dirname(folder)
    if not root.exists():
        return kept, folders
    documents = manifest.documents if manifest else {}
    legacy = manifest is not None and manifest.legacy
    collisions = []
    fresh = set()
    for folder in folders:
        found = _stat(os.path.join(root, folder))
        if found is None:
            fresh.add(folder)
        elif not stat.S_ISDIR(found.st_mode):
            collisions.append(folder)
    for rel in files:
        main, gz = _stat(os.path.join(root, rel)), _stat(os.path.join(root, rel + ".gz"))
        ours = legacy or rel in documents
        for name, found in ((rel, main), (rel + ".gz", gz)):
            if found is not None and not (ours and stat.S_ISREG(found.st_mode)):
                collisions.append(name)
        record = documents.get(rel)
        if record is not None and main and gz and _intact(record, main, gz):
            kept[rel] = record
    if collisions:
        listed = "".join(f"\n  {name}" for name in sorted(collisions))
        raise BuildError(f"files medfeed did not write are where the build would write:{listed}")
    return kept, fresh


def _ns(moment: datetime) -> int:
    # Whole seconds, as in the app's Last-Modified header (and nginx's, from the mtime).
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000


def _replace(target: str, data: bytes, mtime: int | None) -> os.stat_result:
    """Write a file under a temporary name beside it, then rename it over the target."""
    folder, name = os.path.split(target)
    # A dotfile (nginx-static.conf hides those) in medfeed's own namespace.
    temp = os.path.join(folder, f".{name}.{os.getpid()}.medfeed-tmp")
    try:
        fd = os.open(temp, TEMP_FLAGS, 0o644)
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        fd = os.open(temp, TEMP_FLAGS, 0o644)
    try:
        try:
            # Plain descriptors: a buffered file object per file costs more than the write.
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if mtime is not None:
                os.utime(fd if UTIME_FD else temp, ns=(mtime, mtime))
            found = os.fstat(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException:
        if os.path.lexists(temp):
            os.unlink(temp)
        raise
    return found


def _put(root: str, rel: str, doc: Document, kept: Record | None) -> tuple[Record, int]:
    mtime = _ns(doc.last_modified)
    target = os.path.join(root, rel)
    if kept is not None and kept[0] == doc.etag:
        if kept[1] == mtime:
            return kept, UNCHANGED
        os.utime(target, ns=(mtime, mtime))
        os.utime(target + ".gz", ns=(mtime, mtime))
        return (kept[0], mtime, kept[2], kept[3], kept[4], kept[5]), REDATED
    main = _replace(target, doc.body, mtime)
    # Only a document being written is compressed: an unchanged one costs its render.
    gz = _replace(target + ".gz", doc.gzip, mtime)
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
    root: str, snapshot: Snapshot, paths: list[str], kept: Mapping[str, Record]
) -> list[Result]:
    """Write these documents (entry pages, archives), half of them in a child process."""
    # Rendering pages is CPU-bound: a forked child takes every other entry and sends
    # back what it wrote. fork() shares the snapshot without pickling it.
    if not hasattr(os, "fork") or len(paths) < TWO_PROCESSES_FROM or (os.cpu_count() or 1) < 2:
        return _put_entry_pages(root, snapshot, paths, kept)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_end)
        status = 0
        try:
            results = _put_entry_pages(root, snapshot, paths[1::2], kept)
            with os.fdopen(write_end, "wb") as out:
                out.write(pickle.dumps(results, pickle.HIGHEST_PROTOCOL))
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    source = os.fdopen(read_end, "rb")
    try:
        mine = _put_entry_pages(root, snapshot, paths[0::2], kept)
        data = source.read()
    finally:
        source.close()  # were the parent failing, the child must not block on the pipe
        _, status = os.waitpid(pid, 0)
    if status != 0:
        raise OSError(f"writing entry pages failed in a child process (status {status})")
    # Our own child's bytes, never another party's: safe to unpickle.
    theirs: list[Result] = pickle.loads(data)
    return mine + theirs


def _delete(root: str, gone: Iterable[str], folders: set[str]) -> int:
    count = 0
    emptied = set()
    for rel in gone:
        for name in (rel, rel + ".gz"):
            found = _stat(os.path.join(root, name))
            if found is not None and stat.S_ISREG(found.st_mode):
                os.unlink(os.path.join(root, name))
                count += name == rel
        emptied.add(os.path.dirname(rel))
    # A folder medfeed made goes once empty; one holding anything else stays.
    for start in emptied:
        folder = start
        while folder in folders:
            try:
                os.rmdir(os.path.join(root, folder))
            except OSError:
                break
            folders.discard(folder)
            folder = os.path.dirname(folder)
    return count


def build_site(snapshot: Snapshot, outdir: Path) -> BuildReport:
    """Bring ``outdir`` up to date with the snapshot, touching only what medfeed wrote.

    Raises:
        BuildError: files medfeed did not write are in the way; nothing was changed.
        OSError: reading or writing failed; what was written is listed for the next build.
    """
    manifest = _read_manifest(outdir) if outdir.is_dir() else None
    # Every document of the table. Entries' documents first, then the pages and lists
    # that link to them, then the feeds: no document ever links to one not yet written.
    # The first two groups are many and independent: each is split between two processes.
    entry_paths = [
        kind.path(subject)
        for kind in KINDS
        if kind.scope == "entry"
        for subject in snapshot.subjects(kind)
    ]
    period_paths = [
        kind.path(subject)
        for kind in KINDS
        if kind.shows in ("archive", "period")
        for subject in snapshot.subjects(kind)
    ]
    rest = [
        (kind, subject)
        for feeds_last in (False, True)
        for kind in KINDS
        if kind.scope != "entry"
        and kind.shows not in ("archive", "period")
        and (kind.shows == "feed") == feeds_last
        for subject in snapshot.subjects(kind)
    ]
    files = [file_for(path) for path in entry_paths + period_paths]
    files += [file_for(kind.path(subject)) for kind, subject in rest]
    kept, fresh = _survey(outdir, files, manifest)
    outdir.mkdir(exist_ok=True)
    root = str(outdir)
    documents: dict[str, Record | None] = dict(manifest.documents) if manifest else {}
    made = manifest.folders if manifest else frozenset()
    folders = set(made) | fresh
    if fresh or any(rel not in documents for rel in files):
        # Listed before they exist, so that an interrupted build's files are medfeed's.
        _write_manifest(root, {**dict.fromkeys(files), **documents}, folders)
    results = _in_two_processes(root, snapshot, entry_paths, kept)
    results += _in_two_processes(root, snapshot, period_paths, kept)
    for kind, subject in rest:
        rel = file_for(kind.path(subject))
        results.append((rel, *_put(root, rel, snapshot.document_of(kind, subject), kept.get(rel))))
    now = {rel: record for rel, record, _ in results}
    deleted = _delete(root, [rel for rel in documents if rel not in now], folders)
    if now != documents or folders != made:  # a rebuild that changed nothing changes nothing
        _write_manifest(root, now, folders)
    outcomes = [outcome for _, _, outcome in results]
    return BuildReport(
        outcomes.count(WRITTEN), outcomes.count(REDATED), outcomes.count(UNCHANGED), deleted
    )
