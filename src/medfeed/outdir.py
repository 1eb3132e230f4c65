"""The folder a static build writes into, and what medfeed owns there.

This module decides which folders a build may write to at all, keeps the manifest
(``.medfeed-build``) of the files and folders earlier builds wrote, surveys the folder
for anything medfeed did not write before a build changes it, writes each file
atomically, and deletes only what the manifest lists; ``build`` decides what to write.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

MARKER = ".medfeed-build"
"""The manifest of what medfeed wrote in a folder; a rebuild touches nothing else."""
MANIFEST_FORMAT = 1

Record = tuple[str, int, int, int, int, int]
"""A document as written: etag, mtime (ns), then size and inode of the file and its .gz."""

TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
UTIME_FD = os.utime in os.supports_fd


class BuildError(Exception):
    """The build cannot go ahead as asked; nothing in the output folder was changed."""


@dataclass(frozen=True)
class Manifest:
    """What earlier builds wrote in a folder: documents by file, and folders they made."""

    documents: dict[str, Record | None]
    folders: frozenset[str]
    legacy: bool = False


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


def read_manifest(root: Path) -> Manifest | None:
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


def write_manifest(root: str, documents: Mapping[str, Record | None], folders: set[str]) -> None:
    """Replace the manifest in ``root`` with these documents and folders."""
    listed = {rel: documents[rel] for rel in sorted(documents)}
    data = {"medfeed-build": MANIFEST_FORMAT, "documents": listed, "folders": sorted(folders)}
    replace_file(os.path.join(root, MARKER), json.dumps(data, separators=(",", ":")).encode(), None)


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _intact(record: Record, main: os.stat_result, gz: os.stat_result) -> bool:
    # A file replaced or edited since medfeed wrote it has a new inode, size or mtime.
    on_disk = (main.st_mtime_ns, main.st_size, main.st_ino, gz.st_mtime_ns, gz.st_size, gz.st_ino)
    return on_disk == (record[1], record[2], record[3], record[1], record[4], record[5])


def survey(
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


def replace_file(target: str, data: bytes, mtime: int | None) -> os.stat_result:
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


def delete_written(root: str, gone: Iterable[str], folders: set[str]) -> int:
    """Delete these documents and the folders medfeed made that they leave empty.

    Returns how many documents went; ``folders`` loses the folders removed.
    """
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
